package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
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
			if it.Item().ValueSize() > ChunkSize+sealOverhead {
				t.Errorf("a chunk value of %d bytes", it.Item().ValueSize())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// canaryBlob stores a completed blob of 300 KiB (two chunks) holding
// canary in its first chunk, and returns it.
func canaryBlob(t *testing.T, db *DB, canary string) Blob {
	t.Helper()
	ctx := t.Context()
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(i*7 + i/251)
	}
	copy(data[1000:], canary)
	sum := sha256.Sum256(data)
	u := Upload{ID: newID(), Scope: "t:x", Digest: hex.EncodeToString(sum[:]), Size: int64(len(data)), At: time.Unix(0, 0)}
	if err := db.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := db.AppendUpload(ctx, u.ID, 0, data); err != nil {
		t.Fatal(err)
	}
	b, err := db.CompleteUpload(ctx, u.ID, func([]byte) (string, error) { return "image/jpeg", nil })
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// blobVersionsHolding reads every version of every blob chunk through
// badger, opened with the store's data keys where they exist, and
// returns how many hold s.
func blobVersionsHolding(t *testing.T, db *DB, s string) int {
	t.Helper()
	n := 0
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true, Prefix: []byte(prefixChunk)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			v, err := it.Item().ValueCopy(nil)
			if err != nil || len(v) == 0 {
				continue // a deletion marker
			}
			upload := string(k[len(prefixChunk) : len(prefixChunk)+idLen])
			off := int64(binary.BigEndian.Uint64(k[len(prefixChunk)+idLen:]))
			if bytes.Contains(v, []byte(s)) {
				n++
			} else if aead := db.keys.key(blobKeyID(upload)); aead != nil {
				if p, err := openChunk(aead, upload, off, v); err == nil && bytes.Contains(p, []byte(s)) {
					n++
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBlobErasureReachesTheBytes (issues 12 and 16): once a blob is
// deleted (the last entry naming it redacted, an orphan swept), its
// canary is in no file of the store's directory and in no version
// badger holds, opened with the store's keys; the same holds for an
// incomplete upload that expired. The controls find the canary: through
// badger with the keys when the blob is kept, and in the raw files when
// values are stored plain (the scan sees blob bytes). On the code before
// blob keys, the deleted cases found the canary in the value log.
func TestBlobErasureReachesTheBytes(t *testing.T) {
	for _, tc := range []struct {
		name              string
		opt               Options
		erase, expire     bool
		wantFiles, wantDB bool
	}{
		{name: "deleted", erase: true},
		{name: "deleted, encrypted at rest", opt: Options{EncryptionKey: bytes.Repeat([]byte{7}, 32)}, erase: true},
		{name: "incomplete upload expired", expire: true},
		{name: "control: kept", wantDB: true},
		{name: "control: kept, encrypted at rest", opt: Options{EncryptionKey: bytes.Repeat([]byte{7}, 32)}, wantDB: true},
		{name: "control: plain values, kept", opt: Options{plainValues: true}, wantFiles: true, wantDB: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.GCInterval = -1
			dir, canary := t.TempDir(), canaryText()
			db := openAt(t, dir, tc.opt)
			ctx := t.Context()
			if tc.expire {
				u := Upload{ID: newID(), Scope: "t:x", Digest: strings.Repeat("a", 64), Size: 1 << 20, At: time.Unix(0, 0)}
				if err := db.CreateUpload(ctx, u); err != nil {
					t.Fatal(err)
				}
				chunk := bytes.Repeat([]byte("-"), 4096)
				copy(chunk[100:], canary)
				if _, err := db.AppendUpload(ctx, u.ID, 0, chunk); err != nil {
					t.Fatal(err)
				}
				if n, err := db.ExpireUploads(ctx, time.Unix(1, 0)); err != nil || n != 1 {
					t.Fatalf("ExpireUploads = %d, %v", n, err)
				}
			} else {
				b := canaryBlob(t, db, canary)
				if tc.erase {
					if err := db.DeleteBlob(ctx, b); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if got := filesHolding(t, dir, canary); (len(got) > 0) != tc.wantFiles {
				t.Errorf("files holding the canary: %v, want some: %v", got, tc.wantFiles)
			}
			db = openAt(t, dir, tc.opt)
			if got := blobVersionsHolding(t, db, canary); (got > 0) != tc.wantDB {
				t.Errorf("chunk versions holding the canary: %d, want some: %v", got, tc.wantDB)
			}
		})
	}
}

// TestBlobBackupRespectsLaterErasure: a store backup taken before a
// blob's deletion, restored with the key store as it is after the
// deletion, holds the blob's head but not its bytes: the blob reads as
// absent (CodeNotFound) and its chunks open to nothing, while another
// blob restores intact. The control restores the key backup of the
// backup's time: the blob reads back.
func TestBlobBackupRespectsLaterErasure(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{GCInterval: -1})
	canary := canaryText()
	gone, kept := canaryBlob(t, db, canary), canaryBlob(t, db, canaryText())
	oldStore, oldKeys := backupOf(t, db)
	if err := db.DeleteBlob(ctx, gone); err != nil {
		t.Fatal(err)
	}
	_, keysNow := backupOf(t, db)
	for _, tc := range []struct {
		name       string
		keys       []byte
		wantErased bool
	}{{"keys after the deletion", keysNow, true}, {"control: keys of the backup's time", oldKeys, false}} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := restoreInto(t, oldStore, tc.keys)
			_, err := r.Blob(ctx, gone.Scope, gone.Digest)
			if got := model.ErrorCode(err) == model.CodeNotFound; got != tc.wantErased {
				t.Errorf("Blob of the deleted blob: %v", err)
			}
			var out bytes.Buffer
			err = r.ReadBlob(ctx, gone, 0, gone.Size, &out)
			if got := model.ErrorCode(err) == model.CodeNotFound && out.Len() == 0; got != tc.wantErased {
				t.Errorf("ReadBlob of the deleted blob: %v, %d bytes", err, out.Len())
			}
			if got := blobVersionsHolding(t, r, canary) > 0; got == tc.wantErased {
				t.Errorf("chunk versions holding the canary: %v", got)
			}
			out.Reset()
			if err := r.ReadBlob(ctx, kept, 0, kept.Size, &out); err != nil || int64(out.Len()) != kept.Size {
				t.Errorf("the kept blob: %v, %d bytes", err, out.Len())
			}
		})
	}
}

// TestBlobBindings: a binding lets a record read its blob from another
// scope; releasing the record's last binding of a blob reports it as an
// orphan, not before; DeleteBlob removes its bindings.
func TestBlobBindings(t *testing.T) {
	ctx := t.Context()
	db := openTest(t, Options{})
	b := canaryBlob(t, db, "x")
	r1, r2 := newID(), newID()
	if err := db.BindBlob(ctx, r1, "t:other", b.Digest); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("binding to a scope without the blob: %v, want not_found", err)
	}
	for _, r := range []string{r1, r2} {
		if err := db.BindBlob(ctx, r, b.Scope, b.Digest); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := db.BoundBlob(ctx, r1, b.Digest); err != nil || got.Upload != b.Upload {
		t.Fatalf("BoundBlob = %+v, %v", got, err)
	}
	none := func(string) bool { return false }
	if orphans, err := db.ReleaseBlobs(ctx, r1, none); err != nil || len(orphans) != 0 {
		t.Fatalf("release of one of two bindings: %v, %v", orphans, err)
	}
	if _, err := db.BoundBlob(ctx, r1, b.Digest); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("BoundBlob after release: %v", err)
	}
	orphans, err := db.ReleaseBlobs(ctx, r2, none)
	if err != nil || len(orphans) != 1 || orphans[0].Digest != b.Digest {
		t.Fatalf("release of the last binding: %v, %v", orphans, err)
	}
	if err := db.BindBlob(ctx, r1, b.Scope, b.Digest); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteBlob(ctx, b); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := db.Bindings(ctx, func(string, string, string) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("bindings after DeleteBlob: %d, %v", n, err)
	}
}

// TestExpireUploadsDeletesErasedUploads: an upload whose data key is gone
// (complete or not, however young) is deleted with its chunks; on the
// code before, a complete one stayed forever once its blob head named
// another upload.
func TestExpireUploadsDeletesErasedUploads(t *testing.T) {
	ctx := t.Context()
	db := openTest(t, Options{})
	b := canaryBlob(t, db, "x")
	kept := canaryBlob(t, db, "y")
	if err := db.keys.destroy([]string{blobKeyID(b.Upload)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Upload(ctx, b.Upload); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("an upload whose key is gone: %v, want not_found", err)
	}
	if n, err := db.ExpireUploads(ctx, time.Unix(0, 0)); err != nil || n != 1 {
		t.Fatalf("ExpireUploads = %d, %v; want 1", n, err)
	}
	err := db.view(ctx, func(txn *badger.Txn) error {
		for _, p := range [][]byte{key(prefixChunk, b.Upload), key(prefixUpload, b.Upload)} {
			if found, _ := hasPrefix(txn, p); found {
				t.Errorf("keys under %s are left", p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Upload(ctx, kept.Upload); err != nil {
		t.Errorf("the other upload: %v", err)
	}
}

// TestSweepBlobKeys: a blob key without its upload (a crash between the
// key's creation and the upload's commit) is destroyed; the keys of
// stored uploads and of ops are kept.
func TestSweepBlobKeys(t *testing.T) {
	ctx := t.Context()
	db := openTest(t, Options{})
	b := canaryBlob(t, db, "x")
	lost, op := blobKeyID(newID()), newID()
	for _, id := range []string{lost, op} {
		if _, err := db.keys.create(id); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := db.SweepBlobKeys(ctx); err != nil || n != 1 {
		t.Fatalf("SweepBlobKeys = %d, %v; want 1", n, err)
	}
	if db.keys.key(lost) != nil {
		t.Error("the key without an upload is live")
	}
	if db.keys.key(op) == nil || db.keys.key(blobKeyID(b.Upload)) == nil {
		t.Error("a key of an op or of a stored upload was destroyed")
	}
	if id, ok := uploadOfKey(blobKeyID(b.Upload)); !ok || id != b.Upload {
		t.Errorf("uploadOfKey = %q, %v; want %q", id, ok, b.Upload)
	}
}

// TestReleaseBlobsGoesOnPastASharedBlob: releasing a record's bindings
// releases all of them even when one of its blobs (the first in key
// order) is still bound to another record: the other blob is reported as
// an orphan and the record binds neither. On the code before, the
// release stopped at the shared blob and kept the rest bound.
func TestReleaseBlobsGoesOnPastASharedBlob(t *testing.T) {
	ctx := t.Context()
	db := openTest(t, Options{GCInterval: -1})
	x, y := canaryBlob(t, db, canaryText()), canaryBlob(t, db, canaryText())
	shared, alone := x, y
	if y.Digest < x.Digest {
		shared, alone = y, x
	}
	rec, other := newID(), newID()
	for _, bind := range [][2]string{{rec, shared.Digest}, {rec, alone.Digest}, {other, shared.Digest}} {
		if err := db.BindBlob(ctx, bind[0], "t:x", bind[1]); err != nil {
			t.Fatal(err)
		}
	}
	orphans, err := db.ReleaseBlobs(ctx, rec, func(string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || orphans[0].Digest != alone.Digest {
		t.Errorf("orphans = %+v, want only the blob no other record binds", orphans)
	}
	if _, err := db.BoundBlob(ctx, rec, alone.Digest); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("the released record still binds the other blob: %v", err)
	}
}
