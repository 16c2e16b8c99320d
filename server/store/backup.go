package store

import (
	"context"
	"fmt"
	"io"
)

// Backup writes a full backup of the store to w (badger's backup stream,
// plaintext: callers encrypt it, see server/backup).
func (db *DB) Backup(ctx context.Context, w io.Writer) error {
	if _, err := db.bdb.Backup(w, 0); err != nil {
		return fmt.Errorf("back up store: %w", err)
	}
	return nil
}

// Restore loads a backup written by Backup into this store, which must be
// empty; reopen the store afterwards so its counters are read again. When
// it fails, the store is unusable (badger leaves the partial load
// unfinished): Close it, which then writes nothing, and delete its
// directory.
func (db *DB) Restore(ctx context.Context, r io.Reader) error {
	if seq, err := db.LastSeq(ctx); err != nil || seq != 0 {
		return fmt.Errorf("restore backup: the store must be empty (last seq %d, err %v)", seq, err)
	}
	if has, err := db.HasUsers(ctx); err != nil || has {
		return fmt.Errorf("restore backup: the store must be empty (it has users)")
	}
	if err := db.bdb.Load(r, 256); err != nil {
		db.loadFailed.Store(true)
		return fmt.Errorf("restore backup: %w", err)
	}
	return nil
}
