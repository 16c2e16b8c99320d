package fieldsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestPageSizerFollowsTheLink: on a link where every item takes a fixed
// time (and a round trip a fixed time more), the page size settles where
// a page takes about the target, within a few pages, doubling at most per
// page on the way up; it never
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
		p := newPageSizer(1000, 50, 1000, 4*time.Second)
		prev := p.next()
		for range 12 {
			n := p.next()
			if n > 2*prev || n < 50 || n > 1000 {
				t.Fatalf("%s: size went from %d to %d", tc.name, prev, n)
			}
			prev = n
			p.observe(n, n, tc.took(n))
		}
		if n := p.next(); n < tc.lo || n > tc.hi {
			t.Errorf("%s: settled at %d, want %d..%d", tc.name, n, tc.lo, tc.hi)
		}
	}
	p := newPageSizer(1000, 50, 1000, 4*time.Second)
	p.observe(1000, 3, time.Millisecond)
	if n := p.next(); n != 1000 {
		t.Errorf("a quick short page moved the size to %d", n)
	}
	p.observe(1000, 1000, 0)
	if n := p.next(); n != 1000 {
		t.Errorf("a page that took no time moved the size past max: %d", n)
	}
	fixed := newPageSizer(1000, 50, 5000, 0)
	fixed.observe(1000, 1000, time.Hour)
	if n := fixed.next(); n != 1000 {
		t.Errorf("with no target the size moved to %d", n)
	}
}

// TestPullPagesShrinkOnASlowLink: a fresh device pulling 1,200 ops over a
// simulated 256 kbit/s link with 300 ms round trips (the fake server
// advances the device's clock by each page's transfer time) asks for
// smaller pages after the first, settling where a page takes about
// PageTime, and still receives every op exactly once; on a fast link the
// pages grow past PullLimit (up to the server's largest).
func TestPullPagesShrinkOnASlowLink(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	w := loggedIn(t, t.TempDir(), f)
	for range 120 {
		id := must[string](t)(w.CreateIdentification(ctx, f.team()))
		for i := range 9 {
			must[string](t)(w.Append(ctx, id, "notes", map[string]any{"text": fmt.Sprintf("visit %d: spoke with the family", i)}))
		}
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		bitsPerS int
		rtt      time.Duration
		lo, hi   int // the settled page size
	}{{"slow", 256_000, 300 * time.Millisecond, 200, 500}, {"fast", 1_000_000_000, time.Millisecond, 2000, MaxPullLimit}} {
		clk := newTestClock(f.now.Now())
		var limits []int
		f.mu.Lock()
		f.link = func(limit, bytes int) {
			limits = append(limits, limit)
			clk.Advance(tc.rtt + time.Duration(bytes*8)*time.Second/time.Duration(tc.bitsPerS))
		}
		f.mu.Unlock()
		c := loggedIn(t, t.TempDir(), f, func(o *Options) { o.Now = clk.Now })
		if err := c.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		st := status(t, c)
		if st.Pulled != 1200 || st.Records != 120 {
			t.Fatalf("%s: pulled %d ops of %d records, want 1200 of 120", tc.name, st.Pulled, st.Records)
		}
		if limits[0] != DefaultPullLimit || st.PullPage < tc.lo || st.PullPage > tc.hi {
			t.Fatalf("%s link: pages asked %v, next page %d; want %d first, then %d..%d", tc.name, limits, st.PullPage, DefaultPullLimit, tc.lo, tc.hi)
		}
		t.Logf("%s link: pages asked %v", tc.name, limits)
	}
}

// TestPagesShrinkWhenCut: a link that cuts every answer longer than 64
// KiB (shorter than the first page of 1000 ops) still brings every op:
// each cut halves the next page, until pages fit. (Without it, the device
// asked for the same page forever.)
func TestPagesShrinkWhenCut(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	w := loggedIn(t, t.TempDir(), f)
	for range 60 {
		id := must[string](t)(w.CreateIdentification(ctx, f.team()))
		for i := range 9 {
			must[string](t)(w.Append(ctx, id, "notes", map[string]any{"text": fmt.Sprintf("visit %d: spoke with the family", i)}))
		}
	}
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	cuts := 0
	c := loggedIn(t, t.TempDir(), f, func(o *Options) {
		o.MaxAttempts = 20
		o.HTTPClient = &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil || req.URL.Path != "/v1/sync/pull" {
				return resp, err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return nil, err
			}
			if len(body) > 64<<10 {
				cuts++
				return nil, errors.New("the link was cut")
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			return resp, nil
		})}
	})
	if err := c.Sync(ctx); err != nil {
		t.Fatalf("sync over a link that cuts long answers: %v", err)
	}
	if st := status(t, c); st.Pulled != 600 || cuts == 0 || st.PullPage >= DefaultPullLimit {
		t.Fatalf("pulled %d ops of 600 after %d cuts, next page %d", st.Pulled, cuts, st.PullPage)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
