package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// Key prefixes and fixed keys (doc.go documents the keyspace).
const (
	prefixOp       = "o/"
	prefixFeed     = "f/"
	prefixBucket   = "b/"
	prefixRecord   = "r/"
	prefixOpList   = "rl/"
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

// erasedMarker is the b/ value telling that retention erased record.
func erasedMarker(record string) []byte {
	return append([]byte{'E'}, record...)
}

// isDropValue reports whether a b/ value is a drop marker, and whether
// retention wrote it.
func isDropValue(v []byte) (drop, erased bool) {
	if len(v) != 1+idLen {
		return false, false
	}
	return v[0] == 'D' || v[0] == 'E', v[0] == 'E'
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
// A sealed value (an append's, datakeys.go) is opened with ks; without
// its key it gives the op's redacted form.
func splitFeedValue(ks *dataKeys, v []byte) (record string, json []byte, err error) {
	record, json, _, err = openFeedValue(ks, v)
	return record, json, err
}

// openFeedValue is splitFeedValue that also reports whether the value was
// sealed with a key that is gone (the JSON is then the redacted form).
func openFeedValue(ks *dataKeys, v []byte) (record string, json []byte, erased bool, err error) {
	if len(v) < idLen {
		return "", nil, false, fmt.Errorf("feed value of %d bytes is too short", len(v))
	}
	record, json = string(v[:idLen]), v[idLen:]
	if !isSealedFeed(json) {
		return record, json, false, nil
	}
	json, erased, err = ks.openFeed(record, json)
	return record, json, erased, err
}

// opPageSize is the number of ops one rl/ page lists: a record's new
// ops rewrite only its last page, at most opPageSize entries.
const opPageSize = 64

// opListKey is the rl/ key of page number page of record's op list.
func opListKey(record string, page int) []byte {
	k := append(append(make([]byte, 0, len(prefixOpList)+idLen+4), prefixOpList...), record...)
	return binary.BigEndian.AppendUint32(k, uint32(page))
}

// opPage encodes ops, one page of an op list: for each op by ascending f/
// seq, the difference to the previous f/ seq (the first: to 0), and its
// bucket entry's seq: 0 when it equals the f/ seq, otherwise the seq + 1
// (1: not indexed), all as uvarints.
func opPage(ops []opSeq) []byte {
	b := make([]byte, 0, 6*len(ops))
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
	return b
}

var errOpPage = errors.New("op list page is malformed")

// parseOpPage appends the ops of page v to ops.
func parseOpPage(ops []opSeq, v []byte) ([]opSeq, error) {
	prev := uint64(0)
	for len(v) > 0 {
		d, w := binary.Uvarint(v)
		if w <= 0 {
			return nil, errOpPage
		}
		v = v[w:]
		b, w := binary.Uvarint(v)
		if w <= 0 {
			return nil, errOpPage
		}
		v = v[w:]
		o := opSeq{fseq: prev + d, bseq: b - 1}
		if b == 0 {
			o.bseq = o.fseq
		}
		ops, prev = append(ops, o), o.fseq
	}
	return ops, nil
}

// head is the r/ value of a record: what the writer keeps of it besides
// its op list, and its snapshot as of snapSeq.
type head struct {
	// snapSeq is the greatest f/ seq of the ops the snapshot holds.
	snapSeq uint64
	// scope is the scope the last op's effects gave the record, its
	// host team left out (read from w/ when needed).
	scope access.Scope
	// bucket is the feed the record's ops are indexed in.
	bucket   string
	snapshot []byte
}

// headValue encodes h: snapSeq, then the creator, team, action week and
// bucket, each a uvarint length and its bytes, then the snapshot.
func headValue(h *head) []byte {
	b := make([]byte, 0, 16+len(h.scope.Creator)+len(h.scope.Team)+len(h.scope.ActionWeek)+len(h.bucket)+len(h.snapshot))
	b = binary.AppendUvarint(b, h.snapSeq)
	for _, s := range []string{h.scope.Creator, h.scope.Team, h.scope.ActionWeek, h.bucket} {
		b = append(binary.AppendUvarint(b, uint64(len(s))), s...)
	}
	return append(b, h.snapshot...)
}

var errRecordValue = errors.New("record head is malformed")

// parseHead decodes an r/ value; the snapshot aliases v.
func parseHead(v []byte) (head, error) {
	var h head
	n, w := binary.Uvarint(v)
	if w <= 0 {
		return head{}, errRecordValue
	}
	h.snapSeq, v = n, v[w:]
	var strs [4]string
	for i := range strs {
		n, w := binary.Uvarint(v)
		if w <= 0 || uint64(len(v)-w) < n {
			return head{}, errRecordValue
		}
		strs[i], v = string(v[w:w+int(n)]), v[w+int(n):]
	}
	h.scope.Creator, h.scope.Team, h.scope.ActionWeek, h.bucket = strs[0], strs[1], strs[2], strs[3]
	h.snapshot = v
	return h, nil
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
