package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/sync/protocol"
)

// Snapshot returns up to limit record states with an id above after, in
// id order, from the given buckets (every record when all), all read in
// one read transaction together with m/seq: each state holds exactly the
// ops committed up to Seq. A record's state is its head's snapshot with
// its tail applied (see doc.go, "Storage design"), so erased values are
// never in it. The store filters by the bucket a record is indexed in and
// holds no access rule: protocol decides what a caller may read.
func (db *DB) Snapshot(ctx context.Context, buckets []string, all bool, after string, limit int) (protocol.SnapshotPage, error) {
	if limit <= 0 {
		limit = DefaultFeedLimit
	}
	var page protocol.SnapshotPage
	err := db.view(ctx, func(txn *badger.Txn) error {
		seq, err := getUint(txn, keySeq)
		if err != nil {
			return err
		}
		page.Seq = seq
		return db.snapshotRecords(ctx, txn, &page, buckets, all, after, limit)
	})
	if err != nil {
		return protocol.SnapshotPage{}, fmt.Errorf("read snapshot: %w", err)
	}
	return page, nil
}

// snapshotRecords fills page from the record heads above after.
func (db *DB) snapshotRecords(ctx context.Context, txn *badger.Txn, page *protocol.SnapshotPage, buckets []string, all bool, after string, limit int) error {
	sr := newScopeReader(txn)
	prefix := []byte(prefixRecord)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	start := append(slices.Clip(prefix), after...)
	scanned := 0
	for it.Seek(start); it.Valid(); it.Next() {
		if scanned++; scanned%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		id := string(it.Item().Key()[len(prefix):])
		if id == after {
			continue
		}
		if len(page.Records) >= limit {
			page.More = true
			return nil
		}
		var bucket string
		if err := it.Item().Value(func(v []byte) error {
			h, err := parseHead(v)
			bucket = h.bucket
			return err
		}); err != nil {
			return fmt.Errorf("decode record %s: %w", id, err)
		}
		if !all && (bucket == "" || !slices.Contains(buckets, bucket)) {
			page.Last = id
			continue
		}
		st, err := db.snapshotRecord(txn, sr, id, bucket)
		if errors.Is(err, errRecordKeyGone) {
			page.Last = id // erased by retention (a store restored from an older backup)
			continue
		}
		if err != nil {
			return err
		}
		page.Records = append(page.Records, st)
		page.Last = id
	}
	return nil
}

// snapshotRecord reads record id's state, scope now and bucket.
func (db *DB) snapshotRecord(txn *badger.Txn, sr *scopeReader, id, bucket string) (protocol.SnapshotRecord, error) {
	rs, err := loadRecord(txn, db.schema, db.keys, id)
	if err != nil {
		return protocol.SnapshotRecord{}, err
	}
	scope := rs.scope
	if scope.ActionWeek != "" {
		if scope.HostTeam, err = sr.hostTeam(scope.ActionWeek); err != nil {
			return protocol.SnapshotRecord{}, err
		}
	}
	return protocol.SnapshotRecord{Record: rs.rec, Scope: scope, Bucket: bucket}, nil
}

var _ protocol.SnapshotStore = (*DB)(nil)
