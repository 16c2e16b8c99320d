package server

import (
	"sync"
	"time"
)

// touchInterval is how often a device's last-seen time and IP are written
// at most while its IP does not change (the store skips writes of a time
// less stale than this too).
const touchInterval = time.Minute

// touchThrottle remembers, in memory, when each device was last touched and
// from which IP, so that authenticating a request writes the device's
// bookkeeping at most once per interval instead of opening a read-write
// transaction every time. It holds no authorisation state: whether a
// device, account or grant may act is read from the store on every request.
// A restart forgets it, which costs one extra write per device.
type touchThrottle struct {
	mu    sync.Mutex
	every time.Duration
	last  map[string]touched
}

// touched is a device's last touch.
type touched struct {
	at time.Time
	ip string
}

// maxTouched bounds the throttle's memory: past it, stale entries are
// forgotten.
const maxTouched = 100_000

func newTouchThrottle(every time.Duration) *touchThrottle {
	return &touchThrottle{every: every, last: map[string]touched{}}
}

// due reports whether device, seen from ip at now, should be written, and
// if so remembers it: true on the first sight, on a new IP, and once the
// last write is at least the interval old.
func (t *touchThrottle) due(device, ip string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, ok := t.last[device]; ok && l.ip == ip && now.Sub(l.at) < t.every && !now.Before(l.at) {
		return false
	}
	if len(t.last) >= maxTouched {
		t.forgetStale(now)
	}
	t.last[device] = touched{at: now, ip: ip}
	return true
}

// forgetStale drops the entries whose interval has passed (they would be
// due anyway), or every entry when none has.
func (t *touchThrottle) forgetStale(now time.Time) {
	for d, l := range t.last {
		if now.Sub(l.at) >= t.every {
			delete(t.last, d)
		}
	}
	if len(t.last) >= maxTouched {
		clear(t.last)
	}
}
