package server

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter keeps a token bucket per key (a user id, an IP), forgetting keys
// idle for longer than it takes their bucket to refill.
type limiter struct {
	mu      sync.Mutex
	limit   rate.Limit
	burst   int
	buckets map[string]*bucket
	now     func() time.Time
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(perSecond float64, burst int, now func() time.Time) *limiter {
	return &limiter{limit: rate.Limit(perSecond), burst: burst, buckets: map[string]*bucket{}, now: now}
}

// allow takes one token from key's bucket.
func (l *limiter) allow(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// sweep drops buckets idle long enough to be full again, once a minute.
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	idle := time.Duration(float64(l.burst)/float64(l.limit)*float64(time.Second)) + time.Minute
	for k, b := range l.buckets {
		if now.Sub(b.seen) > idle {
			delete(l.buckets, k)
		}
	}
}

// lockout counts failed logins per key and locks the key for a while after
// too many within a window.
type lockout struct {
	mu       sync.Mutex
	max      int
	window   time.Duration
	lock     time.Duration
	failures map[string]*failures
	now      func() time.Time
}

type failures struct {
	count int
	first time.Time
	until time.Time
}

func newLockout(max int, window, lock time.Duration, now func() time.Time) *lockout {
	return &lockout{max: max, window: window, lock: lock, failures: map[string]*failures{}, now: now}
}

// locked reports whether key is locked and for how much longer.
func (l *lockout) locked(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.failures[key]
	if !ok {
		return false, 0
	}
	left := f.until.Sub(l.now())
	return left > 0, left
}

// fail records a failed attempt for key.
func (l *lockout) fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f, ok := l.failures[key]
	if !ok || now.Sub(f.first) > l.window && now.After(f.until) {
		f = &failures{first: now}
		l.failures[key] = f
	}
	f.count++
	if f.count >= l.max {
		f.until = now.Add(l.lock)
		f.count, f.first = 0, now
	}
}

// succeed forgets key's failures.
func (l *lockout) succeed(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.failures, key)
}
