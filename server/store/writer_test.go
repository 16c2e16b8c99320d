package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// TestCommitFailure fails one commit while the next chunk, built on top
// of it, waits: both requests get an error, nothing of either is stored,
// and the store goes on from its last committed state.
func TestCommitFailure(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	a := newAuthor()
	mustApplied(t, commit(t, db, a.identification(t, newID(), newID())...))

	var failNext atomic.Bool
	bDecided := make(chan struct{})
	var once sync.Once
	db.commitTxn = func(txn *badger.Txn) error {
		if failNext.CompareAndSwap(true, false) {
			<-bDecided // the next chunk is built on top of this one
			txn.Discard()
			return errors.New("disk on fire")
		}
		return txn.Commit()
	}
	team := newID()
	opsA := a.identification(t, newID(), team)
	opsB := a.identification(t, newID(), team)
	spy := func(tx protocol.Tx, p *protocol.Pending) protocol.Decision {
		once.Do(func() { close(bDecided) })
		return decideAll(tx, p)
	}
	failNext.Store(true)
	errA := make(chan error, 1)
	go func() {
		_, err := db.Commit(ctx, opsA, decideAll)
		errA <- err
	}()
	waitFor(t, func() bool { return !failNext.Load() }) // A's commit is under way
	_, errB := db.Commit(ctx, opsB, spy)
	if err := <-errA; err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("failed commit: %v, want the disk error", err)
	}
	if errB == nil {
		t.Errorf("the commit built on top of the failed one succeeded")
	}
	if last, _ := db.LastSeq(ctx); last != 3 {
		t.Errorf("LastSeq = %d after the failure, want 3", last)
	}
	if n, _ := db.RecordCount(ctx); n != 1 {
		t.Errorf("RecordCount = %d after the failure, want 1", n)
	}

	// Both go through when sent again: applied (not duplicates), under the
	// next sequence numbers.
	mustApplied(t, commit(t, db, opsA...))
	mustApplied(t, commit(t, db, opsB...))
	entries := feedAll(t, db, nil, 0, 100)
	for i, e := range entries {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d: a gap", i, e.Seq)
		}
	}
	if len(entries) != 9 {
		t.Errorf("global feed has %d entries, want 9", len(entries))
	}
	ids, _ := entryIDs(t, feedAll(t, db, []string{access.TeamBucket(team)}, 0, 100))
	if len(ids) != 6 {
		t.Errorf("bucket feed has %d ops, want 6", len(ids))
	}
	// The writer kept nothing of the failed chunks (its record cache
	// included): the records count once and list only the ops stored.
	if n, _ := db.RecordCount(ctx); n != 3 {
		t.Errorf("RecordCount = %d, want 3", n)
	}
	for _, ops := range [][]protocol.Pending{opsA, opsB} {
		hist, err := db.History(ctx, ops[0].Op.Record)
		if err != nil || len(hist) != len(ops) {
			t.Errorf("History of a re-sent record = %d ops, %v; want %d", len(hist), err, len(ops))
		}
	}
}

// TestDecideMayChangeTheOp: an op decide re-stamps is stored as changed.
func TestDecideMayChangeTheOp(t *testing.T) {
	db := openTest(t, Options{})
	a := newAuthor()
	ops := a.identification(t, newID(), newID())
	restamped := hlc.New(1_800_000_000_000, 7)
	res, err := db.Commit(context.Background(), ops, func(tx protocol.Tx, p *protocol.Pending) protocol.Decision {
		p.Op.HLC = restamped
		d := decideAll(tx, p)
		d.Result.HLC = restamped.String()
		return d
	})
	if err != nil {
		t.Fatal(err)
	}
	mustApplied(t, res)
	for _, e := range feedAll(t, db, nil, 0, 100) {
		op, err := crdt.DecodeOp(e.JSON)
		if err != nil {
			t.Fatal(err)
		}
		if op.HLC != restamped {
			t.Errorf("served hlc %s, want the re-stamped %s", op.HLC, restamped)
		}
	}
}

// fastID returns a random canonical UUID, cheaply.
func fastID(r *rand.Rand) string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], r.Uint64())
	binary.LittleEndian.PutUint64(b[8:], r.Uint64())
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:]
}

func TestOpFilter(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	f := &opFilter{}
	var ids []string
	for range bloomFirstCap + 1000 {
		id := fastID(r)
		ids = append(ids, id)
		f.add(id)
	}
	if len(f.stages) != 2 {
		t.Errorf("%d stages after %d ids, want 2", len(f.stages), len(ids))
	}
	for _, id := range ids {
		if !f.mayHave(id) {
			t.Fatalf("false negative for %s", id)
		}
	}
	fp := 0
	const probes = 100_000
	for range probes {
		if f.mayHave(fastID(r)) {
			fp++
		}
	}
	if rate := float64(fp) / probes; rate > 0.03 {
		t.Errorf("false positive rate %.3f, want under 0.03", rate)
	}
	// Ids that differ only slightly hash apart too.
	g := &opFilter{}
	for i := range 1000 {
		g.add(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
	}
	fp = 0
	for i := 1000; i < 11000; i++ {
		if g.mayHave(fmt.Sprintf("00000000-0000-4000-8000-%012d", i)) {
			fp++
		}
	}
	if fp > 100 {
		t.Errorf("%d false positives among 10000 sequential ids", fp)
	}

	b := f.marshal(42)
	h, covered, err := unmarshalOpFilter(b)
	if err != nil || covered != 42 || len(h.stages) != len(f.stages) {
		t.Fatalf("unmarshal: %v, covered %d", err, covered)
	}
	for i := range f.stages {
		if !slices.Equal(h.stages[i].blocks, f.stages[i].blocks) || h.stages[i].n != f.stages[i].n || h.stages[i].cap != f.stages[i].cap {
			t.Errorf("stage %d differs after the round trip", i)
		}
	}
	for _, bad := range [][]byte{nil, b[:20], append(slices.Clone(b), 0), {9, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, _, err := unmarshalOpFilter(bad); err == nil {
			t.Errorf("unmarshal accepted %d malformed bytes", len(bad))
		}
	}
}

// crash stops db as a killed process would: nothing is saved on the way.
func crash(t *testing.T, db *DB) {
	t.Helper()
	db.closeOnce.Do(func() {
		db.stopBackground()
		if err := db.bdb.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOpFilterSurvivesCrashes: ops stored after the filter was last saved
// are still known after a crash, from the feed; without a saved filter,
// from the op keys.
func TestOpFilterSurvivesCrashes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := newAuthor()
	opsA := a.identification(t, newID(), newID())
	opsB := a.identification(t, newID(), newID())
	opsB = append(opsB, a.op(t, opsB[0].Op.Record, model.KindIdentification, "code", model.ActionSet, `"C-3"`))

	db := openAt(t, dir, Options{})
	mustApplied(t, commit(t, db, opsA...))
	if err := db.Close(); err != nil { // saves the filter at seq 3
		t.Fatal(err)
	}
	db = openAt(t, dir, Options{})
	mustApplied(t, commit(t, db, opsB...))
	crash(t, db)

	resend := func(db *DB) {
		t.Helper()
		for _, r := range commit(t, db, append(slices.Clone(opsA), opsB...)...) {
			if r.Status != protocol.StatusDuplicate {
				t.Errorf("resent op %s: %s, want duplicate", r.ID, r.Status)
			}
		}
	}
	db = openAt(t, dir, Options{})
	resend(db)
	if last, _ := db.LastSeq(ctx); last != 7 {
		t.Errorf("LastSeq = %d, want 7", last)
	}
	if err := db.bdb.Update(func(txn *badger.Txn) error { return txn.Delete([]byte(keyOpFilter)) }); err != nil {
		t.Fatal(err)
	}
	crash(t, db)
	db = openAt(t, dir, Options{})
	resend(db)
}

// TestOpFilterAfterRestore: a store restored under a running DB knows its
// ops once reopened, although the DB's filter never saw them.
func TestOpFilterAfterRestore(t *testing.T) {
	ctx := context.Background()
	src := openTest(t, Options{})
	a := newAuthor()
	ops := a.identification(t, newID(), newID())
	mustApplied(t, commit(t, src, ops...))
	var backup bytes.Buffer
	if err := src.Backup(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dst := openAt(t, dir, Options{})
	if err := dst.Restore(ctx, &backup); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	dst = openAt(t, dir, Options{})
	for _, r := range commit(t, dst, ops...) {
		if r.Status != protocol.StatusDuplicate {
			t.Errorf("restored op %s: %s, want duplicate", r.ID, r.Status)
		}
	}
}

// TestPipelineConsistency has many writers change the same records (and
// move them between teams) in small groups, so that chunks are built on
// top of chunks in flight, then checks that every record's state is the
// merge of its stored ops and that every op is indexed exactly once, in
// its record's current bucket.
func TestPipelineConsistency(t *testing.T) {
	t.Run("default record cache", func(t *testing.T) { checkPipelineConsistency(t, Options{GroupMaxOps: 12}) })
	// A cache too small for any record evicts every record it may: each
	// chunk reads through badger what was committed and through the cache
	// what was not.
	t.Run("tiny record cache", func(t *testing.T) { checkPipelineConsistency(t, Options{GroupMaxOps: 12, RecordCacheBytes: 1}) })
}

func checkPipelineConsistency(t *testing.T, opt Options) {
	ctx := context.Background()
	db := openTest(t, opt)
	// A committer slow to start a commit lets the processor open the next
	// chunk's transactions before the chunk in flight is committed.
	db.commitTxn = func(txn *badger.Txn) error {
		time.Sleep(time.Millisecond)
		return txn.Commit()
	}
	const k = model.KindIdentification
	teams := []string{newID(), newID(), newID()}
	records := make([]string, 8)
	setup := newAuthor()
	for i := range records {
		records[i] = newID()
		mustApplied(t, commit(t, db, setup.op(t, records[i], k, model.FieldTeam, model.ActionSet, quote(teams[0]))))
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := newAuthor()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range 25 {
				var ops []protocol.Pending
				for range 1 + r.IntN(8) {
					rec := records[r.IntN(len(records))]
					switch r.IntN(4) {
					case 0:
						ops = append(ops, a.op(t, rec, k, model.FieldTeam, model.ActionSet, quote(teams[r.IntN(len(teams))])))
					case 1:
						ops = append(ops, a.op(t, rec, k, "notes", model.ActionAppend, `{"text":"x"}`))
					case 2:
						ops = append(ops, a.op(t, rec, k, model.FieldStatus, model.ActionSet, `"presumed"`))
					default:
						ops = append(ops, a.op(t, rec, k, "exploitation_types", model.ActionAdd, `"labour"`))
					}
				}
				res, err := db.Commit(ctx, ops, decideAll)
				if err != nil {
					t.Error(err)
					return
				}
				for _, x := range res {
					if x.Status != protocol.StatusApplied {
						t.Errorf("op %s: %s", x.ID, x.Status)
					}
				}
			}
		}()
	}
	wg.Wait()

	global, _ := entryIDs(t, feedAll(t, db, nil, 0, 500))
	if len(slices.Compact(sorted(global))) != len(global) {
		t.Error("the global feed lists an op twice")
	}
	inBucket := map[string][]string{} // record -> op ids in its current bucket
	for _, team := range teams {
		for _, e := range feedAll(t, db, []string{access.TeamBucket(team)}, 0, 500) {
			if e.Drop {
				continue
			}
			if e.Scope.Team != team {
				t.Errorf("op of record %s left in team %s's feed; it is in %s", e.Record, team, e.Scope.Team)
			}
			op, _ := crdt.DecodeOp(e.JSON)
			inBucket[e.Record] = append(inBucket[e.Record], op.ID)
		}
	}
	total := 0
	for _, rec := range records {
		hist, err := db.History(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		total += len(hist)
		merged := crdt.NewRecord(rec, k)
		var ids []string
		for i := range hist {
			if _, err := merged.Apply(model.DefaultSchema(), &hist[i]); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, hist[i].ID)
		}
		st, err := db.Record(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(st.Record.Canonical()), string(merged.Canonical()); got != want {
			t.Errorf("record %s:\nstored %s\nmerged %s", rec, got, want)
		}
		if got := sorted(inBucket[rec]); !slices.Equal(got, sorted(ids)) {
			t.Errorf("record %s: %d ops in its bucket, %d in its history", rec, len(got), len(ids))
		}
	}
	if total != len(global) {
		t.Errorf("histories hold %d ops, the global feed %d", total, len(global))
	}
}
