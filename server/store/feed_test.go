package store

import (
	"context"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// storedOp returns the op with id as the writer's view shows it.
func storedOp(t *testing.T, db *DB, id string) (crdt.Op, bool) {
	t.Helper()
	var op crdt.Op
	var redacted, ok bool
	_, err := db.Commit(context.Background(), []protocol.Pending{{Op: crdt.Op{ID: newID()}}}, func(tx protocol.Tx, p *protocol.Pending) protocol.Decision {
		var err error
		op, redacted, ok, err = tx.Op(id)
		if err != nil {
			t.Error(err)
		}
		return protocol.Decision{Result: protocol.Result{ID: p.Op.ID, Status: protocol.StatusRejected, Code: model.CodeForbidden}}
	})
	if err != nil || !ok {
		t.Fatalf("op %s: ok=%v err=%v", id, ok, err)
	}
	return op, redacted
}

// feedValueOf returns the served JSON of op id from the global feed.
func feedValueOf(t *testing.T, db *DB, id string) string {
	t.Helper()
	for _, e := range feedAll(t, db, nil, 0, 1000) {
		op, err := crdt.DecodeOp(e.JSON)
		if err != nil {
			t.Fatal(err)
		}
		if op.ID == id {
			return string(op.Value)
		}
	}
	t.Fatalf("op %s is not in the feed", id)
	return ""
}

func TestRedact(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	a := newAuthor()
	const k = model.KindIdentification
	rec := newID()
	mustApplied(t, commit(t, db, a.identification(t, rec, newID())...))

	check := func(name, appendID string) {
		t.Helper()
		if got := feedValueOf(t, db, appendID); got != "null" {
			t.Errorf("%s: served append value = %s, want null", name, got)
		}
		op, redacted := storedOp(t, db, appendID)
		if !redacted || string(op.Value) != "null" {
			t.Errorf("%s: stored op redacted=%v value=%s", name, redacted, op.Value)
		}
		hist, err := db.History(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hist {
			if h.ID == appendID && string(h.Value) != "null" {
				t.Errorf("%s: history value = %s, want null", name, h.Value)
			}
		}
		st, err := db.Record(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range st.Record.Entries("notes") {
			if e.Op == appendID && (!e.Redacted || string(e.Value) != "null") {
				t.Errorf("%s: record entry = %+v", name, e)
			}
		}
	}

	// Redact after the append, in a later commit.
	app := a.op(t, rec, k, "notes", model.ActionAppend, `{"text":"the name of a person"}`)
	mustApplied(t, commit(t, db, app))
	if got := feedValueOf(t, db, app.Op.ID); got != `{"text":"the name of a person"}` {
		t.Fatalf("append served as %s before the redact", got)
	}
	mustApplied(t, commit(t, db, a.op(t, rec, k, "notes", model.ActionRedact, "", app.Op.ID)))
	check("redact after append", app.Op.ID)

	// Redact before the append arrives.
	early := a.op(t, rec, k, "notes", model.ActionAppend, `{"text":"an address"}`)
	mustApplied(t, commit(t, db, a.op(t, rec, k, "notes", model.ActionRedact, "", early.Op.ID)))
	mustApplied(t, commit(t, db, early))
	check("redact before append", early.Op.ID)

	// Append and redact in one group.
	same := a.op(t, rec, k, "notes", model.ActionAppend, `{"text":"a phone number"}`)
	mustApplied(t, commit(t, db, same, a.op(t, rec, k, "notes", model.ActionRedact, "", same.Op.ID)))
	check("append and redact in one group", same.Op.ID)

	// Redact and append in one group.
	late := a.op(t, rec, k, "notes", model.ActionAppend, `{"text":"a plate number"}`)
	mustApplied(t, commit(t, db, a.op(t, rec, k, "notes", model.ActionRedact, "", late.Op.ID), late))
	check("redact then append in one group", late.Op.ID)

	// A redact naming an append of another field erases nothing.
	ref := a.op(t, rec, k, "referrals", model.ActionAppend, `{"service":"shelter"}`)
	mustApplied(t, commit(t, db, ref, a.op(t, rec, k, "notes", model.ActionRedact, "", ref.Op.ID)))
	if got := feedValueOf(t, db, ref.Op.ID); got != `{"service":"shelter"}` {
		t.Errorf("a redact of another log erased %s", got)
	}
	// A re-sent redacted append is a duplicate.
	if res := commit(t, db, app); res[0].Status != protocol.StatusDuplicate {
		t.Errorf("re-sent redacted append: %+v", res[0])
	}
}

func TestTeamMoveDropsAndReindexes(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	a := newAuthor()
	const k = model.KindIdentification
	teamA, teamB := newID(), newID()
	rec, other := newID(), newID()
	ops := a.identification(t, rec, teamA)
	ops = append(ops, a.identification(t, other, teamA)...)
	mustApplied(t, commit(t, db, ops...))
	bucketA, bucketB := access.TeamBucket(teamA), access.TeamBucket(teamB)
	cursorA := feedAll(t, db, []string{bucketA}, 0, 100)[2].Seq // a device of A read up to here

	move := a.op(t, rec, k, model.FieldTeam, model.ActionSet, quote(teamB), ops[0].Op.ID)
	mustApplied(t, commit(t, db, move))
	recOps := []string{ops[0].Op.ID, ops[1].Op.ID, ops[2].Op.ID, move.Op.ID}

	// Team A: the record's entries are gone, a drop marker follows.
	entries := feedAll(t, db, []string{bucketA}, 0, 100)
	ids, drops := entryIDs(t, entries)
	if want := []string{ops[3].Op.ID, ops[4].Op.ID, ops[5].Op.ID}; !slices.Equal(ids, want) {
		t.Errorf("team A ops after the move = %v, want only the other record's %v", ids, want)
	}
	if !slices.Equal(drops, []string{rec}) {
		t.Errorf("team A drops = %v, want [%s]", drops, rec)
	}
	last := entries[len(entries)-1]
	if !last.Drop || last.Bucket != bucketA || last.JSON != nil || last.Scope.Team != teamB {
		t.Errorf("drop marker = %+v", last)
	}
	// The device that read up to cursorA gets the drop.
	_, drops = entryIDs(t, feedAll(t, db, []string{bucketA}, cursorA, 100))
	if !slices.Equal(drops, []string{rec}) {
		t.Errorf("team A drops after the cursor = %v", drops)
	}

	// Team B: every op of the record, the earlier ones included.
	entries = feedAll(t, db, []string{bucketB}, 0, 100)
	ids, drops = entryIDs(t, entries)
	if slices.Sort(ids); !slices.Equal(ids, sorted(recOps)) || len(drops) != 0 {
		t.Errorf("team B ops = %v drops = %v, want %v", ids, drops, sorted(recOps))
	}
	seqInA := map[string]uint64{}
	for i, p := range ops[:3] {
		seqInA[p.Op.ID] = uint64(i + 1) // indexed in A under their own seqs
	}
	for _, e := range entries {
		if e.Bucket != bucketB || e.Scope.Team != teamB {
			t.Errorf("team B entry %+v", e)
		}
		op, _ := crdt.DecodeOp(e.JSON)
		if want, moved := seqInA[op.ID]; moved {
			if e.MovedFrom != bucketA || e.PrevSeq != want {
				t.Errorf("re-indexed op %s: moved from %q at %d, want %q at %d", op.ID, e.MovedFrom, e.PrevSeq, bucketA, want)
			}
		} else if e.MovedFrom != "" || e.PrevSeq != 0 {
			t.Errorf("op %s written in B says it moved from %q", op.ID, e.MovedFrom)
		}
	}
	// The global feed lists every op once.
	ids, _ = entryIDs(t, feedAll(t, db, nil, 0, 100))
	if len(ids) != 7 {
		t.Errorf("global feed holds %d ops, want 7", len(ids))
	}

	// Back to A, in one group with another op: A holds every op of the
	// record exactly once again, B gets a drop marker.
	back := a.op(t, rec, k, model.FieldTeam, model.ActionSet, quote(teamA), move.Op.ID)
	code := a.op(t, rec, k, "code", model.ActionSet, `"Z-9"`)
	mustApplied(t, commit(t, db, back, code))
	recOps = append(recOps, back.Op.ID, code.Op.ID)
	ids, drops = entryIDs(t, feedAll(t, db, []string{bucketA}, 0, 100))
	slices.Sort(ids)
	if want := sorted(append(slices.Clone(recOps), ops[3].Op.ID, ops[4].Op.ID, ops[5].Op.ID)); !slices.Equal(ids, want) {
		t.Errorf("team A ops after moving back = %v, want %v", ids, want)
	}
	if !slices.Equal(drops, []string{rec}) {
		t.Errorf("team A drops = %v", drops)
	}
	ids, drops = entryIDs(t, feedAll(t, db, []string{bucketB}, 0, 100))
	if len(ids) != 0 || !slices.Equal(drops, []string{rec}) {
		t.Errorf("team B after moving back: ops %v drops %v", ids, drops)
	}
	// Both buckets merged: still each op once per bucket it is in.
	ids, _ = entryIDs(t, feedAll(t, db, []string{bucketB, bucketA, bucketA}, 0, 3))
	if len(ids) != 9 {
		t.Errorf("merged feed holds %d ops, want 9", len(ids))
	}
	st, err := db.Record(ctx, rec)
	if err != nil || st.Scope.Team != teamA {
		t.Errorf("Record scope = %+v, %v", st, err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestHostedWeeks(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	sup := newAuthor()
	host1, host2 := newID(), newID()
	week, visit := newID(), newID()
	const w = model.KindActionWeek
	setHost := sup.op(t, week, w, model.FieldHostTeam, model.ActionSet, quote(host1))
	mustApplied(t, commit(t, db,
		sup.op(t, week, w, "name", model.ActionSet, `"Spring action week"`),
		setHost,
		sup.op(t, visit, model.KindSiteVisit, model.FieldActionWeek, model.ActionSet, quote(week)),
		sup.op(t, visit, model.KindSiteVisit, "town", model.ActionSet, `"Ruse"`),
	))
	hosted := func(teams ...string) []string {
		got, err := db.HostedWeeks(ctx, teams)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := hosted(host1, host2); !slices.Equal(got, []string{week}) {
		t.Errorf("HostedWeeks = %v, want [%s]", got, week)
	}
	if got := hosted(host2); len(got) != 0 {
		t.Errorf("HostedWeeks(other team) = %v", got)
	}
	scopes := func() []access.Scope {
		var s []access.Scope
		for _, e := range feedAll(t, db, []string{access.WeekBucket(week)}, 0, 100) {
			s = append(s, e.Scope)
		}
		return s
	}
	for _, s := range scopes() {
		if s.HostTeam != host1 || s.ActionWeek != week {
			t.Errorf("scope %+v, want host team %s", s, host1)
		}
	}

	mustApplied(t, commit(t, db, sup.op(t, week, w, model.FieldHostTeam, model.ActionSet, quote(host2), setHost.Op.ID)))
	if got := hosted(host1); len(got) != 0 {
		t.Errorf("HostedWeeks(old host) = %v, want none", got)
	}
	if got := hosted(host2); !slices.Equal(got, []string{week}) {
		t.Errorf("HostedWeeks(new host) = %v", got)
	}
	for _, s := range scopes() {
		if s.HostTeam != host2 {
			t.Errorf("scope after the host change %+v, want host team %s", s, host2)
		}
	}
	st, err := db.Record(ctx, visit)
	if err != nil || st.Scope.HostTeam != host2 || st.Scope.Bucket() != access.WeekBucket(week) {
		t.Errorf("site visit scope = %+v, %v", st, err)
	}
}

func TestFeedMergesBucketsInOrder(t *testing.T) {
	db := openTest(t, Options{})
	a := newAuthor()
	teams := []string{newID(), newID(), newID()}
	for i := range 12 {
		mustApplied(t, commit(t, db, a.identification(t, newID(), teams[i%3])...))
	}
	buckets := []string{access.TeamBucket(teams[0]), access.TeamBucket(teams[2])}
	for _, limit := range []int{1, 5, 1000} {
		entries := feedAll(t, db, buckets, 0, limit)
		if len(entries) != 24 {
			t.Fatalf("limit %d: %d entries, want 24", limit, len(entries))
		}
		for i := 1; i < len(entries); i++ {
			if entries[i].Seq <= entries[i-1].Seq {
				t.Fatalf("limit %d: seq %d after %d", limit, entries[i].Seq, entries[i-1].Seq)
			}
		}
		for _, e := range entries {
			if e.Bucket != access.TeamBucket(e.Scope.Team) || e.Scope.Team == teams[1] {
				t.Fatalf("entry %+v from the wrong bucket", e)
			}
		}
	}
	page, err := db.Feed(context.Background(), buckets, false, 0, 24)
	if err != nil || page.More || len(page.Entries) != 24 {
		t.Errorf("exact page: more=%v entries=%d err=%v", page.More, len(page.Entries), err)
	}
	page, err = db.Feed(context.Background(), buckets, false, 0, 23)
	if err != nil || !page.More || page.Last != page.Entries[22].Seq {
		t.Errorf("short page: more=%v last=%d err=%v", page.More, page.Last, err)
	}
}
