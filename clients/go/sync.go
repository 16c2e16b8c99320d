package fieldsync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/api"
)

// maxRounds bounds the push-pull rounds of one sync while local writes
// keep arriving.
const maxRounds = 3

// Sync pushes the outbox, then pulls until the server has nothing more,
// and repeats while local writes arrived meanwhile. Network errors, 5xx
// and 429 are retried with backoff (Options.Backoff) until
// Options.MaxAttempts attempts in a row made no progress; every attempt
// resumes where the last stopped. An expired access token is refreshed
// once per request. If the server orders a wipe, the local data is erased
// and Sync returns ErrWiped.
func (c *Client) Sync(ctx context.Context) error {
	if err := c.enter(); err != nil {
		return err
	}
	err := c.syncRetrying(ctx)
	c.leave()
	if err != nil {
		return fmt.Errorf("sync: %w", c.finish(err))
	}
	return nil
}

func (c *Client) syncRetrying(ctx context.Context) error {
	ctx, cancel := c.bind(ctx)
	defer cancel()
	return c.retry(ctx, "sync", c.syncOnce)
}

// retry runs attempt until it succeeds or fails for good: transient
// failures are retried with backoff until Options.MaxAttempts attempts in
// a row made no progress.
func (c *Client) retry(ctx context.Context, what string, attempt func(context.Context) (int, error)) error {
	failures := 0
	for {
		progress, err := attempt(ctx)
		if err == nil || !isTransient(err) {
			return err
		}
		if progress > 0 {
			failures = 0
		}
		failures++
		if failures >= c.opt.MaxAttempts {
			return err
		}
		c.log.Info(what+" interrupted; retrying", "err", err, "attempt", failures)
		if werr := c.opt.Backoff.wait(ctx, failures-1, err); werr != nil {
			return errors.Join(err, werr)
		}
	}
}

// syncOnce is one attempt: push, pull, again while the outbox refills.
// It returns how many ops were answered or received.
func (c *Client) syncOnce(ctx context.Context) (int, error) {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	progress := 0
	for round := 0; round < maxRounds; round++ {
		n, err := c.push(ctx)
		progress += n
		if err != nil {
			return progress, err
		}
		m, err := c.pull(ctx)
		progress += m
		if err != nil {
			return progress, err
		}
		if empty, err := c.outboxEmpty(); err != nil || empty {
			if err != nil {
				return progress, err
			}
			break
		}
	}
	if err := c.ackDrops(ctx); err != nil {
		return progress, err
	}
	return progress, c.markSynced()
}

// ackDropsBatch is the most record ids one acknowledgement carries (the
// server's default --max-ops).
const ackDropsBatch = 1000

// ackDrops acknowledges to the server the records pulls dropped (POST
// /v1/sync/purges; the server records the ones retention erased, so an
// operator sees which devices have deleted them), and forgets each batch
// once acknowledged; a failed acknowledgement is sent again at the next
// sync.
func (c *Client) ackDrops(ctx context.Context) error {
	for {
		var ids []string
		err := c.view(func(b *badger.Txn) error {
			it := b.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixDropped)})
			defer it.Close()
			for it.Rewind(); it.Valid() && len(ids) < ackDropsBatch; it.Next() {
				ids = append(ids, string(it.Item().Key()[len(prefixDropped):]))
			}
			return nil
		})
		if err != nil || len(ids) == 0 {
			return err
		}
		var out api.PurgeAckResponse
		if err := c.call(ctx, http.MethodPost, "/v1/sync/purges", api.PurgeAckRequest{Records: ids}, &out, true); err != nil {
			return fmt.Errorf("acknowledge drops: %w", err)
		}
		err = c.update(func(t *tx) error {
			for _, id := range ids {
				if err := t.del([]byte(prefixDropped + id)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
}

func (c *Client) outboxEmpty() (bool, error) {
	empty := true
	err := c.view(func(b *badger.Txn) error {
		it := b.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixOutbox)})
		defer it.Close()
		it.Rewind()
		empty = !it.Valid()
		return nil
	})
	return empty, err
}

func (c *Client) markSynced() error {
	now := c.opt.Now().UTC()
	return c.update(func(t *tx) error {
		t.after = append(t.after, func() { c.lastSync = now })
		return t.set([]byte(keyLastSync), []byte(now.Format(time.RFC3339Nano)))
	})
}
