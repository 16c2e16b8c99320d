package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestLinkComputesTime: one exchange over a fresh connection costs two
// round trips (the connection, the request) and its bytes both ways at
// the link's rate; an answer that crosses the cut budget breaks off, its
// bytes counted as re-sent; nothing sleeps.
func TestLinkComputesTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", 40000))
	}))
	defer srv.Close()
	l := &link{bitsPerSec: 256000, rtt: 300 * time.Millisecond}
	c := &http.Client{Transport: l.transport()}
	get := func() error {
		t.Helper()
		resp, err := c.Get(srv.URL)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		return err
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}
	in, out := l.bytes()
	want := 600*time.Millisecond + time.Duration(float64(in+out)*8/256000*float64(time.Second))
	if got := l.elapsed(); got != want || in < 40000 || l.requests != 1 || l.dials != 1 {
		t.Fatalf("after one exchange: %s computed, %d bytes in, %d requests, %d dials; want %s", got, in, l.requests, l.dials, want)
	}
	l = &link{bitsPerSec: 256000, rtt: 300 * time.Millisecond, cutEvery: 30000}
	c = &http.Client{Transport: l.transport()}
	if err := get(); err == nil || l.cuts != 1 || l.resent < 30000 || l.resent > 40000 {
		t.Fatalf("an answer over the cut budget: err %v, %d cuts, %d bytes re-sent", err, l.cuts, l.resent)
	}
}

// TestRunEndsWithTheServersRecords: a small run measures all eight
// scenarios, every device ending with the server's records (run checks
// them), the slow link cutting answers; a snapshot's open cases are
// usable before everything is in, a pull's only at the end.
func TestRunEndsWithTheServersRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and eight devices")
	}
	cfg := config{ops: 1200, records: 100, open: 0.2, bandwidth: 256000, rtt: 300 * time.Millisecond, cut: 24 << 10, sample: 100}
	rows, err := run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 8 {
		t.Fatalf("%d rows, want 8", len(rows))
	}
	cuts := 0
	for _, r := range rows {
		cuts += r.cuts
		if r.ops != 1200 || r.records != 100 || r.wire <= 0 || r.openAt > r.allAt || !r.snapshot && r.openAt != r.allAt {
			t.Errorf("%s: %+v", r.scenario, r)
		}
		if r.snapshot && r.slow && r.openAt >= r.allAt {
			t.Errorf("%s: the open cases were usable only at the end (%s)", r.scenario, r.allAt)
		}
	}
	if cuts == 0 {
		t.Error("the slow link cut nothing")
	}
	var b strings.Builder
	writeTable(&b, cfg, rows)
	if strings.Count(b.String(), "\n") != 10 {
		t.Errorf("the table:\n%s", b.String())
	}
}
