package fieldsync

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

func TestSyncPushesInWriteOrderAndEmptiesOutbox(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f, func(o *Options) { o.PushBatch = 3 })
	var written []string
	for i := range 4 {
		id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("age_estimate", i)))
		ops := must[[]crdt.Op](t)(c.History(ctx, id))
		slices.SortFunc(ops, func(a, b crdt.Op) int { return int(a.HLC - b.HLC) })
		for _, op := range ops {
			written = append(written, op.ID)
		}
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var pushed []string
	for _, p := range f.pushes {
		if len(p) > 3 {
			t.Errorf("push of %d ops, want at most 3", len(p))
		}
		pushed = append(pushed, p...)
	}
	if !slices.Equal(pushed, written) {
		t.Fatalf("pushed %v\nwant   %v", pushed, written)
	}
	st := status(t, c)
	if st.Outbox != 0 || st.LastSync.IsZero() {
		t.Fatalf("status = %+v, want empty outbox and a last sync", st)
	}
}

func TestRejectedOpsAreQuarantinedNotBlocking(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	f.decide = func(op *crdt.Op) *protocol.Result {
		if op.Field == "sex" {
			return &protocol.Result{ID: op.ID, Status: protocol.StatusRejected, Code: model.CodeForbidden, Message: "No."}
		}
		return nil
	}
	dir := t.TempDir()
	c := loggedIn(t, dir, f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "potential")))
	bad := must[string](t)(c.Set(ctx, id, "sex", "female"))
	must[string](t)(c.Set(ctx, id, "age_group", "adult"))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	q := must[[]Rejected](t)(c.Quarantine(ctx))
	if len(q) != 1 || q[0].Op.ID != bad || q[0].Code != model.CodeForbidden || q[0].Message != "No." {
		t.Fatalf("quarantine = %+v, want op %s forbidden", q, bad)
	}
	r := must[*Record](t)(c.Record(ctx, id))
	if _, ok := r.Fields["sex"]; ok {
		t.Errorf("the rejected value is still shown: %s", r.Fields["sex"].Value)
	}
	if got, want := r.Canonical(), f.state(t, id); string(got) != string(want) {
		t.Errorf("device and server differ:\ndevice %s\nserver %s", got, want)
	}
	if st := status(t, c); st.Outbox != 0 || st.Quarantine != 1 {
		t.Fatalf("status = %+v, want outbox 0, quarantine 1", st)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir, f)
	if q := must[[]Rejected](t)(c.Quarantine(ctx)); len(q) != 1 || q[0].Op.ID != bad {
		t.Fatalf("quarantine after reopen = %+v", q)
	}
}

func TestLostPushResponseIsResentAsDuplicate(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	f.cutAfterPush = 1
	c := loggedIn(t, t.TempDir(), f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "potential")))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(f.pushes); got != 2 {
		t.Fatalf("%d pushes, want 2 (the answer to the first was lost)", got)
	}
	if got := len(f.ops); got != 2 {
		t.Fatalf("server holds %d ops, want 2 (each once)", got)
	}
	if got, want := must[*Record](t)(c.Record(ctx, id)).Canonical(), f.state(t, id); string(got) != string(want) {
		t.Errorf("device %s\nserver %s", got, want)
	}
	if st := status(t, c); st.Outbox != 0 {
		t.Fatalf("outbox = %d, want 0", st.Outbox)
	}
}

func TestServerRestampIsAppliedLocally(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	ahead := newTestClock(f.now.Now().AddDate(1, 0, 0))
	f.decide = func(op *crdt.Op) *protocol.Result {
		if op.HLC.Time().After(f.now.Now().Add(5 * time.Minute)) {
			op.HLC = f.clock.Now()
		}
		return nil
	}
	c := loggedIn(t, t.TempDir(), f, func(o *Options) { o.Now = ahead.Now })
	id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "potential")))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	r := must[*Record](t)(c.Record(ctx, id))
	if r.HLC.Time().After(f.now.Now().Add(time.Minute)) {
		t.Errorf("record hlc %s is still a year ahead", r.HLC.Time())
	}
	if got, want := r.Canonical(), f.state(t, id); string(got) != string(want) {
		t.Fatalf("device %s\nserver %s", got, want)
	}
}

func TestPullRepairsOwnOpsAndAcksOutbox(t *testing.T) {
	// The server holds an own op (its push answer was lost) under a new
	// stamp; a pull replaces the local copy and empties the outbox.
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	batch := must[[]pending](t)(c.outboxBatch(10, 1<<20))
	op := batch[0].op
	op.HLC, op.User = hlc.New(f.now.Now().UnixMilli()+1000, 7), f.user.ID
	f.inject(op)
	if _, err := c.pull(ctx); err != nil {
		t.Fatal(err)
	}
	if st := status(t, c); st.Outbox != 0 {
		t.Fatalf("outbox = %d, want 0", st.Outbox)
	}
	if got, want := must[*Record](t)(c.Record(ctx, id)).Canonical(), f.state(t, id); string(got) != string(want) {
		t.Fatalf("device %s\nserver %s", got, want)
	}
}

func TestBatchRefusedAsWholeIsBisected(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	f.maxOps = 2
	c := loggedIn(t, t.TempDir(), f)
	for range 5 {
		must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "potential")))
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(f.ops); got != 10 {
		t.Fatalf("server holds %d ops, want 10", got)
	}
	if st := status(t, c); st.Outbox != 0 || st.Quarantine != 0 {
		t.Fatalf("status = %+v", st)
	}
}

func TestDropDeletesRecordAndQuarantinesUnsent(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "potential")))
	keep := must[string](t)(c.CreateIdentification(ctx, f.team()))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	unsent := must[string](t)(c.Append(ctx, id, "notes", map[string]any{"text": "written after the move"}))
	f.drop = []string{id}
	if _, err := c.pull(ctx); err != nil { // the pull of a sync whose push failed
		t.Fatal(err)
	}
	_, err := c.Record(ctx, id)
	wantErr(t, err, ErrNotFound)
	if ops := must[[]crdt.Op](t)(c.History(ctx, id)); len(ops) != 0 {
		t.Errorf("%d ops of the dropped record remain", len(ops))
	}
	q := must[[]Rejected](t)(c.Quarantine(ctx))
	if len(q) != 1 || q[0].Op.ID != unsent || q[0].Code != model.CodeForbidden {
		t.Fatalf("quarantine = %+v, want the unsent note, forbidden", q)
	}
	must[*Record](t)(c.Record(ctx, keep))
}

// TestDropIsAcknowledged (issue 12 item 3): a record a pull drops is
// acknowledged at the end of the sync (POST /v1/sync/purges), once; an
// acknowledgement that fails is sent again at the next sync.
func TestDropIsAcknowledged(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.drop, f.ackFails = []string{id}, 100
	f.mu.Unlock()
	if err := c.Sync(ctx); err == nil {
		t.Fatal("a sync whose acknowledgement failed succeeded")
	}
	_, err := c.Record(ctx, id)
	wantErr(t, err, ErrNotFound)
	f.mu.Lock()
	f.ackFails = 0
	f.mu.Unlock()
	for range 2 {
		if err := c.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.acked) != 1 || len(f.acked[0]) != 1 || f.acked[0][0] != id {
		t.Errorf("acknowledgements = %v, want one of [%s]", f.acked, id)
	}
}

// TestErasedDropLeavesNothing (issue 12 item 3): a record a pull names as
// erased by retention is deleted with its unsent ops, which do not go to
// the quarantine (a record dropped for lost access keeps them there:
// TestDropDeletesRecordAndQuarantinesUnsent).
func TestErasedDropLeavesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "withdrawn")))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	must[string](t)(c.Append(ctx, id, "notes", map[string]any{"text": "written offline"}))
	f.mu.Lock()
	f.drop, f.erased = []string{id}, []string{id}
	f.mu.Unlock()
	if _, err := c.pull(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := c.Record(ctx, id)
	wantErr(t, err, ErrNotFound)
	if q := must[[]Rejected](t)(c.Quarantine(ctx)); len(q) != 0 {
		t.Errorf("quarantine = %+v, want nothing of the erased record", q)
	}
	if empty := must[bool](t)(c.outboxEmpty()); !empty {
		t.Error("the erased record's unsent op is still in the outbox")
	}
}

func TestResyncRestartsPullAndDropsUnreadable(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	gone := must[string](t)(c.CreateIdentification(ctx, f.team()))
	kept := must[string](t)(c.CreateIdentification(ctx, f.team()))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, op := range must[[]crdt.Op](t)(c.History(ctx, gone)) {
		f.hidden[op.ID] = true // no longer readable
	}
	unsent := must[string](t)(c.CreateIdentification(ctx, f.team()))
	f.gone = true
	if _, err := c.pull(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := c.Record(ctx, gone)
	wantErr(t, err, ErrNotFound)
	must[*Record](t)(c.Record(ctx, kept))
	must[*Record](t)(c.Record(ctx, unsent))
	if st := status(t, c); st.Outbox != 1 {
		t.Fatalf("outbox = %d, want 1 (the unsent record survives a resync)", st.Outbox)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestExpiredTokenIsRefreshedOnce(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	dir := t.TempDir()
	c := loggedIn(t, dir, f)
	must[string](t)(c.CreateIdentification(ctx, f.team()))
	f.expire = true
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if f.refreshes != 1 {
		t.Fatalf("refreshes = %d, want 1", f.refreshes)
	}
	// The rotated pair was persisted: a restarted device uses it.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir, f)
	must[string](t)(c.CreateIdentification(ctx, f.team()))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st := status(t, c); st.Outbox != 0 || f.refreshes != 1 {
		t.Fatalf("outbox %d, refreshes %d; want 0 and 1", st.Outbox, f.refreshes)
	}
}

func TestEndedSessionKeepsDataAndAsksForLogin(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	f.token += 10 // the session's tokens are no longer valid
	err := c.Sync(ctx)
	wantErr(t, err, ErrLoginRequired)
	must[string](t)(c.Set(ctx, id, "status", "presumed")) // still writes offline
	if st := status(t, c); st.LoggedIn || st.Outbox != 2 {
		t.Fatalf("status = %+v, want logged out with 2 ops queued", st)
	}
	if _, err := c.Login(ctx, "ana", "secret"); err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if st := status(t, c); st.Outbox != 0 {
		t.Fatalf("outbox = %d, want 0", st.Outbox)
	}
}

func TestDisabledAccountEndsSessionAndKeepsData(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	f.mu.Lock()
	f.disabled = true
	f.mu.Unlock()
	err := c.Sync(ctx)
	wantErr(t, err, ErrLoginRequired)
	if st := status(t, c); st.LoggedIn || st.Outbox != 1 {
		t.Fatalf("status = %+v, want logged out with 1 op kept", st)
	}
	must[string](t)(c.Set(ctx, id, "status", "presumed")) // still writes offline
}

func TestRevokedDeviceWipes(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	dir := t.TempDir()
	c := loggedIn(t, dir, f)
	must[string](t)(c.CreateIdentification(ctx, f.team(), F("notes", map[string]any{"text": "statement"})))
	f.revoked = true
	err := c.Sync(ctx)
	wantErr(t, err, ErrWiped)
	if apiCode(err) != model.CodeDeviceRevoked {
		t.Errorf("err = %v, want the server's device_revoked inside", err)
	}
	entries, rerr := os.ReadDir(dir)
	if rerr != nil || len(entries) != 0 {
		t.Fatalf("directory after wipe: %v entries, err %v", len(entries), rerr)
	}
	_, err = c.Record(ctx, "0b9f8a5e-4b7e-4b43-9a34-1d1b35c3a0c1")
	wantErr(t, err, ErrWiped)
	wantErr(t, c.Sync(ctx), ErrWiped)
}

func TestTransientErrorsGiveUpAfterMaxAttempts(t *testing.T) {
	ctx := context.Background()
	c := open(t, t.TempDir(), nil, func(o *Options) { o.ServerURL = "http://127.0.0.1:1"; o.MaxAttempts = 3 })
	c.sess.AccessToken = "x"
	err := c.Sync(ctx)
	if !isTransient(err) {
		t.Fatalf("err = %v, want a transient transport error", err)
	}
}

func TestRateLimitAndUnavailableAreRetried(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f, func(o *Options) { o.MaxAttempts = 10 })
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	f.busy, f.unavailable = 2, 2
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := must[*Record](t)(c.Record(ctx, id)).Canonical(), f.state(t, id); string(got) != string(want) {
		t.Fatalf("device %s\nserver %s", got, want)
	}
	f.unavailable = 100
	err := c.Sync(ctx)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || !isTransient(err) {
		t.Fatalf("err = %v, want a transient 503 after MaxAttempts", err)
	}
}

func TestRedactErasesLocalCopies(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	f.user.Role = model.RoleSupervisor
	c := loggedIn(t, t.TempDir(), f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	note := must[string](t)(c.Append(ctx, id, "notes", map[string]any{"text": "a name that must not be here"}))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// Another supervisor redacts it; the pull erases the local copy.
	f.inject(otherOp(id, model.KindIdentification, "notes", model.ActionRedact, nil, note))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, op := range must[[]crdt.Op](t)(c.History(ctx, id)) {
		if op.ID == note && !crdt.IsNull(op.Value) {
			t.Fatalf("the redacted note is still stored: %s", op.Value)
		}
	}
	e := must[*Record](t)(c.Record(ctx, id)).Fields["notes"].Entries[0]
	if !e.Redacted || e.RedactedBy != otherUser || !crdt.IsNull(e.Value) {
		t.Fatalf("entry = %+v, want redacted by %s", e, otherUser)
	}
	// A redact written on this device erases too.
	second := must[string](t)(c.Append(ctx, id, "notes", map[string]any{"text": "another name"}))
	must[string](t)(c.Redact(ctx, id, "notes", second))
	for _, op := range must[[]crdt.Op](t)(c.History(ctx, id)) {
		if op.ID == second && !crdt.IsNull(op.Value) {
			t.Fatalf("the note redacted on the device is still stored: %s", op.Value)
		}
	}
}

// A page too large for one badger transaction is applied in parts, the
// cursor with the last.
func TestHugePageIsAppliedInParts(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f, func(o *Options) { o.PullLimit = MaxPullLimit })
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	text := strings.Repeat("a long statement ", 3500) // ≈ 60 KB
	for range 200 {
		f.inject(otherOp(id, model.KindIdentification, "notes", model.ActionAppend, map[string]any{"text": text}))
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(must[*Record](t)(c.Record(ctx, id)).Fields["notes"].Entries); got != 200 {
		t.Fatalf("%d notes, want 200", got)
	}
	if got, want := must[*Record](t)(c.Record(ctx, id)).Canonical(), f.state(t, id); string(got) != string(want) {
		t.Fatal("device and server differ")
	}
}
