package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// The writer must tell, for every op, whether its id is already stored.
// Nearly every op is new, and a miss costs a lookup in every memtable and
// level of badger. opFilter answers "certainly new" from memory for all
// but about 1% of new ids; only the others (and the true duplicates) are
// looked up. It holds about 1.25 bytes per stored op.
//
// It is saved under m/opfilter on Close, with the sequence number it
// covers. Open loads it and adds the ops of the global feed after that
// sequence (those of a run that ended without Close); without a saved
// filter it reads every o/ key.

// opFilter is a scalable Bloom filter: a list of blocked Bloom filters,
// each twice the capacity of the one before, the last one taking new ids.
// It has false positives, never false negatives. It is owned by the
// writer goroutine (and Open and Close, when the writer is not running).
type opFilter struct {
	stages []*bloomStage
}

// bloomStage is a blocked Bloom filter: each id sets bloomK bits in one
// 512-bit block.
type bloomStage struct {
	blocks []uint64 // 8 words per block
	cap    uint64
	n      uint64
}

const (
	bloomBitsPerID   = 10
	bloomK           = 7
	bloomFirstCap    = 1 << 20
	bloomBlockWords  = 8
	bloomBlockBits   = bloomBlockWords * 64
	keyOpFilter      = "m/opfilter"
	opFilterVersion  = 1
	opFilterMaxStage = 40
)

func newBloomStage(capacity uint64) *bloomStage {
	nblocks := max(1, capacity*bloomBitsPerID/bloomBlockBits)
	return &bloomStage{blocks: make([]uint64, nblocks*bloomBlockWords), cap: capacity}
}

// hashID returns two independent 64-bit hashes of id: FNV-1a, and its
// splitmix64 mix.
func hashID(id string) (uint64, uint64) {
	a := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		a ^= uint64(id[i])
		a *= 1099511628211
	}
	b := a + 0x9e3779b97f4a7c15
	b = (b ^ (b >> 30)) * 0xbf58476d1ce4e5b9
	b = (b ^ (b >> 27)) * 0x94d049bb133111eb
	return a, b ^ (b >> 31)
}

func (s *bloomStage) block(h1 uint64) []uint64 {
	nblocks := uint64(len(s.blocks) / bloomBlockWords)
	hi, _ := bits.Mul64(h1, nblocks)
	return s.blocks[hi*bloomBlockWords : (hi+1)*bloomBlockWords]
}

func (s *bloomStage) add(h1, h2 uint64) {
	b := s.block(h1)
	for i := uint64(0); i < bloomK; i++ {
		bit := (h2 + i*(h1|1)) % bloomBlockBits
		b[bit/64] |= 1 << (bit % 64)
	}
	s.n++
}

func (s *bloomStage) has(h1, h2 uint64) bool {
	b := s.block(h1)
	for i := uint64(0); i < bloomK; i++ {
		bit := (h2 + i*(h1|1)) % bloomBlockBits
		if b[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// add records id.
func (f *opFilter) add(id string) {
	last := len(f.stages) - 1
	if last < 0 || f.stages[last].n >= f.stages[last].cap {
		c := uint64(bloomFirstCap)
		if last >= 0 {
			c = f.stages[last].cap * 2
		}
		f.stages = append(f.stages, newBloomStage(c))
		last++
	}
	h1, h2 := hashID(id)
	f.stages[last].add(h1, h2)
}

// mayHave reports whether id may have been added; false is certain.
func (f *opFilter) mayHave(id string) bool {
	h1, h2 := hashID(id)
	for _, s := range f.stages {
		if s.has(h1, h2) {
			return true
		}
	}
	return false
}

// marshal encodes the filter with the sequence number it covers.
func (f *opFilter) marshal(covered uint64) []byte {
	size := 1 + 8 + 1
	for _, s := range f.stages {
		size += 24 + 8*len(s.blocks)
	}
	b := make([]byte, 0, size)
	b = append(b, opFilterVersion)
	b = binary.BigEndian.AppendUint64(b, covered)
	b = append(b, byte(len(f.stages)))
	for _, s := range f.stages {
		b = binary.BigEndian.AppendUint64(b, s.cap)
		b = binary.BigEndian.AppendUint64(b, s.n)
		b = binary.BigEndian.AppendUint64(b, uint64(len(s.blocks)))
		for _, w := range s.blocks {
			b = binary.LittleEndian.AppendUint64(b, w)
		}
	}
	return b
}

var errOpFilter = errors.New("saved op filter is malformed")

// unmarshalOpFilter decodes a filter written by marshal.
func unmarshalOpFilter(b []byte) (*opFilter, uint64, error) {
	if len(b) < 10 || b[0] != opFilterVersion || b[9] > opFilterMaxStage {
		return nil, 0, errOpFilter
	}
	covered := binary.BigEndian.Uint64(b[1:9])
	n := int(b[9])
	b = b[10:]
	f := &opFilter{}
	for range n {
		if len(b) < 24 {
			return nil, 0, errOpFilter
		}
		s := &bloomStage{cap: binary.BigEndian.Uint64(b), n: binary.BigEndian.Uint64(b[8:])}
		words := binary.BigEndian.Uint64(b[16:])
		b = b[24:]
		if words == 0 || words%bloomBlockWords != 0 || uint64(len(b)) < words*8 {
			return nil, 0, errOpFilter
		}
		s.blocks = make([]uint64, words)
		for i := range s.blocks {
			s.blocks[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
		b = b[8*words:]
		f.stages = append(f.stages, s)
	}
	if len(b) != 0 {
		return nil, 0, errOpFilter
	}
	return f, covered, nil
}

// loadOpFilter builds the filter of every stored op, from the saved one
// and the feed after it, or from every o/ key, and returns it with the
// sequence number it covers.
func (db *DB) loadOpFilter() (*opFilter, uint64, error) {
	start := time.Now()
	var f *opFilter
	var last uint64
	how := "saved"
	err := db.bdb.View(func(txn *badger.Txn) error {
		var covered uint64
		var err error
		if last, err = getUint(txn, keySeq); err != nil {
			return err
		}
		v, err := getValue(txn, []byte(keyOpFilter))
		switch {
		case err == nil:
			f, covered, err = unmarshalOpFilter(v)
			if err != nil {
				db.log.Warn("the saved op filter is unusable; rebuilding it", "err", err)
				f = nil
			}
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		if f == nil {
			how = "rebuilt"
			f = &opFilter{}
			return scanKeys(txn, []byte(prefixOp), func(k []byte) { f.add(string(k[len(prefixOp):])) })
		}
		return catchUp(txn, f, covered)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("load op filter: %w", err)
	}
	db.log.Info("op filter loaded", "how", how, "took", time.Since(start))
	return f, last, nil
}

// scanKeys calls fn with every key under prefix (only valid during fn).
func scanKeys(txn *badger.Txn, prefix []byte, fn func(k []byte)) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		fn(it.Item().Key())
	}
	return nil
}

// catchUp adds the ops of the global feed after covered.
func catchUp(txn *badger.Txn, f *opFilter, covered uint64) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixFeed), PrefetchValues: true, PrefetchSize: 256})
	defer it.Close()
	for it.Seek(feedKey(covered + 1)); it.Valid(); it.Next() {
		err := it.Item().Value(func(v []byte) error {
			_, js, err := splitFeedValue(nil, v)
			if err != nil {
				return err
			}
			id, err := opIDOf(js)
			if err != nil {
				return err
			}
			f.add(id)
			return nil
		})
		if err != nil {
			return fmt.Errorf("read feed entry %d: %w", seqOfKey(it.Item().Key()), err)
		}
	}
	return nil
}

// idMember precedes the id in an op's served JSON, whose keys are sorted
// and come before "id" are action, base, device, field and hlc.
var idMember = []byte(`,"id":"`)

// opIDOf returns the id of an op's served JSON.
func opIDOf(js []byte) (string, error) {
	if i := bytes.Index(js, idMember); i >= 0 && len(js) >= i+len(idMember)+idLen {
		if id := string(js[i+len(idMember) : i+len(idMember)+idLen]); model.ValidID(id) {
			return id, nil
		}
	}
	op, err := crdt.DecodeStored(js)
	if err != nil {
		return "", err
	}
	return op.ID, nil
}

// saveOpFilter stores the filter, which covers every op up to covered:
// the last sequence number this process loaded or committed (not m/seq:
// a store restored under a running DB holds ops the filter never saw).
// The writer must have stopped.
func (db *DB) saveOpFilter(f *opFilter, covered uint64) error {
	err := db.bdb.Update(func(txn *badger.Txn) error {
		return txn.Set([]byte(keyOpFilter), f.marshal(covered))
	})
	if err != nil {
		return fmt.Errorf("save op filter: %w", err)
	}
	return nil
}
