package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"
	"github.com/fieldsync/fieldsync/model"
)

// wireTap records, per route, the content codings and the bytes that
// cross the wire (bodies as sent, before any decoding).
type wireTap struct {
	next  http.RoundTripper
	mu    sync.Mutex
	sent  map[string][]string // path -> Content-Encoding of each request
	got   map[string][]string // path -> Content-Encoding of each answer
	bytes atomic.Int64
}

func newWireTap() *wireTap {
	return &wireTap{next: &http.Transport{DisableCompression: true}, sent: map[string][]string{}, got: map[string][]string{}}
}

func (w *wireTap) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.ContentLength > 0 {
		w.bytes.Add(r.ContentLength)
	}
	resp, err := w.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	w.sent[r.URL.Path] = append(w.sent[r.URL.Path], r.Header.Get("Content-Encoding"))
	w.got[r.URL.Path] = append(w.got[r.URL.Path], resp.Header.Get("Content-Encoding"))
	w.mu.Unlock()
	resp.Body = &countingBody{ReadCloser: resp.Body, n: &w.bytes}
	return resp, nil
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (w *wireTap) codings(m map[string][]string, path string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), m[path]...)
}

// TestSyncThroughCompression: a device pushes gzip bodies and a fresh
// device pulls zstd answers, through a transport that decodes nothing
// itself; both end with records byte-identical to the server's. A device
// with DisableCompression sends and receives everything plain, with the
// same result, and more bytes on the wire.
func TestSyncThroughCompression(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	writerTap := newWireTap()
	fw := device(t, s.URL, "fw", func(o *fieldsync.Options) { o.HTTPClient = &http.Client{Transport: writerTap} })
	var ids []string
	for i := range 20 {
		id := must[string](t)(fw.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
		for j := range 5 {
			must[string](t)(fw.Append(ctx, id, "notes", map[string]any{"text": fmt.Sprintf("Visit %d/%d: %s", i, j, uuid.NewString())}))
		}
		ids = append(ids, id)
	}
	syncOK(t, fw)
	if got := writerTap.codings(writerTap.sent, "/v1/sync/push"); len(got) == 0 || got[0] != "gzip" {
		t.Fatalf("push Content-Encodings = %q, want gzip", got)
	}

	token := s.login("fw", userPassword).AccessToken
	wire := map[bool]int64{}
	for _, disabled := range []bool{false, true} {
		tap := newWireTap()
		fresh := device(t, s.URL, "fw", func(o *fieldsync.Options) {
			o.HTTPClient = &http.Client{Transport: tap}
			o.DisableCompression = disabled
		})
		syncOK(t, fresh)
		for _, id := range ids {
			sameAsServer(t, s, token, fresh, id)
		}
		pulls := tap.codings(tap.got, "/v1/sync/pull")
		want := "zstd"
		if disabled {
			want = ""
		}
		if len(pulls) == 0 || pulls[0] != want {
			t.Fatalf("DisableCompression %v: pull answers' Content-Encodings = %q, want %q first", disabled, pulls, want)
		}
		if logins := tap.codings(tap.got, "/v1/auth/login"); len(logins) != 1 || logins[0] != "" {
			t.Fatalf("login answers' Content-Encodings = %q, want one uncompressed", logins)
		}
		wire[disabled] = tap.bytes.Load()
	}
	if wire[false]*2 > wire[true] {
		t.Errorf("a fresh device's sync took %d bytes compressed, %d plain: want at most half", wire[false], wire[true])
	}
}
