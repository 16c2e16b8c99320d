package fieldsync

import (
	"context"
	"testing"
)

// TestBootstrapFallsBackToPull: against a server without GET
// /v1/sync/snapshot (404), a replica with Options.Bootstrap pulls every op
// as before instead of failing every sync.
func TestBootstrapFallsBackToPull(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	w := loggedIn(t, t.TempDir(), f)
	id := must[string](t)(w.CreateIdentification(ctx, f.team(), F("age_estimate", 7)))
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	c := loggedIn(t, t.TempDir(), f, func(o *Options) { o.Bootstrap = true })
	if err := c.Sync(ctx); err != nil {
		t.Fatalf("sync with Bootstrap against a server without snapshots: %v", err)
	}
	if _, err := c.Record(ctx, id); err != nil {
		t.Fatalf("the record was not pulled: %v", err)
	}
}
