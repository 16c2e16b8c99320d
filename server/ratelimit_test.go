package server

import (
	"fmt"
	"net/netip"
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

var throttleStart = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

// fail admits an attempt of k and records it as failed, failing the test
// if it was refused.
func fail(t *testing.T, th *loginThrottle, k loginKey) throttleFailure {
	t.Helper()
	if v := th.admit(k); v.wait > 0 {
		t.Fatalf("attempt refused for %s", v.wait)
	}
	return th.failed(k)
}

func TestLoginThrottleGrowingDelays(t *testing.T) {
	clk := &fakeClock{t: throttleStart}
	th := newLoginThrottle(3, time.Minute, 1000, 10*time.Minute, clk.now)
	k := newLoginKey("amira.k", addressKey(netip.MustParseAddr("192.0.2.1")), false)
	tests := []struct {
		failure int
		want    time.Duration
	}{
		{1, 0}, {2, 0}, {3, 0},
		{4, time.Second}, {5, 2 * time.Second}, {6, 4 * time.Second}, {7, 8 * time.Second},
		{8, 16 * time.Second}, {9, 32 * time.Second}, {10, time.Minute}, {11, time.Minute},
	}
	for _, tt := range tests {
		f := fail(t, th, k)
		if got := f.delay; got != tt.want {
			t.Fatalf("failure %d: delay %s, want %s", tt.failure, got, tt.want)
		}
		if tt.want == 0 {
			continue // free: the next attempt is admitted (fail checks it)
		}
		v := th.admit(k)
		if got := v.wait; got != tt.want {
			t.Fatalf("after failure %d: wait %s, want %s", tt.failure, got, tt.want)
		}
		if !v.report || v.addr {
			t.Fatalf("after failure %d: report=%v addr=%v, want the first refusal of the pair reported", tt.failure, v.report, v.addr)
		}
		if again := th.admit(k); again.wait <= 0 || again.report {
			t.Fatalf("after failure %d: a second refusal was %+v, want refused and not reported again", tt.failure, again)
		}
		clk.advance(tt.want - time.Nanosecond)
		if v := th.admit(k); v.wait != time.Nanosecond {
			t.Fatalf("after failure %d: wait %s a nanosecond before the end, want 1ns", tt.failure, v.wait)
		}
		clk.advance(time.Nanosecond)
	}
	fail(t, th, k) // still capped
	clk.advance(time.Minute)
	if v := th.admit(k); v.wait > 0 {
		t.Fatalf("refused after the capped delay: %+v", v)
	}
	th.succeeded(k)
	if f := fail(t, th, k); f.delay != 0 {
		t.Fatalf("a success did not reset the count: delay %s", f.delay)
	}
}

func TestLoginThrottleIsPerUsernameAndClient(t *testing.T) {
	a, b := addressKey(netip.MustParseAddr("192.0.2.1")), addressKey(netip.MustParseAddr("198.51.100.7"))
	tests := []struct {
		name     string
		attacked []loginKey // each fails 5 times (free is 2)
		then     loginKey
	}{
		{"failures spread over 4 usernames from one address", []loginKey{
			newLoginKey("u1", a, false), newLoginKey("u2", a, false), newLoginKey("u3", a, false), newLoginKey("u4", a, false),
		}, newLoginKey("u5", a, false)},
		{"the attacked username from another address", []loginKey{newLoginKey("amira.k", a, false)}, newLoginKey("amira.k", b, false)},
		{"the attacked username with its device proven", []loginKey{newLoginKey("amira.k", a, false)}, newLoginKey("amira.k", "device:d1", true)},
		{"a proven device of the attacked username", []loginKey{newLoginKey("amira.k", "device:d2", true)}, newLoginKey("amira.k", "device:d1", true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: throttleStart}
			th := newLoginThrottle(2, 15*time.Minute, 100, 10*time.Minute, clk.now)
			for _, k := range tt.attacked {
				for range 5 {
					th.admit(k)
					th.failed(k)
				}
				if v := th.admit(k); v.wait <= 0 {
					t.Fatal("the attacked pair is not delayed")
				}
			}
			if v := th.admit(tt.then); v.wait > 0 {
				t.Fatalf("refused for %s (addr=%v), want admitted", v.wait, v.addr)
			}
		})
	}
}

func TestLoginThrottleAddressCeiling(t *testing.T) {
	clk := &fakeClock{t: throttleStart}
	th := newLoginThrottle(5, 15*time.Minute, 10, 10*time.Minute, clk.now)
	a := addressKey(netip.MustParseAddr("192.0.2.1"))
	for i := range 10 {
		f := fail(t, th, newLoginKey(fmt.Sprintf("u%d", i), a, false))
		if f.addrFull != (i == 9) {
			t.Fatalf("failure %d: addrFull=%v, want it on the 10th only", i+1, f.addrFull)
		}
	}
	v := th.admit(newLoginKey("someone-else", a, false))
	if v.wait != time.Minute || !v.addr || v.report {
		t.Fatalf("11th username: %+v, want refused by the address for 1m (its audit entry written with the 10th failure)", v)
	}
	if v := th.admit(newLoginKey("someone-else", "device:d1", true)); v.wait > 0 {
		t.Fatalf("a proven device was refused by the address ceiling: %+v", v)
	}
	if v := th.admit(newLoginKey("u1", addressKey(netip.MustParseAddr("192.0.2.2")), false)); v.wait > 0 {
		t.Fatalf("another address was refused: %+v", v)
	}
	clk.advance(time.Minute)
	k := newLoginKey("someone-else", a, false)
	if v := th.admit(k); v.wait > 0 {
		t.Fatalf("refused after a token came back: %+v", v)
	}
	th.succeeded(k) // a success gives its token back
	if v := th.admit(newLoginKey("third", a, false)); v.wait > 0 {
		t.Fatalf("a success did not give its token back: %+v", v)
	}
}

func TestLoginThrottleCountsAttemptsInFlight(t *testing.T) {
	clk := &fakeClock{t: throttleStart}
	th := newLoginThrottle(3, 15*time.Minute, 100, 10*time.Minute, clk.now)
	k := newLoginKey("amira.k", addressKey(netip.MustParseAddr("192.0.2.1")), false)
	for i := range 4 { // three free, the fourth sets the first delay
		if v := th.admit(k); v.wait > 0 {
			t.Fatalf("concurrent attempt %d refused", i+1)
		}
	}
	if v := th.admit(k); v.wait != time.Second {
		t.Fatalf("fifth concurrent attempt: %+v, want refused for 1s", v)
	}
}

func TestLoginThrottleForgetsIdlePairs(t *testing.T) {
	clk := &fakeClock{t: throttleStart}
	th := newLoginThrottle(1, time.Minute, 100, 10*time.Minute, clk.now)
	k := newLoginKey("amira.k", addressKey(netip.MustParseAddr("192.0.2.1")), false)
	fail(t, th, k)
	fail(t, th, k)
	clk.advance(loginForget + time.Minute)
	th.admit(newLoginKey("other", "ip:192.0.2.9", false)) // sweeps
	if got := len(th.pairs); got != 1 {
		t.Fatalf("%d pairs kept, want only the new one", got)
	}
	if got := len(th.addrs); got != 1 {
		t.Fatalf("%d address buckets kept, want only the new one", got)
	}
}

func TestAddressKeyGroupsIPv6By64(t *testing.T) {
	tests := []struct {
		a, b string
		same bool
	}{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"192.0.2.1", "192.0.2.2", false},
		{"::ffff:192.0.2.1", "192.0.2.1", true},
	}
	for _, tt := range tests {
		ka := addressKey(netip.MustParseAddr(tt.a).Unmap())
		kb := addressKey(netip.MustParseAddr(tt.b).Unmap())
		if got := ka == kb; got != tt.same {
			t.Errorf("%s and %s: same key %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
}
