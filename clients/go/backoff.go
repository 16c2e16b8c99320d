package fieldsync

import (
	"context"
	"math/rand/v2"
	"time"
)

// DefaultBackoff is the retry policy when Options.Backoff is zero.
var DefaultBackoff = Backoff{Base: 500 * time.Millisecond, Max: time.Minute}

// Backoff is exponential backoff with jitter: the n-th retry (from 0)
// waits a random duration in [d/2, d] where d = min(Max, Base·2ⁿ), and at
// least what a 429's Retry-After asked.
type Backoff struct {
	// Base is the first retry's upper bound.
	Base time.Duration
	// Max caps the wait.
	Max time.Duration
}

func (b Backoff) withDefaults() Backoff {
	if b.Base <= 0 {
		b.Base = DefaultBackoff.Base
	}
	if b.Max <= 0 {
		b.Max = max(DefaultBackoff.Max, b.Base)
	}
	return b
}

// Delay returns the wait before retry n (0 for the first retry).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Max
	if n < 32 {
		if e := b.Base << n; e > 0 && e < b.Max {
			d = e
		}
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// wait sleeps for the retry delay of attempt n (raised to the server's
// Retry-After, if err carries one) or until ctx ends.
func (b Backoff) wait(ctx context.Context, n int, err error) error {
	d := b.Delay(n)
	if ra := retryAfter(err); ra > d {
		d = min(ra, 10*b.Max)
	}
	return sleepCtx(ctx, d)
}

// sleepCtx waits d, or until ctx ends (its error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
