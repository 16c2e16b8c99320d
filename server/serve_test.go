package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/server"
	"github.com/fieldsync/fieldsync/server/demo"
)

// TestMetricsOnlyOnTheirListener: GET /metrics is 404 on the API listener
// and served on the metrics listener.
func TestMetricsOnlyOnTheirListener(t *testing.T) {
	h := startServer(t)
	h.login("admin", adminPassword, "")
	if status, body := h.do(http.MethodGet, "/metrics", "", nil); status != http.StatusNotFound {
		t.Errorf("GET /metrics on the API listener: %d %.80s, want 404", status, body)
	}
	resp, err := h.http.Get("http://" + h.m.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "fieldsync_logins_total") {
		t.Errorf("GET /metrics on the metrics listener: %d %.200s, want 200 with fieldsync_logins_total", resp.StatusCode, body)
	}
}

// TestServeOnTakenPortWritesNothing: a port already in use (the API's or
// the metrics') fails the start before the store is created or a one-time
// admin password is printed.
func TestServeOnTakenPortWritesNothing(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for name, args := range map[string][]string{
		"api port":     {"--addr", taken.Addr().String(), "--metrics-addr", ""},
		"metrics port": {"--addr", "127.0.0.1:0", "--metrics-addr", taken.Addr().String()},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		var out bytes.Buffer
		m := server.NewMain()
		m.Stdout = &out
		m.Log = discardLogger()
		if err := m.ParseFlags(append(args, "--data", dir), func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		if err := m.Run(context.Background()); err == nil {
			m.Close()
			t.Fatalf("%s taken: serve started", name)
		}
		if out.Len() != 0 {
			t.Errorf("%s taken: printed %q before failing", name, out.String())
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s taken: the data directory exists (%v); nothing should be written", name, err)
		}
		// The port it did bind is free again.
		if err := m.Close(); err != nil {
			t.Errorf("%s taken: close: %v", name, err)
		}
	}
}

// TestServeDemo: `serve --demo` seeds a store the demo users log in to,
// and the supervisor's review queue holds every reason (the console's
// browser test walks it).
func TestServeDemo(t *testing.T) {
	t.Parallel()
	h := startServerEnv(t, map[string]string{"FIELDSYNC_DEMO": "true"})
	sup := h.login("supervisor", demo.Password, "")
	q := getJSON[api.QueuePage](sup, "/v1/review/queue?limit=500")
	for _, reason := range []string{"new", "conflict", "formal_status", "child_presumed", "cross_border_referral", "visitor_note"} {
		if q.ByReason[reason] == 0 {
			t.Errorf("the demo queue has no %s reason: %v", reason, q.ByReason)
		}
	}
	if dups := getJSON[api.DuplicateList](sup, "/v1/review/duplicates"); len(dups.Pairs) < 2 {
		t.Errorf("the demo has %d possible duplicates, want at least 2", len(dups.Pairs))
	}
	clients := map[string]*client{}
	for _, name := range []string{"lead.north", "worker.north", "worker2.north", "lead.south", "worker.south", "visitor.de", "auditor"} {
		clients[name] = h.login(name, demo.Password, "")
	}
	// The demo's attachment: a North field worker downloads it through
	// the real route; South's worker may not read the record (404).
	list := getJSON[api.RecordList](sup, "/v1/records?code="+demo.AttachmentCode)
	if len(list.Records) != 1 {
		t.Fatalf("a search for %s lists %d records, want 1", demo.AttachmentCode, len(list.Records))
	}
	photo := demo.IdentityPhoto()
	sum := sha256.Sum256(photo)
	path := "/v1/records/" + list.Records[0].ID + "/attachments/" + hex.EncodeToString(sum[:])
	if status, hdr, got := upHTTP(t, h, clients["worker.north"], http.MethodGet, path, nil, nil); status != http.StatusOK || !bytes.Equal(got, photo) || hdr.Get("Content-Type") != "image/png" {
		t.Errorf("worker.north downloads the demo's attachment: %d, %s, %d bytes (equal %v); want 200, image/png, %d bytes",
			status, hdr.Get("Content-Type"), len(got), bytes.Equal(got, photo), len(photo))
	}
	if status, _ := clients["worker.south"].do(http.MethodGet, path, nil); status != http.StatusNotFound {
		t.Errorf("worker.south downloads North's attachment: %d, want 404", status)
	}
}

// TestCloseTwice: a second Close (a signal handler and a deferred Close
// both firing) returns the first result instead of panicking.
func TestCloseTwice(t *testing.T) {
	h := startServer(t)
	first := h.m.Close()
	if first != nil {
		t.Fatalf("first close: %v", first)
	}
	if got := h.m.Close(); got != first {
		t.Errorf("second close: %v, want %v", got, first)
	}
}
