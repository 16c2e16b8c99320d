package fieldsync

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// update runs fn in one write transaction under writeMu: fn changes the
// transaction, the touched records and the clock are written, the
// transaction commits and is synced to disk (fsync) before update
// returns, then the transaction's after hooks run and subscribers hear of
// changed records.
func (c *Client) update(fn func(t *tx) error) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.updateLocked(fn, true)
}

// updateLazy is update without the fsync, for what can be fetched again
// (pulled pages: the cursor moves in the same transaction, so a page lost
// in a power cut is pulled again). A process crash loses nothing either
// way: a committed transaction is in the operating system's hands. The
// next durable update, or syncStore, makes it durable too.
func (c *Client) updateLazy(fn func(t *tx) error) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.updateLocked(fn, false)
}

// syncStore makes every committed transaction durable.
func (c *Client) syncStore() error {
	if err := c.db.Sync(); err != nil {
		return fmt.Errorf("sync replica store: %w", err)
	}
	return nil
}

// updateLocked is update for a caller holding writeMu.
func (c *Client) updateLocked(fn func(t *tx) error, durable bool) (err error) {
	b := c.db.NewTransaction(true)
	defer b.Discard()
	t := newTx(b, c.schema, c.log)
	t.cache = c.cache
	defer func() {
		if err != nil {
			c.cache.failed(t.records)
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if err := t.flush(); err != nil {
		return err
	}
	if err := t.setClock(c.clock.Last()); err != nil {
		return err
	}
	if err := b.Commit(); err != nil {
		return fmt.Errorf("commit local transaction: %w", err)
	}
	c.cache.committed(t.records)
	if durable {
		if err := c.syncStore(); err != nil {
			return err
		}
	}
	for _, f := range t.after {
		f()
	}
	c.subs.notify(t.changed)
	return nil
}

// view runs fn in a read-only transaction.
func (c *Client) view(fn func(b *badger.Txn) error) error {
	return c.db.View(fn)
}

// tooBig reports whether err is badger's transaction size limit.
func tooBig(err error) bool { return errors.Is(err, badger.ErrTxnTooBig) }
