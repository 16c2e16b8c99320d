//go:build browser

package browser

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
)

// sdkTabsSetup starts a server with one field worker, the proxy (never
// cutting) and a browser whose default profile is on disk, and opens the
// first tab's replica (logged in, one record written). It returns the
// first tab, the device and the record.
func sdkTabsSetup(t *testing.T) (*sdkServer, *cutProxy, *sdkBrowser, *tab, string, string) {
	t.Helper()
	chromium := requireBrowser(t)
	bundle := sdkBundle(t)
	s := startSDKServer(t)
	s.fieldWorker("fw")
	p := startCutProxy(t, s.url, bundle, 1)
	b := newSDKBrowser(t, chromium, 4*time.Minute)
	device, record := uuid.NewString(), uuid.NewString()
	first := tabIn(t, "tab 1", b.ctx, sdkPage(p))
	first.call(nil, "open", device)
	first.call(nil, "login", "fw", sdkPassword)
	first.write(record, []edit{{Field: "team", Action: "set", Value: s.team}, {Field: "status", Action: "set", Value: "potential"}})
	return s, p, b, first, device, record
}

// missing returns the ids of want that are not in have.
func missing(want, have []string) []string {
	var out []string
	for _, id := range want {
		if !slices.Contains(have, id) {
			out = append(out, id)
		}
	}
	return out
}

// serverHolds fails unless the server's history of record holds every op of ids.
func serverHolds(t *testing.T, s *sdkServer, record string, ids []string) {
	t.Helper()
	var served struct {
		History []struct {
			ID string `json:"id"`
		} `json:"history"`
	}
	tok := s.login("fw", sdkPassword).AccessToken
	if err := json.Unmarshal(s.must(http.StatusOK, http.MethodGet, "/v1/records/"+record+"?history=true", tok, nil, nil), &served); err != nil {
		t.Fatal(err)
	}
	var held []string
	for _, op := range served.History {
		held = append(held, op.ID)
	}
	if m := missing(ids, held); len(m) > 0 {
		t.Errorf("the server lacks %d of %d ops after the sync, such as %s", len(m), len(ids), m[0])
	}
}

// TestSDKTabClosedMidWriteKeepsAckedWrites: a tab appends notes one write
// after another and logs each op id once its write resolved (the moment
// an app tells the user "saved"); the test closes the tab while writes
// are in flight. A new tab on the same replica finds every acknowledged
// op stored and in the outbox, and its sync brings them to the server.
// Then that tab writes and leaves by itself (a navigation) in the same
// task as its 10th acknowledgement, with another write started: the 10
// are kept.
func TestSDKTabClosedMidWriteKeepsAckedWrites(t *testing.T) {
	s, p, b, first, device, record := sdkTabsSetup(t)

	var mu sync.Mutex
	var acked []string
	enough := make(chan struct{})
	go func() {
		for m, err := range chromedp.Console(first.ctx) {
			if err != nil {
				return
			}
			if id, ok := strings.CutPrefix(m.Text, "acked "); ok {
				mu.Lock()
				acked = append(acked, id)
				if len(acked) == 25 {
					close(enough)
				}
				mu.Unlock()
			}
		}
	}()
	first.call(nil, "writeLoop", record, 100000, "written in tab 1")
	select {
	case <-enough:
	case <-time.After(2 * time.Minute):
		t.Fatal("the tab acknowledged fewer than 25 writes in 2 minutes")
	}
	first.cancel() // closes the tab, writes in flight
	mu.Lock()
	got := slices.Clone(acked)
	mu.Unlock()

	second := tabIn(t, "tab 2", b.ctx, sdkPage(p))
	second.call(nil, "open", device)
	st := second.status(record)
	if m := missing(got, st.Ops); len(m) > 0 {
		t.Fatalf("%d of %d acknowledged writes are lost after the tab closed, such as %s", len(m), len(got), m[0])
	}
	if m := missing(got, st.Outbox); len(m) > 0 {
		t.Fatalf("%d of %d acknowledged writes left the outbox unsent after the tab closed, such as %s", len(m), len(got), m[0])
	}
	t.Logf("%d writes acknowledged before the tab closed; %d ops stored (the rest were written but not yet acknowledged when it closed)", len(got), len(st.Ops))
	second.syncOK()
	serverHolds(t, s, record, got)

	// The page itself leaves (a navigation) right after its 10th
	// acknowledgement, with one more write started: that write's
	// transaction aborts, the acknowledged ones are kept.
	leftAcks := make(chan string, 100)
	go func() {
		for m, err := range chromedp.Console(second.ctx) {
			if err != nil {
				return
			}
			if id, ok := strings.CutPrefix(m.Text, "acked "); ok {
				leftAcks <- id
			}
		}
	}()
	second.call(nil, "writeLoop", record, 1000, "written in tab 2", 10)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		// Evaluating fails while the page navigates: ask again.
		back, err := chromedp.Run(second.ctx, chromedp.Evaluate[bool](`location.search === "?left" && window.ready === true`))
		if err == nil && back {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tab 2 did not leave and come back after its writes: %v", err)
		}
	}
	var left []string
	for len(left) < 10 {
		select {
		case id := <-leftAcks:
			left = append(left, id)
		case <-time.After(time.Minute):
			t.Fatalf("tab 2 logged %d acknowledgements, want 10", len(left))
		}
	}
	second.call(nil, "open", device)
	st = second.status(record)
	if m := missing(left, st.Ops); len(m) > 0 {
		t.Fatalf("%d of the 10 writes acknowledged just before the page left are lost, such as %s", len(m), m[0])
	}
	if m := missing(left, st.Outbox); len(m) > 0 {
		t.Fatalf("%d of the 10 writes acknowledged just before the page left are not in the outbox, such as %s", len(m), m[0])
	}
}

// TestSDKTwoTabsWriteAtOnce: two tabs of one browser open the same
// replica and each append 60 notes to the same record at the same time.
// Both finish (no deadlock: each waits at most a minute), and a third tab
// finds all 120 ops stored and in the outbox; its sync brings them to the
// server.
func TestSDKTwoTabsWriteAtOnce(t *testing.T) {
	s, p, b, first, device, record := sdkTabsSetup(t)
	second := tabIn(t, "tab 2", b.ctx, sdkPage(p))
	second.call(nil, "open", device)

	first.call(nil, "writeLoop", record, 60, "written in tab 1")
	second.call(nil, "writeLoop", record, 60, "written in tab 2")
	var all []string
	for _, tb := range []*tab{first, second} {
		ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`h.loopResult()`, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil {
			t.Fatalf("%s: the writes did not finish within a minute (deadlock?): %v", tb.name, err)
		}
		var r struct {
			OK      bool     `json:"ok"`
			IDs     []string `json:"ids"`
			Name    string   `json:"name"`
			Message string   `json:"message"`
		}
		if err := json.Unmarshal([]byte(v), &r); err != nil || !r.OK {
			t.Fatalf("%s: the writes failed: %s %v", tb.name, v, err)
		}
		all = append(all, r.IDs...)
	}
	third := tabIn(t, "tab 3", b.ctx, sdkPage(p))
	third.call(nil, "open", device)
	st := third.status(record)
	if m := missing(all, st.Ops); len(m) > 0 {
		t.Errorf("%d of the 120 ops written by two tabs at once are not stored, such as %s", len(m), m[0])
	}
	if m := missing(all, st.Outbox); len(m) > 0 {
		t.Errorf("%d of the 120 ops written by two tabs at once are not in the outbox (they would never be sent), such as %s", len(m), m[0])
	}
	if t.Failed() {
		t.FailNow()
	}
	third.syncOK()
	serverHolds(t, s, record, all)
}
