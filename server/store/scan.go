package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// ErrStopScan, returned by a ScanRecords callback, ends the scan early
// without an error.
var ErrStopScan = errors.New("stop scan")

// ScanRecords calls fn with the summary and merged state of every record of
// kind ("" for every kind) whose scope visible accepts (nil: every record),
// in record id order, all read from one consistent snapshot. fn must not
// keep rec beyond the call unless it clones it. The scan costs one read of
// each record's state; it is meant for the supervisors' review queue,
// duplicate flags and monitoring figures, which look at every record of a
// jurisdiction.
func (db *DB) ScanRecords(ctx context.Context, kind string, visible func(access.Scope) bool, fn func(sum Summary, rec *crdt.Record) error) error {
	err := db.view(ctx, func(txn *badger.Txn) error {
		sr := newScopeReader(txn)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixSummary), PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if n++; n%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			id := string(it.Item().Key()[len(prefixSummary):])
			sum, err := sr.decodeSummary(db.keys, id, it.Item())
			if errors.Is(err, errRecordKeyGone) {
				continue // erased by retention (a store restored from an older backup)
			}
			if err != nil {
				return err
			}
			if kind != "" && sum.Kind != kind {
				continue
			}
			if visible != nil && !visible(sum.Scope()) {
				continue
			}
			rs, err := loadRecord(txn, db.schema, db.keys, id)
			if errors.Is(err, badger.ErrKeyNotFound) || errors.Is(err, errRecordKeyGone) {
				continue
			}
			if err != nil {
				return err
			}
			if err := fn(sum, rs.rec); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, ErrStopScan) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scan records: %w", err)
	}
	return nil
}
