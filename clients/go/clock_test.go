package fieldsync

import (
	"context"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/sync/crdt"
)

// The device clock jumps back a day between two runs (a tablet whose
// battery died); the HLC still issues stamps after every earlier one.
func TestClockNeverGoesBackwardsAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	dir := t.TempDir()
	clk := newTestClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	c := loggedIn(t, dir, f, func(o *Options) { o.Now = clk.Now })
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	for range 50 {
		must[string](t)(c.Append(ctx, id, "notes", map[string]any{"text": "x"}))
	}
	ops := must[[]crdt.Op](t)(c.History(ctx, id))
	last := ops[len(ops)-1].HLC
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	clk.Advance(-24 * time.Hour)
	c = open(t, dir, f, func(o *Options) { o.Now = clk.Now })
	op := must[string](t)(c.Append(ctx, id, "notes", map[string]any{"text": "after restart"}))
	ops = must[[]crdt.Op](t)(c.History(ctx, id))
	got := ops[len(ops)-1]
	if got.ID != op || got.HLC <= last {
		t.Fatalf("op after restart: %s at %s, want after %s", got.ID, got.HLC, last)
	}
}

// Stamps seen in a pull move the clock forward (a device a year behind
// writes after what it has seen once it synced).
func TestPullAdvancesClock(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	behind := newTestClock(f.now.Now().AddDate(-1, 0, 0))
	c := loggedIn(t, t.TempDir(), f, func(o *Options) { o.Now = behind.Now })
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	ops := must[[]crdt.Op](t)(c.History(ctx, id))
	if got, server := ops[0].HLC, f.clock.Last(); got <= server {
		t.Fatalf("op stamped %s, want after the server's last stamp %s", got, server)
	}
}
