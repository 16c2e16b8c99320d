package server

import (
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiterBurstThenRate(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)}
	l := newLimiter(1, 3, clk.now)
	for i := range 3 {
		if !l.allow("u") {
			t.Fatalf("request %d within the burst refused", i)
		}
	}
	if l.allow("u") {
		t.Fatal("request past the burst allowed")
	}
	if !l.allow("other") {
		t.Fatal("another key shares the bucket")
	}
	clk.advance(time.Second)
	if !l.allow("u") {
		t.Fatal("a token did not come back after a second")
	}
}

func TestLockoutAfterRepeatedFailures(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)}
	l := newLockout(3, 10*time.Minute, 15*time.Minute, clk.now)
	for range 2 {
		l.fail("user:fw")
	}
	if locked, _ := l.locked("user:fw"); locked {
		t.Fatal("locked before the third failure")
	}
	l.fail("user:fw")
	locked, left := l.locked("user:fw")
	if !locked || left != 15*time.Minute {
		t.Fatalf("after 3 failures: locked=%v left=%s, want true 15m", locked, left)
	}
	clk.advance(15 * time.Minute)
	if locked, _ := l.locked("user:fw"); locked {
		t.Fatal("still locked after the lock period")
	}
	l.fail("user:fw")
	l.succeed("user:fw")
	l.fail("user:fw")
	l.fail("user:fw")
	if locked, _ := l.locked("user:fw"); locked {
		t.Fatal("a success did not reset the count")
	}
}
