package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// bigSchema is the default schema with limits no test record reaches.
func bigSchema() *model.Schema {
	s := model.DefaultSchema()
	s.SetLimits(model.RecordLimits{MaxLogEntries: 1 << 30, MaxEntryBytes: 1 << 20, MaxRecordBytes: 1 << 40})
	return s
}

// lastCommitBytes returns the bytes of keys and values badger holds at the
// newest version: what the last transaction wrote.
func lastCommitBytes(t *testing.T, db *DB) int64 {
	t.Helper()
	txn := db.bdb.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
	defer it.Close()
	var top uint64
	sizes := map[uint64]int64{}
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		v := item.Version()
		top = max(top, v)
		sizes[v] += int64(len(item.Key())) + item.ValueSize()
	}
	return sizes[top]
}

// TestOneOpWritesIndependentOfRecordSize: storing one op writes about as
// much to a record of 2,000 notes as to a new record. Until records were a
// snapshot plus an op tail, every op rewrote its record's whole value.
func TestOneOpWritesIndependentOfRecordSize(t *testing.T) {
	db := openTest(t, Options{Schema: bigSchema()})
	a := newAuthor()
	team := newID()
	const k = model.KindIdentification
	note := `{"text":"Met near the bus station with two others; says the employer keeps her passport."}`

	mustApplied(t, commit(t, db, a.op(t, newID(), k, model.FieldTeam, model.ActionSet, quote(team))))
	small := lastCommitBytes(t, db)

	big := newID()
	ops := []protocol.Pending{a.op(t, big, k, model.FieldTeam, model.ActionSet, quote(team))}
	for range 2000 {
		ops = append(ops, a.op(t, big, k, "notes", model.ActionAppend, note))
	}
	mustApplied(t, commit(t, db, ops...))
	// At most one of three ops in a row compacts the record.
	least := int64(1 << 62)
	for range 3 {
		mustApplied(t, commit(t, db, a.op(t, big, k, "notes", model.ActionAppend, note)))
		least = min(least, lastCommitBytes(t, db))
	}
	if least > 2*small {
		t.Errorf("a 1-op commit to a record of 2,000 notes wrote %d bytes, one creating a record %d: the cost depends on the record's size", least, small)
	}
}

// TestRecordStateIsSnapshotPlusTail: a record's state, read through its
// snapshot and tail (in the writer's cache, from badger, and after a
// reopen), is the merge of its ops, across compactions, redactions and a
// redaction that arrives before its append.
func TestRecordStateIsSnapshotPlusTail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	schema := bigSchema()
	db := openAt(t, dir, Options{Schema: schema, RecordCacheBytes: 1})
	a := newAuthor()
	rec := newID()
	const k = model.KindIdentification
	ops := []protocol.Pending{a.op(t, rec, k, model.FieldTeam, model.ActionSet, quote(newID()))}
	for i := range 600 {
		ops = append(ops, a.op(t, rec, k, "notes", model.ActionAppend, fmt.Sprintf(`{"text":"note %d, long enough to fill the tail past its threshold"}`, i)))
	}
	late := a.op(t, rec, k, "notes", model.ActionAppend, `{"text":"redacted before it arrived"}`)
	ops = append(ops,
		a.op(t, rec, k, "notes", model.ActionRedact, "", ops[10].Op.ID),
		a.op(t, rec, k, "notes", model.ActionRedact, "", ops[500].Op.ID),
		a.op(t, rec, k, "notes", model.ActionRedact, "", late.Op.ID),
		late,
		a.op(t, rec, k, model.FieldStatus, model.ActionSet, `"presumed"`))
	r := rand.New(rand.NewPCG(3, 4))
	for pos := 0; pos < len(ops); {
		n := min(len(ops)-pos, 1+r.IntN(40))
		mustApplied(t, commit(t, db, ops[pos:pos+n]...))
		pos += n
	}
	want := crdt.NewRecord(rec, k)
	for i := range ops {
		if _, err := want.Apply(schema, &ops[i].Op); err != nil {
			t.Fatal(err)
		}
	}
	check := func(db *DB, when string) {
		t.Helper()
		st, err := db.Record(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Record.Canonical(); !bytes.Equal(got, want.Canonical()) {
			t.Errorf("%s: stored state differs from the merge of the ops", when)
		}
		hist, err := db.History(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != len(ops) {
			t.Errorf("%s: history has %d ops, want %d", when, len(hist), len(ops))
		}
	}
	check(db, "open")
	// The writer's state: one more op decided against it.
	region := a.op(t, rec, k, "region", model.ActionSet, `"Varna"`)
	mustApplied(t, commit(t, db, region))
	if _, err := want.Apply(schema, &region.Op); err != nil {
		t.Fatal(err)
	}
	ops = append(ops, region)
	check(db, "after one more op")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	check(openAt(t, dir, Options{Schema: schema}), "reopened")
}

// TestRedactionCompactsItsRecord: a redaction that erases a stored value
// rewrites its record's snapshot at once, so the newest snapshot never
// holds the erased value.
func TestRedactionCompactsItsRecord(t *testing.T) {
	// Plain values, so that the snapshot's bytes show the note (sealed
	// values: TestErasureReachesTheBytes).
	db := openTest(t, Options{plainValues: true})
	a := newAuthor()
	rec := newID()
	const k = model.KindIdentification
	const canary = "canary-7f3a9c"
	ops := []protocol.Pending{a.op(t, rec, k, model.FieldTeam, model.ActionSet, quote(newID()))}
	for i := range 10 {
		ops = append(ops, a.op(t, rec, k, "notes", model.ActionAppend, fmt.Sprintf(`{"text":"note %d"}`, i)))
	}
	secret := a.op(t, rec, k, "notes", model.ActionAppend, `{"text":"`+canary+`"}`)
	ops = append(ops, secret)
	mustApplied(t, commit(t, db, ops...))
	mustApplied(t, commit(t, db, a.op(t, rec, k, "notes", model.ActionAppend, `{"text":"after"}`)))
	// Compact with the canary in the snapshot (the control).
	head := func() []byte {
		t.Helper()
		txn := db.bdb.NewTransaction(false)
		defer txn.Discard()
		v, err := getValue(txn, key(prefixRecord, rec))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	mustApplied(t, commit(t, db, a.op(t, rec, k, model.FieldTeam, model.ActionSet, quote(newID()))))
	if !bytes.Contains(head(), []byte(canary)) {
		t.Fatal("control: the snapshot does not hold the note")
	}
	mustApplied(t, commit(t, db, a.op(t, rec, k, "notes", model.ActionRedact, "", secret.Op.ID)))
	if bytes.Contains(head(), []byte(canary)) {
		t.Error("the record's snapshot still holds the redacted value")
	}
}

// TestStoreCarriesOutEffects: the store indexes, erases and records host
// teams as decide's effects say, not by rules of its own (DESIGN §9).
func TestStoreCarriesOutEffects(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	a := newAuthor()
	rec := newID()
	const k = model.KindIdentification
	teamA, teamB, week := newID(), newID(), newID()
	told := func(e protocol.Effects) protocol.Decide {
		return func(tx protocol.Tx, p *protocol.Pending) protocol.Decision {
			return protocol.Decision{Result: protocol.Result{ID: p.Op.ID, Status: protocol.StatusApplied}, Effects: e}
		}
	}
	run := func(op protocol.Pending, e protocol.Effects) {
		t.Helper()
		res, err := db.Commit(ctx, []protocol.Pending{op}, told(e))
		if err != nil {
			t.Fatal(err)
		}
		mustApplied(t, res)
	}
	// The op names team A; the effects put the record in team B's feed.
	scopeB := access.Scope{Kind: k, Team: teamB, Creator: a.user}
	first := a.op(t, rec, k, model.FieldTeam, model.ActionSet, quote(teamA))
	run(first, protocol.Effects{Scope: scopeB, Bucket: access.TeamBucket(teamB), HostWeek: week, HostTeam: teamB})
	note := a.op(t, rec, k, "notes", model.ActionAppend, `{"text":"kept"}`)
	run(note, protocol.Effects{Scope: scopeB, Bucket: access.TeamBucket(teamB)})
	erased := a.op(t, rec, k, "notes", model.ActionAppend, `{"text":"arrives erased"}`)
	run(erased, protocol.Effects{Scope: scopeB, Bucket: access.TeamBucket(teamB), Erased: true})
	run(a.op(t, rec, k, model.FieldStatus, model.ActionSet, `"presumed"`), protocol.Effects{Scope: scopeB, Bucket: access.TeamBucket(teamB), Erase: note.Op.ID})

	if got := feedAll(t, db, []string{access.TeamBucket(teamA)}, 0, 100); len(got) != 0 {
		t.Errorf("team A's feed has %d entries, want none", len(got))
	}
	entries := feedAll(t, db, []string{access.TeamBucket(teamB)}, 0, 100)
	if len(entries) != 4 {
		t.Fatalf("team B's feed has %d entries, want 4", len(entries))
	}
	for i, e := range entries {
		op, err := crdt.DecodeOp(e.JSON)
		if err != nil {
			t.Fatal(err)
		}
		if nulled := crdt.IsNull(op.Value); nulled != (i == 1 || i == 2) {
			t.Errorf("entry %d (%s): value %s", i, op.Field, op.Value)
		}
		if e.Scope.Team != teamB {
			t.Errorf("entry %d: scope team %s, want team B", i, e.Scope.Team)
		}
	}
	weeks, err := db.HostedWeeks(ctx, []string{teamB})
	if err != nil || len(weeks) != 1 || weeks[0] != week {
		t.Errorf("HostedWeeks(team B) = %v, %v; want the week the effects named", weeks, err)
	}
	st, err := db.Record(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if st.Scope.Team != teamB {
		t.Errorf("record's scope team %s, want team B", st.Scope.Team)
	}
}

// TestSummaryLabelsFromEffects: a record's summary lists the labels the
// effects' Summary names, not values the store picks by a rule of its
// own (DESIGN §9).
func TestSummaryLabelsFromEffects(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, Options{})
	a := newAuthor()
	rec := newID()
	const k = model.KindIdentification
	// The effects name the region field as the status label, and no other.
	e := protocol.Effects{Scope: access.Scope{Kind: k, Team: newID(), Creator: a.user}, Summary: protocol.LabelFields{Status: "region"}}
	decide := func(tx protocol.Tx, p *protocol.Pending) protocol.Decision {
		return protocol.Decision{Result: protocol.Result{ID: p.Op.ID, Status: protocol.StatusApplied}, Effects: e}
	}
	res, err := db.Commit(ctx, []protocol.Pending{a.op(t, rec, k, model.FieldStatus, model.ActionSet, `"presumed"`), a.op(t, rec, k, "region", model.ActionSet, `"north"`)}, decide)
	if err != nil {
		t.Fatal(err)
	}
	mustApplied(t, res)
	sums, _, err := db.ListRecords(ctx, ListFilter{})
	if err != nil || len(sums) != 1 {
		t.Fatalf("ListRecords = %d summaries, %v; want 1", len(sums), err)
	}
	got := protocol.Labels{Status: sums[0].Status, Region: sums[0].Region, ReviewStatus: sums[0].ReviewStatus}
	if want := (protocol.Labels{Status: "north"}); got != want {
		t.Errorf("summary labels %+v, want %+v", got, want)
	}
}
