package protocol_test

import (
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// TestPushScopeMoves: moving an action week (host_team), an
// identification (team) or a site visit (action_week) needs the right to
// write both where it is and where it goes. A regional supervisor moves
// nothing into or out of its jurisdiction, not even as a value that loses
// to the shown one; a supervisor of both ends moves freely.
func TestPushScopeMoves(t *testing.T) {
	w := newWorld(t)
	hostA := w.actionWeek(week1, teamA)
	hostB := w.actionWeek(week2, teamB)
	recA, teamOpA := w.identification(fwA, teamA)
	recB, teamOpB := w.identification(fwB, teamB)
	sv, weekOp := w.siteVisit(fwA, week1)
	stale := hlc.New(now.Add(-2*time.Hour).UnixMilli(), 0).String() // older than every shown value
	within := w.set(supA, week1, week, "host_team", teamA).with("base", []string{hostA})

	tests := []struct {
		name string
		p    *access.Principal
		op   op
		want want
	}{
		{"week out of the jurisdiction", supA, w.set(supA, week1, week, "host_team", teamB).with("base", []string{hostA}), rejected(model.CodeForbidden)},
		{"week into the jurisdiction", supA, w.set(supA, week2, week, "host_team", teamA).with("base", []string{hostB}), rejected(model.CodeForbidden)},
		{"week out, as a losing value", supA, w.set(supA, week1, week, "host_team", teamB).with("hlc", stale), rejected(model.CodeForbidden)},
		{"record out of the jurisdiction", supA, w.set(supA, recA, ident, "team", teamB).with("base", []string{teamOpA}), rejected(model.CodeForbidden)},
		{"record into the jurisdiction", supA, w.set(supA, recB, ident, "team", teamA).with("base", []string{teamOpB}), rejected(model.CodeForbidden)},
		{"record out, as a losing value", supA, w.set(supA, recA, ident, "team", teamB).with("hlc", stale), rejected(model.CodeForbidden)},
		{"site visit to a week out of the jurisdiction", supA, w.set(supA, sv, visit, "action_week", week2).with("base", []string{weekOp}), rejected(model.CodeForbidden)},
		{"site visit, as a losing value", supA, w.set(supA, sv, visit, "action_week", week2).with("hlc", stale), rejected(model.CodeForbidden)},
		{"week within the jurisdiction", supA, within, applied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkResults(t, w.push(tt.p, tt.op).Results, []string{tt.op.id()}, []want{tt.want})
		})
	}
	wantPlace := func(record, field, value string) {
		t.Helper()
		rec, _, ok := w.store.record(record)
		if !ok {
			t.Fatalf("record %s is gone", record)
		}
		if got := string(rec.Value(field)); got != `"`+value+`"` {
			t.Errorf("%s of %s = %s, want %q", field, record, got, value)
		}
		if n := len(rec.Siblings(field)); n != 1 {
			t.Errorf("%s of %s has %d concurrent values, want 1 (refused ops planted none)", field, record, n)
		}
	}
	wantPlace(week1, "host_team", teamA)
	wantPlace(week2, "host_team", teamB)
	wantPlace(recA, "team", teamA)
	wantPlace(recB, "team", teamB)
	wantPlace(sv, "action_week", week1)

	// A supervisor of both teams moves a week and a record there and back.
	there := w.set(supAB, week1, week, "host_team", teamB).with("base", []string{within.id()})
	w.mustApply(supAB, there)
	w.mustApply(supAB, w.set(supAB, week1, week, "host_team", teamA).with("base", []string{there.id()}))
	w.mustApply(supAB, w.set(supAB, recA, ident, "team", teamB).with("base", []string{teamOpA}))
	wantPlace(week1, "host_team", teamA)
	wantPlace(recA, "team", teamB)
}
