package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/sync/crdt"
)

// Keyspace version 1 kept a record's op list and snapshot in one r/ value,
// rewritten by every op. Open rewrites such a store into version 2 (a
// head and an rl/ list per record, doc.go) before anything else reads it:
// one transaction per record, the version key last, so a crash part-way
// leaves a store Open migrates again (a record that already has its rl/
// list is skipped).

// migrateV1 rewrites every record of a version 1 store and sets m/layout.
func (db *DB) migrateV1() error {
	var ids []string
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixRecord)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			ids = append(ids, string(it.Item().Key()[len(prefixRecord):]))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list records: %w", err)
	}
	for _, id := range ids {
		if err := db.bdb.Update(func(txn *badger.Txn) error { return migrateRecordV1(txn, id) }); err != nil {
			return fmt.Errorf("migrate record %s: %w", id, err)
		}
	}
	db.log.Info("store keyspace migrated", "from", "1", "to", layoutVersion, "records", len(ids))
	return db.bdb.Update(func(txn *badger.Txn) error { return txn.Set([]byte(keyLayout), []byte(layoutVersion)) })
}

// migrateRecordV1 rewrites one record's version 1 value as a head and an
// op list. The scope and bucket come from the record's summary.
func migrateRecordV1(txn *badger.Txn, id string) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: key(prefixOpList, id)})
	it.Rewind()
	done := it.Valid()
	it.Close()
	if done {
		return nil
	}
	v, err := getValue(txn, key(prefixRecord, id))
	if err != nil {
		return err
	}
	creator, ops, snap, err := splitRecordValueV1(v)
	if err != nil {
		return err
	}
	sv, err := getValue(txn, key(prefixSummary, id))
	if err != nil {
		return fmt.Errorf("read summary: %w", err)
	}
	scope, err := decodeSummaryScope(id, sv) // the scope is in the clear
	if err != nil {
		return err
	}
	h := head{scope: scope, bucket: scope.Bucket(), snapshot: snap}
	h.scope.HostTeam, h.scope.Creator = "", creator
	if len(ops) > 0 {
		h.snapSeq = ops[len(ops)-1].fseq
	}
	rs := &recState{rec: crdt.NewRecord(id, scope.Kind), ops: ops}
	var err2 error
	rs.writeOpList(func(k, v []byte) { err2 = cmpErr(err2, txn.Set(k, v)) })
	if err2 != nil {
		return err2
	}
	return txn.Set(key(prefixRecord, id), headValue(&h))
}

var errRecordValueV1 = errors.New("version 1 record value is malformed")

// splitRecordValueV1 decodes a version 1 r/ value: the creator, the ops (a
// count, then for each by ascending f/ seq the difference to the previous
// f/ seq and its bucket entry's seq: 0 when it equals the f/ seq,
// otherwise the seq + 1), all as uvarints, then the snapshot.
func splitRecordValueV1(v []byte) (creator string, ops []opSeq, snapshot []byte, err error) {
	next := func() uint64 {
		n, w := binary.Uvarint(v)
		if w <= 0 {
			err = errRecordValueV1
			return 0
		}
		v = v[w:]
		return n
	}
	n := next()
	if err != nil || uint64(len(v)) < n {
		return "", nil, nil, errRecordValueV1
	}
	creator, v = string(v[:n]), v[n:]
	count := next()
	if err != nil || count > uint64(len(v)) {
		return "", nil, nil, errRecordValueV1
	}
	ops = make([]opSeq, count, count+8)
	prev := uint64(0)
	for i := range ops {
		f := prev + next()
		b := next()
		if b == 0 {
			b = f
		} else {
			b--
		}
		ops[i], prev = opSeq{fseq: f, bseq: b}, f
	}
	if err != nil {
		return "", nil, nil, err
	}
	return creator, ops, v, nil
}
