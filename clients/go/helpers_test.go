package fieldsync

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// testClock is an injectable wall clock.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func testLogger() *slog.Logger {
	if os.Getenv("FIELDSYNC_TEST_LOGS") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// open opens a replica in dir against f (nil: offline) and closes it at
// the end of the test.
func open(t *testing.T, dir string, f *fakeServer, mod ...func(*Options)) *Client {
	t.Helper()
	opt := Options{Logger: testLogger(), Backoff: Backoff{Base: time.Millisecond, Max: 5 * time.Millisecond}, DeviceName: "unit"}
	if f != nil {
		opt.ServerURL = f.srv.URL
	}
	for _, m := range mod {
		m(&opt)
	}
	c, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

// loggedIn opens a replica and logs in to f.
func loggedIn(t *testing.T, dir string, f *fakeServer, mod ...func(*Options)) *Client {
	t.Helper()
	c := open(t, dir, f, mod...)
	if _, err := c.Login(context.Background(), "ana", "secret"); err != nil {
		t.Fatal(err)
	}
	return c
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func status(t *testing.T, c *Client) Status {
	t.Helper()
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}
