package store

import (
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

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
// ChaCha20-Poly1305 has no key schedule to compute per use (an AES-GCM
// key per record costs more than decoding the summary's JSON;
// BenchmarkListRecords). Destroying the record's key destroys the
// derived one: it is never stored.
//
// Value: summarySealMark, the length of the scope's JSON (uvarint), the
// scope's JSON, then the summary's JSON sealed (seal) with the record's
// key, "rs/" + record id as additional data. A value starting with '{' is
// a summary stored in the clear (before this layout, or without a key
// store) and reads as before.
const summarySealMark = 2

// errSummaryValue is a damaged sealed rs/ value.
var errSummaryValue = errors.New("the sealed summary is damaged")

// summaryScope is the part of a summary kept in the clear.
type summaryScope struct {
	Kind       string `json:"kind"`
	Team       string `json:"team,omitempty"`
	ActionWeek string `json:"action_week,omitempty"`
	Creator    string `json:"creator,omitempty"`
}

// summaryAD is the additional data of record's sealed summary, so that a
// sealed snapshot or op cannot pass for it.
func summaryAD(record string) string { return prefixSummary + record }

// encodeSummary returns the rs/ value of s: sealed with aead (its
// record's key), or JSON in the clear when aead is nil.
func encodeSummary(aead cipher.AEAD, s *Summary) ([]byte, error) {
	js, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode summary of %s: %w", s.ID, err)
	}
	if aead == nil {
		return js, nil
	}
	sc, err := json.Marshal(summaryScope{Kind: s.Kind, Team: s.Team, ActionWeek: s.ActionWeek, Creator: s.Creator})
	if err != nil {
		return nil, fmt.Errorf("encode summary of %s: %w", s.ID, err)
	}
	v := make([]byte, 0, 1+binary.MaxVarintLen32+len(sc)+len(js)+64)
	v = append(v, summarySealMark)
	v = binary.AppendUvarint(v, uint64(len(sc)))
	v = append(v, sc...)
	return seal(aead, summaryAD(s.ID), v, js), nil
}

// splitSummary returns the scope JSON and the sealed part of a sealed
// rs/ value (sealed is nil for a summary in the clear).
func splitSummary(v []byte) (scope, sealed []byte, err error) {
	if len(v) == 0 || v[0] != summarySealMark {
		return v, nil, nil
	}
	n, k := binary.Uvarint(v[1:])
	if k <= 0 || n > uint64(len(v)-1-k) {
		return nil, nil, errSummaryValue
	}
	return v[1+k : 1+k+int(n)], v[1+k+int(n):], nil
}

// decodeSummaryScope returns the scope of record's rs/ value v without
// opening its labels (HostTeam is not set).
func decodeSummaryScope(record string, v []byte) (access.Scope, error) {
	sc, _, err := splitSummary(v)
	if err != nil {
		return access.Scope{}, fmt.Errorf("decode summary of %s: %w", record, err)
	}
	var s summaryScope
	if err := json.Unmarshal(sc, &s); err != nil {
		return access.Scope{}, fmt.Errorf("decode summary of %s: %w", record, err)
	}
	return access.Scope{Kind: s.Kind, Team: s.Team, ActionWeek: s.ActionWeek, Creator: s.Creator}, nil
}

// decodeSummaryValue decodes record's rs/ value v, opening its labels
// with the record's key. When the key is gone (retention erased the
// record; the store was restored from an older backup) it returns the
// summary's scope fields only, and errRecordKeyGone.
func decodeSummaryValue(ks *dataKeys, record string, v []byte) (Summary, error) {
	sc, sealed, err := splitSummary(v)
	if err != nil {
		return Summary{}, fmt.Errorf("decode summary of %s: %w", record, err)
	}
	js := sc
	if sealed != nil {
		var ok bool
		if js, ok = openSummary(ks.summaryAEAD(record), record, sealed); !ok {
			js = sc
			err = errRecordKeyGone
		}
	}
	var s Summary
	if err := json.Unmarshal(js, &s); err != nil {
		return Summary{}, fmt.Errorf("decode summary of %s: %w", record, err)
	}
	s.ID = record
	return s, err
}

// summaryAEAD returns the AEAD of record's summary labels (nil when the
// record has no key).
func (ks *dataKeys) summaryAEAD(record string) cipher.AEAD {
	if ks == nil {
		return nil
	}
	id := recordKeyID(record)
	var in [len(summaryKeyLabel) + dataKeyLen]byte
	copy(in[:], summaryKeyLabel)
	ks.mu.Lock()
	k := ks.keys[id]
	if k != nil {
		copy(in[len(summaryKeyLabel):], k[:])
	}
	ks.mu.Unlock()
	if k == nil {
		return nil
	}
	dk := sha256.Sum256(in[:])
	aead, err := chacha20poly1305.New(dk[:])
	if err != nil {
		return nil
	}
	return aead
}

// summaryKeyLabel separates the summary key derived from a record's key
// from any other use of it.
const summaryKeyLabel = "fieldsync summary labels key v1"

// openSummary opens the sealed labels of record's summary with aead
// (false when aead is nil: the key is gone, or the bytes are damaged).
func openSummary(aead cipher.AEAD, record string, sealed []byte) ([]byte, bool) {
	if aead == nil || len(sealed) < 1+aead.NonceSize() {
		return nil, false
	}
	ns := aead.NonceSize()
	v, err := aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], []byte(summaryAD(record)))
	return v, err == nil
}
