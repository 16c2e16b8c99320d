package access

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// Write describes one op about to be applied, for CheckWrite.
type Write struct {
	Op *crdt.Op
	// Exists is false when the record has no scope at the server yet.
	Exists bool
	// Before is the record's scope before the op (when Exists).
	Before Scope
	// After is the record's scope once the op is applied.
	After Scope
	// Named is the scope the op's own value names when the op sets a
	// field that places the record (a team, an action week, a host_team);
	// nil otherwise. It differs from After when the value loses to a
	// concurrent one; a losing value still shows as a conflict a reviewer
	// may pick, so it too may name only a scope the writer may write.
	Named *Scope
	// Shown returns the record's current shown value of a register (nil
	// when unset or when the record is new).
	Shown func(field string) json.RawMessage
	// Siblings returns the record's current siblings of a register, shown
	// value first (nil when unset or when the record is new). The op's
	// base supersedes the siblings it names.
	Siblings func(field string) []crdt.Entry
}

// CheckWrite decides whether p may apply w.Op: p's role writes the field
// (or redacts its entries), p may write the record where it is, where the
// op puts it and in the scope the op's value names, a scope field already
// set is changed only by its change writers, and restricted values are set
// or replaced only by their roles: the op's own value, the shown value, and
// every sibling its base covers (a base that covers a restricted value
// changes that value). A refusal is an *model.Error with CodeForbidden
// whose message names the rule, never a stored value.
func CheckWrite(s *model.Schema, p *Principal, w Write) error {
	op := w.Op
	f, err := s.Field(op.Kind, op.Field)
	if err != nil {
		return err
	}
	writers := f.Writers
	if op.Action == model.ActionRedact {
		writers = f.Redactors
	}
	if w.Exists && f.ChangeWriters != nil && op.Field == s.Kinds[op.Kind].Scope {
		writers = f.ChangeWriters
	}
	if !p.Syncs() || !model.HasRole(writers, p.Role) {
		return forbidden("Your role (%s) may not write %q of a %s.", p.Role, op.Field, op.Kind)
	}
	if w.Exists && !CanWrite(p, w.Before) || !CanWrite(p, w.After) || w.Named != nil && !CanWrite(p, *w.Named) {
		return forbidden("You may not write this record.")
	}
	return checkRestricted(p, f, w)
}

// CanWrite reports whether p may write a record in scope s: whoever reads
// a record may write it; a visitor also writes the identifications they
// created, and creates them for their week's host team, without reading
// them.
func CanWrite(p *Principal, s Scope) bool {
	if CanRead(p, s) {
		return true
	}
	if p.Role != model.RoleVisitor || s.Kind != model.KindIdentification {
		return false
	}
	return s.Creator == p.User && s.Team != "" && s.Team == p.WeekHostTeam
}

// checkRestricted refuses a set op of f by a role that may not set its
// value, or that would replace a restricted value: the shown one (the op
// would hide it) or a sibling its base covers (the op would erase it).
// Its message is the same whichever stored value triggered it, so that a
// caller who may write a record without reading it learns nothing more
// than the fate of its op.
func checkRestricted(p *Principal, f *model.Field, w Write) error {
	if len(f.RestrictedValues) == 0 || w.Op.Action != model.ActionSet {
		return nil
	}
	if roles, ok := f.RestrictedValues[crdt.String(w.Op.Value)]; ok && !model.HasRole(roles, p.Role) {
		return forbidden("Only %s may set %q to %s.", rolesInWords(roles), w.Op.Field, w.Op.Value)
	}
	replaced := func(v json.RawMessage) bool {
		roles, ok := f.RestrictedValues[crdt.String(v)]
		return ok && !model.HasRole(roles, p.Role)
	}
	if w.Shown != nil && replaced(w.Shown(w.Op.Field)) {
		return restrictedChange(f, w.Op.Field)
	}
	if w.Siblings == nil {
		return nil
	}
	for _, e := range w.Siblings(w.Op.Field) {
		if slices.Contains(w.Op.Base, e.Op) && replaced(e.Value) {
			return restrictedChange(f, w.Op.Field)
		}
	}
	return nil
}

// restrictedChange is the refusal of an op that would replace a restricted
// value of f: it states the rule (the values and the roles of the schema),
// never the value the record holds.
func restrictedChange(f *model.Field, field string) error {
	values := slices.Sorted(maps.Keys(f.RestrictedValues))
	var roles []model.Role
	for _, v := range values {
		for _, r := range f.RestrictedValues[v] {
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
	}
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strconv.Quote(v)
	}
	return forbidden("Only %s may change %q once it holds %s, shown or as a conflicting value the op's base covers.",
		rolesInWords(roles), field, inWords(quoted, "or"))
}

// rolesInWords names roles as a sentence does: "supervisors",
// "team leads and supervisors".
func rolesInWords(roles []model.Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = strings.ReplaceAll(string(r), "_", " ") + "s"
	}
	return inWords(names, "and")
}

// inWords joins items as a sentence does: "a", "a or b", "a, b or c".
func inWords(items []string, conj string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}

func forbidden(format string, args ...any) error {
	return model.Errorf(model.CodeForbidden, format, args...)
}
