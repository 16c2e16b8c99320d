package store

import (
	"cmp"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// Erasure that reaches the bytes (doc.go, "Storage design"): the value of
// every append (the entries a redaction can erase) is sealed with a data
// key of its own, AES-256-GCM, in its f/ entry and in every snapshot that
// holds it. The keys live in a key store outside badger: a file of fixed
// slots, one per live key, overwritten in place and fsynced. Erasing a
// value destroys its key (the slot is zeroed and synced), so the sealed
// bytes badger still holds (superseded versions awaiting compaction, the
// value log) and every backup (a backup never carries the key store) hold
// only ciphertext nobody can read. A value whose key is gone is served as
// erased.
//
// Durability: a new key is written to the file, with every other key
// created since the last sync in one write, and fsynced by the committer
// before the transaction of the op it seals commits (sync), so no
// acknowledged op is sealed with a key that is not on disk. A key is destroyed after the transaction erasing its value
// commits; a crash in between leaves it live, and Open destroys every
// live key of an op stored as redacted.

// dataKeysFile is the key store's name in the store's directory.
const dataKeysFile = "datakeys"

// keysMagic starts the key store file.
const keysMagic = "FSDKEYS1"

// Slot layout: state (1: live, 0: free), op id (36 bytes), key (32
// bytes), 3 bytes of padding.
const (
	slotLen    = 72
	dataKeyLen = 32
)

// sealMark starts a sealed stored value: JSON never starts with a zero
// byte, and a crdt snapshot starts with its version (1 or 2).
const sealMark = 0

// recordSealMark starts an f/ value sealed with its record's data key
// (every op but an append, whose value has a key of its own): the key
// whose id is the record's id, destroyed when retention erases the
// record. JSON never starts with byte 1.
const recordSealMark = 1

// dataKeys is the key store. It is safe for concurrent use.
type dataKeys struct {
	mu    sync.Mutex
	f     *os.File
	slots map[string]int // op id -> slot
	// keys holds the raw keys (an AEAD is made per use: a cipher per
	// live key would weigh ten times more in memory).
	keys map[string]*[dataKeyLen]byte
	free []int
	n    int // slots in the file, written or pending
	// pending are the slots created since the last flush, not yet
	// written to the file (sync writes them before it syncs).
	pending []pendingSlot
	dirty   bool
	// created is set when Open created the file.
	created bool
	// summaryKeys holds the summary keys derived from record keys so far
	// (summary.go), at most one per live key; destroy drops them.
	summaryKeys map[string]*[dataKeyLen]byte
}

// pendingSlot is a slot's bytes waiting to be written.
type pendingSlot struct {
	slot int
	b    []byte
}

// openDataKeys opens (or creates) the key store at path.
func openDataKeys(path string) (*dataKeys, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open data keys: %w", err)
	}
	ks := &dataKeys{f: f, slots: map[string]int{}, keys: map[string]*[dataKeyLen]byte{}}
	if err := ks.load(); err != nil {
		return nil, errors.Join(fmt.Errorf("open data keys %s: %w", path, err), f.Close())
	}
	return ks, nil
}

// load reads the file, or writes the header of a new one.
func (ks *dataKeys) load() error {
	b, err := io.ReadAll(ks.f)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		ks.created = true
		if _, err := ks.f.WriteAt([]byte(keysMagic), 0); err != nil {
			return err
		}
		return ks.f.Sync()
	}
	if len(b) < len(keysMagic) || string(b[:len(keysMagic)]) != keysMagic {
		return errors.New("the file is not a fieldsync data key store")
	}
	b = b[len(keysMagic):]
	// A torn last slot (a crash while the file grew) was never synced,
	// so no committed op uses it.
	ks.n = len(b) / slotLen
	for i := range ks.n {
		s := b[i*slotLen : (i+1)*slotLen]
		if s[0] != 1 {
			ks.free = append(ks.free, i)
			continue
		}
		id := string(s[1 : 1+idLen])
		k := new([dataKeyLen]byte)
		copy(k[:], s[1+idLen:])
		ks.slots[id], ks.keys[id] = i, k
	}
	return nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	c, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(c)
}

// create makes the data key of op id. It is written to the file with the
// keys created since, and synced, by sync. It returns the existing key
// when id has one.
func (ks *dataKeys) create(id string) (cipher.AEAD, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if k, ok := ks.keys[id]; ok {
		return newAEAD(k[:])
	}
	if len(id) != idLen {
		return nil, fmt.Errorf("create data key: op id %q is not %d bytes", id, idLen)
	}
	s := make([]byte, slotLen)
	s[0] = 1
	copy(s[1:], id)
	key := s[1+idLen : 1+idLen+dataKeyLen]
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create data key: %w", err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, fmt.Errorf("create data key: %w", err)
	}
	slot := ks.n
	if n := len(ks.free); n > 0 {
		slot, ks.free = ks.free[n-1], ks.free[:n-1]
	} else {
		ks.n++
	}
	ks.pending = append(ks.pending, pendingSlot{slot: slot, b: s})
	k := new([dataKeyLen]byte)
	copy(k[:], key)
	ks.slots[id], ks.keys[id], ks.dirty = slot, k, true
	return aead, nil
}

// flush writes the pending slots to the file, a run of consecutive slots
// in one write; the caller holds ks.mu. Slots it could not write stay
// pending.
func (ks *dataKeys) flush() error {
	if len(ks.pending) == 0 {
		return nil
	}
	p := ks.pending
	slices.SortFunc(p, func(a, b pendingSlot) int { return cmp.Compare(a.slot, b.slot) })
	for i := 0; i < len(p); {
		j := i + 1
		for j < len(p) && p[j].slot == p[j-1].slot+1 {
			j++
		}
		run := p[i].b
		if j > i+1 {
			run = make([]byte, 0, (j-i)*slotLen)
			for _, x := range p[i:j] {
				run = append(run, x.b...)
			}
		}
		if _, err := ks.f.WriteAt(run, slotOffset(p[i].slot)); err != nil {
			ks.pending = p[i:]
			return fmt.Errorf("write data keys: %w", err)
		}
		i = j
	}
	ks.pending = p[:0]
	return nil
}

func slotOffset(slot int) int64 { return int64(len(keysMagic)) + int64(slot)*slotLen }

// sync makes every key created so far durable.
func (ks *dataKeys) sync() error {
	if ks == nil {
		return nil
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if !ks.dirty {
		return nil
	}
	if err := ks.flush(); err != nil {
		return fmt.Errorf("sync data keys: %w", err)
	}
	if err := ks.f.Sync(); err != nil {
		return fmt.Errorf("sync data keys: %w", err)
	}
	ks.dirty = false
	return nil
}

// destroy overwrites the keys of ops ids with zeros and syncs the file:
// once it returns, the values they sealed cannot be read from any copy
// of the store.
func (ks *dataKeys) destroy(ids []string) error {
	if ks == nil || len(ids) == 0 {
		return nil
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	// A pending slot is written before it is zeroed, never after.
	if err := ks.flush(); err != nil {
		return fmt.Errorf("destroy data keys: %w", err)
	}
	zero := make([]byte, slotLen)
	var errs []error
	for _, id := range ids {
		slot, ok := ks.slots[id]
		if !ok {
			continue
		}
		if _, err := ks.f.WriteAt(zero, slotOffset(slot)); err != nil {
			errs = append(errs, err)
			continue
		}
		if k := ks.keys[id]; k != nil {
			*k = [dataKeyLen]byte{} // the AEADs made from it are short-lived
		}
		if k := ks.summaryKeys[id]; k != nil {
			*k = [dataKeyLen]byte{}
		}
		delete(ks.slots, id)
		delete(ks.keys, id)
		delete(ks.summaryKeys, id)
		ks.free = append(ks.free, slot)
	}
	if err := ks.f.Sync(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy data keys: %w", err)
	}
	return nil
}

// live returns the ids of the ops that have a key.
func (ks *dataKeys) live() []string {
	if ks == nil {
		return nil
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ids := make([]string, 0, len(ks.slots))
	for id := range ks.slots {
		ids = append(ids, id)
	}
	return ids
}

func (ks *dataKeys) key(id string) cipher.AEAD {
	if ks == nil {
		return nil
	}
	ks.mu.Lock()
	k := ks.keys[id]
	ks.mu.Unlock()
	if k == nil {
		return nil
	}
	aead, err := newAEAD(k[:])
	if err != nil {
		return nil
	}
	return aead
}

// BackupKeys writes a copy of the store's data key store to w. Backups
// (Backup) never carry the keys: a restored store reads its values only
// with a key store copied next to it (RestoreKeys). Keep key backups
// apart from store backups, and no longer than the erasure period: a key
// backup older than an erasure can read the erased value in any backup
// of the same age.
func (db *DB) BackupKeys(w io.Writer) error { return db.keys.writeTo(w) }

// RestoreKeys writes a key store read from r (written by BackupKeys) into
// the store directory dir, before the store is opened there; it refuses
// a directory that has a key store.
func RestoreKeys(dir string, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("restore data keys: %w", err)
	}
	if len(b) < len(keysMagic) || string(b[:len(keysMagic)]) != keysMagic {
		return errors.New("restore data keys: the file is not a fieldsync data key store")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("restore data keys: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, dataKeysFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("restore data keys: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("restore data keys: %w", err)
	}
	return nil
}

func (ks *dataKeys) writeTo(w io.Writer) error {
	if ks == nil {
		return errors.New("back up data keys: the store has no key store")
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if err := ks.flush(); err != nil {
		return fmt.Errorf("back up data keys: %w", err)
	}
	_, err := io.Copy(w, io.NewSectionReader(ks.f, 0, slotOffset(ks.n)))
	if err != nil {
		return fmt.Errorf("back up data keys: %w", err)
	}
	return nil
}

func (ks *dataKeys) close() error {
	if ks == nil {
		return nil
	}
	if err := ks.f.Close(); err != nil {
		return fmt.Errorf("close data keys: %w", err)
	}
	return nil
}

// seal returns value sealed with aead: the seal mark, a random nonce,
// then the ciphertext. The op id is the additional data, so a value
// cannot be moved to another op.
func seal(aead cipher.AEAD, id string, dst, value []byte) []byte {
	dst = append(dst, sealMark)
	n := len(dst)
	dst = append(dst, make([]byte, aead.NonceSize())...)
	_, _ = rand.Read(dst[n:])
	return aead.Seal(dst, dst[n:], value, []byte(id))
}

// unseal opens a value seal wrote; ok is false when its key is gone (or
// the bytes are damaged).
func (ks *dataKeys) unseal(id string, sealed []byte) ([]byte, bool) {
	return ks.unsealWith(id, id, sealed)
}

// unsealWith opens a value seal wrote with the key keyID and the
// additional data ad.
func (ks *dataKeys) unsealWith(keyID, ad string, sealed []byte) ([]byte, bool) {
	aead := ks.key(keyID)
	if aead == nil || len(sealed) < 1+aead.NonceSize() {
		return nil, false
	}
	ns := aead.NonceSize()
	v, err := aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], []byte(ad))
	return v, err == nil
}

// snapshotSealer seals the log entries of snapshots with the keys of ks
// (crdt.ValueSealer). An entry whose op has no key (stored before keys
// existed) is stored as it is.
type snapshotSealer struct{ ks *dataKeys }

// SealValue implements crdt.ValueSealer.
func (s snapshotSealer) SealValue(op string, value []byte) []byte {
	aead := s.ks.key(op)
	if aead == nil {
		return value
	}
	return seal(aead, op, make([]byte, 0, len(value)+64), value)
}

// OpenValue implements crdt.ValueSealer.
func (s snapshotSealer) OpenValue(op string, stored []byte) ([]byte, bool) {
	if len(stored) == 0 || stored[0] != sealMark {
		return stored, true
	}
	return s.ks.unseal(op, stored)
}

// sealedFeed returns the f/ value of an op sealed with aead (mark says
// which key: the op's, sealMark, or its record's, recordSealMark): record
// id, the mark, the op id, the lengths of the prefix and suffix the
// served JSON shares with its redacted form, that redacted form, and the
// rest of the served JSON sealed. Opened, it gives the served JSON byte
// for byte; without the key, the redacted form.
func sealedFeed(aead cipher.AEAD, mark byte, record, id string, full, red []byte) []byte {
	head, mid := sealedHead(mark, record, id, full, red)
	return seal(aead, id, head, mid)
}

// sealedHead returns what sealedFeed writes before the sealed bytes, with
// room for them, and the part of full to seal (sealedFeed's work that
// needs no key, done before the writer: prepare.go).
func sealedHead(mark byte, record, id string, full, red []byte) (head, mid []byte) {
	p := 0
	for p < len(full) && p < len(red) && full[p] == red[p] {
		p++
	}
	s := 0
	for s < len(full)-p && s < len(red)-p && full[len(full)-1-s] == red[len(red)-1-s] {
		s++
	}
	mid = full[p : len(full)-s]
	v := make([]byte, 0, idLen+1+idLen+20+len(red)+1+sealOverhead+len(mid))
	v = append(v, record...)
	v = append(v, mark)
	v = append(v, id...)
	v = binary.AppendUvarint(v, uint64(p))
	v = binary.AppendUvarint(v, uint64(s))
	v = binary.AppendUvarint(v, uint64(len(red)))
	return append(v, red...), mid
}

// errFeedValue is a damaged sealed f/ value.
var errFeedValue = errors.New("the sealed feed value is damaged")

// openFeed returns the served JSON of a sealed f/ value (v without its
// record id, record), and erased set when its key is gone (the JSON is
// then the op's redacted form).
func (ks *dataKeys) openFeed(record string, v []byte) (js []byte, erased bool, err error) {
	if len(v) < 1+idLen {
		return nil, false, errFeedValue
	}
	id := string(v[1 : 1+idLen])
	keyID := id
	if v[0] == recordSealMark {
		keyID = recordKeyID(record)
	}
	r := v[1+idLen:]
	var n [3]uint64
	for i := range n {
		x, k := binary.Uvarint(r)
		if k <= 0 {
			return nil, false, errFeedValue
		}
		n[i], r = x, r[k:]
	}
	p, s, l := n[0], n[1], n[2]
	if l > uint64(len(r)) || p+s > l {
		return nil, false, errFeedValue
	}
	red, sealed := r[:l], r[l:]
	if ks == nil {
		return red, true, nil
	}
	mid, ok := ks.unsealWith(keyID, id, sealed)
	if !ok {
		return red, true, nil
	}
	js = make([]byte, 0, p+uint64(len(mid))+s)
	js = append(append(append(js, red[:p]...), mid...), red[l-s:]...)
	return js, false, nil
}

// isSealedFeed reports whether the JSON part of an f/ value is sealed.
func isSealedFeed(js []byte) bool {
	return len(js) > 0 && (js[0] == sealMark || js[0] == recordSealMark)
}

// recordKeyID is the key store id of record's data key: a digest of the
// record id (36 bytes, like an op id, and never a UUID), so that the key
// file, which encryption at rest does not cover, names no record.
func recordKeyID(record string) string {
	sum := sha256.Sum256([]byte("fieldsync record key " + record))
	return "k" + hex.EncodeToString(sum[:])[:idLen-1]
}

// errRecordKeyGone is a record head whose snapshot is sealed with a
// record key that is gone: retention erased the record (and the head is
// from a backup taken before).
var errRecordKeyGone = errors.New("the record's data key is gone: retention erased it")

// sealSnapshot seals a record's snapshot with the record's key, when it
// has one (records stored before data keys do not).
func (ks *dataKeys) sealSnapshot(record string, snap []byte) []byte {
	aead := ks.key(recordKeyID(record))
	if aead == nil {
		return snap
	}
	return seal(aead, record, make([]byte, 0, len(snap)+64), snap)
}

// openSnapshot returns a record's snapshot as crdt encoded it, opening a
// sealed one with the record's key (errRecordKeyGone without it).
func (ks *dataKeys) openSnapshot(record string, snap []byte) ([]byte, error) {
	if len(snap) == 0 || snap[0] != sealMark {
		return snap, nil
	}
	v, ok := ks.unsealWith(recordKeyID(record), record, snap)
	if !ok {
		return nil, errRecordKeyGone
	}
	return v, nil
}

// sweepKeys destroys the data keys of ops stored as redacted: the keys a
// crash left between an erasure's commit and their destruction.
func (db *DB) sweepKeys() error {
	var gone []string
	err := db.bdb.View(func(txn *badger.Txn) error {
		for _, id := range db.keys.live() {
			v, err := getValue(txn, key(prefixOp, id))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue // a commit that failed, or a restored older store
			}
			if err != nil {
				return err
			}
			var m opMeta
			if err := m.unmarshal(v); err != nil {
				return fmt.Errorf("read op %s: %w", id, err)
			}
			if m.redacted {
				gone = append(gone, id)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweep data keys: %w", err)
	}
	if db.keys != nil && db.keys.created && db.seq > 0 {
		db.log.Warn("a new data key store for a store that holds ops: values sealed before (a restore without its key backup?) read as erased; values stored before data keys existed read as before", "file", dataKeysFile)
	}
	if len(gone) > 0 {
		db.log.Info("destroyed the data keys of values erased before a crash", "keys", len(gone))
	}
	return db.keys.destroy(gone)
}
