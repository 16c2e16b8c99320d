package fieldsync

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/api"
)

// Status is what a device shows about its sync state.
type Status struct {
	// DeviceID is this device's id (see Client.DeviceID).
	DeviceID string
	// User is the user this replica belongs to (zero before the first
	// Login); LoggedIn reports whether a session is held.
	User api.User
	// LoggedIn reports whether a session is held.
	LoggedIn bool
	// Outbox counts local writes not yet answered by the server;
	// Quarantine the rejected ones kept for the user.
	Outbox int
	// Quarantine counts the rejected ops kept for the user.
	Quarantine int
	// Records counts the records held locally.
	Records int
	// LastSync is when a Sync last completed (device clock; zero if never).
	LastSync time.Time
	// Bootstrap is the phase of a bootstrap from a snapshot under way
	// (Options.Bootstrap): BootstrapOpenCases, then BootstrapRest once
	// the open cases are in ("" when none is under way).
	Bootstrap BootstrapPhase
	// PullPage and SnapshotPage are the page sizes the next pull and
	// snapshot pages will ask for, adapted to the link (Options.PageTime).
	PullPage, SnapshotPage int
	// Pushed counts the ops the server accepted (applied or duplicate),
	// and Pulled the ops and drops received, since this Client was opened.
	Pushed, Pulled int
}

// Status returns the device's sync state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	st := Status{DeviceID: c.device, Pushed: int(c.pushed.Load()), Pulled: int(c.pulled.Load()),
		PullPage: c.pullSize.next(), SnapshotPage: c.snapSize.next()}
	c.sessMu.RLock()
	st.User, st.LoggedIn = c.sess.User, c.sess.RefreshToken != ""
	c.sessMu.RUnlock()
	c.writeMu.Lock()
	st.LastSync = c.lastSync
	c.writeMu.Unlock()
	err := c.read(ctx, func(b *badger.Txn) error {
		st.Outbox = countKeys(b, prefixOutbox)
		st.Quarantine = countKeys(b, prefixQuarantine)
		st.Records = countKeys(b, prefixRecord)
		var err error
		st.Bootstrap, err = bootstrapPhase(b)
		return err
	})
	if err != nil {
		return Status{}, fmt.Errorf("read status: %w", err)
	}
	return st, nil
}

func countKeys(b *badger.Txn, prefix string) int {
	it := b.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
	defer it.Close()
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		n++
	}
	return n
}
