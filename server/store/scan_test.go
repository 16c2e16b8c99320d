package store

import (
	"context"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

func TestScanRecords(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	a := newAuthor()
	teamA, teamB := newID(), newID()
	var inA []string
	for i := range 6 {
		rec := newID()
		team := teamA
		if i%2 == 1 {
			team = teamB
		} else {
			inA = append(inA, rec)
		}
		mustApplied(t, commit(t, db, a.identification(t, rec, team)...))
	}
	week := newID()
	mustApplied(t, commit(t, db, a.op(t, week, model.KindActionWeek, model.FieldHostTeam, model.ActionSet, quote(teamA))))
	slices.Sort(inA)

	var got []string
	err := db.ScanRecords(ctx, model.KindIdentification, func(s access.Scope) bool { return s.Team == teamA }, func(sum Summary, rec *crdt.Record) error {
		if sum.ID != rec.ID || sum.Team != teamA {
			t.Errorf("summary %+v with record %s", sum, rec.ID)
		}
		if string(rec.Value(model.FieldStatus)) != `"potential"` {
			t.Errorf("record %s status %s", rec.ID, rec.Value(model.FieldStatus))
		}
		if n := len(rec.Entries("notes")); n != 1 {
			t.Errorf("record %s has %d notes", rec.ID, n)
		}
		got = append(got, sum.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, inA) {
		t.Errorf("scanned %v, want %v (in id order)", got, inA)
	}

	// Every kind, stopped early.
	n := 0
	err = db.ScanRecords(ctx, "", nil, func(Summary, *crdt.Record) error {
		if n++; n == 3 {
			return ErrStopScan
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Errorf("stopped scan: n=%d err=%v", n, err)
	}
	kinds := map[string]int{}
	if err := db.ScanRecords(ctx, "", nil, func(s Summary, _ *crdt.Record) error { kinds[s.Kind]++; return nil }); err != nil {
		t.Fatal(err)
	}
	if kinds[model.KindIdentification] != 6 || kinds[model.KindActionWeek] != 1 {
		t.Errorf("kinds scanned: %v", kinds)
	}
}
