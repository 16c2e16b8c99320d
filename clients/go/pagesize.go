package fieldsync

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultPageTime is the time a pull or snapshot page should take on the
// link (Options.PageTime): long enough that the round trip is a small part
// of it, short enough that a page cut by a dropped connection costs little
// to fetch again.
const DefaultPageTime = 4 * time.Second

// Smallest page sizes the adaptation goes down to (or the configured page
// size, when smaller).
const (
	minPullLimit     = 50
	minSnapshotLimit = 5
)

// pageSizer adapts a page size to the measured link: after each page it
// takes the page's items and the time its fetch took (request, transfer
// and decoding, on the device's clock), and sizes the next page to take
// about target at that rate, at most twice the last size (a link that got
// faster is trusted a page at a time; one that got slower at once) and
// within min..max. A fetch that took no measurable time grows the page
// (as fast as allowed). It is safe for concurrent use.
type pageSizer struct {
	min, max int
	target   time.Duration

	mu   sync.Mutex
	size int
}

// newPageSizer starts at start and adapts within lo..hi; with target <= 0
// it stays at start.
func newPageSizer(start, lo, hi int, target time.Duration) *pageSizer {
	if target <= 0 {
		lo, hi = start, start
	}
	return &pageSizer{min: min(lo, start), max: max(hi, start), target: target, size: start}
}

// next returns the size of the next page.
func (p *pageSizer) next() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size
}

// observe records that a page of asked items (the size asked for) brought
// got items in took. A short page (the end of a feed) says nothing of the
// rate unless it took longer than target.
func (p *pageSizer) observe(asked, got int, took time.Duration) {
	if p.target <= 0 || asked <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if got < asked && took <= p.target {
		return
	}
	want := 2 * asked
	if took > 0 {
		want = int(float64(max(got, 1)) * float64(p.target) / float64(took))
	}
	want = min(max(want, p.min), 2*asked, p.max)
	p.size = want
}

// cut records that a page's answer broke off (a dropped connection): the
// next page is half the size (at least min), so that a link that cannot
// carry a page whole still moves forward, a smaller page at a time.
func (p *pageSizer) cut() {
	if p.target <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.size = max(p.size/2, p.min)
}

// isCut reports whether a page's fetch broke off on the way: the
// connection dropped or the answer was garbled (a transport error), or
// the request ran out of time.
func isCut(err error) bool {
	var te *transportError
	return errors.As(err, &te) || errors.Is(err, context.DeadlineExceeded)
}
