package store

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
)

// Blob keys (doc.go, "Blobs"). Written only by ordinary transactions,
// never by the op writer.
const (
	prefixBlob   = "bl/" // bl/<scope>/<digest>: Blob as JSON
	prefixChunk  = "bc/" // bc/<upload id><offset>: up to ChunkSize bytes
	prefixUpload = "bu/" // bu/<upload id>: Upload as JSON
	// bx/<scope>/<digest>/<record id>: empty; the record's live entries
	// name the blob.
	prefixBinding = "bx/"
	// bxr/<record id>/<digest>: the scope of the blob bound to the record.
	prefixRecordBinding = "bxr/"
)

// Sealing blobs (datakeys.go): every upload's chunks are sealed with a
// data key of its own, created with the upload and held in the data key
// store under blobKeyID. An upload holds at most one blob, and a scope
// holds one blob per digest, so the key is the key of the blob (scope,
// digest). Deleting an upload or a blob destroys the key first: from
// then on its chunks, in badger's files and in every backup, are
// ciphertext nobody can read, whenever badger reclaims them.

// sealOverhead is what sealing adds to a chunk: a nonce and a tag.
const sealOverhead = 12 + 16

// blobKeyID is the id of an upload's data key in the key store: "blob"
// and the upload id's hex digits, 36 bytes that are not a canonical
// UUID, so it never names an op's key.
func blobKeyID(upload string) string { return "blob" + strings.ReplaceAll(upload, "-", "") }

// errBlobErased is a sealed upload whose data key is gone.
var errBlobErased = errors.New("the blob's data key is destroyed")

// ChunkSize is the largest value one blob chunk key holds: above badger's
// value threshold, so a chunk is one sequential write to the value log.
const ChunkSize = 256 << 10

// Upload is a resumable upload of one blob into a scope (an access
// bucket: "t:<team>" or "w:<week>").
type Upload struct {
	ID     string    `json:"id"`
	Scope  string    `json:"scope"`
	Digest string    `json:"digest"`
	Size   int64     `json:"size"`
	User   string    `json:"user"`
	Offset int64     `json:"offset"`
	At     time.Time `json:"at"`
	// Complete is set once the bytes matched the digest; the upload's
	// chunks are then the blob's.
	Complete bool `json:"complete,omitempty"`
	// Sealed is set when the chunks are sealed with the upload's data key
	// (every upload since blob keys exist, unless the store keeps values
	// plain).
	Sealed bool `json:"sealed,omitempty"`
}

// Blob is a completed, verified blob of a scope.
type Blob struct {
	Scope     string    `json:"scope"`
	Digest    string    `json:"digest"`
	Size      int64     `json:"size"`
	MediaType string    `json:"media_type"`
	Upload    string    `json:"upload"`
	At        time.Time `json:"at"`
	Sealed    bool      `json:"sealed,omitempty"`
	// Erased is set (by Blobs) when the blob is sealed and its data key
	// is gone: a deletion a crash interrupted, or a backup restored after
	// the erasure. Its bytes cannot be read.
	Erased bool `json:"-"`
}

func blobKey(scope, digest string) []byte { return key2(prefixBlob, scope, digest) }

func chunkKey(upload string, offset int64) []byte {
	return binary.BigEndian.AppendUint64(key(prefixChunk, upload), uint64(offset))
}

func bindingKey(scope, digest, record string) []byte {
	return []byte(prefixBinding + scope + "/" + digest + "/" + record)
}

func recordBindingKey(record, digest string) []byte {
	return []byte(prefixRecordBinding + record + "/" + digest)
}

// CreateUpload stores a new upload at offset 0, with a new data key that
// is on disk before the upload is.
func (db *DB) CreateUpload(ctx context.Context, u Upload) error {
	db.blobKeysMu.Lock()
	defer db.blobKeysMu.Unlock()
	if db.keys != nil {
		if _, err := db.keys.create(blobKeyID(u.ID)); err != nil {
			return fmt.Errorf("create upload: %w", err)
		}
		if err := db.keys.sync(); err != nil {
			return fmt.Errorf("create upload: %w", err)
		}
		u.Sealed = true
	}
	err := db.update(ctx, func(txn *badger.Txn) error { return setJSON(txn, key(prefixUpload, u.ID), u) })
	if err != nil {
		return fmt.Errorf("create upload: %w", err)
	}
	return nil
}

// SweepBlobKeys destroys the blob data keys whose upload is not stored:
// keys a crash left between their creation and their upload's commit,
// or keys of uploads newer than the backup this store was restored from.
// It returns how many it destroyed.
func (db *DB) SweepBlobKeys(ctx context.Context) (int, error) {
	db.blobKeysMu.Lock()
	defer db.blobKeysMu.Unlock()
	var gone []string
	err := db.view(ctx, func(txn *badger.Txn) error {
		for _, id := range db.keys.live() {
			upload, ok := uploadOfKey(id)
			if !ok {
				continue
			}
			found, err := exists(txn, key(prefixUpload, upload))
			if err != nil {
				return err
			}
			if !found {
				gone = append(gone, id)
			}
		}
		return nil
	})
	if err == nil {
		err = db.keys.destroy(gone)
	}
	if err != nil {
		return 0, fmt.Errorf("sweep blob keys: %w", err)
	}
	return len(gone), nil
}

// uploadOfKey returns the upload id of a blob key id (blobKeyID); ok is
// false for any other key id.
func uploadOfKey(id string) (string, bool) {
	h, ok := strings.CutPrefix(id, "blob")
	if !ok || len(h) != 32 {
		return "", false
	}
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], true
}

// blobAEAD returns the data key of a sealed upload (nil for a plain one);
// errBlobErased when it is gone.
func (db *DB) blobAEAD(upload string, sealed bool) (cipher.AEAD, error) {
	if !sealed {
		return nil, nil
	}
	aead := db.keys.key(blobKeyID(upload))
	if aead == nil {
		return nil, errBlobErased
	}
	return aead, nil
}

// Upload returns an upload; CodeNotFound when there is none or its data
// key is gone.
func (db *DB) Upload(ctx context.Context, id string) (Upload, error) {
	var u Upload
	err := db.view(ctx, func(txn *badger.Txn) error { return getJSON(txn, key(prefixUpload, id), &u) })
	if err == nil {
		_, err = db.blobAEAD(u.ID, u.Sealed)
	}
	return u, db.absentBlob(err, "read upload", "There is no upload %s.", id)
}

// absentBlob is absent for blob reads: a missing key or a destroyed data
// key is CodeNotFound with the sentence format, args.
func (db *DB) absentBlob(err error, what, format string, args ...any) error {
	if errors.Is(err, errBlobErased) {
		err = badger.ErrKeyNotFound
	}
	return absent(err, what, func() error { return notFound(format, args...) })
}

// Blob returns the completed blob of a scope; CodeNotFound when there is
// none or its data key is gone.
func (db *DB) Blob(ctx context.Context, scope, digest string) (Blob, error) {
	var b Blob
	err := db.view(ctx, func(txn *badger.Txn) error { return getJSON(txn, blobKey(scope, digest), &b) })
	if err == nil {
		_, err = db.blobAEAD(b.Upload, b.Sealed)
	}
	return b, db.absentBlob(err, "read blob", "There is no blob %s.", digest)
}

// BindBlob records that a live entry of record names the blob digest of
// scope, so that the record reads it wherever the record moves
// (BoundBlob) and the blob is erased once no record names it
// (ReleaseBlobs). CodeNotFound when the scope holds no such blob.
func (db *DB) BindBlob(ctx context.Context, record, scope, digest string) error {
	err := db.update(ctx, func(txn *badger.Txn) error {
		// The head is written back as it is, so that a release or a
		// retention erasure that found the blob unbound (and read its
		// head) conflicts with this binding instead of erasing a bound
		// blob.
		head, err := getValue(txn, blobKey(scope, digest))
		if err != nil {
			return err
		}
		if err := txn.Set(blobKey(scope, digest), head); err != nil {
			return err
		}
		if err := txn.Set(bindingKey(scope, digest, record), nil); err != nil {
			return err
		}
		return txn.Set(recordBindingKey(record, digest), []byte(scope))
	})
	return absent(err, "bind blob", func() error { return notFound("There is no blob %s.", digest) })
}

// BoundBlob returns the blob digest bound to record (BindBlob), whatever
// scope the record is in now; CodeNotFound when there is none or its
// data key is gone.
func (db *DB) BoundBlob(ctx context.Context, record, digest string) (Blob, error) {
	var scope string
	err := db.view(ctx, func(txn *badger.Txn) error {
		v, err := getValue(txn, recordBindingKey(record, digest))
		scope = string(v)
		return err
	})
	if err != nil {
		return Blob{}, absent(err, "read blob binding", func() error { return notFound("There is no blob %s.", digest) })
	}
	return db.Blob(ctx, scope, digest)
}

// ReleaseBlobs removes the bindings of record whose digest keep does not
// accept (the record's entries naming it are all redacted, or the record
// is gone) and returns the blobs left with no binding at all: the caller
// erases those no other live entry names (DeleteBlob).
func (db *DB) ReleaseBlobs(ctx context.Context, record string, keep func(digest string) bool) ([]Blob, error) {
	var orphans []Blob
	err := db.update(ctx, func(txn *badger.Txn) error {
		var err error
		orphans, err = releaseBindings(txn, record, keep)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("release blobs: %w", err)
	}
	return orphans, nil
}

// releaseBindings deletes, in txn, the bindings of record whose digest
// keep does not accept (nil: every binding) and returns the blobs left
// with no binding at all.
func releaseBindings(txn *badger.Txn, record string, keep func(digest string) bool) ([]Blob, error) {
	prefix := []byte(prefixRecordBinding + record + "/")
	var gone [][2]string // digest, scope
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	for it.Rewind(); it.Valid(); it.Next() {
		digest := string(it.Item().Key()[len(prefix):])
		if keep != nil && keep(digest) {
			continue
		}
		v, err := it.Item().ValueCopy(nil)
		if err != nil {
			it.Close()
			return nil, err
		}
		gone = append(gone, [2]string{digest, string(v)})
	}
	it.Close()
	var orphans []Blob
	for _, g := range gone {
		digest, scope := g[0], g[1]
		if err := deleteKeys(txn, recordBindingKey(record, digest), bindingKey(scope, digest, record)); err != nil {
			return nil, err
		}
		bound, err := hasPrefix(txn, []byte(prefixBinding+scope+"/"+digest+"/"))
		if err != nil || bound {
			if err != nil {
				return nil, err
			}
			continue
		}
		var b Blob
		if err := getJSON(txn, blobKey(scope, digest), &b); errors.Is(err, badger.ErrKeyNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		orphans = append(orphans, b)
	}
	return orphans, nil
}

// Bindings calls fn with every binding (BindBlob): record, digest, scope.
func (db *DB) Bindings(ctx context.Context, fn func(record, digest, scope string) error) error {
	var all [][3]string
	err := db.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixRecordBinding)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			rec, digest, _ := strings.Cut(string(it.Item().Key()[len(prefixRecordBinding):]), "/")
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			all = append(all, [3]string{rec, digest, string(v)})
		}
		return nil
	})
	for _, b := range all {
		if err == nil {
			err = fn(b[0], b[1], b[2])
		}
	}
	if err != nil {
		return fmt.Errorf("read blob bindings: %w", err)
	}
	return nil
}

// hasPrefix reports whether any key starts with prefix.
func hasPrefix(txn *badger.Txn, prefix []byte) (bool, error) {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	it.Rewind()
	return it.Valid(), nil
}

// AppendUpload writes data at offset of upload id, in chunks of at most
// ChunkSize, and its new offset, in one transaction committed with
// SyncWrites: once it returns nil the bytes are durable. An offset other
// than the acknowledged one is CodeUploadOffset (the upload's current
// offset is returned), bytes past the declared size CodeBlobTooLarge.
func (db *DB) AppendUpload(ctx context.Context, id string, offset int64, data []byte) (int64, error) {
	var cur int64
	err := db.update(ctx, func(txn *badger.Txn) error {
		var u Upload
		if err := getJSON(txn, key(prefixUpload, id), &u); err != nil {
			return err
		}
		aead, err := db.blobAEAD(u.ID, u.Sealed)
		if err != nil {
			return err
		}
		cur = u.Offset
		if u.Complete || offset != u.Offset {
			return model.Errorf(model.CodeUploadOffset, "A chunk must start at the upload's acknowledged offset (sent in Upload-Offset).")
		}
		if offset+int64(len(data)) > u.Size {
			return model.Errorf(model.CodeBlobTooLarge, "The chunk goes past the size declared for the upload.")
		}
		for len(data) > 0 {
			n := min(len(data), ChunkSize)
			if err := txn.Set(chunkKey(id, u.Offset), sealChunk(aead, id, u.Offset, data[:n])); err != nil {
				return err
			}
			u.Offset += int64(n)
			data = data[n:]
		}
		cur = u.Offset
		return setJSON(txn, key(prefixUpload, id), u)
	})
	return cur, db.absentBlob(err, "append upload", "There is no upload %s.", id)
}

// chunkAD is the additional data of a sealed chunk: its key id and
// offset, so a chunk cannot be moved to another blob or place.
func chunkAD(upload string, offset int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(blobKeyID(upload)), uint64(offset))
}

// sealChunk returns the value of the chunk data at offset of upload: a
// copy of data (aead nil: a plain upload), or a random nonce and data
// sealed.
func sealChunk(aead cipher.AEAD, upload string, offset int64, data []byte) []byte {
	if aead == nil {
		return append([]byte(nil), data...)
	}
	v := make([]byte, aead.NonceSize(), aead.NonceSize()+len(data)+aead.Overhead())
	_, _ = rand.Read(v)
	return aead.Seal(v, v, data, chunkAD(upload, offset))
}

// openChunk returns the bytes of a chunk value sealChunk made.
func openChunk(aead cipher.AEAD, upload string, offset int64, v []byte) ([]byte, error) {
	if aead == nil {
		return v, nil
	}
	if len(v) < aead.NonceSize() {
		return nil, errors.New("a sealed blob chunk is damaged")
	}
	b, err := aead.Open(nil, v[:aead.NonceSize()], v[aead.NonceSize():], chunkAD(upload, offset))
	if err != nil {
		return nil, errors.New("a sealed blob chunk does not open: damaged")
	}
	return b, nil
}

// CompleteUpload verifies a fully received upload: its bytes must hash to
// its digest and check (given the first bytes) must accept them and name
// their media type. A refused upload is deleted with its chunks, so
// bytes that do not match their digest are never served. The blob is
// stored under its scope and digest.
func (db *DB) CompleteUpload(ctx context.Context, id string, check func(head []byte) (string, error)) (Blob, error) {
	u, err := db.Upload(ctx, id)
	if err != nil {
		return Blob{}, err
	}
	if u.Offset != u.Size {
		return Blob{}, model.Errorf(model.CodeUploadOffset, "The upload is not complete: send the rest from its acknowledged offset.")
	}
	h := sha256.New()
	head := &headWriter{max: 512}
	if err := db.readChunks(ctx, u.ID, u.Sealed, 0, u.Size, io.MultiWriter(h, head)); err != nil {
		return Blob{}, err
	}
	if hex.EncodeToString(h.Sum(nil)) != u.Digest {
		return Blob{}, db.refuse(ctx, u, model.Errorf(model.CodeDigestMismatch, "The bytes received do not match the upload's digest; the upload is deleted."))
	}
	media, err := check(head.buf)
	if err != nil {
		return Blob{}, db.refuse(ctx, u, err)
	}
	b := Blob{Scope: u.Scope, Digest: u.Digest, Size: u.Size, MediaType: media, Upload: u.ID, At: u.At, Sealed: u.Sealed}
	err = db.update(ctx, func(txn *badger.Txn) error {
		u.Complete = true
		if err := setJSON(txn, key(prefixUpload, u.ID), u); err != nil {
			return err
		}
		return setJSON(txn, blobKey(b.Scope, b.Digest), b)
	})
	if err != nil {
		return Blob{}, fmt.Errorf("complete upload: %w", err)
	}
	return b, nil
}

// refuse deletes a refused upload and returns why it was refused.
func (db *DB) refuse(ctx context.Context, u Upload, why error) error {
	if err := db.deleteUpload(ctx, u.ID, nil); err != nil {
		return fmt.Errorf("delete refused upload: %w", err)
	}
	return why
}

// headWriter keeps the first max bytes written to it.
type headWriter struct {
	buf []byte
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if n := w.max - len(w.buf); n > 0 {
		w.buf = append(w.buf, p[:min(n, len(p))]...)
	}
	return len(p), nil
}

// ReadBlob writes n bytes of b from offset off to w; CodeNotFound when
// its data key is gone (nothing is written then).
func (db *DB) ReadBlob(ctx context.Context, b Blob, off, n int64, w io.Writer) error {
	err := db.readChunks(ctx, b.Upload, b.Sealed, off, off+n, w)
	return db.absentBlob(err, "read blob", "There is no blob %s.", b.Digest)
}

// readChunks writes the bytes [from, to) of an upload's chunks to w;
// errBlobErased, before writing anything, when the upload is sealed and
// its data key is gone.
func (db *DB) readChunks(ctx context.Context, upload string, sealed bool, from, to int64, w io.Writer) error {
	aead, err := db.blobAEAD(upload, sealed)
	if err != nil {
		return err
	}
	over := int64(0)
	if aead != nil {
		over = int64(aead.NonceSize() + aead.Overhead())
	}
	return db.view(ctx, func(txn *badger.Txn) error {
		prefix := key(prefixChunk, upload)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			start := int64(binary.BigEndian.Uint64(item.Key()[len(prefix):]))
			end := start + item.ValueSize() - over
			if end <= from {
				continue
			}
			if start >= to {
				return nil
			}
			err := item.Value(func(v []byte) error {
				v, err := openChunk(aead, upload, start, v)
				if err != nil {
					return err
				}
				_, err = w.Write(v[max(from-start, 0) : min(to, end)-start])
				return err
			})
			if err != nil {
				return fmt.Errorf("read blob chunk: %w", err)
			}
		}
		return nil
	})
}

// deleteUpload erases an upload: it destroys its data key, so that its
// chunks can no longer be read from any copy of the store, then deletes
// the upload, its chunks and (b not nil) its blob head and bindings. A
// crash in between leaves keys that read as absent (Upload, Blob) and
// that the next sweep deletes.
func (db *DB) deleteUpload(ctx context.Context, id string, b *Blob) error {
	if err := db.keys.destroy([]string{blobKeyID(id)}); err != nil {
		return err
	}
	return db.update(ctx, func(txn *badger.Txn) error {
		var keys [][]byte
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key(prefixChunk, id)})
		for it.Rewind(); it.Valid(); it.Next() {
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		it.Close()
		keys = append(keys, key(prefixUpload, id))
		if b != nil {
			keys = append(keys, blobKey(b.Scope, b.Digest))
			prefix := []byte(prefixBinding + b.Scope + "/" + b.Digest + "/")
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			for it.Rewind(); it.Valid(); it.Next() {
				rec := string(it.Item().Key()[len(prefix):])
				keys = append(keys, it.Item().KeyCopy(nil), recordBindingKey(rec, b.Digest))
			}
			it.Close()
		}
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ExpireUploads erases every incomplete upload started before cutoff,
// with its chunks, deletes every upload whose data key is gone (erased:
// a deletion a crash interrupted, or a blob erased after the backup this
// store was restored from), and returns how many it deleted.
func (db *DB) ExpireUploads(ctx context.Context, cutoff time.Time) (int, error) {
	var old []string
	err := db.view(ctx, func(txn *badger.Txn) error {
		return scanJSON(txn, prefixUpload, func(v []byte) error {
			var u Upload
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			_, erased := db.blobAEAD(u.ID, u.Sealed)
			if !u.Complete && u.At.Before(cutoff) || erased != nil {
				old = append(old, u.ID)
			}
			return nil
		})
	})
	for _, id := range old {
		if err == nil {
			err = db.deleteUpload(ctx, id, nil)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("expire uploads: %w", err)
	}
	return len(old), nil
}

// Blobs calls fn with every completed blob, Erased set on those whose
// data key is gone.
func (db *DB) Blobs(ctx context.Context, fn func(b Blob) error) error {
	var all []Blob
	err := db.view(ctx, func(txn *badger.Txn) error {
		return scanJSON(txn, prefixBlob, func(v []byte) error {
			var b Blob
			all = append(all, b)
			return json.Unmarshal(v, &all[len(all)-1])
		})
	})
	for _, b := range all {
		_, gone := db.blobAEAD(b.Upload, b.Sealed)
		b.Erased = gone != nil
		if err == nil {
			err = fn(b)
		}
	}
	return err
}

// DeleteBlob erases a blob: it destroys its data key (from then on its
// bytes cannot be read from the data directory or from any backup), then
// deletes its head, bindings, upload and chunks, whose space badger
// reclaims at its next value-log and LSM compactions.
func (db *DB) DeleteBlob(ctx context.Context, b Blob) error {
	if err := db.deleteUpload(ctx, b.Upload, &b); err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("delete blob: %w", err)
	}
	return nil
}
