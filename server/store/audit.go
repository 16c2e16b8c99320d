package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/server/audit"
)

// prefixAudit holds the audit chain: a/<seq BE> -> entry JSON. Entries are
// only ever added (audit.Log numbers them); nothing here updates or
// deletes one.
const prefixAudit = "a/"

var _ audit.Store = (*DB)(nil)

// AppendAudit writes entries in one durable transaction.
func (db *DB) AppendAudit(ctx context.Context, entries []audit.Entry) error {
	return db.bdb.Update(func(txn *badger.Txn) error { return appendAudit(txn, entries) })
}

// appendAudit writes entries in txn.
func appendAudit(txn *badger.Txn, entries []audit.Entry) error {
	for _, e := range entries {
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode audit entry: %w", err)
		}
		if err := txn.Set(seqKey(prefixAudit, e.Seq), v); err != nil {
			return fmt.Errorf("write audit entry: %w", err)
		}
	}
	return nil
}

// LastAudit returns the newest audit entry.
func (db *DB) LastAudit(ctx context.Context) (audit.Entry, bool, error) {
	var e audit.Entry
	found := false
	err := db.bdb.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Reverse = true
		opts.Prefix = []byte(prefixAudit)
		it := txn.NewIterator(opts)
		defer it.Close()
		it.Seek(append([]byte(prefixAudit), 0xff))
		if !it.Valid() {
			return nil
		}
		found = true
		return it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) })
	})
	if err != nil {
		return audit.Entry{}, false, fmt.Errorf("read audit head: %w", err)
	}
	return e, found, nil
}

// ScanAudit returns up to limit entries after seq after, in order.
func (db *DB) ScanAudit(ctx context.Context, after uint64, limit int) ([]audit.Entry, error) {
	var out []audit.Entry
	err := db.bdb.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(prefixAudit)
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(seqKey(prefixAudit, after+1)); it.Valid() && len(out) < limit; it.Next() {
			var e audit.Entry
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &e) }); err != nil {
				return fmt.Errorf("decode audit entry: %w", err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
