package fieldsync

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/sync/crdt"
)

// A record's tail is one value under t/<record>: the canonical JSON of the
// ops merged after its state was last written whole, each prefixed with
// its length (uvarint). One key, so that reading, extending and dropping
// a tail never needs an iterator (which, in a transaction with many
// pending writes, costs a sort of them all).

// readTail returns the encoded ops of record id's tail.
func readTail(b *badger.Txn, id string) ([][]byte, error) {
	data, err := getValue(b, tailKey(id))
	if err != nil || data == nil {
		return nil, err
	}
	var ops [][]byte
	for len(data) > 0 {
		n, k := binary.Uvarint(data)
		if k <= 0 || uint64(len(data)-k) < n {
			return nil, fmt.Errorf("decode tail of record %s: %w", id, errBadTail)
		}
		ops = append(ops, data[k:k+int(n)])
		data = data[k+int(n):]
	}
	return ops, nil
}

var errBadTail = errors.New("truncated entry")

// writeTail stores ops as record id's tail (deleting it when empty).
func (t *tx) writeTail(id string, ops [][]byte) error {
	if len(ops) == 0 {
		return t.del(tailKey(id))
	}
	var buf []byte
	for _, op := range ops {
		buf = binary.AppendUvarint(buf, uint64(len(op)))
		buf = append(buf, op...)
	}
	return t.set(tailKey(id), buf)
}

// tailOps decodes a tail.
func tailOps(enc [][]byte) ([]crdt.Op, error) {
	ops := make([]crdt.Op, 0, len(enc))
	for _, e := range enc {
		op, err := decodeStored(e)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// eraseInTail replaces op id in record's tail by erased, if it is there.
func (t *tx) eraseInTail(record, id string, erased []byte) error {
	enc, err := readTail(t.b, record)
	if err != nil || len(enc) == 0 {
		return err
	}
	ops, err := tailOps(enc)
	if err != nil {
		return err
	}
	for i := range ops {
		if ops[i].ID == id {
			enc[i] = erased
			return t.writeTail(record, enc)
		}
	}
	return nil
}
