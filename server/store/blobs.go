package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
)

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
}

// Blob is a completed, verified blob of a scope.
type Blob struct {
	Scope     string    `json:"scope"`
	Digest    string    `json:"digest"`
	Size      int64     `json:"size"`
	MediaType string    `json:"media_type"`
	Upload    string    `json:"upload"`
	At        time.Time `json:"at"`
}

func blobKey(scope, digest string) []byte { return key2(prefixBlob, scope, digest) }

func chunkKey(upload string, offset int64) []byte {
	return binary.BigEndian.AppendUint64(key(prefixChunk, upload), uint64(offset))
}

// CreateUpload stores a new upload at offset 0.
func (db *DB) CreateUpload(ctx context.Context, u Upload) error {
	err := db.update(ctx, func(txn *badger.Txn) error { return setJSON(txn, key(prefixUpload, u.ID), u) })
	if err != nil {
		return fmt.Errorf("create upload: %w", err)
	}
	return nil
}

// Upload returns an upload; CodeNotFound when there is none.
func (db *DB) Upload(ctx context.Context, id string) (Upload, error) {
	var u Upload
	err := db.view(ctx, func(txn *badger.Txn) error { return getJSON(txn, key(prefixUpload, id), &u) })
	return u, absent(err, "read upload", func() error { return notFound("There is no upload %s.", id) })
}

// Blob returns the completed blob of a scope; CodeNotFound when there is
// none.
func (db *DB) Blob(ctx context.Context, scope, digest string) (Blob, error) {
	var b Blob
	err := db.view(ctx, func(txn *badger.Txn) error { return getJSON(txn, blobKey(scope, digest), &b) })
	return b, absent(err, "read blob", func() error { return notFound("There is no blob %s.", digest) })
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
		cur = u.Offset
		if u.Complete || offset != u.Offset {
			return model.Errorf(model.CodeUploadOffset, "A chunk must start at the upload's acknowledged offset (sent in Upload-Offset).")
		}
		if offset+int64(len(data)) > u.Size {
			return model.Errorf(model.CodeBlobTooLarge, "The chunk goes past the size declared for the upload.")
		}
		for len(data) > 0 {
			n := min(len(data), ChunkSize)
			if err := txn.Set(chunkKey(id, u.Offset), bytes.Clone(data[:n])); err != nil {
				return err
			}
			u.Offset += int64(n)
			data = data[n:]
		}
		cur = u.Offset
		return setJSON(txn, key(prefixUpload, id), u)
	})
	return cur, absent(err, "append upload", func() error { return notFound("There is no upload %s.", id) })
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
	if err := db.readChunks(ctx, u.ID, 0, u.Size, io.MultiWriter(h, head)); err != nil {
		return Blob{}, err
	}
	if hex.EncodeToString(h.Sum(nil)) != u.Digest {
		return Blob{}, db.refuse(ctx, u, model.Errorf(model.CodeDigestMismatch, "The bytes received do not match the upload's digest; the upload is deleted."))
	}
	media, err := check(head.buf)
	if err != nil {
		return Blob{}, db.refuse(ctx, u, err)
	}
	b := Blob{Scope: u.Scope, Digest: u.Digest, Size: u.Size, MediaType: media, Upload: u.ID, At: u.At}
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

// ReadBlob writes n bytes of b from offset off to w.
func (db *DB) ReadBlob(ctx context.Context, b Blob, off, n int64, w io.Writer) error {
	return db.readChunks(ctx, b.Upload, off, off+n, w)
}

// readChunks writes the bytes [from, to) of an upload's chunks to w.
func (db *DB) readChunks(ctx context.Context, upload string, from, to int64, w io.Writer) error {
	return db.view(ctx, func(txn *badger.Txn) error {
		prefix := key(prefixChunk, upload)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			start := int64(binary.BigEndian.Uint64(item.Key()[len(prefix):]))
			end := start + item.ValueSize()
			if end <= from {
				continue
			}
			if start >= to {
				return nil
			}
			err := item.Value(func(v []byte) error {
				_, err := w.Write(v[max(from-start, 0) : min(to, end)-start])
				return err
			})
			if err != nil {
				return fmt.Errorf("read blob chunk: %w", err)
			}
		}
		return nil
	})
}

// deleteUpload deletes an upload, its chunks and (b not nil) its blob head.
func (db *DB) deleteUpload(ctx context.Context, id string, b *Blob) error {
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
		}
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// ExpireUploads deletes every incomplete upload started before cutoff,
// with its chunks, and returns how many it deleted.
func (db *DB) ExpireUploads(ctx context.Context, cutoff time.Time) (int, error) {
	var old []string
	err := db.view(ctx, func(txn *badger.Txn) error {
		return scanJSON(txn, prefixUpload, func(v []byte) error {
			var u Upload
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			if !u.Complete && u.At.Before(cutoff) {
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

// Blobs calls fn with every completed blob.
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
		if err == nil {
			err = fn(b)
		}
	}
	return err
}

// DeleteBlob deletes a blob: its head, its upload and its chunks. Badger
// reclaims the bytes at its next value-log and LSM compactions; the
// data-lifecycle issue's data keys make the erasure immediate.
func (db *DB) DeleteBlob(ctx context.Context, b Blob) error {
	if err := db.deleteUpload(ctx, b.Upload, &b); err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("delete blob: %w", err)
	}
	return nil
}
