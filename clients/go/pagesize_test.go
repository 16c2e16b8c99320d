package fieldsync

import (
	"testing"
	"time"
)

// TestPageSizerFollowsTheLink: on a link where every item takes a fixed
// time (and a round trip a fixed time more), the page size settles where
// a page takes about the target, within a few pages, halving at most per
// page on the way down and doubling at most on the way up; it never
// leaves min..max, and a short page that was quick (the feed's end)
// leaves it alone.
func TestPageSizerFollowsTheLink(t *testing.T) {
	link := func(perItem, rtt time.Duration) func(n int) time.Duration {
		return func(n int) time.Duration { return rtt + time.Duration(n)*perItem }
	}
	for _, tc := range []struct {
		name   string
		took   func(int) time.Duration
		lo, hi int // where the size must settle
	}{
		{"slow link", link(40*time.Millisecond, 300*time.Millisecond), 80, 100},
		{"fast link", link(10*time.Microsecond, time.Millisecond), 1000, 1000},
		{"very slow link", link(2*time.Second, 300*time.Millisecond), 50, 50},
	} {
		p := newPageSizer(50, 1000, 4*time.Second)
		prev := p.next()
		for range 12 {
			n := p.next()
			if n < prev/2 || n > 2*prev || n < 50 || n > 1000 {
				t.Fatalf("%s: size went from %d to %d", tc.name, prev, n)
			}
			prev = n
			p.observe(n, n, tc.took(n))
		}
		if n := p.next(); n < tc.lo || n > tc.hi {
			t.Errorf("%s: settled at %d, want %d..%d", tc.name, n, tc.lo, tc.hi)
		}
	}
	p := newPageSizer(50, 1000, 4*time.Second)
	p.observe(1000, 3, time.Millisecond)
	if n := p.next(); n != 1000 {
		t.Errorf("a quick short page moved the size to %d", n)
	}
	p.observe(1000, 1000, 0)
	if n := p.next(); n != 1000 {
		t.Errorf("a page that took no time moved the size past max: %d", n)
	}
	fixed := newPageSizer(50, 1000, 0)
	fixed.observe(1000, 1000, time.Hour)
	if n := fixed.next(); n != 1000 {
		t.Errorf("with no target the size moved to %d", n)
	}
}
