package store

import (
	"container/list"
	"crypto/cipher"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// A record is stored as a head (r/: its scope, bucket and a snapshot as
// of a seq) and an op list (rl/: one key per op); its state is the
// snapshot with the tail (the ops above the snapshot's seq, read from f/)
// applied. See doc.go, "Storage design".

// compactMinBytes is the tail below which a record is never compacted: a
// record's head is rewritten with a new snapshot once the served bytes of
// its tail exceed both compactMinBytes and the snapshot's length, so that
// a compaction's O(record) work is paid once per O(record) bytes of ops.
const compactMinBytes = 4 << 10

// DefaultRecordCacheBytes is the default of Options.RecordCacheBytes.
const DefaultRecordCacheBytes = 64 << 20

// cacheMinWeight is the weight below which a record is not kept in the
// writer's cache once badger shows its last write: reading it again costs
// little (a small snapshot and a tail of at most compactMinBytes), and a
// cache of the many small records an ingest creates would only make the
// garbage collector's work grow.
const cacheMinWeight = 32 << 10

// opSeq locates one op of a record: its f/ seq and the seq of its entry
// in the record's bucket (0: not indexed).
type opSeq struct{ fseq, bseq uint64 }

// recState is a record as the writer (or a reader) holds it.
type recState struct {
	rec *crdt.Record
	// scope is the stored scope (no host team), bucket the record's feed.
	scope  access.Scope
	bucket string
	// snapSeq and snapLen describe the head's snapshot.
	snapSeq uint64
	snapLen int
	// ops are all the record's ops, by ascending f/ seq; the first listed
	// of them are in badger's rl/ pages as they are.
	ops    []opSeq
	listed int
	// tailBytes are the served bytes of the ops above snapSeq.
	tailBytes int
	// compact asks finish to rewrite the head (a new record, a move, an
	// erasure, or a tail past the thresholds).
	compact bool
	dirty   bool
	// written is the last seq a chunk wrote the record at (0: as read
	// from badger); the cache keeps the record while badger may not show
	// that seq to the writer's reads.
	written uint64
	// key is the record's data key, once the writer sealed a value with
	// it (nil until then). Retention destroys it only with the writer's
	// cache emptied.
	key cipher.AEAD
	// elem and weight are the record's place and cost in the cache.
	elem   *list.Element
	weight int
}

// needsCompaction reports whether rs's head must be rewritten.
func (rs *recState) needsCompaction() bool {
	return rs.compact || rs.tailBytes > max(compactMinBytes, rs.snapLen)
}

// cost is what rs weighs in the record cache.
func (rs *recState) cost() int { return rs.rec.Size() + 16*len(rs.ops) + 256 }

// headOf returns the head to write for rs, with its snapshot now.
func (rs *recState) headOf(ks *dataKeys) (head, error) {
	snap, err := rs.rec.MarshalSealed(snapshotSealer{ks})
	if err != nil {
		return head{}, fmt.Errorf("encode record %s: %w", rs.rec.ID, err)
	}
	snap = ks.sealSnapshot(rs.rec.ID, snap)
	last := uint64(0)
	if n := len(rs.ops); n > 0 {
		last = rs.ops[n-1].fseq
	}
	return head{snapSeq: last, scope: rs.scope, bucket: rs.bucket, snapshot: snap}, nil
}

// loadRecord reads record id from txn: its head, its op list and its
// state (snapshot plus tail); badger.ErrKeyNotFound when absent.
func loadRecord(txn *badger.Txn, schema *model.Schema, ks *dataKeys, id string) (*recState, error) {
	item, err := txn.Get(key(prefixRecord, id))
	if err != nil {
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("read record %s: %w", id, err)
	}
	rs := &recState{rec: &crdt.Record{}}
	err = item.Value(func(v []byte) error {
		h, err := parseHead(v)
		if err != nil {
			return err
		}
		rs.scope, rs.bucket, rs.snapSeq, rs.snapLen = h.scope, h.bucket, h.snapSeq, len(h.snapshot)
		snap, err := ks.openSnapshot(id, h.snapshot)
		if err != nil {
			return err
		}
		return rs.rec.UnmarshalSealed(snap, snapshotSealer{ks})
	})
	if err != nil {
		return nil, fmt.Errorf("decode record %s: %w", id, err)
	}
	rs.scope.Kind = rs.rec.Kind
	if rs.ops, err = readOpList(txn, id); err != nil {
		return nil, err
	}
	rs.listed = len(rs.ops)
	// The tail: the ops above the snapshot's seq, the last of the list.
	i := len(rs.ops)
	for i > 0 && rs.ops[i-1].fseq > rs.snapSeq {
		i--
	}
	for _, o := range rs.ops[i:] {
		if err := rs.applyStored(txn, schema, ks, o.fseq); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// readOpList returns record id's op list.
func readOpList(txn *badger.Txn, id string) ([]opSeq, error) {
	prefix := key(prefixOpList, id)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 16})
	defer it.Close()
	ops := []opSeq{}
	for it.Rewind(); it.Valid(); it.Next() {
		err := it.Item().Value(func(v []byte) error {
			var err error
			ops, err = parseOpPage(ops, v)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("read op list of %s: %w", id, err)
		}
	}
	return ops, nil
}

// writeOpList returns the rl/ pages of rs that changed since it was last
// listed, as key-value pairs, and marks them listed.
func (rs *recState) writeOpList(set func(k, v []byte)) {
	for p := rs.listed / opPageSize; p*opPageSize < len(rs.ops); p++ {
		set(opListKey(rs.rec.ID, p), opPage(rs.ops[p*opPageSize:min((p+1)*opPageSize, len(rs.ops))]))
	}
	rs.listed = len(rs.ops)
}

// applyStored applies the op stored at f/ fseq to rs's state (served
// form: an erased value is null, and the redaction that erased it is in
// the state or the tail, so the state is the same).
func (rs *recState) applyStored(txn *badger.Txn, schema *model.Schema, ks *dataKeys, fseq uint64) error {
	v, err := getValue(txn, feedKey(fseq))
	if err != nil {
		return fmt.Errorf("read op at seq %d: %w", fseq, err)
	}
	_, js, err := splitFeedValue(ks, v)
	if err != nil {
		return err
	}
	op, err := crdt.DecodeStored(js)
	if err != nil {
		return fmt.Errorf("decode op at seq %d: %w", fseq, err)
	}
	if _, err := rs.rec.Apply(schema, &op); err != nil {
		return fmt.Errorf("apply op at seq %d: %w", fseq, err)
	}
	rs.tailBytes += len(js)
	return nil
}

// recordCache is the writer's cache of record states, least recently
// used first out, bounded by cost. Only the writer goroutine uses it.
type recordCache struct {
	max, size int
	recs      map[string]*recState
	lru       list.List
}

func newRecordCache(max int) *recordCache {
	return &recordCache{max: max, recs: map[string]*recState{}}
}

// get returns the cached state of id (nil when not cached).
func (c *recordCache) get(id string) *recState {
	rs := c.recs[id]
	if rs != nil {
		c.lru.MoveToBack(rs.elem)
	}
	return rs
}

// put caches rs, or re-weighs it when cached.
func (c *recordCache) put(rs *recState) {
	w := rs.cost()
	c.size += w - rs.weight
	rs.weight = w
	if rs.elem == nil {
		c.recs[rs.rec.ID] = rs
		rs.elem = c.lru.PushBack(rs)
		return
	}
	c.lru.MoveToBack(rs.elem)
}

// trim evicts the small records, and the least recently used ones while
// the cache is over its bound, keeping those written after visible
// (badger's reads may not show them yet).
func (c *recordCache) trim(visible uint64) {
	for e := c.lru.Front(); e != nil; {
		next := e.Next()
		if rs := e.Value.(*recState); rs.written <= visible && (c.size > c.max || rs.weight < cacheMinWeight) {
			c.lru.Remove(e)
			delete(c.recs, rs.rec.ID)
			rs.elem = nil
			c.size -= rs.weight
		}
		e = next
	}
}

// clear empties the cache (after a failed commit or an aborted chunk,
// whose changes it may hold).
func (c *recordCache) clear() {
	for _, rs := range c.recs {
		rs.elem, rs.weight = nil, 0
	}
	c.recs = map[string]*recState{}
	c.lru.Init()
	c.size = 0
}
