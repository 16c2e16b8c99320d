package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/api"
	fieldsync "github.com/fieldsync/fieldsync/clients/go"
	"github.com/fieldsync/fieldsync/model"
)

// downloads sits between a device and the server and watches the
// attachment downloads: it records each one's Range header, counts the
// bytes the device reads, cuts the next `cuts` responses after cutAt
// bytes, flips one byte of the next `corrupt` responses, and fails a
// read asking for more than one chunk (the device must stream, never ask
// for a whole file).
type downloads struct {
	mu       sync.Mutex
	ranges   []string
	read     atomic.Int64
	cuts     atomic.Int64
	cutAt    int64
	corrupt  atomic.Int64
	oversize atomic.Bool
}

func (d *downloads) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || !strings.Contains(req.URL.Path, "/attachments/") {
		return resp, err
	}
	d.mu.Lock()
	d.ranges = append(d.ranges, req.Header.Get("Range"))
	d.mu.Unlock()
	body := &watchedBody{d: d, next: resp.Body, cutAt: -1, flipAt: -1}
	if d.cuts.Add(-1) >= 0 {
		body.cutAt = d.cutAt
	}
	if d.corrupt.Add(-1) >= 0 {
		body.flipAt = 100
	}
	resp.Body = body
	return resp, nil
}

func (d *downloads) seen() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.ranges)
}

// watchedBody is a response body as downloads serves it.
type watchedBody struct {
	d             *downloads
	next          io.ReadCloser
	n             int64
	cutAt, flipAt int64
}

func (b *watchedBody) Read(p []byte) (int, error) {
	if len(p) > fieldsync.DefaultUploadChunk {
		b.d.oversize.Store(true)
		return 0, fmt.Errorf("a read of %d bytes, more than one chunk", len(p))
	}
	if b.cutAt >= 0 && b.n >= b.cutAt {
		return 0, errors.New("link cut")
	}
	if b.cutAt >= 0 {
		p = p[:min(int64(len(p)), b.cutAt-b.n)]
	}
	k, err := b.next.Read(p)
	if b.flipAt >= b.n && b.flipAt < b.n+int64(k) {
		p[b.flipAt-b.n] ^= 0xFF
	}
	b.n += int64(k)
	b.d.read.Add(int64(k))
	return k, err
}

func (b *watchedBody) Close() error { return b.next.Close() }

// chunkWriter keeps what it is written and fails a Write of more than
// one chunk.
type chunkWriter struct {
	bytes.Buffer
	writes int
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	if len(p) > fieldsync.DefaultUploadChunk {
		return 0, fmt.Errorf("a write of %d bytes, more than one chunk", len(p))
	}
	w.writes++
	return w.Buffer.Write(p)
}

// attachedPDF attaches a PDF of size bytes to a new identification of
// team north and syncs it; it returns the record, the file and its digest.
func attachedPDF(t *testing.T, s *testServer, size int) (string, []byte, string) {
	t.Helper()
	ctx := context.Background()
	writer := device(t, s.URL, "fw")
	id := must[string](t)(writer.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
	data := []byte("%PDF-1.7\n")
	for i := 0; len(data) < size; i++ {
		data = append(data, byte(i*7), byte(i>>8), byte(i>>16))
	}
	data = data[:size]
	must[fieldsync.Attached](t)(writer.Attach(ctx, id, data, fieldsync.AttachOptions{Name: "contract.pdf"}))
	syncOK(t, writer)
	sum := sha256.Sum256(data)
	return id, data, hex.EncodeToString(sum[:])
}

// TestFetchToStreamsAndResumes: FetchTo downloads a file of three and a
// half chunks, reading and writing at most one chunk at a time; a
// download cut after a chunk and a half resumes, in the same call, at
// the byte received (every byte crosses the link once); a download that
// gives up after a cut writes nothing, and the next FetchTo resumes at
// the byte where it stopped; a cached file is written out without asking
// the server.
func TestFetchToStreamsAndResumes(t *testing.T) {
	const chunk = fieldsync.DefaultUploadChunk
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	s.user("fw2", model.RoleFieldWorker, "north")
	id, data, digest := attachedPDF(t, s, 3*chunk+chunk/2)
	ctx := context.Background()

	link := &downloads{cutAt: chunk + chunk/2}
	link.cuts.Store(1)
	reader := device(t, s.URL, "fw2", func(o *fieldsync.Options) {
		o.HTTPClient = &http.Client{Transport: link}
		o.Backoff = fieldsync.Backoff{Base: 1, Max: 2}
	})
	syncOK(t, reader)
	var w chunkWriter
	n, err := reader.FetchTo(ctx, id, digest, &w)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(data)) || !bytes.Equal(w.Bytes(), data) {
		t.Fatalf("FetchTo wrote %d bytes (%d), not the file of %d", w.Len(), n, len(data))
	}
	if got, want := link.seen(), []string{"bytes=0-", fmt.Sprintf("bytes=%d-", chunk+chunk/2)}; !slices.Equal(got, want) {
		t.Errorf("ranges asked %q, want %q (resumed at the byte received)", got, want)
	}
	if got := link.read.Load(); got != int64(len(data)) {
		t.Errorf("%d bytes crossed the link for a file of %d and one cut, want each byte once", got, len(data))
	}
	if link.oversize.Load() || w.writes < 4 {
		t.Errorf("oversize read %v, %d writes: the file was not streamed chunk by chunk", link.oversize.Load(), w.writes)
	}
	var again chunkWriter
	must[int64](t)(reader.FetchTo(ctx, id, digest, &again))
	if len(link.seen()) != 2 || !bytes.Equal(again.Bytes(), data) {
		t.Errorf("a cached file was downloaded again (%d downloads) or differs", len(link.seen()))
	}

	// Across calls: a device that gives up after one cut writes nothing;
	// its next FetchTo asks for the rest only.
	cut := &downloads{cutAt: 2*chunk + 1000}
	cut.cuts.Store(1)
	other := device(t, s.URL, "fw2", func(o *fieldsync.Options) {
		o.HTTPClient = &http.Client{Transport: cut}
		o.MaxAttempts = 1
	})
	syncOK(t, other)
	var first chunkWriter
	if _, err := other.FetchTo(ctx, id, digest, &first); err == nil || first.Len() != 0 {
		t.Fatalf("a download that gave up: err %v, %d bytes written; want an error and nothing written", err, first.Len())
	}
	var second chunkWriter
	must[int64](t)(other.FetchTo(ctx, id, digest, &second))
	if got, want := cut.seen(), []string{"bytes=0-", fmt.Sprintf("bytes=%d-", 2*chunk+1000)}; !slices.Equal(got, want) {
		t.Errorf("ranges asked across two calls %q, want %q", got, want)
	}
	if !bytes.Equal(second.Bytes(), data) || cut.read.Load() != int64(len(data)) {
		t.Errorf("the resumed download wrote %d bytes (file %d) after %d crossed the link", second.Len(), len(data), cut.read.Load())
	}
}

// TestFetchToDigestMismatchWritesNothing: a file whose bytes were changed
// on the way fails with digest_mismatch before anything is written, and
// is not kept: the next FetchTo downloads it whole from its first byte.
func TestFetchToDigestMismatchWritesNothing(t *testing.T) {
	const chunk = fieldsync.DefaultUploadChunk
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	s.user("fw2", model.RoleFieldWorker, "north")
	id, data, digest := attachedPDF(t, s, 2*chunk+5)
	ctx := context.Background()
	link := &downloads{}
	link.corrupt.Store(1)
	reader := device(t, s.URL, "fw2", func(o *fieldsync.Options) { o.HTTPClient = &http.Client{Transport: link} })
	syncOK(t, reader)
	var w chunkWriter
	_, err := reader.FetchTo(ctx, id, digest, &w)
	if model.ErrorCode(err) != model.CodeDigestMismatch || w.Len() != 0 {
		t.Fatalf("FetchTo of a corrupted download: %v with %d bytes written; want digest_mismatch and nothing", err, w.Len())
	}
	must[int64](t)(reader.FetchTo(ctx, id, digest, &w))
	if got, want := link.seen(), []string{"bytes=0-", "bytes=0-"}; !slices.Equal(got, want) || !bytes.Equal(w.Bytes(), data) {
		t.Errorf("after a mismatch: ranges %q (want %q), file equal %v", got, want, bytes.Equal(w.Bytes(), data))
	}
}

// gate holds the first attachment download after its first chunk and a
// half (closing held) until a second download is asked for (or two
// seconds passed), so the second starts while the first has stored a
// chunk.
type gate struct {
	gets   atomic.Int64
	held   chan struct{} // closed when the first download is held
	second chan struct{}
}

func (g *gate) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.Method != http.MethodGet || !strings.Contains(req.URL.Path, "/attachments/") {
		return resp, err
	}
	if g.gets.Add(1) == 2 {
		close(g.second)
		return resp, nil
	}
	resp.Body = &heldBody{next: resp.Body, at: fieldsync.DefaultUploadChunk * 3 / 2, held: g.held, until: g.second}
	return resp, nil
}

// heldBody blocks reading past byte at until the channel closes or two
// seconds passed.
type heldBody struct {
	next        io.ReadCloser
	n, at       int64
	held, until chan struct{}
}

func (b *heldBody) Read(p []byte) (int, error) {
	if b.n >= b.at && b.until != nil {
		close(b.held)
		select {
		case <-b.until:
		case <-time.After(2 * time.Second):
		}
		b.until = nil
	}
	if b.until != nil {
		p = p[:min(int64(len(p)), b.at-b.n)]
	}
	k, err := b.next.Read(p)
	b.n += int64(k)
	return k, err
}

func (b *heldBody) Close() error { return b.next.Close() }

// TestFetchToConcurrentDownloads: a FetchTo started while another is
// downloading (and has stored chunks) does not delete them: both write
// their whole file (downloads are one at a time; between calls the
// replica keeps one unfinished download only).
func TestFetchToConcurrentDownloads(t *testing.T) {
	const chunk = fieldsync.DefaultUploadChunk
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	s.user("fw2", model.RoleFieldWorker, "north")
	ctx := context.Background()
	writer := device(t, s.URL, "fw")
	id := must[string](t)(writer.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
	var files [][]byte
	var digests []string
	for i := range 2 {
		data := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{byte('a' + i)}, 2*chunk+chunk/2)...)
		a := must[fieldsync.Attached](t)(writer.Attach(ctx, id, data, fieldsync.AttachOptions{}))
		files, digests = append(files, data), append(digests, a.Digest)
	}
	syncOK(t, writer)
	g := &gate{held: make(chan struct{}), second: make(chan struct{})}
	reader := device(t, s.URL, "fw2", func(o *fieldsync.Options) {
		o.FileCache = chunk // neither file is kept
		o.HTTPClient = &http.Client{Transport: g}
	})
	syncOK(t, reader)
	got := make([]chunkWriter, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Go(func() { _, errs[0] = reader.FetchTo(ctx, id, digests[0], &got[0]) })
	<-g.held // the first download has stored its first chunk
	wg.Go(func() { _, errs[1] = reader.FetchTo(ctx, id, digests[1], &got[1]) })
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil || !bytes.Equal(got[i].Bytes(), files[i]) {
			t.Errorf("file %d: %v, %d bytes of %d", i, errs[i], got[i].Len(), len(files[i]))
		}
	}
}

// TestFetchReplacesFileCachedByEarlierVersion: a file an earlier version
// cached whole under f/<record>/<digest> (its bytes as the value, no
// chunks) is not taken for a cache marker: Fetch deletes it, downloads
// the file again in chunks, and returns it whole.
func TestFetchReplacesFileCachedByEarlierVersion(t *testing.T) {
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	s.user("fw2", model.RoleFieldWorker, "north")
	id, data, digest := attachedPDF(t, s, 40<<10)
	ctx := context.Background()
	dir := t.TempDir()
	var gets atomic.Int64
	opt := func(o *fieldsync.Options) {
		o.HTTPClient = &http.Client{Transport: countGets{&gets, http.DefaultTransport}}
	}
	first, err := fieldsync.Open(dir, fieldsync.Options{ServerURL: s.URL, Logger: logger()})
	if err != nil {
		t.Fatal(err)
	}
	must[api.User](t)(first.Login(ctx, "fw2", userPassword))
	syncOK(t, first)
	must[[]byte](t)(first.Fetch(ctx, id, digest))
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := badger.Open(badger.DefaultOptions(filepath.Join(dir, "db")).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(b *badger.Txn) error {
		key := []byte("f/" + id + "/" + digest)
		it := b.NewIterator(badger.IteratorOptions{Prefix: append(bytes.Clone(key), '/')})
		var chunks [][]byte
		for it.Rewind(); it.Valid(); it.Next() {
			chunks = append(chunks, it.Item().KeyCopy(nil))
		}
		it.Close()
		for _, k := range chunks {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return b.Set(key, data) // the earlier layout: the whole file
	})
	if cerr := db.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}

	again := openDevice(t, dir, s.URL, opt)
	got, err := again.Fetch(ctx, id, digest)
	if err != nil || !bytes.Equal(got, data) || gets.Load() != 1 {
		t.Fatalf("Fetch over an earlier version's cached file: %v, equal %v, %d downloads (want 1)", err, bytes.Equal(got, data), gets.Load())
	}
	must[[]byte](t)(again.Fetch(ctx, id, digest))
	if gets.Load() != 1 {
		t.Errorf("the file downloaded again was not cached: %d downloads", gets.Load())
	}
}

// TestFetchToThroughChaosProxy: through the proxy that cuts every
// connection after at most 64 KiB of answer, FetchTo of a file of a
// chunk and a half completes; every byte the device read was kept (the
// device read exactly the file's bytes over all the cut responses), and
// each download after the first asked for the bytes from where the last
// one stopped.
func TestFetchToThroughChaosProxy(t *testing.T) {
	const chunk = fieldsync.DefaultUploadChunk
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	s.user("fw2", model.RoleFieldWorker, "north")
	id, data, digest := attachedPDF(t, s, chunk+chunk/2)
	proxy := startProxy(t, s.m.Addr(), 11)
	link := &downloads{}
	reader := device(t, proxy.URL, "fw2", func(o *fieldsync.Options) {
		o.HTTPClient = &http.Client{Transport: link}
		o.MaxAttempts = 50
	})
	syncOK(t, reader)
	before := proxy.CutResponses.Load()
	var w chunkWriter
	if _, err := reader.FetchTo(context.Background(), id, digest, &w); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.Bytes(), data) {
		t.Fatalf("FetchTo wrote %d bytes, not the file of %d", w.Len(), len(data))
	}
	if proxy.CutResponses.Load() == before {
		t.Fatal("the proxy cut no download: the test did not exercise resuming")
	}
	if got := link.read.Load(); got != int64(len(data)) {
		t.Errorf("the device read %d bytes over %d downloads for a file of %d, want each byte once", got, len(link.seen()), len(data))
	}
	if got := link.seen(); got[0] != "bytes=0-" || len(got) < 2 {
		t.Errorf("ranges asked %q", got)
	}
}
