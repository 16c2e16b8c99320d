package protocol_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

const (
	ident = model.KindIdentification
	week  = model.KindActionWeek
	visit = model.KindSiteVisit
)

// want is an expected op result: status and, for rejections, code.
type want struct {
	status protocol.Status
	code   model.Code
}

var (
	applied   = want{status: protocol.StatusApplied}
	duplicate = want{status: protocol.StatusDuplicate}
)

func rejected(code model.Code) want { return want{status: protocol.StatusRejected, code: code} }

// checkResults compares results with the ids and outcomes expected, in
// order, and the shape DESIGN §5 gives each status.
func checkResults(t *testing.T, got []protocol.Result, ids []string, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("%d results, want %d: %+v", len(got), len(wants), got)
	}
	for i, r := range got {
		if r.ID != ids[i] {
			t.Errorf("result %d: id %q, want %q", i, r.ID, ids[i])
		}
		if r.Status != wants[i].status || r.Code != wants[i].code {
			t.Errorf("result %d (%s): %s %q (%s), want %s %q", i, ids[i], r.Status, r.Code, r.Message, wants[i].status, wants[i].code)
		}
		switch r.Status {
		case protocol.StatusApplied, protocol.StatusDuplicate:
			if _, err := hlc.Parse(r.HLC); err != nil {
				t.Errorf("result %d: %s without a stored hlc: %q", i, r.Status, r.HLC)
			}
			if r.Code != "" || r.Message != "" {
				t.Errorf("result %d: %s with code %q, message %q", i, r.Status, r.Code, r.Message)
			}
		case protocol.StatusRejected:
			if r.HLC != "" || r.Message == "" {
				t.Errorf("result %d: rejected with hlc %q and message %q; want no hlc and a message", i, r.HLC, r.Message)
			}
		}
	}
}

func TestPushTooManyOps(t *testing.T) {
	w := newWorldWith(t, protocol.Limits{MaxOps: 2, DefaultPull: 10, MaxPull: 20, MaxSkew: 5 * time.Minute})
	rec := w.id()
	ops := []json.RawMessage{
		w.set(fwA, rec, ident, "team", teamA).raw(),
		w.set(fwA, rec, ident, "code", "X-1").raw(),
		w.set(fwA, rec, ident, "region", "Tirana").raw(),
	}
	_, err := w.svc.Push(context.Background(), fwA, ops)
	if got, want := model.ErrorCode(err), model.CodeTooManyOps; got != want {
		t.Fatalf("push of 3 ops with MaxOps 2: error %v (code %q), want code %q", err, got, want)
	}
	if got, want := w.store.commits, 0; got != want {
		t.Errorf("store commits after a refused push: %d, want %d", got, want)
	}
	if _, _, ok := w.store.record(rec); ok {
		t.Errorf("record %s exists after a refused push", rec)
	}
	// MaxOps ops are fine.
	res, err := w.svc.Push(context.Background(), fwA, ops[:2])
	if err != nil {
		t.Fatalf("push of MaxOps ops: %v", err)
	}
	checkResults(t, res.Results, []string{idOf(t, ops[0]), idOf(t, ops[1])}, []want{applied, applied})
}

// TestPushTooManyOpsBeforeAnything: the limit is a whole-request error even
// for a role that may not push.
func TestPushTooManyOpsBeforeAnything(t *testing.T) {
	w := newWorldWith(t, protocol.Limits{MaxOps: 1, DefaultPull: 10, MaxPull: 20, MaxSkew: 5 * time.Minute})
	_, err := w.svc.Push(context.Background(), auditor, []json.RawMessage{json.RawMessage(`{}`), json.RawMessage(`{}`)})
	if got, want := model.ErrorCode(err), model.CodeTooManyOps; got != want {
		t.Errorf("error %v (code %q), want code %q", err, got, want)
	}
}

func idOf(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v.ID
}

func TestPushRoleThatDoesNotSync(t *testing.T) {
	for _, p := range []*access.Principal{auditor, admin, {User: uid(29), Device: uid(49), Role: "janitor"}} {
		w := newWorld(t)
		rec := w.id()
		// Even an op naming the principal's own device is refused whole.
		_, err := w.svc.Push(context.Background(), p, []json.RawMessage{w.set(p, rec, ident, "team", teamA).raw()})
		if got, want := model.ErrorCode(err), model.CodeForbidden; got != want {
			t.Errorf("%s: push error %v (code %q), want code %q", p.Role, err, got, want)
		}
		var me *model.Error
		if !errors.As(err, &me) {
			t.Errorf("%s: push error %v is not a *model.Error", p.Role, err)
		}
		if got, want := w.store.commits, 0; got != want {
			t.Errorf("%s: store commits %d, want %d", p.Role, got, want)
		}
	}
}

// TestPushEmpty: no ops, no results, no commit.
func TestPushEmpty(t *testing.T) {
	w := newWorld(t)
	res, err := w.svc.Push(context.Background(), fwA, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(res.Results), 0; got != want {
		t.Errorf("%d results, want %d", got, want)
	}
	if res.ServerHLC.IsZero() {
		t.Error("no server_hlc")
	}
	if got, want := w.store.commits, 0; got != want {
		t.Errorf("store commits %d, want %d", got, want)
	}
}

// TestPushRejectionsInOrder: every op-level problem is that op's rejected
// result, in order, and the valid ops around them apply.
func TestPushRejectionsInOrder(t *testing.T) {
	w := newWorld(t)
	rec, other := w.id(), w.id()
	team := w.set(fwA, rec, ident, "team", teamA)
	code := w.set(fwA, rec, ident, "code", "X-1")
	ops := []any{
		team, // creates rec
		w.set(fwA, rec, ident, "status", "presumed").with("action", "explode"),
		w.set(fwA, rec, ident, "status", "presumed").with("extra", 1),
		`[1,2]`,
		w.set(fwA, rec, ident, "status", "presumed").with("id", "NOT-A-UUID"),
		w.set(fwA, rec, ident, "status", "presumed").with("id", "0193F2A1-B2C3-7000-8000-0000000000F1"),
		w.set(fwA, "not-a-record", ident, "status", "presumed"),
		w.set(fwA, rec, ident, "status", "presumed").with("hlc", "zz"),
		w.set(fwA, rec, ident, "status", "presumed").with("hlc", "0193F2A1B2C30001"),
		w.set(fwA, rec, ident, "status", "presumed").without("hlc"),
		w.set(fwA, rec, "person", "status", "presumed"),
		w.set(fwA, rec, ident, "name", "Jane"),
		w.set(fwA, rec, ident, "status", "bogus"),
		w.set(fwA, rec, ident, "age_estimate", "twelve"),
		w.newOp(fwA, rec, ident, "indicators", model.ActionAdd, "x").with("base", []string{uid(9)}),
		w.set(fwA, rec, ident, "status", "presumed").with("device", fwA2.Device),
		w.set(fwA, other, ident, "code", "Y-1"),
		w.set(fwA, rec, visit, "town", "Fier"),
		team.with("value", teamB), // same id, other content
		w.set(fwA, rec, ident, "review_status", "reviewed"),
		code, // still applies after all that
		team, // a re-send in the same push
	}
	wants := []want{
		applied,
		rejected(model.CodeInvalidOp),    // unknown action
		rejected(model.CodeInvalidOp),    // unknown key
		rejected(model.CodeInvalidOp),    // not an object
		rejected(model.CodeInvalidID),    // id not a UUID
		rejected(model.CodeInvalidID),    // id not lowercase
		rejected(model.CodeInvalidID),    // record not a UUID
		rejected(model.CodeInvalidHLC),   // not hex
		rejected(model.CodeInvalidHLC),   // upper case
		rejected(model.CodeInvalidHLC),   // missing
		rejected(model.CodeUnknownKind),  // kind
		rejected(model.CodeUnknownField), // field
		rejected(model.CodeInvalidValue), // not an allowed value
		rejected(model.CodeInvalidValue), // wrong type
		rejected(model.CodeInvalidOp),    // add with a base
		rejected(model.CodeForbidden),    // another device's op
		rejected(model.CodeUnknownRecord),
		rejected(model.CodeKindMismatch),
		rejected(model.CodeIDConflict),
		rejected(model.CodeForbidden), // supervisors' field
		applied,
		duplicate,
	}
	ids := make([]string, len(ops))
	for i, o := range ops {
		if o, ok := o.(op); ok {
			ids[i] = o.id() // the id as sent, even when it is not a UUID
		}
	}
	res := w.push(fwA, ops...)
	checkResults(t, res.Results, ids, wants)

	rs, scope, ok := w.store.record(rec)
	if !ok {
		t.Fatalf("record %s was not created", rec)
	}
	if got, want := string(rs.Value("code")), `"X-1"`; got != want {
		t.Errorf("code = %s, want %s", got, want)
	}
	if got, want := scope.Team, teamA; got != want {
		t.Errorf("team = %s, want %s", got, want)
	}
	for _, f := range []string{"status", "review_status", "age_estimate", "indicators"} {
		if v := rs.Value(f); v != nil {
			t.Errorf("field %s = %s after rejected ops", f, v)
		}
	}
	if _, _, ok := w.store.record(other); ok {
		t.Errorf("record %s exists after its only op was rejected", other)
	}
	if got, want := w.store.commits, 1; got != want {
		t.Errorf("store commits %d, want %d (one per push)", got, want)
	}
	for _, r := range res.Results {
		if r.HLC != "" {
			ts, _ := hlc.Parse(r.HLC)
			if ts > res.ServerHLC {
				t.Errorf("result hlc %s after server_hlc %s", r.HLC, res.ServerHLC)
			}
		}
	}
}

// TestPushScopeRule: a record's first op at the server must bring its
// scope, from an earlier op of the same push or itself.
func TestPushScopeRule(t *testing.T) {
	w := newWorld(t)
	w.actionWeek(week1, teamA)

	recA, recB, recC, sv, sv2, wk := w.id(), w.id(), w.id(), w.id(), w.id(), w.id()
	tests := []struct {
		name string
		p    *access.Principal
		ops  []op
		want []want
	}{
		{"identification without team", fwA, []op{
			w.set(fwA, recA, ident, "code", "X-1"),
			w.newOp(fwA, recA, ident, "notes", model.ActionAppend, map[string]string{"text": "t"}),
		}, []want{rejected(model.CodeUnknownRecord), rejected(model.CodeUnknownRecord)}},
		{"team op comes later", fwA, []op{
			w.set(fwA, recA, ident, "code", "X-1"),
			w.set(fwA, recA, ident, "team", teamA),
			w.set(fwA, recA, ident, "code", "X-2"),
		}, []want{rejected(model.CodeUnknownRecord), applied, applied}},
		{"team op refused, the rest unknown", fwA, []op{
			w.set(fwA, recB, ident, "team", teamB),
			w.set(fwA, recB, ident, "code", "X-1"),
		}, []want{rejected(model.CodeForbidden), rejected(model.CodeUnknownRecord)}},
		{"team op of a bad value, the rest unknown", fwA, []op{
			w.set(fwA, recC, ident, "team", "team-a"),
			w.set(fwA, recC, ident, "team", nil),
			w.set(fwA, recC, ident, "code", "X-1"),
		}, []want{rejected(model.CodeInvalidValue), rejected(model.CodeInvalidValue), rejected(model.CodeUnknownRecord)}},
		{"site visit without week", visitW1, []op{
			w.set(visitW1, sv, visit, "town", "Fier"),
			w.set(visitW1, sv, visit, "action_week", week1),
			w.set(visitW1, sv, visit, "town", "Fier"),
		}, []want{rejected(model.CodeUnknownRecord), applied, applied}},
		{"site visit of another week", visitW1, []op{
			w.set(visitW1, sv2, visit, "action_week", week2),
			w.set(visitW1, sv2, visit, "town", "Fier"),
		}, []want{rejected(model.CodeForbidden), rejected(model.CodeUnknownRecord)}},
		{"an action week is its own scope", supNat, []op{
			w.set(supNat, wk, week, "name", "Spring"),
			w.set(supNat, wk, week, "host_team", teamB),
		}, []want{applied, applied}},
	}
	for _, tt := range tests {
		ids := make([]string, len(tt.ops))
		args := make([]any, len(tt.ops))
		for i, o := range tt.ops {
			ids[i], args[i] = o.id(), o
		}
		t.Run(tt.name, func(t *testing.T) {
			res := w.push(tt.p, args...)
			checkResults(t, res.Results, ids, tt.want)
		})
	}
	if _, scope, _ := w.store.record(sv); scope.HostTeam != teamA {
		t.Errorf("site visit scope %+v, want host team %s", scope, teamA)
	}
	if hosted, _ := w.store.HostedWeeks(context.Background(), []string{teamB}); len(hosted) != 1 || hosted[0] != wk {
		t.Errorf("weeks hosted by B: %v, want [%s]", hosted, wk)
	}
}

// TestPushDuplicate: a re-sent op is a duplicate carrying the stamp the
// server stored, whatever hlc and user it now carries, and changes
// nothing.
func TestPushDuplicate(t *testing.T) {
	w := newWorld(t)
	rec := w.id()
	team := w.set(fwA, rec, ident, "team", teamA)
	loc := w.set(fwA, rec, ident, "location", nil).without("base") // no value, no base
	first := w.mustApply(fwA, team, loc)
	stored := first.Results[0].HLC

	later := hlc.New(now.Add(-time.Minute).UnixMilli(), 7).String()
	tests := []struct {
		name string
		o    op
		hlc  string
	}{
		{"same op", team, first.Results[0].HLC},
		{"another hlc", team.with("hlc", later), stored},
		{"another user", team.with("user", uid(99)), stored},
		{"absent base equals []", team.without("base"), stored},
		{"null base equals []", team.with("base", nil), stored},
		{"absent value equals null", loc.with("value", nil).with("base", []string{}), first.Results[1].HLC},
	}
	for _, tt := range tests {
		res := w.push(fwA, tt.o)
		checkResults(t, res.Results, []string{tt.o.id()}, []want{duplicate})
		if got := res.Results[0].HLC; got != tt.hlc {
			t.Errorf("%s: duplicate hlc %s, want the stored %s", tt.name, got, tt.hlc)
		}
	}
	st, _ := w.store.stored(team.id())
	if got, want := st.op.HLC.String(), stored; got != want {
		t.Errorf("stored hlc changed to %s, want %s", got, want)
	}
	if got, want := st.op.User, fwA.User; got != want {
		t.Errorf("stored user changed to %s, want %s", got, want)
	}
	if got, want := len(w.pullAll(supNat, "", 0).ops), 2; got != want {
		t.Errorf("feed holds %d ops, want %d", got, want)
	}
}

// TestPushDuplicateBaseAsSet: base compares as a set.
func TestPushDuplicateBaseAsSet(t *testing.T) {
	w := newWorld(t)
	rec, teamOp := w.identification(fwA, teamA)
	a, b := w.set(fwA, rec, ident, "code", "X-1"), w.set(fwA, rec, ident, "code", "X-2")
	w.mustApply(fwA, a, b)
	merge := w.set(fwA, rec, ident, "code", "X-3").with("base", []string{b.id(), a.id()})
	w.mustApply(fwA, merge)
	for _, base := range [][]string{{a.id(), b.id()}, {b.id(), a.id(), b.id()}} {
		res := w.push(fwA, merge.with("base", base))
		checkResults(t, res.Results, []string{merge.id()}, []want{duplicate})
	}
	res := w.push(fwA, merge.with("base", []string{a.id()}), merge.with("base", []string{a.id(), b.id(), teamOp}))
	checkResults(t, res.Results, []string{merge.id(), merge.id()}, []want{rejected(model.CodeIDConflict), rejected(model.CodeIDConflict)})
}

// TestPushIDConflict: a known id with other content is rejected, and the
// stored op is untouched.
func TestPushIDConflict(t *testing.T) {
	w := newWorld(t)
	rec, _ := w.identification(fwA, teamA)
	other, _ := w.identification(fwA, teamA)
	note := w.newOp(fwA, rec, ident, "notes", model.ActionAppend, map[string]string{"text": "seen at the border"})
	code := w.set(fwA, rec, ident, "code", "X-1")
	w.mustApply(fwA, note, code)
	tests := []struct {
		name string
		o    op
	}{
		{"other record", code.with("record", other)},
		{"other kind", code.with("kind", visit).with("field", "town")},
		{"other field", code.with("field", "region")},
		{"other action", note.with("action", "redact").with("base", []string{code.id()}).without("value")},
		{"other value", code.with("value", "X-2")},
		{"value now null", code.with("value", nil)},
		{"other entry", note.with("value", map[string]string{"text": "seen at the border", "more": "x"})},
		{"base added", code.with("base", []string{note.id()})},
	}
	for _, tt := range tests {
		res := w.push(fwA, tt.o)
		if got, want := res.Results[0].Code, model.CodeIDConflict; got != want {
			t.Errorf("%s: %+v, want code %s", tt.name, res.Results[0], want)
		}
	}
	// Values compare as JSON values: key order and spacing do not matter.
	same := `{"action":"append","base":[],"device":"` + fwA.Device + `","field":"notes","hlc":"` + note["hlc"].(string) +
		`","id":"` + note.id() + `","kind":"identification","record":"` + rec + `","value":{ "text" : "seen at the border" }}`
	checkResults(t, w.push(fwA, same).Results, []string{note.id()}, []want{duplicate})

	rs, _, _ := w.store.record(rec)
	if got, want := string(rs.Value("code")), `"X-1"`; got != want {
		t.Errorf("code = %s, want %s", got, want)
	}
}

// TestPushRedacted: a redact is listed for the audit log, the stored
// append loses its value, and a re-sent append is still a duplicate.
func TestPushRedacted(t *testing.T) {
	w := newWorld(t)
	rec, _ := w.identification(fwA, teamA)
	note := w.newOp(fwA, rec, ident, "notes", model.ActionAppend, map[string]string{"text": "Name: Jane Doe"})
	w.mustApply(fwA, note)

	redact := w.newOp(supA, rec, ident, "notes", model.ActionRedact, nil).with("base", []string{note.id()})
	fwRedact := w.newOp(fwA, rec, ident, "notes", model.ActionRedact, nil).with("base", []string{note.id()})
	res := w.push(fwA, fwRedact)
	checkResults(t, res.Results, []string{fwRedact.id()}, []want{rejected(model.CodeForbidden)})
	if len(res.Applied) != 0 {
		t.Errorf("refused redact listed: %+v", res.Applied)
	}

	res = w.push(supA, redact)
	checkResults(t, res.Results, []string{redact.id()}, []want{applied})
	if len(res.Applied) != 1 || res.Applied[0].ID != redact.id() || res.Applied[0].User != supA.User || res.Applied[0].Base[0] != note.id() {
		t.Errorf("redactions %+v, want the redact by %s", res.Applied, supA.User)
	}
	st, _ := w.store.stored(note.id())
	if !st.redacted {
		t.Error("stored append not redacted")
	}

	// The device that wrote the note re-sends it: duplicate, not a conflict.
	checkResults(t, w.push(fwA, note).Results, []string{note.id()}, []want{duplicate})
	// Re-sending the redact is a duplicate, not listed again.
	res = w.push(supA, redact)
	checkResults(t, res.Results, []string{redact.id()}, []want{duplicate})
	if len(res.Applied) != 0 {
		t.Errorf("duplicate redact listed: %+v", res.Applied)
	}

	for _, o := range w.pullAll(fwA, "", 0).ops {
		if o.ID == note.id() && string(o.Value) != "null" {
			t.Errorf("pulled redacted append with value %s", o.Value)
		}
	}
}

// TestPushUserOverwritten: the server sets user from the principal.
func TestPushUserOverwritten(t *testing.T) {
	w := newWorld(t)
	rec := w.id()
	ops := []op{
		w.set(fwA, rec, ident, "team", teamA).with("user", uid(77)),
		w.set(fwA, rec, ident, "code", "X-1"),
		w.set(fwA, rec, ident, "region", "Durrës").with("user", fwA2.User),
	}
	w.mustApply(fwA, ops[0], ops[1], ops[2])
	for _, o := range ops {
		st, ok := w.store.stored(o.id())
		if !ok {
			t.Fatalf("op %s not stored", o.id())
		}
		if got, want := st.op.User, fwA.User; got != want {
			t.Errorf("stored op %s: user %s, want %s", o.id(), got, want)
		}
	}
	for _, o := range w.pullAll(fwA, "", 0).ops {
		if got, want := o.User, fwA.User; got != want {
			t.Errorf("pulled op %s: user %s, want %s", o.ID, got, want)
		}
	}
	if _, scope, _ := w.store.record(rec); scope.Creator != fwA.User {
		t.Errorf("creator %s, want %s", scope.Creator, fwA.User)
	}
}

// TestPushClockSkew: an op stamped more than MaxSkew ahead of the server's
// clock is re-stamped with the server's clock (its own stamp kept for
// audit); one in the past, or ahead by at most MaxSkew, keeps its stamp.
func TestPushClockSkew(t *testing.T) {
	ms := func(d time.Duration) hlc.Timestamp { return hlc.New(now.Add(d).UnixMilli(), 3) }
	tests := []struct {
		name      string
		stamp     hlc.Timestamp
		restamped bool
	}{
		{"a year in the past", ms(-365 * 24 * time.Hour), false},
		{"an hour in the past", ms(-time.Hour), false},
		{"now", ms(0), false},
		{"a minute ahead", ms(time.Minute), false},
		{"exactly MaxSkew ahead", ms(5 * time.Minute), false},
		{"MaxSkew and a millisecond ahead", ms(5*time.Minute + time.Millisecond), true},
		{"a day ahead", ms(24 * time.Hour), true},
		{"in the year 3000", hlc.New(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), 0), true},
		{"the greatest stamp", hlc.MaxTimestamp, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			rec := w.id()
			o := w.set(fwA, rec, ident, "team", teamA).with("hlc", tt.stamp.String())
			res := w.push(fwA, o)
			checkResults(t, res.Results, []string{o.id()}, []want{applied})
			got, _ := hlc.Parse(res.Results[0].HLC)
			st, _ := w.store.stored(o.id())
			if st.op.HLC != got {
				t.Errorf("result hlc %s, stored %s", got, st.op.HLC)
			}
			if got > res.ServerHLC {
				t.Errorf("result hlc %s after server_hlc %s", got, res.ServerHLC)
			}
			if tt.restamped {
				if got == tt.stamp {
					t.Errorf("op stamped %s was not re-stamped", tt.stamp)
				}
				if got.Millis() > now.UnixMilli() {
					t.Errorf("re-stamped at %s, after the server's clock %s", got.Time(), now)
				}
				if st.deviceHLC != tt.stamp {
					t.Errorf("device stamp kept for audit: %s, want %s", st.deviceHLC, tt.stamp)
				}
			} else {
				if got != tt.stamp {
					t.Errorf("result hlc %s, want the op's own %s", got, tt.stamp)
				}
				if !st.deviceHLC.IsZero() {
					t.Errorf("device stamp %s recorded for an op that kept its stamp", st.deviceHLC)
				}
			}
			// Pulls serve only the stored stamp.
			pl := w.pullAll(fwA, "", 0)
			if len(pl.ops) != 1 || pl.ops[0].HLC != got {
				t.Errorf("pulled %+v, want one op stamped %s", pl.ops, got)
			}
			// A re-send is a duplicate carrying the stored stamp.
			dup := w.push(fwA, o)
			checkResults(t, dup.Results, []string{o.id()}, []want{duplicate})
			if dup.Results[0].HLC != got.String() {
				t.Errorf("duplicate hlc %s, want %s", dup.Results[0].HLC, got)
			}
		})
	}
}

// TestPushClockSkewOrdering: re-stamped ops of one push keep their order
// and are stamped after ops the server already stored.
func TestPushClockSkewOrdering(t *testing.T) {
	w := newWorld(t)
	rec := w.id()
	ahead := hlc.New(now.Add(time.Hour).UnixMilli(), 0)
	o1 := w.set(fwA, rec, ident, "team", teamA).with("hlc", ahead.String())
	o2 := w.set(fwA, rec, ident, "code", "X-1").with("hlc", (ahead + 1).String())
	o3 := w.set(fwA, rec, ident, "code", "X-2").with("hlc", (ahead+2).String()).with("base", []string{o2.id()})
	res := w.mustApply(fwA, o1, o2, o3)
	var prev hlc.Timestamp
	for i, r := range res.Results {
		ts, _ := hlc.Parse(r.HLC)
		if ts <= prev {
			t.Errorf("result %d: hlc %s not after %s", i, ts, prev)
		}
		prev = ts
	}
	rs, _, _ := w.store.record(rec)
	if got, want := string(rs.Value("code")), `"X-2"`; got != want {
		t.Errorf("code %s, want %s", got, want)
	}
}

// TestPushAccess: every op is checked against the pushing principal.
func TestPushAccess(t *testing.T) {
	w := newWorld(t)
	w.actionWeek(week1, teamA)
	recA, teamOpA := w.identification(fwA, teamA)
	recB, _ := w.identification(fwB, teamB)
	status := w.set(supA, recA, ident, "status", "identified")
	w.mustApply(supA, status)

	visRec := w.id()
	tests := []struct {
		name string
		p    *access.Principal
		o    op
		want want
	}{
		{"fw of another team", fwB, w.set(fwB, recA, ident, "code", "X-1"), rejected(model.CodeForbidden)},
		{"fw of the team", fwA2, w.set(fwA2, recA, ident, "code", "X-1"), applied},
		{"fw appends a note", fwA, w.newOp(fwA, recA, ident, "notes", model.ActionAppend, map[string]string{"text": "t"}), applied},
		{"fw moves the record", fwAB, w.set(fwAB, recA, ident, "team", teamB).with("base", []string{teamOpA}), rejected(model.CodeForbidden)},
		{"lead moves the record", leadA, w.set(leadA, recA, ident, "team", teamB).with("base", []string{teamOpA}), rejected(model.CodeForbidden)},
		{"supervisor moves out of jurisdiction", supA, w.set(supA, recA, ident, "team", teamB).with("base", []string{teamOpA}), rejected(model.CodeForbidden)},
		{"fw replaces identified", fwA, w.set(fwA, recA, ident, "status", "presumed").with("base", []string{status.id()}), rejected(model.CodeForbidden)},
		{"fw sets not_victim", fwB, w.set(fwB, recB, ident, "status", "not_victim"), rejected(model.CodeForbidden)},
		{"fw deletes", fwA, w.set(fwA, recA, ident, "deleted", true), rejected(model.CodeForbidden)},
		{"lead deletes", leadA, w.set(leadA, recA, ident, "deleted", true), applied},
		{"lead undeletes", leadA, w.set(leadA, recA, ident, "deleted", false), applied},
		{"visitor reads nothing of A, writes nothing", visitW1, w.set(visitW1, recA, ident, "code", "X-9"), rejected(model.CodeForbidden)},
		{"visitor creates for the host team", visitW1, w.set(visitW1, visRec, ident, "team", teamA), applied},
		{"visitor writes own identification", visitW1, w.set(visitW1, visRec, ident, "code", "V-1"), applied},
		{"visitor notes on own identification", visitW1, w.newOp(visitW1, visRec, ident, "notes", model.ActionAppend, map[string]string{"text": "t"}), applied},
		{"visitor moves own identification", visitW1, w.set(visitW1, visRec, ident, "team", teamB), rejected(model.CodeForbidden)},
		{"visitor creates for another team", visitW1, w.set(visitW1, w.id(), ident, "team", teamB), rejected(model.CodeForbidden)},
		{"visitor of another week creates for A", visitW2, w.set(visitW2, w.id(), ident, "team", teamA), rejected(model.CodeForbidden)},
		{"host team's fw writes the visitor's identification", fwA, w.set(fwA, visRec, ident, "region", "Fier"), applied},
		{"visitor writes the week", visitW1, w.set(visitW1, week1, week, "name", "Mine"), rejected(model.CodeForbidden)},
		{"host team's fw writes the week", fwA, w.set(fwA, week1, week, "name", "Mine"), rejected(model.CodeForbidden)},
		{"host team's supervisor writes the week", supA, w.set(supA, week1, week, "name", "Spring"), applied},
		{"supervisor of both teams moves", supAB, w.set(supAB, recA, ident, "team", teamB).with("base", []string{teamOpA}), applied},
		{"former team after the move", fwA, w.set(fwA, recA, ident, "code", "X-2"), rejected(model.CodeForbidden)},
		{"new team after the move", fwB, w.set(fwB, recA, ident, "code", "X-3"), applied},
	}
	for _, tt := range tests {
		res := w.push(tt.p, tt.o)
		if got := res.Results[0]; got.Status != tt.want.status || got.Code != tt.want.code {
			t.Errorf("%s: %s %q (%s), want %s %q", tt.name, got.Status, got.Code, got.Message, tt.want.status, tt.want.code)
		}
	}
}

// TestPushUnreadableRecordIsForbidden: an op on a record the caller may not
// read is rejected forbidden (DESIGN §6), whatever else is wrong with it;
// in particular its result must not disclose the record's kind.
func TestPushUnreadableRecordIsForbidden(t *testing.T) {
	w := newWorld(t)
	recA, _ := w.identification(fwA, teamA)
	o := w.set(fwB, recA, visit, "town", "Fier")
	res := w.push(fwB, o)
	if got, want := res.Results[0].Code, model.CodeForbidden; got != want {
		t.Errorf("site_visit op on team A's identification by a team B field worker: %s %q (%s), want %q",
			res.Results[0].Status, got, res.Results[0].Message, want)
	}
	// The same op by a reader is a kind mismatch.
	o2 := w.set(fwA, recA, visit, "town", "Fier")
	checkResults(t, w.push(fwA, o2).Results, []string{o2.id()}, []want{rejected(model.CodeKindMismatch)})
}

// TestPushCommitError: a store failure fails the whole push, never a
// rejected result.
func TestPushCommitError(t *testing.T) {
	w := newWorld(t)
	w.store.commitErr = errors.New("disk on fire")
	rec := w.id()
	_, err := w.svc.Push(context.Background(), fwA, []json.RawMessage{w.set(fwA, rec, ident, "team", teamA).raw()})
	if err == nil {
		t.Fatal("push succeeded over a failing store")
	}
	if got, want := model.ErrorCode(err), model.CodeInternal; got != want {
		t.Errorf("code %q, want %q", got, want)
	}
}

// TestPushAllRejectedBeforeCommit: ops that fail decoding never reach the
// store.
func TestPushAllRejectedBeforeCommit(t *testing.T) {
	w := newWorld(t)
	res := w.push(fwA, `{}`, `null`, w.set(fwA, w.id(), ident, "team", teamA).with("device", fwB.Device))
	checkResults(t, res.Results, []string{"", "", res.Results[2].ID},
		[]want{rejected(model.CodeInvalidID), rejected(model.CodeInvalidOp), rejected(model.CodeForbidden)})
	if got, want := w.store.commits, 0; got != want {
		t.Errorf("store commits %d, want %d", got, want)
	}
}

// TestPushBaseCoversRestrictedValue: a write whose base covers an op
// holding a supervisor-only value, shown or a sibling, changes that value
// and needs the supervisor role (DESIGN §6); a base that leaves the
// sibling alone does not. The refusal reads the same whichever restricted
// value the record holds.
func TestPushBaseCoversRestrictedValue(t *testing.T) {
	messages := map[string]string{}
	for _, decision := range []string{"identified", "not_victim"} {
		w := newWorld(t)
		rec, _ := w.identification(fwA, teamA)
		// The supervisor decides (earlier stamp) while a field worker,
		// offline, writes presumed (later stamp) and pushes first: the
		// field value is shown, the decision is a sibling.
		formal := w.set(supA, rec, ident, "status", decision)
		presumed := w.set(fwA2, rec, ident, "status", "presumed")
		w.mustApply(fwA2, presumed)
		w.mustApply(supA, formal)
		if r, _, _ := w.store.record(rec); len(r.Siblings("status")) != 2 {
			got := len(r.Siblings("status"))
			t.Fatalf("status has %d siblings, want 2", got)
		}
		tests := []struct {
			name string
			p    *access.Principal
			o    op
			want want
		}{
			{"fw covers both", fwA, w.set(fwA, rec, ident, "status", "potential").with("base", []string{presumed.id(), formal.id()}), rejected(model.CodeForbidden)},
			{"fw covers the decision only", fwA, w.set(fwA, rec, ident, "status", "potential").with("base", []string{formal.id()}), rejected(model.CodeForbidden)},
			{"fw clears, covering both", fwA, w.set(fwA, rec, ident, "status", nil).with("base", []string{presumed.id(), formal.id()}).with("value", nil), rejected(model.CodeForbidden)},
			{"lead covers both", leadA, w.set(leadA, rec, ident, "status", "withdrawn").with("base", []string{presumed.id(), formal.id()}), rejected(model.CodeForbidden)},
			{"fw covers the field value only", fwA, w.set(fwA, rec, ident, "status", "potential").with("base", []string{presumed.id()}), applied},
			{"supervisor covers both", supA, w.set(supA, rec, ident, "status", "presumed").with("base", []string{presumed.id(), formal.id()}), applied},
		}
		for _, tt := range tests {
			res := w.push(tt.p, tt.o)
			got := res.Results[0]
			if got.Status != tt.want.status || got.Code != tt.want.code {
				t.Errorf("%s (%s): %s %q (%s), want %s %q", tt.name, decision, got.Status, got.Code, got.Message, tt.want.status, tt.want.code)
			}
			if got.Status == protocol.StatusRejected {
				if prev, ok := messages[tt.name]; ok && prev != got.Message {
					t.Errorf("%s: the refusal depends on the stored decision:\n%s\n%s", tt.name, prev, got.Message)
				}
				messages[tt.name] = got.Message
			}
		}
	}
}

// TestPushIdentificationWeekReference: an identification's action_week
// names a week hosted by the identification's team, so that no reader of
// the record sees the id of a week it may not read (DESIGN §6). A week
// hosted elsewhere and a week that does not exist get the same answer,
// whoever writes.
func TestPushIdentificationWeekReference(t *testing.T) {
	w := newWorld(t)
	w.actionWeek(week1, teamA)
	w.actionWeek(week2, teamB)
	recA, _ := w.identification(fwA, teamA)
	visRec := w.id()
	tests := []struct {
		name string
		p    *access.Principal
		o    op
		want want
	}{
		{"week of the record's team", fwA, w.set(fwA, recA, ident, "action_week", week1), applied},
		{"week of another team", fwA, w.set(fwA, recA, ident, "action_week", week2), rejected(model.CodeInvalidValue)},
		{"week of another team, by a national supervisor", supNat, w.set(supNat, recA, ident, "action_week", week2), rejected(model.CodeInvalidValue)},
		{"week that does not exist", fwA, w.set(fwA, recA, ident, "action_week", w.id()), rejected(model.CodeInvalidValue)},
		{"cleared", fwA, w.set(fwA, recA, ident, "action_week", nil).with("value", nil), applied},
		{"visitor's identification for the host team", visitW1, w.set(visitW1, visRec, ident, "team", teamA), applied},
		{"visitor names its week", visitW1, w.set(visitW1, visRec, ident, "action_week", week1), applied},
	}
	var messages []string
	for _, tt := range tests {
		got := w.push(tt.p, tt.o).Results[0]
		if got.Status != tt.want.status || got.Code != tt.want.code {
			t.Errorf("%s: %s %q (%s), want %s %q", tt.name, got.Status, got.Code, got.Message, tt.want.status, tt.want.code)
		}
		if got.Status == protocol.StatusRejected && !slices.Contains(messages, got.Message) {
			messages = append(messages, got.Message)
		}
	}
	if len(messages) > 1 {
		t.Errorf("the refusals differ: %q", messages)
	}
}

// TestPushOpsAsPush: ops built with crdt.NewOp and handed to PushOps get
// the results Push gives their JSON: applied, and rejected by the same
// rules (another device's op, an op the schema refuses, a field worker
// writing another team's record).
func TestPushOpsAsPush(t *testing.T) {
	t.Parallel()
	viaJSON, direct := newWorld(t), newWorld(t)
	rec := uid(900)
	ops := []op{
		viaJSON.newOp(fwA, rec, model.KindIdentification, model.FieldTeam, model.ActionSet, teamA),
		viaJSON.newOp(fwA, rec, model.KindIdentification, model.FieldStatus, model.ActionSet, "presumed"),
		viaJSON.newOp(fwB, rec, model.KindIdentification, "region", model.ActionSet, "north"),
		viaJSON.newOp(fwA, rec, model.KindIdentification, "no_such_field", model.ActionSet, "x"),
		viaJSON.newOp(fwA, uid(901), model.KindIdentification, model.FieldTeam, model.ActionSet, teamB),
	}
	built := make([]crdt.Op, len(ops))
	for i, o := range ops {
		d, err := crdt.DecodeOp(o.raw())
		if err != nil {
			t.Fatal(err)
		}
		if built[i], err = crdt.NewOp(d, o["value"]); err != nil {
			t.Fatal(err)
		}
	}
	want := viaJSON.push(fwA, ops[0], ops[1], ops[2], ops[3], ops[4])
	got, err := direct.svc.PushOps(context.Background(), fwA, built)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != len(want.Results) {
		t.Fatalf("%d results, want %d", len(got.Results), len(want.Results))
	}
	applied := 0
	for i := range want.Results {
		g, w := got.Results[i], want.Results[i]
		if g.ID != w.ID || g.Status != w.Status || g.Code != w.Code {
			t.Errorf("op %d: PushOps %s %s %s, Push %s %s %s", i, g.ID, g.Status, g.Code, w.ID, w.Status, w.Code)
		}
		if w.Status == protocol.StatusApplied {
			applied++
		}
	}
	if applied != 2 {
		t.Errorf("Push applied %d ops, want 2 (the test would not tell rules apart)", applied)
	}
}
