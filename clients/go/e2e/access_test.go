package e2e

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"

	"github.com/fieldsync/fieldsync/model"
)

// countingTransport counts the refresh requests a device sends.
type countingTransport struct {
	next      http.RoundTripper
	refreshes atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/v1/auth/refresh" {
		c.refreshes.Add(1)
	}
	return c.next.RoundTrip(r)
}

// TestTokenExpiryDuringLongOfflinePeriod: a field worker logs in, goes
// offline for three days (the server's clock moves on; access tokens last
// 15 minutes), writes, and syncs: the SDK refreshes the session by itself
// and the writes arrive.
func TestTokenExpiryDuringLongOfflinePeriod(t *testing.T) {
	ctx := context.Background()
	clk := &clock{}
	s := startServer(t, clk)
	s.user("fw", model.RoleFieldWorker, "north")
	s.user("sup", model.RoleSupervisor)
	ct := &countingTransport{next: http.DefaultTransport}
	c := device(t, s.URL, "fw", func(o *fieldsync.Options) { o.HTTPClient = &http.Client{Transport: ct} })
	id := must[string](t)(c.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
	syncOK(t, c)
	if n := ct.refreshes.Load(); n != 0 {
		t.Fatalf("%d refreshes before the tokens expired", n)
	}

	clk.Advance(72 * time.Hour)
	must[string](t)(c.Append(ctx, id, "notes", map[string]any{"text": "three days later"}))
	syncOK(t, c)
	if n := ct.refreshes.Load(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	st := must[fieldsync.Status](t)(c.Status(ctx))
	if st.Outbox != 0 || !st.LoggedIn {
		t.Fatalf("status %+v, want everything sent and still logged in", st)
	}
	sameAsServer(t, s, s.login("sup", userPassword).AccessToken, c, id)
}

// TestMovedRecordIsDropped: a supervisor moves a record to another team;
// the field worker's device no longer has it after its next sync, and its
// edits made meanwhile are kept in the quarantine, not lost silently.
func TestMovedRecordIsDropped(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	s.user("sup", model.RoleSupervisor)
	fw := device(t, s.URL, "fw")
	sup := device(t, s.URL, "sup")
	moved := must[string](t)(fw.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential"),
		fieldsync.F("notes", map[string]any{"text": "first statement"})))
	stays := must[string](t)(fw.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
	syncOK(t, fw)
	syncOK(t, sup)

	must[string](t)(sup.Set(ctx, moved, "team", s.team("south")))
	syncOK(t, sup)
	late := must[string](t)(fw.Append(ctx, moved, "notes", map[string]any{"text": "written before hearing of the move"}))
	syncOK(t, fw)

	if _, err := fw.Record(ctx, moved); !errors.Is(err, fieldsync.ErrNotFound) {
		t.Fatalf("moved record: err = %v, want ErrNotFound", err)
	}
	if ops := must[[]opRef](t)(history(fw, moved)); len(ops) != 0 {
		t.Errorf("%d ops of the moved record remain on the device", len(ops))
	}
	q := must[[]fieldsync.Rejected](t)(fw.Quarantine(ctx))
	if len(q) != 1 || q[0].Op.ID != late || q[0].Code != model.CodeForbidden {
		t.Fatalf("quarantine = %+v, want the late note as forbidden", q)
	}
	sameAsServer(t, s, s.login("sup", userPassword).AccessToken, fw, stays)
	if got := must[[]*fieldsync.Record](t)(fw.List(ctx, fieldsync.Query{Kind: model.KindIdentification})); len(got) != 1 || got[0].ID != stays {
		t.Errorf("device lists %d records, want only %s", len(got), stays)
	}
}

// TestRevokedDeviceWipes: a device in live mode (Run) hears of a
// teammate's record through the event stream; then an admin revokes it,
// and at its next request it erases every local file and Run ends with
// ErrWiped. The user's other device is unaffected.
func TestRevokedDeviceWipes(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	s.user("mate", model.RoleFieldWorker, "north")
	dir := t.TempDir()
	fw := deviceIn(t, dir, s.URL, "fw", func(o *fieldsync.Options) { o.SyncInterval = time.Hour })
	other := device(t, s.URL, "fw")
	mate := device(t, s.URL, "mate")
	changed := fw.Subscribe(ctx)
	ran := make(chan error, 1)
	go func() { ran <- fw.Run(ctx) }()

	id := must[string](t)(mate.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
	syncOK(t, mate)
	for got := range changed { // live: the event stream pokes the device, which pulls
		if got == id {
			break
		}
	}

	s.mustDo(http.StatusOK, http.MethodPost, "/v1/devices/"+fw.DeviceID()+"/revoke", s.admin, nil)
	must[string](t)(mate.Set(ctx, id, "status", "presumed"))
	syncOK(t, mate) // the next event makes the device pull, and hear it is revoked
	err := <-ran
	if !errors.Is(err, fieldsync.ErrWiped) {
		t.Fatalf("Run: %v, want ErrWiped", err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("device directory after wipe: %d entries, err %v", len(entries), err)
	}
	if _, err := fw.Record(ctx, id); !errors.Is(err, fieldsync.ErrWiped) {
		t.Errorf("Record after wipe: %v, want ErrWiped", err)
	}
	syncOK(t, other)
	must[*fieldsync.Record](t)(other.Record(ctx, id))
}
