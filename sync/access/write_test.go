package access_test

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// wop returns an op of kind.field with the given action and raw JSON value
// ("" = null).
func wop(kind, field string, action model.Action, value string) *crdt.Op {
	v := json.RawMessage("null")
	if value != "" {
		v = json.RawMessage(value)
	}
	base := []string{}
	if action == model.ActionRedact {
		base = []string{uid(700)}
	}
	return &crdt.Op{ID: uid(701), Record: uid(702), Kind: kind, Field: field, Action: action, Value: v, Base: base, Device: uid(41), User: userFW}
}

// onExisting describes w writing to a record in scope s that stays there.
func onExisting(op *crdt.Op, s access.Scope) access.Write {
	return access.Write{Op: op, Exists: true, Before: s, After: s}
}

// moving describes op moving an existing record from before to after.
func moving(op *crdt.Op, before, after access.Scope) access.Write {
	return access.Write{Op: op, Exists: true, Before: before, After: after}
}

// creating describes op as a record's first op, placing it in after.
func creating(op *crdt.Op, after access.Scope) access.Write {
	return access.Write{Op: op, After: after}
}

// shown makes a Write's Shown from field=raw JSON pairs.
func shown(pairs ...string) func(string) json.RawMessage {
	return func(field string) json.RawMessage {
		for i := 0; i+1 < len(pairs); i += 2 {
			if pairs[i] == field {
				return json.RawMessage(pairs[i+1])
			}
		}
		return nil
	}
}

func withShown(w access.Write, f func(string) json.RawMessage) access.Write {
	w.Shown = f
	return w
}

// withSiblings sets a Write's Siblings of field from (op id, raw JSON)
// pairs, shown value first, and its Shown to the first of them.
func withSiblings(w access.Write, field string, pairs ...string) access.Write {
	var sib []crdt.Entry
	for i := 0; i+1 < len(pairs); i += 2 {
		sib = append(sib, crdt.Entry{Op: pairs[i], Value: json.RawMessage(pairs[i+1])})
	}
	w.Siblings = func(f string) []crdt.Entry {
		if f == field {
			return sib
		}
		return nil
	}
	w.Shown = func(f string) json.RawMessage {
		if f == field && len(sib) > 0 {
			return sib[0].Value
		}
		return nil
	}
	return w
}

// based sets op's base.
func based(op *crdt.Op, base ...string) *crdt.Op {
	op.Base = base
	return op
}

const (
	ident = model.KindIdentification
	week  = model.KindActionWeek
	visit = model.KindSiteVisit
	set   = model.ActionSet
)

func TestCheckWrite(t *testing.T) {
	schema := model.DefaultSchema()
	identAMoved := identA
	identAMoved.Team = teamB
	identByVisMoved := identAByVis
	identByVisMoved.Team = teamB
	identAToC := identA
	identAToC.Team = teamC
	visitW1ToW2 := visitW1
	visitW1ToW2.ActionWeek, visitW1ToW2.HostTeam = week2, teamB
	weekW1ToB := weekW1
	weekW1ToB.HostTeam = teamB
	newVisitorIdent := access.Scope{Kind: ident, Team: teamA, Creator: userVisitor}

	tests := []struct {
		name string
		who  string
		w    access.Write
		want model.Code // "" = allowed
	}{
		// Field writers per role (identification).
		{"fw writes code", "fw A", onExisting(wop(ident, "code", set, `"X-1"`), identA), ""},
		{"lead writes code", "lead A", onExisting(wop(ident, "code", set, `"X-1"`), identA), ""},
		{"supervisor writes code", "sup A", onExisting(wop(ident, "code", set, `"X-1"`), identA), ""},
		{"national supervisor writes code", "sup national", onExisting(wop(ident, "code", set, `"X-1"`), identA), ""},
		{"fw adds an indicator", "fw A", onExisting(wop(ident, "indicators", model.ActionAdd, `"x"`), identA), ""},
		{"fw appends a note", "fw A", onExisting(wop(ident, "notes", model.ActionAppend, `{"text":"t"}`), identA), ""},
		{"fw appends a referral", "fw A", onExisting(wop(ident, "referrals", model.ActionAppend, `{"service":"s"}`), identA), ""},
		{"fw sets review_status", "fw A", onExisting(wop(ident, "review_status", set, `"reviewed"`), identA), model.CodeForbidden},
		{"lead sets review_status", "lead A", onExisting(wop(ident, "review_status", set, `"reviewed"`), identA), model.CodeForbidden},
		{"supervisor sets review_status", "sup A", onExisting(wop(ident, "review_status", set, `"reviewed"`), identA), ""},
		{"linked_records is no field (links are server data)", "sup A", onExisting(wop(ident, "linked_records", model.ActionAdd, `"`+uid(9)+`"`), identA), model.CodeUnknownField},

		// Read scope: whoever writes must be able to write the record.
		{"fw of another team", "fw B", onExisting(wop(ident, "code", set, `"X-1"`), identA), model.CodeForbidden},
		{"lead of another team", "lead B", onExisting(wop(ident, "code", set, `"X-1"`), identA), model.CodeForbidden},
		{"supervisor of another jurisdiction", "sup B", onExisting(wop(ident, "code", set, `"X-1"`), identA), model.CodeForbidden},
		{"fw without team", "fw no team", onExisting(wop(ident, "code", set, `"X-1"`), identA), model.CodeForbidden},
		{"fw of both teams", "fw A+B", onExisting(wop(ident, "code", set, `"X-1"`), identB), ""},

		// A record's first op: the record must land where the writer may
		// write; Before is not consulted.
		{"fw creates in own team", "fw A", creating(wop(ident, "team", set, `"`+teamA+`"`), identA), ""},
		{"fw creates in another team", "fw A", creating(wop(ident, "team", set, `"`+teamB+`"`), identB), model.CodeForbidden},
		{"fw creates, Before ignored", "fw A", access.Write{Op: wop(ident, "team", set, `"`+teamA+`"`), Before: identB, After: identA}, ""},
		{"supervisor creates outside jurisdiction", "sup A", creating(wop(ident, "team", set, `"`+teamB+`"`), identB), model.CodeForbidden},
		{"national supervisor creates anywhere", "sup national", creating(wop(ident, "team", set, `"`+teamC+`"`), identAToC), ""},

		// The scope field after creation: supervisors only, and both ends
		// in the jurisdiction.
		{"fw moves a record", "fw A+B", moving(wop(ident, "team", set, `"`+teamB+`"`), identA, identAMoved), model.CodeForbidden},
		{"fw re-sets its own team", "fw A", onExisting(wop(ident, "team", set, `"`+teamA+`"`), identA), model.CodeForbidden},
		{"lead moves a record", "lead A", moving(wop(ident, "team", set, `"`+teamB+`"`), identA, identAMoved), model.CodeForbidden},
		{"visitor moves own identification", "visitor W1", moving(wop(ident, "team", set, `"`+teamB+`"`), identAByVis, identByVisMoved), model.CodeForbidden},
		{"supervisor of both teams moves", "sup A+B", moving(wop(ident, "team", set, `"`+teamB+`"`), identA, identAMoved), ""},
		{"national supervisor moves", "sup national", moving(wop(ident, "team", set, `"`+teamB+`"`), identA, identAMoved), ""},
		{"supervisor moves out of jurisdiction", "sup A", moving(wop(ident, "team", set, `"`+teamB+`"`), identA, identAMoved), model.CodeForbidden},
		{"supervisor moves into jurisdiction", "sup B", moving(wop(ident, "team", set, `"`+teamB+`"`), identA, identAMoved), model.CodeForbidden},
		// Writing any field where the op (as the caller computed After)
		// takes the record out of reach is refused too.
		{"fw write whose After is out of reach", "fw A", moving(wop(ident, "code", set, `"X-1"`), identA, identAMoved), model.CodeForbidden},

		// Restricted values: identified and not_victim are supervisors'.
		{"fw sets presumed", "fw A", onExisting(wop(ident, "status", set, `"presumed"`), identA), ""},
		{"fw sets identified", "fw A", onExisting(wop(ident, "status", set, `"identified"`), identA), model.CodeForbidden},
		{"fw sets not_victim", "fw A", onExisting(wop(ident, "status", set, `"not_victim"`), identA), model.CodeForbidden},
		{"lead sets identified", "lead A", onExisting(wop(ident, "status", set, `"identified"`), identA), model.CodeForbidden},
		{"visitor sets identified", "visitor W1", onExisting(wop(ident, "status", set, `"identified"`), identAByVis), model.CodeForbidden},
		{"supervisor sets identified", "sup A", onExisting(wop(ident, "status", set, `"identified"`), identA), ""},
		{"supervisor sets not_victim", "sup national", onExisting(wop(ident, "status", set, `"not_victim"`), identA), ""},
		{"fw sets identified on a new record", "fw A", creating(wop(ident, "status", set, `"identified"`), identA), model.CodeForbidden},
		// Once shown, only supervisors replace them.
		{"fw replaces shown identified", "fw A", withShown(onExisting(wop(ident, "status", set, `"presumed"`), identA), shown("status", `"identified"`)), model.CodeForbidden},
		{"fw clears shown identified", "fw A", withShown(onExisting(wop(ident, "status", set, ""), identA), shown("status", `"identified"`)), model.CodeForbidden},
		{"lead replaces shown not_victim", "lead A", withShown(onExisting(wop(ident, "status", set, `"withdrawn"`), identA), shown("status", `"not_victim"`)), model.CodeForbidden},
		{"supervisor replaces shown identified", "sup A", withShown(onExisting(wop(ident, "status", set, `"presumed"`), identA), shown("status", `"identified"`)), ""},
		{"fw replaces shown presumed", "fw A", withShown(onExisting(wop(ident, "status", set, `"potential"`), identA), shown("status", `"presumed"`)), ""},
		{"fw sets status, none shown", "fw A", withShown(onExisting(wop(ident, "status", set, `"potential"`), identA), shown()), ""},
		{"shown restricted value of another field does not matter", "fw A", withShown(onExisting(wop(ident, "status", set, `"potential"`), identA), shown("code", `"identified"`)), ""},
		{"fw writes another field while identified", "fw A", withShown(onExisting(wop(ident, "notes", model.ActionAppend, `{"text":"t"}`), identA), shown("status", `"identified"`)), ""},
		// A base covering a restricted sibling changes it (DESIGN §6).
		{"fw base covers identified sibling", "fw A", withSiblings(onExisting(based(wop(ident, "status", set, `"potential"`), uid(801), uid(802)), identA), "status", uid(801), `"presumed"`, uid(802), `"identified"`), model.CodeForbidden},
		{"fw base covers only the identified sibling", "fw A", withSiblings(onExisting(based(wop(ident, "status", set, `"potential"`), uid(802)), identA), "status", uid(801), `"presumed"`, uid(802), `"identified"`), model.CodeForbidden},
		{"fw clears, base covers not_victim sibling", "fw A", withSiblings(onExisting(based(wop(ident, "status", set, ""), uid(801), uid(802)), identA), "status", uid(801), `"withdrawn"`, uid(802), `"not_victim"`), model.CodeForbidden},
		{"lead base covers identified sibling", "lead A", withSiblings(onExisting(based(wop(ident, "status", set, `"withdrawn"`), uid(801), uid(802)), identA), "status", uid(801), `"presumed"`, uid(802), `"identified"`), model.CodeForbidden},
		{"visitor base covers identified sibling", "visitor W1", withSiblings(onExisting(based(wop(ident, "status", set, `"potential"`), uid(801), uid(802)), identAByVis), "status", uid(801), `"presumed"`, uid(802), `"identified"`), model.CodeForbidden},
		{"fw base leaves identified sibling alone", "fw A", withSiblings(onExisting(based(wop(ident, "status", set, `"potential"`), uid(801)), identA), "status", uid(801), `"presumed"`, uid(802), `"identified"`), ""},
		{"fw base covers ordinary siblings", "fw A", withSiblings(onExisting(based(wop(ident, "status", set, `"potential"`), uid(801), uid(802)), identA), "status", uid(801), `"presumed"`, uid(802), `"withdrawn"`), ""},
		{"supervisor base covers identified sibling", "sup A", withSiblings(onExisting(based(wop(ident, "status", set, `"presumed"`), uid(801), uid(802)), identA), "status", uid(801), `"presumed"`, uid(802), `"identified"`), ""},
		{"base covering a sibling of another field does not matter", "fw A", withSiblings(onExisting(based(wop(ident, "code", set, `"X-1"`), uid(802)), identA), "status", uid(801), `"presumed"`, uid(802), `"identified"`), ""},

		// Redact: supervisors only.
		{"fw redacts", "fw A", onExisting(wop(ident, "notes", model.ActionRedact, ""), identA), model.CodeForbidden},
		{"lead redacts", "lead A", onExisting(wop(ident, "notes", model.ActionRedact, ""), identA), model.CodeForbidden},
		{"visitor redacts own identification's note", "visitor W1", onExisting(wop(ident, "notes", model.ActionRedact, ""), identAByVis), model.CodeForbidden},
		{"supervisor redacts", "sup A", onExisting(wop(ident, "consent", model.ActionRedact, ""), identA), ""},
		{"supervisor of another jurisdiction redacts", "sup B", onExisting(wop(ident, "notes", model.ActionRedact, ""), identA), model.CodeForbidden},
		{"visitor redacts a site visit note", "visitor W1", onExisting(wop(visit, "notes", model.ActionRedact, ""), visitW1), model.CodeForbidden},
		{"supervisor redacts a site visit note", "sup A", onExisting(wop(visit, "notes", model.ActionRedact, ""), visitW1), ""},

		// Deleted: team leads and supervisors.
		{"fw deletes", "fw A", onExisting(wop(ident, "deleted", set, `true`), identA), model.CodeForbidden},
		{"lead deletes", "lead A", onExisting(wop(ident, "deleted", set, `true`), identA), ""},
		{"lead undeletes", "lead A", onExisting(wop(ident, "deleted", set, `false`), identA), ""},
		{"lead of another team deletes", "lead B", onExisting(wop(ident, "deleted", set, `true`), identA), model.CodeForbidden},
		{"supervisor deletes", "sup A", onExisting(wop(ident, "deleted", set, `true`), identA), ""},
		{"visitor deletes own identification", "visitor W1", onExisting(wop(ident, "deleted", set, `true`), identAByVis), model.CodeForbidden},
		{"fw deletes a site visit", "fw A", onExisting(wop(visit, "deleted", set, `true`), visitW1), model.CodeForbidden},
		{"lead deletes a site visit", "lead A", onExisting(wop(visit, "deleted", set, `true`), visitW1), ""},
		{"visitor deletes a site visit", "visitor W1", onExisting(wop(visit, "deleted", set, `true`), visitW1), model.CodeForbidden},
		{"lead deletes an action week", "lead A", onExisting(wop(week, "deleted", set, `true`), weekW1), model.CodeForbidden},
		{"supervisor deletes an action week", "sup A", onExisting(wop(week, "deleted", set, `true`), weekW1), ""},

		// Visitors: write without read on identifications they created
		// for their week's host team.
		{"visitor creates for the host team", "visitor W1", creating(wop(ident, "team", set, `"`+teamA+`"`), newVisitorIdent), ""},
		{"visitor creates for another team", "visitor W1", creating(wop(ident, "team", set, `"`+teamB+`"`), identBByVis), model.CodeForbidden},
		{"visitor of another week creates for A", "visitor W2", creating(wop(ident, "team", set, `"`+teamA+`"`), access.Scope{Kind: ident, Team: teamA, Creator: userVisit2}), model.CodeForbidden},
		{"visitor writes own identification", "visitor W1", onExisting(wop(ident, "code", set, `"X-1"`), identAByVis), ""},
		{"visitor appends to own identification", "visitor W1", onExisting(wop(ident, "notes", model.ActionAppend, `{"text":"t"}`), identAByVis), ""},
		{"visitor writes someone else's identification", "visitor W1", onExisting(wop(ident, "code", set, `"X-1"`), identA), model.CodeForbidden},
		{"visitor writes own identification after a move", "visitor W1", onExisting(wop(ident, "code", set, `"X-1"`), identByVisMoved), model.CodeForbidden},
		{"visitor writes own identification being moved away", "visitor W1", moving(wop(ident, "code", set, `"X-1"`), identAByVis, identByVisMoved), model.CodeForbidden},
		{"visitor writes review_status", "visitor W1", onExisting(wop(ident, "review_status", set, `"reviewed"`), identAByVis), model.CodeForbidden},
		{"visitor without host team creates", "visitor W1", creating(wop(ident, "team", set, `"`+teamA+`"`), access.Scope{Kind: ident, Creator: userVisitor}), model.CodeForbidden},
		{"visitor of a week without host team, record without team", "visitor no host", onExisting(wop(ident, "code", set, `"X-1"`), access.Scope{Kind: ident, Creator: userVisitor}), model.CodeForbidden},

		// Action weeks: supervisors of the host team.
		{"supervisor names a week", "sup A", onExisting(wop(week, "name", set, `"Spring"`), weekW1), ""},
		{"national supervisor names a week", "sup national", onExisting(wop(week, "name", set, `"Spring"`), weekW3), ""},
		{"supervisor names a week without host", "sup A", onExisting(wop(week, "name", set, `"Spring"`), weekW3), model.CodeForbidden},
		{"supervisor of another jurisdiction names a week", "sup B", onExisting(wop(week, "name", set, `"Spring"`), weekW1), model.CodeForbidden},
		{"host team's fw names a week", "fw A", onExisting(wop(week, "name", set, `"Spring"`), weekW1), model.CodeForbidden},
		{"host team's lead adds a town", "lead A", onExisting(wop(week, "towns", model.ActionAdd, `"Fier"`), weekW1), model.CodeForbidden},
		{"visitor names own week", "visitor W1", onExisting(wop(week, "name", set, `"Spring"`), weekW1), model.CodeForbidden},
		{"supervisor moves week out of jurisdiction", "sup A", moving(wop(week, "host_team", set, `"`+teamB+`"`), weekW1, weekW1ToB), model.CodeForbidden},
		{"supervisor of both moves week", "sup A+B", moving(wop(week, "host_team", set, `"`+teamB+`"`), weekW1, weekW1ToB), ""},
		{"supervisor creates week for own team", "sup A", creating(wop(week, "host_team", set, `"`+teamA+`"`), weekW1), ""},
		{"supervisor creates week for another team", "sup A", creating(wop(week, "host_team", set, `"`+teamB+`"`), weekW2), model.CodeForbidden},

		// Site visits: the week's visitors and host team.
		{"visitor writes a site visit of own week", "visitor W1", onExisting(wop(visit, "town", set, `"Fier"`), visitW1), ""},
		{"visitor appends a site visit note", "visitor W1", onExisting(wop(visit, "notes", model.ActionAppend, `{"text":"t"}`), visitW1), ""},
		{"visitor creates a site visit of own week", "visitor W1", creating(wop(visit, "action_week", set, `"`+week1+`"`), visitW1), ""},
		{"visitor creates a site visit of another week", "visitor W1", creating(wop(visit, "action_week", set, `"`+week2+`"`), visitW2), model.CodeForbidden},
		{"visitor writes a site visit of another week", "visitor W2", onExisting(wop(visit, "town", set, `"Fier"`), visitW1), model.CodeForbidden},
		{"visitor moves a site visit", "visitor W1", moving(wop(visit, "action_week", set, `"`+week2+`"`), visitW1, visitW1ToW2), model.CodeForbidden},
		{"host team's fw writes a site visit", "fw A", onExisting(wop(visit, "summary", set, `"s"`), visitW1), ""},
		{"other team's fw writes a site visit", "fw B", onExisting(wop(visit, "summary", set, `"s"`), visitW1), model.CodeForbidden},
		{"fw moves a site visit", "fw A+B", moving(wop(visit, "action_week", set, `"`+week2+`"`), visitW1, visitW1ToW2), model.CodeForbidden},
		{"supervisor of both moves a site visit", "sup A+B", moving(wop(visit, "action_week", set, `"`+week2+`"`), visitW1, visitW1ToW2), ""},
		{"supervisor moves a site visit out of jurisdiction", "sup A", moving(wop(visit, "action_week", set, `"`+week2+`"`), visitW1, visitW1ToW2), model.CodeForbidden},

		// Auditors and admins never write, whatever their teams.
		{"auditor writes", "auditor", onExisting(wop(ident, "code", set, `"X-1"`), identA), model.CodeForbidden},
		{"admin writes", "admin", onExisting(wop(ident, "code", set, `"X-1"`), identA), model.CodeForbidden},
		{"admin creates", "admin", creating(wop(ident, "team", set, `"`+teamA+`"`), identA), model.CodeForbidden},
		{"auditor redacts", "auditor alone", onExisting(wop(ident, "notes", model.ActionRedact, ""), identA), model.CodeForbidden},
		{"admin names a week", "admin alone", onExisting(wop(week, "name", set, `"Spring"`), weekW1), model.CodeForbidden},

		// Schema lookups.
		{"unknown kind", "sup national", onExisting(wop("person", "code", set, `"X"`), identA), model.CodeUnknownKind},
		{"unknown field", "sup national", onExisting(wop(ident, "name", set, `"X"`), identA), model.CodeUnknownField},
		{"field of another kind", "sup national", onExisting(wop(ident, "towns", model.ActionAdd, `"X"`), identA), model.CodeUnknownField},
	}
	for _, tt := range tests {
		err := access.CheckWrite(schema, principal(t, tt.who), tt.w)
		var got model.Code
		if err != nil {
			got = model.ErrorCode(err)
		}
		if got != tt.want {
			t.Errorf("%s (%s): CheckWrite = %v (code %q), want code %q", tt.name, tt.who, err, got, tt.want)
		}
	}
}

// TestCheckWriteRefusalNamesNoStoredValue: a refusal caused by a value the
// record holds reads the same whichever value it is (DESIGN §6: no answer
// depends on data the caller may not read beyond the fate of its op; a
// visitor writes identifications it cannot read).
func TestCheckWriteRefusalNamesNoStoredValue(t *testing.T) {
	schema := model.DefaultSchema()
	p := principal(t, "visitor W1")
	messages := map[string]bool{}
	for _, stored := range []string{`"identified"`, `"not_victim"`} {
		for _, w := range []access.Write{
			withShown(onExisting(wop(ident, "status", set, `"withdrawn"`), identAByVis), shown("status", stored)),
			withSiblings(onExisting(based(wop(ident, "status", set, `"withdrawn"`), uid(801), uid(802)), identAByVis), "status", uid(801), `"presumed"`, uid(802), stored),
		} {
			err := access.CheckWrite(schema, p, w)
			if model.ErrorCode(err) != model.CodeForbidden {
				t.Fatalf("stored %s: CheckWrite = %v, want forbidden", stored, err)
			}
			messages[err.Error()] = true
		}
	}
	if len(messages) != 1 {
		t.Errorf("the refusals differ with the stored value: %q", slices.Collect(maps.Keys(messages)))
	}
}

// TestCheckWriteFollowsSchemaWriters: for every field of every kind, a
// principal who may write the record may write the field exactly when its
// role is among the field's writers (redactors for a redact; change
// writers for an existing record's scope field).
func TestCheckWriteFollowsSchemaWriters(t *testing.T) {
	schema := model.DefaultSchema()
	// Each role's principal may write records of team A / week W1; the
	// visitor created the identification.
	who := map[model.Role]string{
		model.RoleFieldWorker: "fw A", model.RoleTeamLead: "lead A", model.RoleVisitor: "visitor W1",
		model.RoleSupervisor: "sup A", model.RoleAuditor: "auditor", model.RoleAdmin: "admin",
	}
	scopes := map[string]access.Scope{ident: identAByVis, week: weekW1, visit: visitW1}
	values := map[model.Class]struct {
		action model.Action
		value  string
	}{
		model.ClassRegister: {set, `"potential"`}, // an allowed, unrestricted status; other registers take any value here
		model.ClassSet:      {model.ActionAdd, `"x"`},
		model.ClassLog:      {model.ActionAppend, `{"text":"t"}`},
	}
	for kind, k := range schema.Kinds {
		scope, ok := scopes[kind]
		if !ok {
			t.Errorf("kind %q has no scope in this test; add one", kind)
			continue
		}
		for field, f := range k.Fields {
			for _, role := range model.Roles {
				p := principal(t, who[role])
				a := values[f.Class]
				check := func(name string, w access.Write, writers []model.Role) {
					err := access.CheckWrite(schema, p, w)
					got := err == nil
					want := model.HasRole(writers, role) && role != model.RoleAuditor && role != model.RoleAdmin
					if got != want {
						t.Errorf("%s.%s %s by %s: allowed = %v (%v), want %v", kind, field, name, role, got, err, want)
					}
					if err != nil && model.ErrorCode(err) != model.CodeForbidden {
						t.Errorf("%s.%s %s by %s: code %q, want forbidden", kind, field, name, role, model.ErrorCode(err))
					}
				}
				if field == k.Scope {
					check("on a new record", creating(wop(kind, field, a.action, a.value), scope), f.Writers)
					check("on an existing record", onExisting(wop(kind, field, a.action, a.value), scope), f.ChangeWriters)
				} else {
					check(string(a.action), onExisting(wop(kind, field, a.action, a.value), scope), f.Writers)
				}
				if f.Class == model.ClassLog {
					check("redact", onExisting(wop(kind, field, model.ActionRedact, ""), scope), f.Redactors)
				}
			}
		}
	}
}

// TestSchemaRoles pins the write rules of DESIGN §3 and §6 that the access
// checks rely on, so that a schema edit that loosens them fails here.
func TestSchemaRoles(t *testing.T) {
	s := model.DefaultSchema()
	sup := []model.Role{model.RoleSupervisor}
	leadsUp := []model.Role{model.RoleTeamLead, model.RoleSupervisor}
	tests := []struct {
		kind, field string
		get         func(*model.Field) []model.Role
		want        []model.Role
	}{
		{ident, "review_status", func(f *model.Field) []model.Role { return f.Writers }, sup},
		{ident, "deleted", func(f *model.Field) []model.Role { return f.Writers }, leadsUp},
		{ident, "team", func(f *model.Field) []model.Role { return f.ChangeWriters }, sup},
		{ident, "notes", func(f *model.Field) []model.Role { return f.Redactors }, sup},
		{ident, "consent", func(f *model.Field) []model.Role { return f.Redactors }, sup},
		{ident, "referrals", func(f *model.Field) []model.Role { return f.Redactors }, sup},
		{ident, "status", func(f *model.Field) []model.Role { return f.RestrictedValues["identified"] }, sup},
		{ident, "status", func(f *model.Field) []model.Role { return f.RestrictedValues["not_victim"] }, sup},
		{visit, "action_week", func(f *model.Field) []model.Role { return f.ChangeWriters }, sup},
		{visit, "deleted", func(f *model.Field) []model.Role { return f.Writers }, leadsUp},
		{visit, "notes", func(f *model.Field) []model.Role { return f.Redactors }, sup},
		{week, "host_team", func(f *model.Field) []model.Role { return f.Writers }, sup},
		{week, "deleted", func(f *model.Field) []model.Role { return f.Writers }, sup},
	}
	for _, tt := range tests {
		f, err := s.Field(tt.kind, tt.field)
		if err != nil {
			t.Errorf("%s.%s: %v", tt.kind, tt.field, err)
			continue
		}
		got := slices.Sorted(slices.Values(tt.get(f)))
		want := slices.Sorted(slices.Values(tt.want))
		if !slices.Equal(got, want) {
			t.Errorf("%s.%s: roles %v, want %v", tt.kind, tt.field, got, want)
		}
	}
	for kind, k := range s.Kinds {
		// Only supervisors change a record's scope after creation.
		if k.Scope != "" {
			if f, ok := k.Fields[k.Scope]; !ok || !slices.Equal(f.ChangeWriters, sup) {
				t.Errorf("%s: scope field %q must exist with change writers %v", kind, k.Scope, sup)
			}
		}
		for field, f := range k.Fields {
			for _, r := range []model.Role{model.RoleAuditor, model.RoleAdmin} {
				if model.HasRole(f.Writers, r) || model.HasRole(f.ChangeWriters, r) || model.HasRole(f.Redactors, r) {
					t.Errorf("%s.%s: %s may write it", kind, field, r)
				}
			}
		}
	}
}

// TestCheckWriteRestrictedMessagesAreSentences: the refusals of a
// restricted value name the roles and values in words, as a device prints
// them to its user, not as Go slices.
func TestCheckWriteRestrictedMessagesAreSentences(t *testing.T) {
	schema := model.DefaultSchema()
	p := principal(t, "fw A")
	for _, tt := range []struct {
		w    access.Write
		want string
	}{
		{onExisting(wop(ident, "status", set, `"identified"`), identA), `Only supervisors may set "status" to "identified".`},
		{withShown(onExisting(wop(ident, "status", set, `"presumed"`), identA), shown("status", `"identified"`)),
			`Only supervisors may change "status" once it holds "identified" or "not_victim", shown or as a conflicting value the op's base covers.`},
	} {
		err := access.CheckWrite(schema, p, tt.w)
		var e *model.Error
		if !errors.As(err, &e) {
			t.Fatalf("CheckWrite = %v, want a model.Error", err)
		}
		if got := e.Message; got != tt.want {
			t.Errorf("refusal %q, want %q", got, tt.want)
		}
	}
}
