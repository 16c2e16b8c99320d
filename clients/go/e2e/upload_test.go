package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	fieldsync "github.com/fieldsync/fieldsync/clients/go"
	"github.com/fieldsync/fieldsync/model"
)

// TestUploaderResumesThroughCuts: the SDK's uploader sends a file in
// chunks through a proxy that cuts connections mid-request and
// mid-response; it resumes each time at the acknowledged offset and the
// server ends up holding the verified blob.
func TestUploaderResumesThroughCuts(t *testing.T) {
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	proxy := startProxy(t, s.m.Addr(), 7)
	var sent atomic.Int64
	c := device(t, proxy.URL, "fw", func(o *fieldsync.Options) {
		o.HTTPClient = &http.Client{Transport: countPatches{&sent, http.DefaultTransport}}
	})

	data := make([]byte, 200<<10)
	for i := range data {
		data[i] = byte(i * 13)
	}
	copy(data, []byte{0xFF, 0xD8, 0xFF, 0xE0})
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])

	up := &fieldsync.Uploader{Client: c, ChunkSize: 4 << 10, MaxAttempts: 50,
		Backoff: fieldsync.Backoff{Base: 1, Max: 2}, KeepMetadata: true}
	info, err := up.Upload(context.Background(), fieldsync.UploadScope{Team: s.team("north")}, data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info, (api.BlobInfo{Digest: digest, Size: int64(len(data)), MediaType: "image/jpeg"}); got != want {
		t.Fatalf("Upload = %+v, want %+v", got, want)
	}
	if proxy.CutRequests.Load()+proxy.CutResponses.Load() == 0 {
		t.Fatal("the proxy cut nothing: the test did not exercise resuming")
	}
	cuts := proxy.CutRequests.Load() + proxy.CutResponses.Load()
	if got, most := sent.Load(), int64(len(data))+cuts*int64(up.ChunkSize); got > most {
		t.Errorf("sent %d chunk bytes for a %d-byte file and %d cuts, want at most one chunk again per cut (%d)", got, len(data), cuts, most)
	}
	token := s.login("fw", userPassword).AccessToken
	var again api.Upload
	mustUnmarshal(t, s.mustDo(http.StatusOK, http.MethodPost, "/v1/uploads", token,
		api.UploadRequest{Size: int64(len(data)), Digest: digest, Team: s.team("north")}), &again)
	if !again.Complete {
		t.Errorf("the server does not hold the blob: %+v", again)
	}
}

// countPatches counts the body bytes of the PATCH requests it sends.
type countPatches struct {
	n    *atomic.Int64
	next http.RoundTripper
}

func (c countPatches) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPatch {
		c.n.Add(req.ContentLength)
	}
	return c.next.RoundTrip(req)
}

// chunkReader is a file read with ReadAt that fails a read of more than
// one chunk.
type chunkReader struct{ data []byte }

func (r chunkReader) ReadAt(p []byte, off int64) (int, error) {
	if len(p) > fieldsync.DefaultUploadChunk {
		return 0, fmt.Errorf("a read of %d bytes, more than one chunk", len(p))
	}
	return bytes.NewReader(r.data).ReadAt(p, off)
}

// TestUploaderUploadFrom: UploadFrom uploads a file read a chunk at a
// time (a voice note of several chunks, stripped of its location on the
// way, as Upload strips it); the server holds the stripped file.
func TestUploaderUploadFrom(t *testing.T) {
	note, err := os.ReadFile("../testdata/voice.m4a")
	if err != nil {
		t.Fatal(err)
	}
	// An mdat of three chunks after the fixture's own boxes.
	big := append(binary.BigEndian.AppendUint32(nil, uint32(8+3*fieldsync.DefaultUploadChunk)), "mdat"...)
	note = append(append(note, big...), make([]byte, 3*fieldsync.DefaultUploadChunk)...)
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	c := device(t, s.URL, "fw")
	up := &fieldsync.Uploader{Client: c}
	info, err := up.UploadFrom(context.Background(), fieldsync.UploadScope{Team: s.team("north")}, chunkReader{note}, int64(len(note)))
	if err != nil {
		t.Fatal(err)
	}
	want, err := fieldsync.StripMetadata(note)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(want)
	if info.Digest != hex.EncodeToString(sum[:]) || info.Size != int64(len(note)) || bytes.Contains(want, []byte("+48.8577")) {
		t.Errorf("UploadFrom = %+v; want the stripped voice note %x", info, sum)
	}
}
