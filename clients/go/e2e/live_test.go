package e2e

import (
	"context"
	"testing"
	"time"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"
	"github.com/fieldsync/fieldsync/model"
)

// TestLiveModeOutlivesItsToken: the server ends a device's event stream
// once its access token expired; the device reconnects with a fresh token
// and keeps hearing of changes live.
func TestLiveModeOutlivesItsToken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &clock{}
	s := startServer(t, clk)
	s.user("fw", model.RoleFieldWorker, "north")
	s.user("mate", model.RoleFieldWorker, "north")
	fw := device(t, s.URL, "fw", func(o *fieldsync.Options) { o.SyncInterval = time.Hour })
	mate := device(t, s.URL, "mate")
	changed := fw.Subscribe(ctx)
	go func() { _ = fw.Run(ctx) }()
	hear := func(id string) {
		t.Helper()
		timeout := time.After(time.Minute) // a bound for a lost event, not a measurement
		for {
			select {
			case got := <-changed:
				if got == id {
					return
				}
			case <-timeout:
				t.Fatalf("device never heard of %s", id)
			}
		}
	}
	first := must[string](t)(mate.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
	syncOK(t, mate)
	hear(first)

	clk.Advance(16 * time.Minute) // every access token expired
	second := must[string](t)(mate.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
	syncOK(t, mate)
	hear(second)
	third := must[string](t)(mate.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
	syncOK(t, mate)
	hear(third)
}
