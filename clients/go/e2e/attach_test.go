package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/api"
	fieldsync "github.com/fieldsync/fieldsync/clients/go"
	"github.com/fieldsync/fieldsync/model"
)

// patchCut lets the first `allow` PATCH requests through and fails every
// later one before it is sent, as a link that dies mid-upload.
type patchCut struct {
	allow int64
	seen  atomic.Int64
}

func (p *patchCut) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPatch && p.seen.Add(1) > p.allow {
		return nil, errors.New("link down")
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestAttachQueuesWithOpAndResumesAfterRestart: a file attached offline
// travels with its entry; a Sync cut mid-upload pushes no op (the entry
// never reaches the server before its file); after the process closes
// and reopens the replica, Sync resumes the upload at the offset the
// server acknowledged (no byte sent twice), then pushes, and the server
// serves the file.
func TestAttachQueuesWithOpAndResumesAfterRestart(t *testing.T) {
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	ctx := context.Background()
	const chunk, acked = 16 << 10, 3
	dir := t.TempDir()
	opt := fieldsync.Options{ServerURL: s.URL, Logger: logger(), UploadChunk: chunk, MaxAttempts: 2,
		HTTPClient: &http.Client{Transport: &patchCut{allow: acked}}}
	first, err := fieldsync.Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Login(ctx, "fw", userPassword); err != nil {
		t.Fatal(err)
	}
	data := []byte("%PDF-1.7\n")
	for len(data) < 100<<10 {
		data = append(data, "signed consent form "...)
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	id := must[string](t)(first.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
	must[fieldsync.Attached](t)(first.Attach(ctx, id, data, fieldsync.AttachOptions{Name: "consent.pdf", Caption: "consent"}))
	if err := first.Sync(ctx); err == nil {
		t.Fatal("Sync through a link that dies mid-upload succeeded")
	}
	token := s.login("fw", userPassword).AccessToken
	if status, body := s.do(http.MethodGet, "/v1/records/"+id, token, nil); status != http.StatusNotFound {
		t.Fatalf("the record reached the server before its file: %d %s", status, body)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	var sent atomic.Int64
	second := openDevice(t, dir, s.URL, func(o *fieldsync.Options) {
		o.UploadChunk = chunk
		o.HTTPClient = &http.Client{Transport: countPatches{&sent, http.DefaultTransport}}
	})
	syncOK(t, second)
	if got, want := sent.Load(), int64(len(data)-acked*chunk); got != want {
		t.Errorf("after the restart Sync sent %d bytes of the file, want %d (the rest after the acknowledged offset)", got, want)
	}
	got := s.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+id+"/attachments/"+digest, token, nil)
	if !bytes.Equal(got, data) {
		t.Errorf("the server serves %d bytes, not the attached file of %d", len(got), len(data))
	}
	syncOK(t, second)
	if got, want := sent.Load(), int64(len(data)-acked*chunk); got != want {
		t.Errorf("a second Sync sent the file again: %d bytes in all, want %d", got, want)
	}
}

// countGets counts the GET requests of attachments it sends.
type countGets struct {
	n    *atomic.Int64
	next http.RoundTripper
}

func (c countGets) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodGet && bytes.Contains([]byte(req.URL.Path), []byte("/attachments/")) {
		c.n.Add(1)
	}
	return c.next.RoundTrip(req)
}

// TestFetchCachesWithinBound: another device of the team fetches an
// attached file on demand; a second Fetch is served from the replica; the
// cache keeps within Options.FileCache by evicting the oldest file; a
// file whose entry a supervisor redacted leaves the cache.
func TestFetchCachesWithinBound(t *testing.T) {
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	s.user("fw2", model.RoleFieldWorker, "north")
	ctx := context.Background()
	writer := device(t, s.URL, "fw")
	id := must[string](t)(writer.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
	var files [][]byte
	var digests, entries []string
	for i := range 2 {
		data := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{byte('a' + i)}, 40<<10)...)
		a := must[fieldsync.Attached](t)(writer.Attach(ctx, id, data, fieldsync.AttachOptions{}))
		sum := sha256.Sum256(data)
		files, digests, entries = append(files, data), append(digests, hex.EncodeToString(sum[:])), append(entries, a.Op)
	}
	syncOK(t, writer)

	var gets atomic.Int64
	reader := device(t, s.URL, "fw2", func(o *fieldsync.Options) {
		o.FileCache = 50 << 10 // room for one of the two files
		o.HTTPClient = &http.Client{Transport: countGets{&gets, http.DefaultTransport}}
	})
	syncOK(t, reader)
	fetch := func(i int, wantGets int64) {
		t.Helper()
		got, err := reader.Fetch(ctx, id, digests[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, files[i]) {
			t.Errorf("Fetch of file %d returned other bytes", i)
		}
		if n := gets.Load(); n != wantGets {
			t.Errorf("after fetching file %d: %d downloads, want %d", i, n, wantGets)
		}
	}
	fetch(0, 1)
	fetch(0, 1) // cached
	fetch(1, 2) // evicts file 0
	fetch(1, 2)
	fetch(0, 3) // evicts file 1
	fetch(0, 3)

	// A supervisor redacts the entry of the cached file 0: once the reader
	// has pulled the redaction, the file is gone from its cache and Fetch
	// says so without asking the server.
	s.user("sup", model.RoleSupervisor)
	sup := device(t, s.URL, "sup")
	syncOK(t, sup)
	must[string](t)(sup.Redact(ctx, id, model.FieldAttachments, entries[0]))
	syncOK(t, sup)
	syncOK(t, reader)
	if _, err := reader.Fetch(ctx, id, digests[0]); !errors.Is(err, fieldsync.ErrNoFile) {
		t.Errorf("Fetch of a redacted file: %v, want ErrNoFile", err)
	}
	if n := gets.Load(); n != 3 {
		t.Errorf("Fetch of a redacted file asked the server: %d downloads, want 3", n)
	}
}

// TestFetchedFilesDroppedWithRecord: a device caches the files of two
// records; a supervisor moves one record to another team; after the
// device's next sync drops that record, the replica holds the cached file
// of the other record only.
func TestFetchedFilesDroppedWithRecord(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	s.user("sup", model.RoleSupervisor)
	dir := t.TempDir()
	fw, err := fieldsync.Open(dir, fieldsync.Options{ServerURL: s.URL, Logger: logger()})
	if err != nil {
		t.Fatal(err)
	}
	must[api.User](t)(fw.Login(ctx, "fw", userPassword))
	sup := device(t, s.URL, "sup")
	var ids []string
	for i, caption := range []string{"moved", "stays"} {
		id := must[string](t)(fw.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
		data := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{byte('m' + i)}, 8<<10)...)
		a := must[fieldsync.Attached](t)(fw.Attach(ctx, id, data, fieldsync.AttachOptions{Caption: caption}))
		syncOK(t, fw)
		must[[]byte](t)(fw.Fetch(ctx, id, a.Digest))
		ids = append(ids, id)
	}
	syncOK(t, sup)
	must[string](t)(sup.Set(ctx, ids[0], "team", s.team("south")))
	syncOK(t, sup)
	syncOK(t, fw)
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := badger.Open(badger.DefaultOptions(filepath.Join(dir, "db")).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var cached []string
	err = db.View(func(b *badger.Txn) error {
		it := b.NewIterator(badger.IteratorOptions{Prefix: []byte("f/")})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			rec, _, _ := strings.Cut(strings.TrimPrefix(string(it.Item().Key()), "f/"), "/")
			if !slices.Contains(cached, rec) { // a file's key and its chunks' keys
				cached = append(cached, rec)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cached) != 1 || cached[0] != ids[1] {
		t.Errorf("cached files of records %v, want only the record that stays (%s; moved %s)", cached, ids[1], ids[0])
	}
}

// TestAttachRefusedFileDoesNotBlockSync: a queued file the server refuses
// for good (its bytes are no allowed type) is dropped from the queue with
// a warning; the sync goes on and pushes the device's other writes
// instead of failing at every attempt.
func TestAttachRefusedFileDoesNotBlockSync(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	c := device(t, s.URL, "fw")
	id := must[string](t)(c.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
	must[fieldsync.Attached](t)(c.Attach(ctx, id, []byte("<svg onload=alert(1)></svg>"), fieldsync.AttachOptions{MediaType: "audio/ogg"}))
	syncOK(t, c)
	token := s.login("fw", userPassword).AccessToken
	s.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+id, token, nil)
	syncOK(t, c) // nothing queued any more
}
