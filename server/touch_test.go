package server

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/auth"
	"github.com/fieldsync/fieldsync/server/store"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// touchCounter is the store with its TouchDevice calls counted.
type touchCounter struct {
	*store.DB
	mu      sync.Mutex
	touches int
}

func (c *touchCounter) TouchDevice(ctx context.Context, id, ip string, at time.Time) error {
	c.mu.Lock()
	c.touches++
	c.mu.Unlock()
	return c.DB.TouchDevice(ctx, id, ip, at)
}

func (c *touchCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.touches
}

// TestAuthenticatedRequestsTouchDeviceOncePerMinute: authenticating a
// request writes the device's last-seen time at most once per minute per
// device (no read-write transaction per request), and again once the
// minute has passed.
func TestAuthenticatedRequestsTouchDeviceOncePerMinute(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var mu sync.Mutex
	clock := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	schema := model.DefaultSchema()
	db, err := store.Open(t.TempDir(), store.Options{Schema: schema, Logger: log, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	keys, err := auth.LoadOrCreateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	authSvc := &auth.Service{Store: db, Keys: keys, Issuer: cfg.Issuer, Audience: cfg.Audience,
		AccessTTL: cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, RefreshGrace: cfg.RefreshGrace, Now: now}
	if _, err := authSvc.EnsureAdmin(context.Background(), "correct horse battery staple"); err != nil {
		t.Fatal(err)
	}
	sess, err := authSvc.Login(context.Background(), auth.LoginRequest{Username: "admin", Password: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	counted := &touchCounter{DB: db}
	syncSvc := &protocol.Service{Schema: schema, Store: db, Clock: hlc.NewClock(now, 0), Now: now, Limits: cfg.Limits}
	s := New(cfg, log, counted, authSvc, syncSvc, now)
	get := func() {
		t.Helper()
		req := httptest.NewRequest("GET", "/v1/schema", nil)
		req.Header.Set("Authorization", "Bearer "+sess.AccessToken)
		resp, err := s.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("GET /v1/schema: %d", resp.StatusCode)
		}
	}
	steps := []struct {
		name    string
		advance time.Duration
		want    int
	}{
		{"first request", 0, 1},
		{"second request", 0, 1},
		{"59 s later", 59 * time.Second, 1},
		{"a minute after the touch", time.Second, 2},
		{"right after it", 0, 2},
	}
	for _, st := range steps {
		advance(st.advance)
		get()
		if got := counted.count(); got != st.want {
			t.Errorf("%s: %d device touches, want %d", st.name, got, st.want)
		}
	}
}

// TestTouchThrottle: a device is due on first sight, on a new IP, once the
// interval since its last touch has passed, and when the clock went back;
// devices are throttled independently.
func TestTouchThrottle(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	th := newTouchThrottle(time.Minute)
	steps := []struct {
		name   string
		device string
		ip     string
		at     time.Duration
		want   bool
	}{
		{"first sight", "d1", "192.0.2.1", 0, true},
		{"same minute", "d1", "192.0.2.1", 30 * time.Second, false},
		{"another device", "d2", "192.0.2.1", 30 * time.Second, true},
		{"new IP", "d1", "192.0.2.2", 40 * time.Second, true},
		{"minute after the new IP not yet", "d1", "192.0.2.2", 99 * time.Second, false},
		{"minute passed", "d1", "192.0.2.2", 100 * time.Second, true},
		{"clock went back", "d1", "192.0.2.2", 10 * time.Second, true},
	}
	for _, st := range steps {
		if got := th.due(st.device, st.ip, t0.Add(st.at)); got != st.want {
			t.Errorf("%s: due = %v, want %v", st.name, got, st.want)
		}
	}
}
