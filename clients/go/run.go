package fieldsync

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Run keeps the replica in sync until ctx ends or the Client closes: it
// syncs at once, then whenever a local write or a server event (live mode,
// GET /v1/sync/events) pokes it, and at least every
// Options.SyncInterval. Network errors, 5xx and 429 are retried with
// exponential backoff and jitter, without limit. It returns ctx's error
// when ctx ends, ErrClosed when the Client closes, ErrWiped after a wipe,
// and any error a retry cannot fix (ErrLoginRequired, ErrNotLoggedIn,
// a route the user's role may not use).
func (c *Client) Run(ctx context.Context) error {
	if err := c.enter(); err != nil {
		return err
	}
	err := c.run(ctx)
	c.leave()
	if errors.Is(err, ErrClosed) && c.wiped() {
		err = ErrWiped // another call wiped the replica under Run
	}
	if err != nil {
		return fmt.Errorf("run sync loop: %w", c.finish(err))
	}
	return nil
}

func (c *Client) run(ctx context.Context) error {
	outer := ctx
	ctx, cancel := c.bind(ctx)
	defer cancel()
	fatal := make(chan error, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	if !c.opt.DisableEvents {
		wg.Go(func() {
			if err := c.listen(ctx); err != nil {
				fatal <- err
			}
		})
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	failures := 0
	for {
		// While backing off, pokes wait: they must not cut the backoff short.
		pokes := c.poke
		if failures > 0 {
			pokes = nil
		}
		select {
		case <-ctx.Done():
			if outer.Err() != nil {
				return outer.Err()
			}
			return ErrClosed
		case err := <-fatal:
			return err
		case <-pokes:
		case <-timer.C:
		}
		_, err := c.syncOnce(ctx)
		switch {
		case err == nil:
			failures = 0
			timer.Reset(c.opt.SyncInterval)
		case ctx.Err() != nil:
		case isTransient(err):
			d := c.opt.Backoff.Delay(failures)
			if ra := retryAfter(err); ra > d {
				d = ra
			}
			failures++
			c.log.Info("sync failed; retrying", "err", err, "in", d)
			timer.Reset(d)
		default:
			return err
		}
	}
}

// wake pokes Run (never blocks; pokes coalesce).
func (c *Client) wake() {
	select {
	case c.poke <- struct{}{}:
	default:
	}
}
