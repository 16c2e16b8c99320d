package protocol_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// errFault is the failure a faultStore injects.
var errFault = errors.New("injected store fault")

// faultStore is a protocol.Store, and the Tx its Commit hands out, that
// passes every call to inner and fails the failAt-th one (counting from 1;
// 0 fails none) with errFault. calls names every call made, in order, with
// the op being decided for Tx calls.
type faultStore struct {
	inner  protocol.Store
	failAt int

	mu      sync.Mutex
	calls   []string
	current string // id of the op being decided
}

var (
	_ protocol.Store = (*faultStore)(nil)
	_ protocol.Tx    = faultTx{}
)

// fail records a call and returns errFault if it is the failAt-th.
func (f *faultStore) fail(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.current != "" {
		name += "@" + f.current
	}
	f.calls = append(f.calls, name)
	if len(f.calls) == f.failAt {
		return fmt.Errorf("%s: %w", name, errFault)
	}
	return nil
}

// decideFor wraps decide so that the Tx it is given is a faultTx and the
// op it decides is named in the calls (generic over decide's result, so it
// does not depend on what a decision holds).
func decideFor[R any](f *faultStore, decide func(protocol.Tx, *protocol.Pending) R) func(protocol.Tx, *protocol.Pending) R {
	return func(tx protocol.Tx, p *protocol.Pending) R {
		f.mu.Lock()
		f.current = p.Op.ID
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			f.current = ""
			f.mu.Unlock()
		}()
		return decide(faultTx{tx, f}, p)
	}
}

func (f *faultStore) Commit(ctx context.Context, ops []protocol.Pending, decide protocol.Decide) ([]protocol.Result, error) {
	if err := f.fail("Commit"); err != nil {
		return nil, err
	}
	return f.inner.Commit(ctx, ops, decideFor(f, decide))
}

func (f *faultStore) Feed(ctx context.Context, buckets []string, all bool, after uint64, limit int) (protocol.FeedPage, error) {
	if err := f.fail("Feed"); err != nil {
		return protocol.FeedPage{}, err
	}
	return f.inner.Feed(ctx, buckets, all, after, limit)
}

func (f *faultStore) HostedWeeks(ctx context.Context, teams []string) ([]string, error) {
	if err := f.fail("HostedWeeks"); err != nil {
		return nil, err
	}
	return f.inner.HostedWeeks(ctx, teams)
}

func (f *faultStore) LastSeq(ctx context.Context) (uint64, error) {
	if err := f.fail("LastSeq"); err != nil {
		return 0, err
	}
	return f.inner.LastSeq(ctx)
}

// faultTx is the writer's view of a faultStore.
type faultTx struct {
	inner protocol.Tx
	f     *faultStore
}

func (tx faultTx) Op(id string) (crdt.Op, bool, bool, error) {
	if err := tx.f.fail("Op"); err != nil {
		return crdt.Op{}, false, false, err
	}
	return tx.inner.Op(id)
}

func (tx faultTx) Record(id string) (*protocol.RecordState, bool, error) {
	if err := tx.f.fail("Record"); err != nil {
		return nil, false, err
	}
	return tx.inner.Record(id)
}

func (tx faultTx) Erased(id string) (access.Scope, bool, error) {
	if err := tx.f.fail("Erased"); err != nil {
		return access.Scope{}, false, err
	}
	return tx.inner.Erased(id)
}

func (tx faultTx) HostTeam(week string) (string, error) {
	if err := tx.f.fail("HostTeam"); err != nil {
		return "", err
	}
	return tx.inner.HostTeam(week)
}

// faultPush is one run of the push of TestPushStoreFaults: a world with
// an action week and an identification, and a push of four independent
// ops: a change to the identification, a new identification, a new site
// visit (whose scope needs its week's host team) and a re-sent op.
type faultPush struct {
	w     *world
	fs    *faultStore
	ops   []op
	res   protocol.PushResult
	err   error
	held  int    // ops the store held before the push
	seq   uint64 // its sequence before the push
	stamp string // the server's stamp before the push
}

func runFaultPush(t *testing.T, failAt int) *faultPush {
	t.Helper()
	w := newWorld(t)
	w.actionWeek(week1, teamA)
	rec, teamOp := w.identification(fwA, teamA)
	resent, _ := w.store.stored(teamOp)
	fp := &faultPush{w: w, held: len(w.store.ops), seq: w.store.seq, stamp: w.svc.Clock.Last().String()}
	fp.ops = []op{
		w.set(fwA, rec, ident, "code", "X-1"),
		w.set(fwA, w.id(), ident, "team", teamA),
		w.set(fwA, w.id(), visit, "action_week", week1),
		w.set(fwA, rec, ident, "team", teamA).with("id", teamOp).with("hlc", resent.op.HLC.String()),
	}
	raws := make([]json.RawMessage, len(fp.ops))
	for i, o := range fp.ops {
		raws[i] = o.raw()
	}
	fp.fs = &faultStore{inner: w.store, failAt: failAt}
	w.svc.Store = fp.fs
	fp.res, fp.err = w.svc.Push(context.Background(), fwA, raws)
	return fp
}

// TestPushStoreFaults: whichever store call of a push fails, the failure
// is reported and nothing of it is applied: a failed Commit fails the
// whole push with an error that is not a *model.Error (the server answers
// 500 internal) and the store is unchanged; a failed read while deciding
// one op rejects that op as internal, stores nothing of it, and leaves
// the other ops' results as they are without the fault.
func TestPushStoreFaults(t *testing.T) {
	base := runFaultPush(t, 0)
	if base.err != nil {
		t.Fatalf("push without faults: %v", base.err)
	}
	wantStatus := []protocol.Status{protocol.StatusApplied, protocol.StatusApplied, protocol.StatusApplied, protocol.StatusDuplicate}
	for i, r := range base.res.Results {
		if r.Status != wantStatus[i] {
			t.Fatalf("push without faults, op %d: %+v, want %s", i, r, wantStatus[i])
		}
	}
	for _, want := range []string{"Commit", "Op@", "Record@", "HostTeam@"} {
		if !slices.ContainsFunc(base.fs.calls, func(c string) bool { return len(c) >= len(want) && c[:len(want)] == want }) {
			t.Fatalf("the push never calls %s; calls: %v", want, base.fs.calls)
		}
	}
	for n := 1; n <= len(base.fs.calls); n++ {
		call := base.fs.calls[n-1]
		t.Run(fmt.Sprintf("%d %s", n, call), func(t *testing.T) {
			fp := runFaultPush(t, n)
			if call == "Commit" {
				checkPushFailed(t, fp)
				return
			}
			if fp.err != nil {
				t.Fatalf("a failed %s failed the whole push: %v", call, fp.err)
			}
			for i, r := range fp.res.Results {
				id := fp.ops[i].id()
				if call[len(call)-len(id):] != id {
					if r != base.res.Results[i] {
						t.Errorf("op %d: %+v, want %+v as without the fault", i, r, base.res.Results[i])
					}
					continue
				}
				if r.Status != protocol.StatusRejected || r.Code != model.CodeInternal {
					t.Errorf("op %d, whose %s failed: %+v, want rejected internal", i, call, r)
				}
				if i < 3 {
					if _, ok := fp.w.store.stored(id); ok {
						t.Errorf("op %d, whose %s failed, was stored", i, call)
					}
				}
				if slices.ContainsFunc(fp.res.Applied, func(o crdt.Op) bool { return o.ID == id }) {
					t.Errorf("op %d, whose %s failed, is listed as applied", i, call)
				}
			}
		})
	}
}

// checkPushFailed checks a push whose Commit failed: an internal error,
// no results, and the store as it was.
func checkPushFailed(t *testing.T, fp *faultPush) {
	t.Helper()
	if !errors.Is(fp.err, errFault) {
		t.Fatalf("push over a failing Commit: err = %v, want the store's failure", fp.err)
	}
	var me *model.Error
	if errors.As(fp.err, &me) {
		t.Errorf("push over a failing Commit: a *model.Error (%s), want an internal error", me.Code)
	}
	if fp.res.Results != nil || fp.res.Applied != nil {
		t.Errorf("push over a failing Commit returned results %+v", fp.res)
	}
	if got := len(fp.w.store.ops); got != fp.held || fp.w.store.seq != fp.seq {
		t.Errorf("store holds %d ops at seq %d after a failed Commit, want %d at %d", got, fp.w.store.seq, fp.held, fp.seq)
	}
}

// TestPushCommitFaultAfterDecide: a store whose Commit decides every op
// and then fails to make them durable reports the failure; Push returns
// no result that says applied.
func TestPushCommitFaultAfterDecide(t *testing.T) {
	w := newWorld(t)
	w.svc.Store = lateFailStore{w.store}
	rec := w.id()
	res, err := w.svc.Push(context.Background(), fwA, []json.RawMessage{w.set(fwA, rec, ident, "team", teamA).raw()})
	if !errors.Is(err, errFault) || model.ErrorCode(err) != model.CodeInternal {
		t.Fatalf("err = %v, want the store's failure as internal", err)
	}
	if len(res.Results) != 0 || len(res.Applied) != 0 {
		t.Fatalf("a failed push returned %+v", res)
	}
}

// lateFailStore decides every op and then fails, as a store whose disk
// write fails after the writer ran.
type lateFailStore struct{ *fakeStore }

func (s lateFailStore) Commit(ctx context.Context, ops []protocol.Pending, decide protocol.Decide) ([]protocol.Result, error) {
	tx := fakeTx{s.fakeStore}
	for i := range ops {
		decide(tx, &ops[i])
	}
	return nil, fmt.Errorf("sync to disk: %w", errFault)
}

// TestPullStoreFaults: whichever store call of a pull fails, the pull
// fails with the store's error (500 internal) and returns no page: never
// an empty page with a reset cursor, which a device would take for "all
// read".
func TestPullStoreFaults(t *testing.T) {
	for _, p := range []*access.Principal{fwA, supNat, visitW1} {
		w := newWorld(t)
		w.actionWeek(week1, teamA)
		w.identification(fwA, teamA)
		w.siteVisit(fwA, week1)
		cursor := w.pullAll(p, "", 1).cursor
		w.identification(fwA, teamA)
		w.siteVisit(fwA, week1)
		fs := &faultStore{inner: w.store}
		w.svc.Store = fs
		if _, err := w.pull(p, cursor, 0); err != nil {
			t.Fatalf("%s: pull without faults: %v", p.Role, err)
		}
		calls := slices.Clone(fs.calls)
		for _, want := range []string{"HostedWeeks", "LastSeq", "Feed"} {
			if !slices.Contains(calls, want) {
				t.Fatalf("%s: the pull never calls %s; calls: %v", p.Role, want, calls)
			}
		}
		for n := 1; n <= len(calls); n++ {
			fs.failAt, fs.calls = n, nil
			res, err := w.pull(p, cursor, 0)
			if !errors.Is(err, errFault) || model.ErrorCode(err) != model.CodeInternal {
				t.Errorf("%s, failed %s: err = %v, want the store's failure as internal", p.Role, calls[n-1], err)
			}
			if res.Cursor != "" || len(res.Ops) != 0 || res.More || len(res.Drop) != 0 {
				t.Errorf("%s, failed %s: returned a page %+v", p.Role, calls[n-1], res)
			}
		}
	}
}

// TestPushWallClockSteppingBack: a server wall clock that steps back
// (an NTP correction, a wrong RTC after a reboot) never makes the server's
// stamps go back: each push's server_hlc is greater than the last, and a
// re-stamped op gets a stamp greater than every stamp issued before.
func TestPushWallClockSteppingBack(t *testing.T) {
	w := newWorld(t)
	wall := now
	w.svc.Now = func() time.Time { return wall }
	w.svc.Clock = hlc.NewClock(w.svc.Now, 0)
	rec, _ := w.identification(fwA, teamA)
	last := w.svc.Clock.Last()
	for i, step := range []time.Duration{-time.Hour, -24 * time.Hour, 0, -365 * 24 * time.Hour} {
		wall = wall.Add(step)
		// Stamped at the original now: minutes ahead of a wall clock that
		// stepped back by more than MaxSkew, so it is re-stamped.
		o := w.set(fwA, rec, ident, "code", fmt.Sprintf("C-%d", i)).with("hlc", w.svc.Clock.Last().String())
		res := w.mustApply(fwA, o)
		if res.ServerHLC <= last {
			t.Fatalf("push %d: server_hlc %s not after %s", i, res.ServerHLC, last)
		}
		stored, _ := w.store.stored(o.id())
		if stored.op.HLC.String() != res.Results[0].HLC {
			t.Fatalf("push %d: result hlc %s, stored %s", i, res.Results[0].HLC, stored.op.HLC)
		}
		if stored.op.HLC <= last || stored.deviceHLC.String() != o["hlc"] {
			t.Fatalf("push %d: stored at %s (device stamp kept: %s), want re-stamped after %s", i, stored.op.HLC, stored.deviceHLC, last)
		}
		last = res.ServerHLC
	}
}
