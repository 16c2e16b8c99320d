package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/sync/protocol"
)

// Snapshot returns up to q.Limit record states with an id above q.After,
// in id order, from the given buckets (every record when q.All), selected
// by q.Cases as protocol.SnapshotQuery says, all read in one read
// transaction together with m/seq: each state holds exactly the ops
// committed up to Seq. A record's state is its head's snapshot with its
// tail applied (see doc.go, "Storage design"), so erased values are never
// in it. The store filters by the bucket a record is indexed in and by
// the case filter on its summary (rs/) and op list (rl/), and holds no
// access rule: protocol decides what a caller may read.
func (db *DB) Snapshot(ctx context.Context, q protocol.SnapshotQuery) (protocol.SnapshotPage, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultFeedLimit
	}
	var page protocol.SnapshotPage
	err := db.view(ctx, func(txn *badger.Txn) error {
		seq, err := getUint(txn, keySeq)
		if err != nil {
			return err
		}
		page.Seq = seq
		return db.snapshotRecords(ctx, txn, &page, &q)
	})
	if err != nil {
		return protocol.SnapshotPage{}, fmt.Errorf("read snapshot: %w", err)
	}
	return page, nil
}

// snapshotRecords fills page from the record heads above q.After.
func (db *DB) snapshotRecords(ctx context.Context, txn *badger.Txn, page *protocol.SnapshotPage, q *protocol.SnapshotQuery) error {
	sr := newScopeReader(txn)
	prefix := []byte(prefixRecord)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	start := append(slices.Clip(prefix), q.After...)
	page.Last = q.After
	scanned := 0
	for it.Seek(start); it.Valid(); it.Next() {
		if scanned++; scanned%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		id := string(it.Item().Key()[len(prefix):])
		if id == q.After {
			continue
		}
		if len(page.Records) >= q.Limit {
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
		page.Last = id
		if !q.All && (bucket == "" || !slices.Contains(q.Buckets, bucket)) {
			continue
		}
		in, err := snapshotSelects(txn, db.keys, q, id)
		if err != nil {
			return err
		}
		if !in {
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
	}
	return nil
}

// snapshotSelects reports whether q's case filter keeps record id: with
// OnlyCases, when it matches; otherwise unless it matches and its last op
// has a sequence at or below q.Unchanged.
func snapshotSelects(txn *badger.Txn, ks *dataKeys, q *protocol.SnapshotQuery, id string) (bool, error) {
	if q.Cases == nil {
		return true, nil
	}
	raw, err := getValue(txn, key(prefixSummary, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		raw, err = nil, nil
	}
	if err != nil {
		return false, fmt.Errorf("read summary of %s: %w", id, err)
	}
	var sum Summary
	if raw != nil {
		if sum, err = decodeSummaryValue(ks, id, raw); errors.Is(err, errRecordKeyGone) {
			raw = nil // erased by retention: no open case (the page skips it)
		} else if err != nil {
			return false, err
		}
	}
	match := raw != nil && q.Cases.Match(sum.Kind, sum.Status, sum.Deleted, sum.UpdatedAt)
	if q.OnlyCases || !match {
		return q.OnlyCases == match, nil
	}
	ops, err := readOpList(txn, id)
	if err != nil {
		return false, err
	}
	return len(ops) == 0 || ops[len(ops)-1].fseq > q.Unchanged, nil
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
