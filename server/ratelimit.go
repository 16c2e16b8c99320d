package server

import (
	"crypto/sha256"
	"math"
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

// Login throttling (docs/security.md, "Login throttling"): failures are
// counted per (username, client), where the client is the device whose
// current refresh token the attempt presented or else the client address,
// so a guesser slows down only the guesses made from where they stand and
// can never lock anyone else out.
//
// Invariants: a decision never depends on whether the username exists;
// an attempt counts as a failure from the moment it is admitted until it
// succeeds, so concurrent guesses cannot slip past the count; every time
// comes from the injected clock.

// loginKey names the counters one login attempt is charged to.
type loginKey struct {
	// pair is the hash of the username and the client (the device or the
	// address key): fixed size whatever the username's length.
	pair [sha256.Size]byte
	// addr is the client address key, or "" when the attempt proved its
	// device (it is then not charged to the address).
	addr string
}

// newLoginKey returns the key of an attempt by username from client (a
// device proof or an address key); proven says which.
func newLoginKey(username, client string, proven bool) loginKey {
	k := loginKey{pair: sha256.Sum256([]byte(client + "\x00" + username))}
	if !proven {
		k.addr = client
	}
	return k
}

// loginThrottle delays failed logins per (username, client), twice as
// long after each failure beyond the free ones up to maxDelay, and bounds
// the failures of one client address (whatever the usernames) with a
// bucket of addrMax failures refilled over addrWindow.
type loginThrottle struct {
	mu         sync.Mutex
	now        func() time.Time
	free       int
	maxDelay   time.Duration
	addrMax    float64
	addrWindow time.Duration
	pairs      map[[sha256.Size]byte]*pairState
	addrs      map[string]*addrState
	swept      time.Time
}

// pairState is the failures of one (username, client).
type pairState struct {
	failures int       // admitted attempts since the last success
	last     time.Time // the latest admitted attempt
	until    time.Time // no attempt is admitted before
	told     bool      // a refusal until until has been reported
}

// addrState is the failure bucket of one client address.
type addrState struct {
	tokens float64
	at     time.Time
	told   bool // a refusal while empty has been reported
}

// firstLoginDelay is the delay after the first failure beyond the free ones.
const firstLoginDelay = time.Second

// throttleVerdict is admit's answer.
type throttleVerdict struct {
	// wait is how long the attempt must wait; 0 admits it.
	wait time.Duration
	// addr says the client address's bucket refused it, not the pair.
	addr bool
	// report says this is the first refusal of this delay (to audit).
	report bool
}

// throttleFailure is what a failed attempt changed, for the audit log.
type throttleFailure struct {
	// delay is the pair's delay this failure imposed (0: still free).
	delay time.Duration
	// addrFull says the failure emptied the client address's bucket.
	addrFull bool
}

func newLoginThrottle(free int, maxDelay time.Duration, addrMax int, addrWindow time.Duration, now func() time.Time) *loginThrottle {
	return &loginThrottle{
		now: now, free: free, maxDelay: maxDelay, addrMax: float64(addrMax), addrWindow: addrWindow,
		pairs: map[[sha256.Size]byte]*pairState{}, addrs: map[string]*addrState{},
	}
}

// admit decides whether an attempt of k may check its password now. An
// admitted attempt is counted as a failure until succeeded is called.
func (t *loginThrottle) admit(k loginKey) throttleVerdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.sweep(now)
	p := t.pairs[k.pair]
	if p != nil && now.Before(p.until) {
		v := throttleVerdict{wait: p.until.Sub(now), report: !p.told}
		p.told = true
		return v
	}
	var a *addrState
	if k.addr != "" {
		a = t.addr(k.addr, now)
		if a.tokens < 1 {
			v := throttleVerdict{wait: t.refill(1 - a.tokens), addr: true, report: !a.told}
			a.told = true
			return v
		}
		a.tokens--
	}
	if p == nil {
		p = &pairState{}
		t.pairs[k.pair] = p
	}
	p.failures++
	p.last = now
	p.until = now.Add(t.delay(p.failures))
	p.told = false
	return throttleVerdict{}
}

// failed reports what the failure of an attempt admitted for k imposed
// (it was counted when admitted).
func (t *loginThrottle) failed(k loginKey) throttleFailure {
	t.mu.Lock()
	defer t.mu.Unlock()
	var f throttleFailure
	if p := t.pairs[k.pair]; p != nil {
		f.delay = t.delay(p.failures)
	}
	if a := t.addrs[k.addr]; k.addr != "" && a != nil && a.tokens < 1 && !a.told {
		f.addrFull, a.told = true, true
	}
	return f
}

// succeeded forgets the pair's failures and gives the attempt's token
// back to the client address.
func (t *loginThrottle) succeeded(k loginKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pairs, k.pair)
	if a := t.addrs[k.addr]; k.addr != "" && a != nil {
		a.tokens = min(a.tokens+1, t.addrMax)
		a.told = false
	}
}

// delay is the wait after n failures: none for the first free ones, then
// firstLoginDelay doubling with each failure up to maxDelay.
func (t *loginThrottle) delay(n int) time.Duration {
	beyond := n - t.free
	if beyond <= 0 {
		return 0
	}
	if beyond > 40 {
		return t.maxDelay
	}
	return min(firstLoginDelay<<(beyond-1), t.maxDelay)
}

// addr returns the bucket of key refilled up to now.
func (t *loginThrottle) addr(key string, now time.Time) *addrState {
	a := t.addrs[key]
	if a == nil {
		a = &addrState{tokens: t.addrMax, at: now}
		t.addrs[key] = a
	}
	if now.After(a.at) {
		a.tokens = min(t.addrMax, a.tokens+t.addrMax*float64(now.Sub(a.at))/float64(t.addrWindow))
		a.at = now
	}
	if a.tokens >= 1 {
		a.told = false
	}
	return a
}

// refill is how long the bucket takes to regain tokens.
func (t *loginThrottle) refill(tokens float64) time.Duration {
	return time.Duration(math.Ceil(tokens * float64(t.addrWindow) / t.addrMax))
}

// sweep forgets, once a minute, pairs idle for loginForget with their
// delay over, and buckets that are full again.
func (t *loginThrottle) sweep(now time.Time) {
	if now.Sub(t.swept) < time.Minute {
		return
	}
	t.swept = now
	forget := max(loginForget, 2*t.maxDelay)
	for k, p := range t.pairs {
		if now.Sub(p.last) > forget && !now.Before(p.until) {
			delete(t.pairs, k)
		}
	}
	for k, a := range t.addrs {
		if a.tokens+t.addrMax*float64(now.Sub(a.at))/float64(t.addrWindow) >= t.addrMax {
			delete(t.addrs, k)
		}
	}
}

// loginForget is how long a (username, client) keeps its failures
// without a new attempt (at least twice the longest delay).
const loginForget = time.Hour
