package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/sync/hlc"
)

// Key prefixes and fixed keys (doc.go documents the keyspace).
const (
	prefixOp       = "o/"
	prefixFeed     = "f/"
	prefixBucket   = "b/"
	prefixRecord   = "r/"
	prefixSummary  = "rs/"
	prefixHosted   = "h/"
	prefixWeekHost = "w/"

	keySeq     = "m/seq"
	keyRecords = "m/records"
	keyLayout  = "m/layout"

	prefixUser         = "u/"
	prefixUsername     = "un/"
	prefixTeam         = "t/"
	prefixDevice       = "d/"
	prefixUserDevice   = "du/"
	prefixToken        = "rt/"
	prefixFamily       = "rf/"
	prefixDeviceFamily = "rfd/"
)

// idLen is the length of a canonical UUID.
const idLen = 36

func key(prefix, id string) []byte {
	return append(append(make([]byte, 0, len(prefix)+len(id)), prefix...), id...)
}

// opKeyTo appends op id's o/ key to dst.
func opKeyTo(dst []byte, id string) []byte { return append(append(dst, prefixOp...), id...) }

func key2(prefix, a, b string) []byte {
	k := make([]byte, 0, len(prefix)+len(a)+1+len(b))
	return append(append(append(append(k, prefix...), a...), '/'), b...)
}

// seqKey is prefix followed by seq.
func seqKey(prefix string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(make([]byte, 0, len(prefix)+8), prefix...), seq)
}

func feedKey(seq uint64) []byte { return seqKey(prefixFeed, seq) }

// feedKeyTo appends seq's f/ key to dst.
func feedKeyTo(dst []byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, prefixFeed...), seq)
}

// bucketPrefix is the prefix of bucket b's feed.
func bucketPrefix(b string) []byte {
	return append(append(append(make([]byte, 0, bucketKeyLen(b)), prefixBucket...), b...), 0)
}

func bucketKey(b string, seq uint64) []byte {
	return bucketKeyTo(make([]byte, 0, bucketKeyLen(b)), b, seq)
}

func bucketKeyLen(b string) int { return len(prefixBucket) + len(b) + 1 + 8 }

// bucketKeyTo appends the key of seq in bucket b to dst.
func bucketKeyTo(dst []byte, b string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(append(append(dst, prefixBucket...), b...), 0), seq)
}

// seqOfKey returns the sequence number that ends a key.
func seqOfKey(k []byte) uint64 {
	if len(k) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k[len(k)-8:])
}

func uint64Value(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func parseUint64(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("value of %d bytes is not a 64-bit number", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// movedValue is the b/ value of an op indexed again after its record moved
// in from bucket from, where it was indexed under prev: the f/ seq, prev,
// and from, so that a reader of both buckets is not served it twice.
func movedValue(fseq, prev uint64, from string) []byte {
	return append(binary.BigEndian.AppendUint64(uint64Value(fseq), prev), from...)
}

// dropMarker is the b/ value telling that record left the bucket.
func dropMarker(record string) []byte {
	return append([]byte{'D'}, record...)
}

// opMeta is the value of o/<op id>.
type opMeta struct {
	seq       uint64
	redacted  bool
	deviceHLC hlc.Timestamp
}

const opMetaLen = 1 + 8 + 8

// appendTo appends the encoded meta to dst.
func (m *opMeta) appendTo(dst []byte) []byte {
	flags := byte(0)
	if m.redacted {
		flags = 1
	}
	dst = binary.BigEndian.AppendUint64(append(dst, flags), m.seq)
	return binary.BigEndian.AppendUint64(dst, uint64(m.deviceHLC))
}

func (m *opMeta) unmarshal(b []byte) error {
	if len(b) != opMetaLen {
		return fmt.Errorf("op meta of %d bytes, want %d", len(b), opMetaLen)
	}
	m.redacted = b[0]&1 != 0
	m.seq = binary.BigEndian.Uint64(b[1:9])
	m.deviceHLC = hlc.Timestamp(binary.BigEndian.Uint64(b[9:17]))
	return nil
}

// splitFeedValue splits the value of f/<seq>: the record id, then the
// op's JSON.
func splitFeedValue(v []byte) (record string, json []byte, err error) {
	if len(v) < idLen {
		return "", nil, fmt.Errorf("feed value of %d bytes is too short", len(v))
	}
	return string(v[:idLen]), v[idLen:], nil
}

// recordValue is the value of r/<id>: the creator, the record's ops, then
// the snapshot. The ops are a count and, for each op by ascending f/ seq,
// the difference to the previous f/ seq and its bucket entry's seq: 0 when
// it equals the f/ seq, otherwise the seq + 1 (1: not indexed), all as
// uvarints.
func recordValue(creator string, ops []opSeq, snapshot []byte) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64*2+len(creator)+3*len(ops)+len(snapshot))
	b = binary.AppendUvarint(b, uint64(len(creator)))
	b = append(b, creator...)
	b = binary.AppendUvarint(b, uint64(len(ops)))
	prev := uint64(0)
	for _, o := range ops {
		b = binary.AppendUvarint(b, o.fseq-prev)
		prev = o.fseq
		if o.bseq == o.fseq {
			b = binary.AppendUvarint(b, 0)
		} else {
			b = binary.AppendUvarint(b, o.bseq+1)
		}
	}
	return append(b, snapshot...)
}

var errRecordValue = errors.New("record value is malformed")

func splitRecordValue(v []byte) (creator string, ops []opSeq, snapshot []byte, err error) {
	next := func() uint64 {
		n, w := binary.Uvarint(v)
		if w <= 0 {
			err = errRecordValue
			return 0
		}
		v = v[w:]
		return n
	}
	n := next()
	if err != nil || uint64(len(v)) < n {
		return "", nil, nil, errRecordValue
	}
	creator, v = string(v[:n]), v[n:]
	count := next()
	if err != nil || count > uint64(len(v)) {
		return "", nil, nil, errRecordValue
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

// getValue returns a copy of key's value; badger.ErrKeyNotFound when
// absent.
func getValue(txn *badger.Txn, k []byte) ([]byte, error) {
	item, err := txn.Get(k)
	if err != nil {
		return nil, err
	}
	return item.ValueCopy(nil)
}

// getUint reads a 64-bit counter, 0 when absent.
func getUint(txn *badger.Txn, k string) (uint64, error) {
	v, err := getValue(txn, []byte(k))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", k, err)
	}
	n, err := parseUint64(v)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", k, err)
	}
	return n, nil
}
