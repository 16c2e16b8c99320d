package testproxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/fieldsync/fieldsync/server/testproxy"
)

// TestBudgets: Bytes cuts one way of one connection once its bytes went
// through; Every cuts whichever connection crosses each multiple.
func TestBudgets(t *testing.T) {
	type take struct {
		n, send int
		cut     bool
	}
	for name, tt := range map[string]struct {
		b     testproxy.Budget
		takes []take
	}{
		"bytes": {testproxy.Bytes(5), []take{{3, 3, false}, {3, 2, true}}},
		"every": {testproxy.Every(10), []take{{4, 4, false}, {4, 4, false}, {4, 2, true}, {25, 10, true}, {3, 3, false}}},
	} {
		for i, tk := range tt.takes {
			if send, cut := tt.b.Take(tk.n); send != tk.send || cut != tk.cut {
				t.Errorf("%s, take %d of %d: %d %v, want %d %v", name, i, tk.n, send, cut, tk.send, tk.cut)
			}
		}
	}
}

// TestHTTPFates: while cutting, a request cut before the server never
// reaches it, one cut after reaches it and its client gets no whole
// answer, one forwarded gets the answer; local answers never reach the
// server; the counters say so.
func TestHTTPFates(t *testing.T) {
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		_, _ = io.WriteString(w, "the server's answer")
	}))
	defer srv.Close()
	fates := map[string]testproxy.Fate{"/forward": testproxy.Forward, "/before": testproxy.CutRequest, "/after": testproxy.CutResponse}
	p := testproxy.StartHTTP(t, srv.URL, testproxy.HTTP{
		Fate: func(r *http.Request) testproxy.Fate { return fates[r.URL.Path] },
		Local: func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != "/local" {
				return false
			}
			_, _ = io.WriteString(w, "local")
			return true
		},
	})
	p.Cutting.Store(true)
	// One connection per request: Go retries a GET cut on a reused one.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) (string, error) {
		resp, err := client.Get(p.URL + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	for _, tt := range []struct {
		path, want string
		fails      bool
		seen       int64
	}{{"/forward", "the server's answer", false, 1}, {"/before", "", true, 1}, {"/after", "", true, 2}, {"/local", "local", false, 2}} {
		got, err := get(tt.path)
		if (err != nil) != tt.fails || (err == nil && got != tt.want) {
			t.Errorf("GET %s: %q, %v; want %q (an error: %v)", tt.path, got, err, tt.want, tt.fails)
		}
		if seen.Load() != tt.seen {
			t.Errorf("after GET %s the server saw %d requests, want %d", tt.path, seen.Load(), tt.seen)
		}
	}
	if p.Forwarded.Load() != 2 || p.CutRequests.Load() != 1 || p.CutResponses.Load() != 1 {
		t.Errorf("forwarded %d, cut before %d, after %d; want 2, 1, 1", p.Forwarded.Load(), p.CutRequests.Load(), p.CutResponses.Load())
	}
}
