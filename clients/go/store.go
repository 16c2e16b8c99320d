package fieldsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// tx is one badger read-write transaction over the local keyspace. It
// caches the records it touches and writes each once, at flush, and it
// collects the ids of records whose state changed for subscribers.
type tx struct {
	b       *badger.Txn
	schema  *model.Schema
	log     *slog.Logger
	records map[string]*crdt.Record
	dirty   map[string]bool
	changed map[string]bool
	// applied holds, per record, the canonical JSON of the ops merged into
	// it in this transaction, for the record's tail; full marks records
	// whose whole state must be written (created, rebuilt).
	applied map[string][][]byte
	full    map[string]bool
	// stale marks records to rebuild from their ops at flush (an op was
	// replaced or removed).
	stale map[string]bool
	// cache holds decoded records across transactions (nil: none).
	cache *recordCache
	// fresh holds the records a pull created in this transaction.
	fresh map[string]bool
	// after runs once the transaction committed (in-memory state that
	// must follow the disk, never precede it).
	after []func()
}

func newTx(b *badger.Txn, schema *model.Schema, log *slog.Logger) *tx {
	return &tx{b: b, schema: schema, log: log, records: map[string]*crdt.Record{}, dirty: map[string]bool{}, changed: map[string]bool{}, fresh: map[string]bool{},
		applied: map[string][][]byte{}, full: map[string]bool{}, stale: map[string]bool{}}
}

// get returns the value of key, or nil when absent.
func (t *tx) get(key []byte) ([]byte, error) {
	return getValue(t.b, key)
}

func getValue(b *badger.Txn, key []byte) ([]byte, error) {
	item, err := b.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return v, nil
}

func (t *tx) has(key []byte) (bool, error) {
	_, err := t.b.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", key, err)
	}
	return true, nil
}

func (t *tx) set(key, value []byte) error {
	if err := t.b.Set(key, value); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

func (t *tx) del(key []byte) error {
	if err := t.b.Delete(key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// keys returns a copy of every key under prefix.
func (t *tx) keys(prefix []byte) [][]byte {
	return prefixKeys(t.b, prefix)
}

func prefixKeys(b *badger.Txn, prefix []byte) [][]byte {
	it := b.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var out [][]byte
	for it.Rewind(); it.Valid(); it.Next() {
		out = append(out, it.Item().KeyCopy(nil))
	}
	return out
}

// record returns the state of record id (from this transaction's cache or
// the store) and whether it exists.
func (t *tx) record(id string) (*crdt.Record, bool, error) {
	if r, ok := t.records[id]; ok {
		return r, r != nil, nil
	}
	if t.cache != nil {
		if r, ok := t.cache.get(id); ok {
			t.records[id] = r
			return r, true, nil
		}
	}
	r, err := loadRecord(t.b, t.schema, id)
	if err != nil {
		return nil, false, err
	}
	t.records[id] = r
	return r, r != nil, nil
}

// loadExisting is loadRecord for a record that must be held locally:
// one that is not is ErrNotFound.
func loadExisting(b *badger.Txn, s *model.Schema, id string) (*crdt.Record, error) {
	r, err := loadRecord(b, s, id)
	if err == nil && r == nil {
		err = fmt.Errorf("record %s: %w", id, ErrNotFound)
	}
	return r, err
}

// loadRecord reads record id: its stored state plus the ops of its tail
// (nil when the record is not held).
func loadRecord(b *badger.Txn, s *model.Schema, id string) (*crdt.Record, error) {
	data, err := getValue(b, recordKey(id))
	if err != nil || data == nil {
		return nil, err
	}
	r := &crdt.Record{}
	if err := r.UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("load record %s: %w", id, err)
	}
	enc, err := readTail(b, id)
	if err != nil {
		return nil, fmt.Errorf("load record %s: %w", id, err)
	}
	tail, err := tailOps(enc)
	if err != nil {
		return nil, fmt.Errorf("load record %s: %w", id, err)
	}
	for i := range tail {
		_, _ = r.Apply(s, &tail[i]) // applied once already; cannot fail now
	}
	return r, nil
}

// create adds the empty state of a new record to the transaction.
func (t *tx) create(id, kind string) *crdt.Record {
	r := crdt.NewRecord(id, kind)
	t.records[id] = r
	t.dirty[id] = true
	t.full[id] = true
	return r
}

// merged notes that the op encoded as enc was merged into record id.
func (t *tx) merged(id string, enc []byte) {
	t.touch(id)
	t.applied[id] = append(t.applied[id], enc)
}

// touch marks record id as changed: it is written at flush and
// subscribers hear of it.
func (t *tx) touch(id string) {
	t.dirty[id] = true
	t.changed[id] = true
}

// A record's stored state is written whole while it is small; once it is
// large, the ops merged into it are appended to its tail instead, and the
// whole state is written again when the tail is long. Writing to a record
// of thousands of entries thus costs O(op), not O(record), most times.
const (
	smallRecord = 16 << 10
	maxTail     = 64
)

// flush rebuilds the stale records, then writes every dirty record with
// its indexes.
func (t *tx) flush() error {
	for id := range t.stale {
		if err := t.rebuild(id); err != nil {
			return err
		}
	}
	clear(t.stale)
	for id := range t.dirty {
		r := t.records[id]
		if r == nil {
			continue
		}
		appended, err := t.appendTail(r)
		if err != nil {
			return err
		}
		if !appended {
			if err := t.saveRecord(r); err != nil {
				return err
			}
		}
		if err := t.indexConflicts(r); err != nil {
			return err
		}
	}
	clear(t.dirty)
	return nil
}

// appendTail appends the ops merged into r in this transaction to its
// tail, when r is large and its tail short; it reports whether it did.
func (t *tx) appendTail(r *crdt.Record) (bool, error) {
	ops := t.applied[r.ID]
	if t.full[r.ID] || len(ops) == 0 {
		return false, nil
	}
	item, err := t.b.Get(recordKey(r.ID))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", recordKey(r.ID), err)
	}
	if item.ValueSize() < smallRecord {
		return false, nil
	}
	tail, err := readTail(t.b, r.ID)
	if err != nil {
		return false, err
	}
	if len(tail)+len(ops) > maxTail {
		return false, nil
	}
	return true, t.writeTail(r.ID, append(tail, ops...))
}

// saveRecord writes r's whole state and empties its tail.
func (t *tx) saveRecord(r *crdt.Record) error {
	data, err := r.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode record %s: %w", r.ID, err)
	}
	if err := t.set(recordKey(r.ID), data); err != nil {
		return err
	}
	if err := t.del(tailKey(r.ID)); err != nil {
		return err
	}
	return t.set(kindKey(r.Kind, r.ID), nil)
}

// indexConflicts keeps the conflict index in step with r.
func (t *tx) indexConflicts(r *crdt.Record) error {
	if len(r.Conflicts()) > 0 {
		return t.set(conflictKey(r.ID), nil)
	}
	return t.del(conflictKey(r.ID))
}

// putOp stores op in the record's op store.
func (t *tx) putOp(op *crdt.Op) error {
	return t.set(opKey(op.Record, op.Field, op.ID), op.AppendJSON(nil))
}

// getOp returns the stored op of record and field with id.
func (t *tx) getOp(record, field, id string) (crdt.Op, bool, error) {
	data, err := t.get(opKey(record, field, id))
	if err != nil || data == nil {
		return crdt.Op{}, false, err
	}
	op, err := decodeStored(data)
	return op, err == nil, err
}

// opsUnder returns the stored ops under prefix (a record's or a field's).
func (t *tx) opsUnder(prefix []byte) ([]crdt.Op, error) {
	return storedOps(t.b, prefix)
}

func storedOps(b *badger.Txn, prefix []byte) ([]crdt.Op, error) {
	it := b.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 100})
	defer it.Close()
	var ops []crdt.Op
	for it.Rewind(); it.Valid(); it.Next() {
		var op crdt.Op
		err := it.Item().Value(func(v []byte) error {
			var err error
			op, err = decodeStored(v)
			return err
		})
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// rebuild recomputes record id from its stored ops, after an op was
// replaced (re-stamped, attributed, redacted) or removed (rejected). A
// record left without ops is deleted.
func (t *tx) rebuild(id string) error {
	ops, err := t.opsUnder(recordOpsPrefix(id))
	if err != nil {
		return err
	}
	base, err := t.base(id)
	if err != nil {
		return err
	}
	t.changed[id] = true
	if len(ops) == 0 && base == nil {
		return t.deleteState(id)
	}
	r := base
	if r == nil {
		r = crdt.NewRecord(id, ops[0].Kind)
	}
	for i := range ops {
		if _, err := r.Apply(t.schema, &ops[i]); err != nil {
			t.log.Warn("op not applied on rebuild", "record", id, "op", ops[i].ID, "code", model.ErrorCode(err))
		}
	}
	t.records[id] = r
	t.dirty[id] = true
	t.full[id] = true
	delete(t.applied, id)
	return nil
}

// deleteRecord removes every trace of record id: state, indexes, ops and
// resync mark (its outbox entries are the caller's business).
func (t *tx) deleteRecord(id string) error {
	for _, k := range t.keys(recordOpsPrefix(id)) {
		if err := t.del(k); err != nil {
			return err
		}
	}
	if err := t.del(resyncKey(id)); err != nil {
		return err
	}
	if err := t.del(baseKey(id)); err != nil {
		return err
	}
	t.changed[id] = true
	return t.deleteState(id)
}

// deleteState removes the record's state and indexes.
func (t *tx) deleteState(id string) error {
	r, ok, err := t.record(id)
	if err != nil {
		return err
	}
	if ok {
		if err := t.del(kindKey(r.Kind, id)); err != nil {
			return err
		}
	}
	t.records[id] = nil
	delete(t.dirty, id)
	delete(t.applied, id)
	if err := t.del(tailKey(id)); err != nil {
		return err
	}
	if err := t.del(conflictKey(id)); err != nil {
		return err
	}
	if err := t.dropFiles(id); err != nil {
		return err
	}
	return t.del(recordKey(id))
}

// setClock persists the HLC's last stamp.
func (t *tx) setClock(ts hlc.Timestamp) error {
	return t.set([]byte(keyClock), encodeSeq(uint64(ts)))
}

// opJSON mirrors an op's canonical JSON, for decoding a pulled page in one
// pass (crdt.DecodeOp is for ops the fast path refuses).
type opJSON struct {
	ID     string          `json:"id"`
	Record string          `json:"record"`
	Kind   string          `json:"kind"`
	Field  string          `json:"field"`
	Action model.Action    `json:"action"`
	Value  json.RawMessage `json:"value"`
	Base   []string        `json:"base"`
	HLC    hlc.Timestamp   `json:"hlc"`
	Device string          `json:"device"`
	User   string          `json:"user"`
}

// decodeStored decodes an op stored by putOp (crdt.DecodeStored, the
// decoder the server's store uses too).
func decodeStored(data []byte) (crdt.Op, error) {
	op, err := crdt.DecodeStored(data)
	if err != nil {
		return crdt.Op{}, fmt.Errorf("decode stored op: %w", err)
	}
	return op, nil
}

// toOp returns the op s holds, its absent base and value normalised.
func (s *opJSON) toOp() crdt.Op {
	if s.Base == nil {
		s.Base = []string{}
	}
	if len(s.Value) == 0 {
		s.Value = json.RawMessage("null")
	}
	return crdt.Op{ID: s.ID, Record: s.Record, Kind: s.Kind, Field: s.Field, Action: s.Action,
		Value: s.Value, Base: s.Base, HLC: s.HLC, Device: s.Device, User: s.User}
}
