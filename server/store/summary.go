package store

import (
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/fieldsync/fieldsync/sync/access"
)

// Sealed summaries (issue 12: erasure of the labels). A record's rs/
// summary holds labels a listing filters on (status, region, review
// status, conflicting fields, deleted, hlc, last change); region is free
// text. They are sealed with the record's data key, like its snapshot and
// its ops, so the erasure that destroys the key erases them in every
// version badger still holds and in every backup. In the clear stays
// only the record's scope (kind, team, action week, creator): the feeds
// read it for every op they serve, and the tombstone keeps it anyway
// (the scope of the erasure's drop markers; ids of teams, weeks and users
// that are not erased).
//
// Cipher: ChaCha20-Poly1305 under a key derived from the record's key
// (SHA-256 of a label and the key), not AES-GCM under the key itself as
// for snapshots and ops: a listing opens every summary it reads, and
// ChaCha20-Poly1305 has no key schedule to compute per use. The derived
// key is kept beside the record's key in memory, never stored, and
// destroyed with it. Encoding: binary, not JSON, so that opening and
// decoding a summary costs less than decoding the JSON did
// (BenchmarkListRecords).
//
// Value: summarySealMark, the scope's strings (kind, team, action week,
// creator), then the labels sealed (seal) with the derived key, "rs/",
// the record id, a zero byte and the scope's bytes as additional data: status, region, review status, hlc, the
// last change (seconds and nanoseconds; 0 and 0 for none), deleted (one
// byte), and the conflicting fields (a count, then the names). A string
// is its length (uvarint) and its bytes. A value starting with '{' is a
// summary in JSON in the clear (written before, or without a key store)
// and reads as before.
const summarySealMark = 2

// errSummaryValue is a damaged sealed rs/ value.
var errSummaryValue = errors.New("the sealed summary is damaged")

// summaryAD is the additional data of record's sealed summary whose
// clear part is scope: a sealed snapshot or op cannot pass for it, and
// the scope it decodes with is the one it was written with.
func summaryAD(record string, scope []byte) string {
	return prefixSummary + record + "\x00" + string(scope)
}

// encodeSummary returns the rs/ value of s: sealed with aead (its
// record's derived key, summaryAEAD), or JSON in the clear when aead is
// nil.
func encodeSummary(aead cipher.AEAD, s *Summary) ([]byte, error) {
	if aead == nil {
		js, err := json.Marshal(s)
		if err != nil {
			return nil, fmt.Errorf("encode summary of %s: %w", s.ID, err)
		}
		return js, nil
	}
	v := make([]byte, 0, 256)
	v = append(v, summarySealMark)
	for _, f := range []string{s.Kind, s.Team, s.ActionWeek, s.Creator} {
		v = appendString(v, f)
	}
	l := make([]byte, 0, 128)
	for _, f := range []string{s.Status, s.Region, s.ReviewStatus, s.HLC} {
		l = appendString(l, f)
	}
	var sec, nsec int64
	if !s.UpdatedAt.IsZero() {
		sec, nsec = s.UpdatedAt.Unix(), int64(s.UpdatedAt.Nanosecond())
	}
	l = binary.AppendVarint(l, sec)
	l = binary.AppendUvarint(l, uint64(nsec))
	deleted := byte(0)
	if s.Deleted {
		deleted = 1
	}
	l = append(l, deleted)
	l = binary.AppendUvarint(l, uint64(len(s.Conflicts)))
	for _, f := range s.Conflicts {
		l = appendString(l, f)
	}
	return seal(aead, summaryAD(s.ID, v[1:]), v, l), nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// summaryReader reads the fields of a binary summary.
type summaryReader struct {
	b   []byte
	err error
}

func (r *summaryReader) uvarint() uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errSummaryValue, nil
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *summaryReader) varint() int64 {
	x, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errSummaryValue, nil
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *summaryReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err, r.b = errSummaryValue, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// scope reads the clear part of a sealed summary into s.
func (r *summaryReader) scope(s *Summary) {
	s.Kind, s.Team, s.ActionWeek, s.Creator = r.string(), r.string(), r.string(), r.string()
}

// labels reads the opened labels of a sealed summary into s.
func (r *summaryReader) labels(s *Summary) {
	s.Status, s.Region, s.ReviewStatus, s.HLC = r.string(), r.string(), r.string(), r.string()
	sec, nsec := r.varint(), r.uvarint()
	if sec != 0 || nsec != 0 {
		s.UpdatedAt = time.Unix(sec, int64(nsec)).UTC()
	}
	if len(r.b) == 0 {
		r.err = errSummaryValue
		return
	}
	s.Deleted, r.b = r.b[0] == 1, r.b[1:]
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errSummaryValue
		return
	}
	if n > 0 {
		s.Conflicts = make([]string, n)
		for i := range s.Conflicts {
			s.Conflicts[i] = r.string()
		}
	}
	if len(r.b) != 0 {
		r.err = errSummaryValue
	}
}

// decodeSummaryScope returns the scope of record's rs/ value v without
// opening its labels (HostTeam is not set).
func decodeSummaryScope(record string, v []byte) (access.Scope, error) {
	var s Summary
	if len(v) > 0 && v[0] == summarySealMark {
		r := summaryReader{b: v[1:]}
		if r.scope(&s); r.err != nil {
			return access.Scope{}, fmt.Errorf("decode summary of %s: %w", record, r.err)
		}
	} else if err := json.Unmarshal(v, &s); err != nil {
		return access.Scope{}, fmt.Errorf("decode summary of %s: %w", record, err)
	}
	return access.Scope{Kind: s.Kind, Team: s.Team, ActionWeek: s.ActionWeek, Creator: s.Creator}, nil
}

// decodeSummaryValue decodes record's rs/ value v, opening its labels
// with the record's key. When the key is gone (retention erased the
// record; the store was restored from an older backup) it returns the
// summary's scope fields only, and errRecordKeyGone.
func decodeSummaryValue(ks *dataKeys, record string, v []byte) (Summary, error) {
	var s Summary
	if len(v) == 0 || v[0] != summarySealMark {
		if err := json.Unmarshal(v, &s); err != nil {
			return Summary{}, fmt.Errorf("decode summary of %s: %w", record, err)
		}
		s.ID = record
		return s, nil
	}
	r := summaryReader{b: v[1:]}
	if r.scope(&s); r.err != nil {
		return Summary{}, fmt.Errorf("decode summary of %s: %w", record, r.err)
	}
	s.ID = record
	clear := v[1 : len(v)-len(r.b)]
	labels, ok := openSummary(ks.summaryAEAD(record), summaryAD(record, clear), r.b)
	if !ok {
		return s, errRecordKeyGone
	}
	r = summaryReader{b: labels}
	if r.labels(&s); r.err != nil {
		return Summary{}, fmt.Errorf("decode summary of %s: %w", record, r.err)
	}
	return s, nil
}

// summaryAEAD returns the AEAD of record's summary labels (nil when the
// record has no key). The derived key is kept beside the record's key
// (dataKeys.summaryKeys) and destroyed with it.
func (ks *dataKeys) summaryAEAD(record string) cipher.AEAD {
	if ks == nil {
		return nil
	}
	id := recordKeyID(record)
	var dk [dataKeyLen]byte
	ks.mu.Lock()
	sk := ks.summaryKeys[id]
	if sk == nil {
		if k := ks.keys[id]; k != nil {
			var in [len(summaryKeyLabel) + dataKeyLen]byte
			copy(in[:], summaryKeyLabel)
			copy(in[len(summaryKeyLabel):], k[:])
			sum := sha256.Sum256(in[:])
			sk = &sum
			if ks.summaryKeys == nil {
				ks.summaryKeys = map[string]*[dataKeyLen]byte{}
			}
			ks.summaryKeys[id] = sk
		}
	}
	if sk != nil {
		dk = *sk
	}
	ks.mu.Unlock()
	if sk == nil {
		return nil
	}
	aead, err := chacha20poly1305.New(dk[:])
	if err != nil {
		return nil
	}
	return aead
}

// summaryKeyLabel separates the summary key derived from a record's key
// from any other use of it.
const summaryKeyLabel = "fieldsync summary labels key v1"

// openSummary opens the sealed labels of a summary with aead and the
// additional data ad (false when aead is nil: the key is gone, or the
// bytes are damaged).
func openSummary(aead cipher.AEAD, ad string, sealed []byte) ([]byte, bool) {
	if aead == nil || len(sealed) < 1+aead.NonceSize() {
		return nil, false
	}
	ns := aead.NonceSize()
	v, err := aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], []byte(ad))
	return v, err == nil
}
