package protocol_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// faultPush is one run of the push of TestPushStoreFaults: a world with
// an action week and an identification, and a push of four independent
// ops: a change to the identification, a new identification, a new site
// visit (whose scope needs its week's host team) and a re-sent op.
type faultPush struct {
	w     *world
	calls []string // the store calls the push made
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
	w.store.faults = &faults{failAt: failAt}
	fp.res, fp.err = w.svc.Push(context.Background(), fwA, raws)
	fp.calls = w.store.faults.calls
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
		if !slices.ContainsFunc(base.calls, func(c string) bool { return len(c) >= len(want) && c[:len(want)] == want }) {
			t.Fatalf("the push never calls %s; calls: %v", want, base.calls)
		}
	}
	for n := 1; n <= len(base.calls); n++ {
		call := base.calls[n-1]
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
	w.store.commitErr, w.store.failLate = fmt.Errorf("sync to disk: %w", errFault), true
	rec := w.id()
	res, err := w.svc.Push(context.Background(), fwA, []json.RawMessage{w.set(fwA, rec, ident, "team", teamA).raw()})
	if !errors.Is(err, errFault) || model.ErrorCode(err) != model.CodeInternal {
		t.Fatalf("err = %v, want the store's failure as internal", err)
	}
	if len(res.Results) != 0 || len(res.Applied) != 0 {
		t.Fatalf("a failed push returned %+v", res)
	}
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
		fs := &faults{}
		w.store.faults = fs
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
