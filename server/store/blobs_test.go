package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
)

// TestBlobChunksAndRanges: an upload's bytes are stored in values of at
// most ChunkSize, a chunk at any other offset than the acknowledged one is
// upload_offset, bytes past the size blob_too_large, and any range reads
// back the bytes written, across chunk boundaries.
func TestBlobChunksAndRanges(t *testing.T) {
	db := openTest(t, Options{})
	ctx := t.Context()
	data := make([]byte, 2*ChunkSize+1000)
	for i := range data {
		data[i] = byte(i * 31)
	}
	sum := sha256.Sum256(data)
	u := Upload{ID: "0193f2a1-b2c3-7000-8000-0000000000b1", Scope: "t:x", Digest: hex.EncodeToString(sum[:]), Size: int64(len(data)), At: time.Unix(0, 0)}
	if err := db.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	if off, err := db.AppendUpload(ctx, u.ID, 0, data[:ChunkSize+10]); err != nil || off != ChunkSize+10 {
		t.Fatalf("append = %d, %v", off, err)
	}
	if off, err := db.AppendUpload(ctx, u.ID, 0, data[:10]); model.ErrorCode(err) != model.CodeUploadOffset || off != ChunkSize+10 {
		t.Fatalf("append at 0 = %d, %v; want upload_offset at %d", off, err, ChunkSize+10)
	}
	if _, err := db.AppendUpload(ctx, u.ID, ChunkSize+10, append(bytes.Clone(data[ChunkSize+10:]), 1)); model.ErrorCode(err) != model.CodeBlobTooLarge {
		t.Fatalf("append past the size: %v, want blob_too_large", err)
	}
	if _, err := db.AppendUpload(ctx, u.ID, ChunkSize+10, data[ChunkSize+10:]); err != nil {
		t.Fatal(err)
	}
	b, err := db.CompleteUpload(ctx, u.ID, func([]byte) (string, error) { return "image/png", nil })
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]int64{{0, int64(len(data))}, {ChunkSize - 3, 20}, {ChunkSize + 9, 2}, {int64(len(data)) - 1, 1}} {
		var out bytes.Buffer
		if err := db.ReadBlob(ctx, b, r[0], r[1], &out); err != nil {
			t.Fatal(err)
		}
		if want := data[r[0] : r[0]+r[1]]; !bytes.Equal(out.Bytes(), want) {
			t.Errorf("ReadBlob(%d, %d) = %d bytes, not the bytes written", r[0], r[1], out.Len())
		}
	}
	err = db.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: key(prefixChunk, u.ID)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if it.Item().ValueSize() > ChunkSize {
				t.Errorf("a chunk value of %d bytes", it.Item().ValueSize())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
