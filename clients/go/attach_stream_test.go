package fieldsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// strictReader is a file that fails the test when it is read in a piece
// larger than max, or when any byte is read more than once (the first
// sniffBytes may be read twice: to name the type, then to copy them).
type strictReader struct {
	t     *testing.T
	data  []byte
	max   int
	times []uint8
}

func newStrictReader(t *testing.T, data []byte, max int) *strictReader {
	return &strictReader{t: t, data: data, max: max, times: make([]uint8, len(data))}
}

func (s *strictReader) ReadAt(p []byte, off int64) (int, error) {
	if len(p) > s.max {
		s.t.Errorf("a read of %d bytes at %d: the file is read in pieces larger than %d", len(p), off, s.max)
		return 0, fmt.Errorf("read of %d bytes refused", len(p))
	}
	if off >= int64(len(s.data)) {
		return 0, io.EOF
	}
	n := copy(p, s.data[off:])
	for i := off; i < off+int64(n); i++ {
		if s.times[i]++; s.times[i] > 1 && (i >= sniffBytes || s.times[i] > 2) {
			s.t.Errorf("byte %d of the file is read %d times", i, s.times[i])
			return 0, fmt.Errorf("byte %d read again", i)
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// scan returns n bytes that sniff as a PDF, random past the magic.
func scan(n int) []byte {
	data := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{16})
	_, _ = rng.Read(data)
	return append([]byte("%PDF-1.7\n"), data[9:]...)
}

// queuedOf returns the pending upload of the file digest and its bytes
// as the replica holds them.
func queuedOf(t *testing.T, c *Client, digest string) (pendingUpload, []byte) {
	t.Helper()
	var found []pendingUpload
	err := c.view(func(b *badger.Txn) error {
		for _, key := range prefixKeys(b, []byte(prefixUpload)) {
			if strings.HasSuffix(string(key), "/"+digest) {
				v, err := getValue(b, key)
				if err != nil {
					return err
				}
				var p pendingUpload
				if err := json.Unmarshal(v, &p); err != nil {
					return err
				}
				found = append(found, p)
			}
		}
		return nil
	})
	if err != nil || len(found) != 1 {
		t.Fatalf("pending uploads of %s: %d, %v; want one", digest, len(found), err)
	}
	data := make([]byte, found[0].Request.Size)
	if _, err := readFull(queuedFile{c, found[0].chunks()}, data, 0); err != nil {
		t.Fatal(err)
	}
	return found[0], data
}

// chunkKeys counts the b/ keys of the replica.
func chunkKeys(t *testing.T, c *Client) int {
	t.Helper()
	n := 0
	if err := c.view(func(b *badger.Txn) error { n = len(prefixKeys(b, []byte(prefixBlob))); return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAttachFromStreamsFileInChunks: an 8 MiB scan is copied into the
// replica without ever being held whole: read once, one chunk at a time
// (strictReader fails the test otherwise), stored as 8 chunks whose
// bytes and digest are the file's.
func TestAttachFromStreamsFileInChunks(t *testing.T) {
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	ctx := context.Background()
	id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "potential")))
	data := scan(8 * DefaultUploadChunk)
	src := newStrictReader(t, data, DefaultUploadChunk)
	a := must[Attached](t)(c.AttachFrom(ctx, id, src, int64(len(data)), AttachOptions{Name: "scan.pdf"}))
	sum := sha256.Sum256(data)
	if a.Digest != hex.EncodeToString(sum[:]) || a.Size != int64(len(data)) || a.MediaType != "application/pdf" {
		t.Errorf("attached %+v; want the scan's digest, size and type", a.BlobInfo)
	}
	for i, n := range src.times {
		if n == 0 {
			t.Fatalf("byte %d of the file was never read", i)
		}
	}
	if _, got := queuedOf(t, c, a.Digest); !bytes.Equal(got, data) {
		t.Errorf("the replica holds %d bytes that are not the file", len(got))
	}
	if got, want := chunkKeys(t, c), 8; got != want {
		t.Errorf("the file is stored in %d chunks, want %d", got, want)
	}
}

// patchSink answers every PATCH of an upload itself (acknowledging its
// bytes) and counts the bytes and the largest body; anything else goes
// to the network.
type patchSink struct {
	bytes, largest atomic.Int64
}

func (p *patchSink) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPatch {
		return http.DefaultTransport.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	off, _ := strconv.ParseInt(req.Header.Get("Upload-Offset"), 10, 64)
	p.bytes.Add(int64(len(body)))
	if int64(len(body)) > p.largest.Load() {
		p.largest.Store(int64(len(body)))
	}
	h := http.Header{"Upload-Offset": {strconv.FormatInt(off+int64(len(body)), 10)}}
	return &http.Response{StatusCode: http.StatusNoContent, Header: h, Body: http.NoBody, Request: req}, nil
}

// TestUploaderSendsFromReaderInChunks: the upload of a queued file reads
// it one chunk at a time (strictReader), each byte once, each chunk a
// PATCH of at most ChunkSize bytes.
func TestUploaderSendsFromReaderInChunks(t *testing.T) {
	f := newFakeServer(t)
	sink := &patchSink{}
	c := loggedIn(t, t.TempDir(), f, func(o *Options) { o.HTTPClient = &http.Client{Transport: sink} })
	const chunk = 256 << 10
	data := scan(3*chunk + 1000)
	u := &Uploader{Client: c, ChunkSize: chunk}
	if err := u.send(context.Background(), "u1", newStrictReader(t, data, chunk), int64(len(data)), 0); err != nil {
		t.Fatal(err)
	}
	if got, want := sink.bytes.Load(), int64(len(data)); got != want {
		t.Errorf("sent %d bytes, want %d", got, want)
	}
	if got := sink.largest.Load(); got > chunk {
		t.Errorf("a PATCH of %d bytes, more than the chunk size %d", got, chunk)
	}
}

// TestAttachFromStripsHEIC: a HEIC attached is queued without its Exif
// GPS and XMP (the bytes StripMetadata gives, same length); with
// KeepMetadata it is queued as it is; a HEIC the SDK cannot follow is
// refused with media_type, and leaves no entry and no chunk behind.
func TestAttachFromStripsHEIC(t *testing.T) {
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	ctx := context.Background()
	id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "potential")))
	photo := phoneHEIC(false).data
	want := must[[]byte](t)(StripMetadata(photo))
	a := must[Attached](t)(c.AttachFrom(ctx, id, bytes.NewReader(photo), int64(len(photo)), AttachOptions{}))
	if _, got := queuedOf(t, c, a.Digest); !bytes.Equal(got, want) || bytes.Contains(got, gpsRationals) || a.MediaType != "image/heic" {
		t.Errorf("the queued HEIC (%s) is not the stripped photo, or still holds the GPS position", a.MediaType)
	}
	kept := must[Attached](t)(c.AttachFrom(ctx, id, bytes.NewReader(photo), int64(len(photo)), AttachOptions{KeepMetadata: true}))
	if _, got := queuedOf(t, c, kept.Digest); !bytes.Equal(got, photo) {
		t.Errorf("with KeepMetadata the queued HEIC is not the photo as given")
	}
	before := chunkKeys(t, c)
	bad := append(bytes.Clone(photo), isoBox("moov", isoBox("udta", []byte("\xa9xyz+48.8567+002.3508/")))...)
	_, err := c.AttachFrom(ctx, id, bytes.NewReader(bad), int64(len(bad)), AttachOptions{})
	if model.ErrorCode(err) != model.CodeMediaType {
		t.Errorf("attaching a HEIC with a moov box: err = %v, want %s", err, model.CodeMediaType)
	}
	if got := chunkKeys(t, c); got != before {
		t.Errorf("a refused file left %d chunks behind", got-before)
	}
}

// headOnly is a file of size bytes that holds head and then zeros.
type headOnly struct{ head []byte }

func (h headOnly) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	if off < int64(len(h.head)) {
		copy(p, h.head[off:])
	}
	return len(p), nil
}

// TestAttachFromRefusesPhotoTooLargeToStrip: a JPEG larger than
// MaxStripInMemory is refused (blob_too_large) before it is read whole;
// a negative size is invalid_request (and no panic).
func TestAttachFromRefusesPhotoTooLargeToStrip(t *testing.T) {
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	ctx := context.Background()
	id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "potential")))
	_, err := c.AttachFrom(ctx, id, headOnly{[]byte{0xFF, 0xD8, 0xFF, 0xE1}}, MaxStripInMemory+1, AttachOptions{})
	if model.ErrorCode(err) != model.CodeBlobTooLarge {
		t.Errorf("err = %v, want %s", err, model.CodeBlobTooLarge)
	}
	if _, err := c.AttachFrom(ctx, id, headOnly{}, -1, AttachOptions{}); model.ErrorCode(err) != model.CodeInvalidRequest {
		t.Errorf("a negative size: err = %v, want %s", err, model.CodeInvalidRequest)
	}
}

// TestOpenSweepsChunksOfUnfinishedAttach: the copy of a file whose
// Attach stopped before its entry was written (a crash) is deleted when
// the replica opens again; a queued file's chunks stay.
func TestOpenSweepsChunksOfUnfinishedAttach(t *testing.T) {
	f := newFakeServer(t)
	dir := t.TempDir()
	c, err := Open(dir, Options{ServerURL: f.srv.URL, Logger: testLogger(), DeviceName: "unit"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Login(ctx, "ana", "secret"); err != nil {
		t.Fatal(err)
	}
	id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "potential")))
	queued := scan(DefaultUploadChunk + 10)
	a := must[Attached](t)(c.Attach(ctx, id, queued, AttachOptions{}))
	orphan := scan(3 * DefaultUploadChunk)
	if _, err := c.stageFile(ctx, bytes.NewReader(orphan), int64(len(orphan)), AttachOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := chunkKeys(t, c); got != 5 {
		t.Fatalf("%d chunks before the restart, want 5", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir, f)
	if got := chunkKeys(t, c); got != 2 {
		t.Errorf("%d chunks after the restart, want 2 (the queued file's)", got)
	}
	if _, got := queuedOf(t, c, a.Digest); !bytes.Equal(got, queued) {
		t.Errorf("the queued file's bytes changed")
	}
}

// TestQueuedFileOfEarlierVersionKept: a file queued by an earlier
// version (chunks under b/<scope>/<digest>/, a pending upload without a
// blob id) survives the Open sweep and reads back whole.
func TestQueuedFileOfEarlierVersionKept(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, nil)
	data := scan(DefaultUploadChunk + 100)
	sum := sha256.Sum256(data)
	req := api.UploadRequest{Size: int64(len(data)), Digest: hex.EncodeToString(sum[:]), Team: "team-1"}
	err := c.update(func(t *tx) error {
		for n := range 2 {
			chunk := data[n*DefaultUploadChunk : min((n+1)*DefaultUploadChunk, len(data))]
			if err := t.set(blobChunkKey(scopeOf(req), req.Digest, uint64(n)), chunk); err != nil {
				return err
			}
		}
		enc, _ := json.Marshal(pendingUpload{Request: req})
		return t.set(uploadKey(scopeOf(req), req.Digest), enc)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c = open(t, dir, nil)
	if got := chunkKeys(t, c); got != 2 {
		t.Errorf("%d chunks after the restart, want 2", got)
	}
	if _, got := queuedOf(t, c, req.Digest); !bytes.Equal(got, data) {
		t.Errorf("the queued file reads back as %d other bytes", len(got))
	}
}
