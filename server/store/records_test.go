package store

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

func TestListRecords(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	db := openTest(t, Options{Now: func() time.Time { return now }})
	a, b := newAuthor(), newAuthor()
	const k = model.KindIdentification
	teamA, teamB := newID(), newID()

	var all []string
	add := func(team, status, region string) string {
		rec := newID()
		all = append(all, rec)
		ops := a.identification(t, rec, team)
		ops = append(ops, a.op(t, rec, k, "region", model.ActionSet, quote(region)))
		if status != "" {
			ops = append(ops, a.op(t, rec, k, model.FieldStatus, model.ActionSet, quote(status), ops[1].Op.ID))
		}
		mustApplied(t, commit(t, db, ops...))
		return rec
	}
	for i := range 10 {
		add(teamA, "", "north")
		if i%2 == 0 {
			add(teamB, "presumed", "south")
		}
	}
	slices.Sort(all)
	// A conflict: two concurrent status values on one record of team B.
	conflicted := add(teamB, "", "south")
	mustApplied(t, commit(t, db, b.op(t, conflicted, k, model.FieldStatus, model.ActionSet, `"withdrawn"`)))
	// A later update.
	now = now.Add(time.Hour)
	updated := add(teamA, "withdrawn", "east")
	// An action week hosted by team A.
	week := newID()
	mustApplied(t, commit(t, db, a.op(t, week, model.KindActionWeek, model.FieldHostTeam, model.ActionSet, quote(teamA))))

	list := func(f ListFilter) []Summary {
		t.Helper()
		var out []Summary
		for {
			page, next, err := db.ListRecords(ctx, f)
			if err != nil {
				t.Fatalf("ListRecords: %v", err)
			}
			if f.Limit > 0 && len(page) > f.Limit {
				t.Fatalf("page of %d, limit %d", len(page), f.Limit)
			}
			out = append(out, page...)
			if next == "" {
				return out
			}
			if next != page[len(page)-1].ID {
				t.Fatalf("cursor %s, last id %s", next, page[len(page)-1].ID)
			}
			f.After = next
		}
	}
	ids := func(s []Summary) []string {
		var out []string
		for _, x := range s {
			out = append(out, x.ID)
		}
		return out
	}
	yes, no := true, false
	for _, tc := range []struct {
		name string
		f    ListFilter
		want int
	}{
		{"all", ListFilter{}, 18},
		{"all in pages of 4", ListFilter{Limit: 4}, 18},
		{"all in pages of 1", ListFilter{Limit: 1}, 18},
		{"identifications", ListFilter{Kind: k, Limit: 5}, 17},
		{"team A", ListFilter{Team: teamA}, 12}, // 11 identifications and the week it hosts
		{"team B", ListFilter{Team: teamB, Kind: k}, 6},
		{"status presumed", ListFilter{Status: "presumed", Limit: 2}, 5},
		{"region south", ListFilter{Region: "south"}, 6},
		{"conflicts", ListFilter{HasConflicts: &yes}, 1},
		{"no conflicts", ListFilter{HasConflicts: &no, Kind: k}, 16},
		{"updated since", ListFilter{UpdatedSince: now}, 2},
		{"visible to team B", ListFilter{Visible: func(s access.Scope) bool { return s.Team == teamB }, Limit: 3}, 6},
		{"nothing", ListFilter{Status: "identified"}, 0},
	} {
		got := list(tc.f)
		if len(got) != tc.want {
			t.Errorf("%s: %d records, want %d", tc.name, len(got), tc.want)
		}
		if !slices.IsSorted(ids(got)) {
			t.Errorf("%s: not sorted by id", tc.name)
		}
		if len(slices.Compact(ids(got))) != len(got) {
			t.Errorf("%s: a record listed twice", tc.name)
		}
	}

	got := list(ListFilter{HasConflicts: &yes})
	if len(got) == 1 {
		s := got[0]
		if s.ID != conflicted || !slices.Equal(s.Conflicts, []string{model.FieldStatus}) || s.Team != teamB || s.Region != "south" || s.Creator != a.user || s.Kind != k {
			t.Errorf("conflicted summary = %+v", s)
		}
	}
	got = list(ListFilter{UpdatedSince: now, Kind: k})
	if len(got) != 1 || got[0].ID != updated || got[0].Status != "withdrawn" || !got[0].UpdatedAt.Equal(now) {
		t.Errorf("updated since = %+v", got)
	}
	got = list(ListFilter{Kind: model.KindActionWeek})
	if len(got) != 1 || got[0].HostTeam != teamA || got[0].ActionWeek != week {
		t.Errorf("action weeks = %+v", got)
	}
	if n, err := db.RecordCount(ctx); err != nil || n != 18 {
		t.Errorf("RecordCount = %d, %v", n, err)
	}
}

// TestProtocolPushPull runs the protocol's push and pull over the store:
// the scope rule, the access check, a team move seen by both teams.
func TestProtocolPushPull(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	now := time.Now()
	svc := &protocol.Service{
		Schema: model.DefaultSchema(), Store: db, Clock: hlc.NewClock(time.Now, 0),
		Now: func() time.Time { return now }, Limits: protocol.DefaultLimits,
	}
	teamA, teamB := newID(), newID()
	fw := newAuthor()
	sup := newAuthor()
	pFW := &access.Principal{User: fw.user, Device: fw.device, Role: model.RoleFieldWorker, Teams: []string{teamA}}
	pB := &access.Principal{User: newID(), Device: newID(), Role: model.RoleFieldWorker, Teams: []string{teamB}}
	pSup := &access.Principal{User: sup.user, Device: sup.device, Role: model.RoleSupervisor}
	raw := func(ops ...protocol.Pending) []json.RawMessage {
		var out []json.RawMessage
		for _, p := range ops {
			out = append(out, p.Op.AppendJSON(nil))
		}
		return out
	}
	rec := newID()
	const k = model.KindIdentification
	orphan := fw.op(t, newID(), k, "code", model.ActionSet, `"no team"`)
	ops := fw.identification(t, rec, teamA)
	res, err := svc.Push(ctx, pFW, raw(append([]protocol.Pending{orphan}, ops...)...))
	if err != nil {
		t.Fatal(err)
	}
	if res.Results[0].Code != model.CodeUnknownRecord {
		t.Errorf("op without scope: %+v, want unknown_record", res.Results[0])
	}
	mustApplied(t, res.Results[1:])

	pull := func(p *access.Principal, cursor string) protocol.PullResult {
		t.Helper()
		r, err := svc.Pull(ctx, p, cursor, 0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if got := pull(pFW, ""); len(got.Ops) != 3 {
		t.Errorf("team A pulls %d ops, want 3", len(got.Ops))
	}
	cursorA := pull(pFW, "").Cursor
	pBoth := &access.Principal{User: newID(), Device: newID(), Role: model.RoleSupervisor, Teams: []string{teamA, teamB}}
	first := pull(pBoth, "")
	if len(first.Ops) != 3 {
		t.Errorf("supervisor of both teams pulls %d ops, want 3", len(first.Ops))
	}
	cursorBoth := first.Cursor
	if got := pull(pB, ""); len(got.Ops) != 0 {
		t.Errorf("team B pulls %d ops, want 0", len(got.Ops))
	}
	// The field worker may not move the record; the supervisor may.
	moveFW := fw.op(t, rec, k, model.FieldTeam, model.ActionSet, quote(teamB), ops[0].Op.ID)
	res, _ = svc.Push(ctx, pFW, raw(moveFW))
	if res.Results[0].Code != model.CodeForbidden {
		t.Errorf("field worker moving a record: %+v", res.Results[0])
	}
	move := sup.op(t, rec, k, model.FieldTeam, model.ActionSet, quote(teamB), ops[0].Op.ID)
	res, _ = svc.Push(ctx, pSup, raw(move))
	mustApplied(t, res.Results)

	got := pull(pFW, cursorA)
	if len(got.Ops) != 0 || !slices.Equal(got.Drop, []string{rec}) {
		t.Errorf("team A after the move: ops %d, drop %v", len(got.Ops), got.Drop)
	}
	if got := pull(pB, ""); len(got.Ops) != 4 || len(got.Drop) != 0 {
		t.Errorf("team B after the move: %d ops, drop %v; want 4 ops", len(got.Ops), got.Drop)
	}
	if got := pull(pSup, ""); len(got.Ops) != 4 {
		t.Errorf("national supervisor pulls %d ops, want 4", len(got.Ops))
	}
	// A supervisor of both teams, who read the record in A, gets only the
	// move from B, not its earlier ops a second time.
	if got := pull(pBoth, cursorBoth); len(got.Ops) != 1 || len(got.Drop) != 0 {
		t.Errorf("supervisor of both teams after the move: %d ops, drop %v; want 1 op", len(got.Ops), got.Drop)
	}
}
