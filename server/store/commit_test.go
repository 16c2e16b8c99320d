package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

func TestCommitFeedRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	a := newAuthor()
	team, rec := newID(), newID()
	ops := a.identification(t, rec, team)
	res := commit(t, db, ops...)
	mustApplied(t, res)
	for i, r := range res {
		if got, want := r.HLC, ops[i].Op.HLC.String(); got != want {
			t.Errorf("result %d hlc = %s, want %s", i, got, want)
		}
	}

	for _, buckets := range [][]string{nil, {access.TeamBucket(team)}} {
		entries := feedAll(t, db, buckets, 0, 2)
		if len(entries) != len(ops) {
			t.Fatalf("feed %v: %d entries, want %d", buckets, len(entries), len(ops))
		}
		for i, e := range entries {
			if got, want := e.Seq, uint64(i+1); got != want {
				t.Errorf("feed %v entry %d seq = %d, want %d", buckets, i, got, want)
			}
			if got, want := string(e.JSON), opJSON(ops[i].Op); got != want {
				t.Errorf("feed %v entry %d JSON = %s, want %s", buckets, i, got, want)
			}
			if e.Record != rec || e.Drop {
				t.Errorf("feed %v entry %d = %+v", buckets, i, e)
			}
			want := access.Scope{Kind: model.KindIdentification, Team: team, Creator: a.user}
			if e.Scope != want {
				t.Errorf("feed %v entry %d scope = %+v, want %+v", buckets, i, e.Scope, want)
			}
		}
	}
	page, err := db.Feed(ctx, []string{access.TeamBucket(newID())}, false, 0, 10)
	if err != nil || len(page.Entries) != 0 || page.More || page.Last != 0 {
		t.Errorf("feed of an empty bucket = %+v, %v", page, err)
	}
	page, err = db.Feed(ctx, nil, true, 3, 10)
	if err != nil || len(page.Entries) != 0 || page.More || page.Last != 3 {
		t.Errorf("feed after the end = %+v, %v", page, err)
	}

	if last, err := db.LastSeq(ctx); err != nil || last != 3 {
		t.Errorf("LastSeq = %d, %v; want 3", last, err)
	}
	st, err := db.Record(ctx, rec)
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	want := crdt.NewRecord(rec, model.KindIdentification)
	for _, p := range ops {
		if _, err := want.Apply(model.DefaultSchema(), &p.Op); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := string(st.Record.Canonical()), string(want.Canonical()); got != want {
		t.Errorf("Record = %s, want %s", got, want)
	}
	if got, want := st.Scope, (access.Scope{Kind: model.KindIdentification, Team: team, Creator: a.user}); got != want {
		t.Errorf("Record scope = %+v, want %+v", got, want)
	}
	hist, err := db.History(ctx, rec)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if len(hist) != len(ops) {
		t.Fatalf("History has %d ops, want %d", len(hist), len(ops))
	}
	for i := range hist {
		if got, want := opJSON(hist[i]), opJSON(ops[i].Op); got != want {
			t.Errorf("History[%d] = %s, want %s", i, got, want)
		}
	}
	if n, err := db.RecordCount(ctx); err != nil || n != 1 {
		t.Errorf("RecordCount = %d, %v; want 1", n, err)
	}

	// Sending the same ops again changes nothing.
	for i, r := range commit(t, db, ops...) {
		if r.Status != protocol.StatusDuplicate || r.HLC != ops[i].Op.HLC.String() {
			t.Errorf("resent op %d: %+v, want duplicate", i, r)
		}
	}
	if last, _ := db.LastSeq(ctx); last != 3 {
		t.Errorf("LastSeq after duplicates = %d, want 3", last)
	}

	for _, id := range []string{newID()} {
		if _, err := db.Record(ctx, id); model.ErrorCode(err) != model.CodeNotFound {
			t.Errorf("Record(unknown) err = %v, want not_found", err)
		}
		if _, err := db.History(ctx, id); model.ErrorCode(err) != model.CodeNotFound {
			t.Errorf("History(unknown) err = %v, want not_found", err)
		}
	}
}

func TestCommitDecideSeesEarlierOpsOfTheGroup(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	a := newAuthor()
	rec := newID()
	op := a.op(t, rec, model.KindIdentification, model.FieldTeam, model.ActionSet, quote(newID()))

	// Within one request.
	res := commit(t, db, op, op)
	if res[0].Status != protocol.StatusApplied || res[1].Status != protocol.StatusDuplicate {
		t.Fatalf("same op twice in one request: %+v", res)
	}

	// Across requests gathered into one group: hold the writer in the
	// decide of a first request until two more are queued.
	op2 := a.op(t, rec, model.KindIdentification, "location", model.ActionSet, `"market"`)
	hold := newHold()
	var lastInDecide []uint64
	var mu sync.Mutex
	spy := func(tx protocol.Tx, p *protocol.Pending) protocol.Decision {
		last, err := db.LastSeq(ctx)
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		lastInDecide = append(lastInDecide, last)
		mu.Unlock()
		return decideAll(tx, p)
	}
	var wg sync.WaitGroup
	results := make([][]protocol.Result, 3)
	run := func(i int, ops []protocol.Pending, d protocol.Decide) {
		defer wg.Done()
		r, err := db.Commit(ctx, ops, d)
		if err != nil {
			t.Error(err)
		}
		results[i] = r
	}
	wg.Add(1)
	go run(0, a.identification(t, newID(), newID()), hold.decide)
	<-hold.entered
	wg.Add(2)
	go run(1, []protocol.Pending{op2}, spy)
	waitFor(t, func() bool { return len(db.reqs) == 1 })
	go run(2, []protocol.Pending{op2}, spy)
	waitFor(t, func() bool { return len(db.reqs) == 2 })
	close(hold.release)
	wg.Wait()

	mustApplied(t, results[0])
	mustApplied(t, results[1])
	if got := results[2][0].Status; got != protocol.StatusDuplicate {
		t.Errorf("second request's op = %s, want duplicate (decide sees the op of the first)", got)
	}
	// Seq 1, then 2-4 in the held group (which may still be in flight);
	// both spies ran in the next group, before anything of it was
	// committed.
	if len(lastInDecide) != 2 {
		t.Fatalf("spy ran %d times, want 2", len(lastInDecide))
	}
	for _, last := range lastInDecide {
		if last > 4 {
			t.Errorf("LastSeq inside decide = %d, want at most 4 (the group is not committed yet)", last)
		}
	}
	if last, _ := db.LastSeq(ctx); last != 5 {
		t.Errorf("LastSeq = %d, want 5", last)
	}
}

// hold is a decide that holds the writer until release is closed.
type hold struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newHold() *hold { return &hold{entered: make(chan struct{}), release: make(chan struct{})} }

func (h *hold) decide(tx protocol.Tx, p *protocol.Pending) protocol.Decision {
	h.once.Do(func() { close(h.entered) })
	<-h.release
	return decideAll(tx, p)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCommitConcurrent(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{GroupMaxOps: 64})
	const writers, commits, perCommit = 32, 8, 5
	teams := []string{newID(), newID(), newID()}
	buckets := []string{access.TeamBucket(teams[0]), access.TeamBucket(teams[1])}

	done := make(chan struct{})
	var readers sync.WaitGroup
	readErr := make(chan error, 3)
	// Whole reads: what a read saw below its Last must be exactly what
	// every later read sees there.
	whole := func(bs []string) {
		defer readers.Done()
		var prev []uint64
		for {
			select {
			case <-done:
				readErr <- nil
				return
			default:
			}
			page, err := db.Feed(ctx, bs, bs == nil, 0, 1<<20)
			if err != nil {
				readErr <- err
				return
			}
			seqs := make([]uint64, len(page.Entries))
			for i, e := range page.Entries {
				seqs[i] = e.Seq
				if i > 0 && seqs[i] <= seqs[i-1] {
					readErr <- fmt.Errorf("feed %v: seq %d after %d", bs, seqs[i], seqs[i-1])
					return
				}
			}
			if len(prev) > 0 {
				last := prev[len(prev)-1]
				i, _ := slices.BinarySearch(seqs, last+1)
				if !slices.Equal(seqs[:i], prev) {
					readErr <- fmt.Errorf("feed %v: a later read holds %d entries up to seq %d, an earlier one %d", bs, i, last, len(prev))
					return
				}
			}
			prev = seqs
		}
	}
	readers.Add(2)
	go whole(nil)
	go whole(buckets)
	// A cursor reader pulls in small pages while the writers write; at the
	// end it must hold every entry exactly once.
	var cursorSeen []protocol.FeedEntry
	readers.Add(1)
	go func() {
		defer readers.Done()
		after := uint64(0)
		for {
			page, err := db.Feed(ctx, buckets, false, after, 7)
			if err != nil {
				readErr <- err
				return
			}
			cursorSeen = append(cursorSeen, page.Entries...)
			after = page.Last
			if !page.More {
				select {
				case <-done:
					page, err := db.Feed(ctx, buckets, false, after, 1<<20)
					if err != nil {
						readErr <- err
						return
					}
					cursorSeen = append(cursorSeen, page.Entries...)
					readErr <- nil
					return
				default:
				}
			}
		}
	}()

	var wg sync.WaitGroup
	var mu sync.Mutex
	var applied []string
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := newAuthor()
			for c := range commits {
				rec := newID()
				ops := a.identification(t, rec, teams[(w+c)%len(teams)])
				ops = append(ops, a.op(t, rec, model.KindIdentification, "code", model.ActionSet, `"X"`))
				ops = append(ops, ops[1]) // a duplicate within the request
				res, err := db.Commit(ctx, ops, decideAll)
				if err != nil {
					t.Error(err)
					return
				}
				if len(res) != perCommit || res[4].Status != protocol.StatusDuplicate {
					t.Errorf("results = %+v", res)
				}
				mu.Lock()
				for i, r := range res[:4] {
					if r.Status != protocol.StatusApplied {
						t.Errorf("op %d: %+v", i, r)
					}
					applied = append(applied, r.ID)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(done)
	readers.Wait()
	for range 3 {
		if err := <-readErr; err != nil {
			t.Fatal(err)
		}
	}

	entries := feedAll(t, db, nil, 0, 100)
	ids, _ := entryIDs(t, entries)
	if got, want := len(ids), writers*commits*4; got != want {
		t.Fatalf("global feed has %d ops, want %d", got, want)
	}
	for i := range entries {
		if got, want := entries[i].Seq, uint64(i+1); got != want {
			t.Fatalf("global feed entry %d has seq %d, want %d", i, got, want)
		}
	}
	slices.Sort(ids)
	slices.Sort(applied)
	if !slices.Equal(ids, applied) {
		t.Fatal("the global feed does not list each applied op exactly once")
	}
	if last, _ := db.LastSeq(ctx); last != uint64(len(entries)) {
		t.Errorf("LastSeq = %d, want %d", last, len(entries))
	}

	want := feedAll(t, db, buckets, 0, 1000)
	if len(cursorSeen) != len(want) {
		t.Fatalf("cursor reader saw %d bucket entries, the feed holds %d", len(cursorSeen), len(want))
	}
	for i := range want {
		if cursorSeen[i].Seq != want[i].Seq {
			t.Fatalf("cursor reader entry %d has seq %d, want %d", i, cursorSeen[i].Seq, want[i].Seq)
		}
	}
	inBuckets := 0
	for w := range writers {
		for c := range commits {
			if (w+c)%len(teams) < 2 {
				inBuckets += 4
			}
		}
	}
	if got, _ := entryIDs(t, want); len(got) != inBuckets {
		t.Errorf("bucket feed has %d ops, want %d", len(got), inBuckets)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := openAt(t, dir, Options{})
	a := newAuthor()
	rec, team := newID(), newID()
	ops := a.identification(t, rec, team)
	mustApplied(t, commit(t, db, ops...))
	before := feedAll(t, db, nil, 0, 100)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := db.Commit(ctx, ops, decideAll); model.ErrorCode(err) != model.CodeUnavailable {
		t.Fatalf("Commit after Close: %v, want unavailable", err)
	}

	db = openAt(t, dir, Options{})
	if last, err := db.LastSeq(ctx); err != nil || last != 3 {
		t.Fatalf("LastSeq after reopen = %d, %v; want 3", last, err)
	}
	after := feedAll(t, db, nil, 0, 100)
	if len(after) != len(before) {
		t.Fatalf("feed after reopen has %d entries, want %d", len(after), len(before))
	}
	for i := range after {
		if string(after[i].JSON) != string(before[i].JSON) || after[i].Seq != before[i].Seq {
			t.Errorf("entry %d changed across reopen", i)
		}
	}
	for _, r := range commit(t, db, ops...) {
		if r.Status != protocol.StatusDuplicate {
			t.Errorf("op after reopen: %+v, want duplicate", r)
		}
	}
	more := a.op(t, rec, model.KindIdentification, "code", model.ActionSet, `"A-1"`)
	mustApplied(t, commit(t, db, more))
	if last, _ := db.LastSeq(ctx); last != 4 {
		t.Errorf("LastSeq = %d, want 4: sequence numbers continue after reopen", last)
	}
	if n, _ := db.RecordCount(ctx); n != 1 {
		t.Errorf("RecordCount = %d, want 1", n)
	}
}

func TestCommitSplitsTooBigGroups(t *testing.T) {
	ctx := context.Background()
	logs := &logCapture{}
	// Badger's largest transaction is 15% of the memtable: ~150 kB here.
	db := openTest(t, Options{MemTableSize: 1 << 20, Logger: slog.New(logs)})
	a := newAuthor()
	team := newID()
	var ops []protocol.Pending
	var records []string
	for range 100 {
		rec := newID()
		records = append(records, rec)
		ops = append(ops, a.identification(t, rec, team)...)
		for j := range 7 {
			ops = append(ops, a.op(t, rec, model.KindIdentification, "notes", model.ActionAppend, fmt.Sprintf(`{"text":"note %d with some words to make it longer than a few bytes"}`, j)))
		}
	}
	mustApplied(t, commit(t, db, ops...))
	if logs.count("group commit split") == 0 {
		t.Fatal("the group was not split; make it bigger")
	}
	if last, _ := db.LastSeq(ctx); last != uint64(len(ops)) {
		t.Fatalf("LastSeq = %d, want %d", last, len(ops))
	}
	entries := feedAll(t, db, []string{access.TeamBucket(team)}, 0, 1000)
	if len(entries) != len(ops) {
		t.Fatalf("bucket feed has %d entries, want %d", len(entries), len(ops))
	}
	for i, e := range entries {
		if string(e.JSON) != opJSON(ops[i].Op) {
			t.Fatalf("entry %d = %s, want %s", i, e.JSON, opJSON(ops[i].Op))
		}
	}
	for _, rec := range records {
		st, err := db.Record(ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(st.Record.Entries("notes")); got != 8 {
			t.Errorf("record %s has %d notes, want 8", rec, got)
		}
	}
	if n, _ := db.RecordCount(ctx); n != len(records) {
		t.Errorf("RecordCount = %d, want %d", n, len(records))
	}
}

func TestCommitRespectsContextAndClose(t *testing.T) {
	db := openTest(t, Options{})
	a := newAuthor()
	ops := a.identification(t, newID(), newID())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.Commit(ctx, ops, decideAll); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with a cancelled context: %v", err)
	}
	if last, _ := db.LastSeq(context.Background()); last != 0 {
		t.Fatalf("LastSeq = %d after a cancelled commit", last)
	}
	if res, err := db.Commit(context.Background(), nil, decideAll); err != nil || len(res) != 0 {
		t.Errorf("Commit(nil) = %v, %v", res, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Commit(context.Background(), ops, decideAll); model.ErrorCode(err) != model.CodeUnavailable {
		t.Errorf("Commit after Close: %v, want unavailable", err)
	}
}

func TestCloseFinishesQueuedCommits(t *testing.T) {
	dir := t.TempDir()
	db := openAt(t, dir, Options{})
	a := newAuthor()
	hold := newHold()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := db.Commit(context.Background(), a.identification(t, newID(), newID()), hold.decide)
		errs <- err
	}()
	<-hold.entered
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.Commit(context.Background(), a.identification(t, newID(), newID()), decideAll)
			errs <- err
		}()
	}
	waitFor(t, func() bool { return len(db.reqs) == 3 })
	closed := make(chan error)
	go func() { closed <- db.Close() }()
	time.Sleep(10 * time.Millisecond)
	close(hold.release)
	wg.Wait()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("queued commit: %v", err)
		}
	}
	db2 := openAt(t, dir, Options{})
	if n, _ := db2.RecordCount(context.Background()); n != 4 {
		t.Errorf("after Close, %d records are stored, want 4", n)
	}
}
