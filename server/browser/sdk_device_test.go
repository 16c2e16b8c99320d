//go:build browser

package browser

// The TypeScript SDK's Device layer (clients/ts/src/device.ts, vault.ts,
// locks.ts) in headless Chromium against the real server: two real tabs
// of one origin share one encrypted device (Web Locks, BroadcastChannel);
// the values at rest, read with raw IndexedDB, are ciphertext; a wrong
// PIN is refused and the right one opens the data after a reload; a wipe
// empties the origin's IndexedDB and Cache Storage with another tab open.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
)

const devicePIN = "493817"

// deviceStatus is h.deviceStatus's answer.
type deviceStatus struct {
	State      string              `json:"state"`
	Leader     bool                `json:"leader"`
	Live       bool                `json:"live"`
	Outbox     int                 `json:"outbox"`
	Quarantine int                 `json:"quarantine"`
	Error      string              `json:"error"`
	EverSynced bool                `json:"everSynced"`
	Heard      []string            `json:"heard"`
	Ops        map[string][]string `json:"ops"`
	States     map[string]string   `json:"states"`
}

// outcome is a harness answer that may be a failure.
type outcome struct {
	OK      bool   `json:"ok"`
	Before  string `json:"before"`
	State   string `json:"state"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// originStores is h.stores's answer.
type originStores struct {
	IDB    []string `json:"idb"`
	Caches []string `json:"caches"`
}

func (tb *tab) deviceOpen(pin, device string) outcome {
	tb.t.Helper()
	var o outcome
	tb.call(&o, "deviceOpen", "fieldsync", pin, device)
	return o
}

func (tb *tab) deviceOpenOK(pin, device, before string) {
	tb.t.Helper()
	if o := tb.deviceOpen(pin, device); !o.OK || o.Before != before || o.State != "unlocked" {
		tb.t.Fatalf("%s: opening the device answered %+v; want it %s before and unlocked after", tb.name, o, before)
	}
}

func (tb *tab) deviceStatus(records ...string) deviceStatus {
	tb.t.Helper()
	var st deviceStatus
	tb.call(&st, "deviceStatus", append([]string{}, records...))
	return st
}

func (tb *tab) deviceWrite(id string, edits []edit) []string {
	tb.t.Helper()
	var raw json.RawMessage
	tb.call(&raw, "deviceWrite", id, "identification", edits)
	var ids []string
	if err := json.Unmarshal(raw, &ids); err != nil {
		tb.t.Fatalf("%s: device write %s: %s", tb.name, id, raw)
	}
	return ids
}

func (tb *tab) stores() originStores {
	tb.t.Helper()
	var st originStores
	tb.call(&st, "stores")
	return st
}

// eventually polls cond every 200 ms until it holds or limit passes
// (the wait a browser needs, never a timing assertion); it returns
// cond's last description of what is missing.
func eventually(limit time.Duration, cond func() string) string {
	deadline := time.Now().Add(limit)
	for {
		miss := cond()
		if miss == "" || time.Now().After(deadline) {
			return miss
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// deviceSetup starts a server with one field worker, the proxy (never
// cutting) and a browser, and opens the first tab's Device with the PIN
// (a new device with id device), logged in.
func deviceSetup(t *testing.T, device string) (*sdkServer, *cutProxy, *sdkBrowser, *tab) {
	t.Helper()
	chromium := requireBrowser(t)
	bundle := sdkBundle(t)
	s := startSDKServer(t)
	s.fieldWorker("fw")
	p := startCutProxy(t, s.url, bundle, 1)
	b := newSDKBrowser(t, chromium, 5*time.Minute)
	first := tabIn(t, "tab 1", b.ctx, sdkPage(p))
	first.deviceOpenOK(devicePIN, device, "new")
	first.call(nil, "deviceLogin", "fw", sdkPassword)
	return s, p, b, first
}

// TestSDKDeviceTwoTabsOneLeader: two pages of one browser context open
// the same Device with the PIN and start their sync loops; exactly one
// holds the leader Web Lock. Both append 40 notes at once (to a shared
// record and one of their own). Both loops finish (no deadlock), each tab
// heard of the other's record over the BroadcastChannel and reads all 80
// ops, only the leader ever synced, its live stream connected, and the
// outbox drains to the server, which holds every op. Then the leader tab
// closes: the other tab takes over and syncs its next write.
func TestSDKDeviceTwoTabsOneLeader(t *testing.T) {
	s, p, b, first := deviceSetup(t, uuid.NewString())
	shared, own1, own2 := uuid.NewString(), uuid.NewString(), uuid.NewString()
	for _, id := range []string{shared, own1, own2} {
		first.deviceWrite(id, []edit{{Field: "team", Action: "set", Value: s.team}, {Field: "status", Action: "set", Value: "potential"}})
	}
	second := tabIn(t, "tab 2", b.ctx, sdkPage(p))
	second.deviceOpenOK(devicePIN, "", "locked")
	tabs := []*tab{first, second}
	for _, tb := range tabs {
		tb.call(nil, "deviceStart")
	}
	leaders := func() []string {
		var names []string
		for _, tb := range tabs {
			if tb.deviceStatus().Leader {
				names = append(names, tb.name)
			}
		}
		return names
	}
	if miss := eventually(30*time.Second, func() string {
		if l := leaders(); len(l) != 1 {
			return fmt.Sprintf("leaders %v", l)
		}
		return ""
	}); miss != "" {
		t.Fatalf("want exactly one leader tab, got %s", miss)
	}

	first.call(nil, "deviceWriteLoop", []string{shared, own1}, 40, "tab 1")
	second.call(nil, "deviceWriteLoop", []string{shared, own2}, 40, "tab 2")
	byRecord := map[string][]string{}
	for i, tb := range tabs {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Minute)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`h.deviceLoopResult()`, chromedp.EvalAwaitPromise))
		cancel()
		if err != nil {
			t.Fatalf("%s: the writes did not finish within 2 minutes (deadlock?): %v", tb.name, err)
		}
		var r struct {
			outcome
			IDs []string `json:"ids"`
		}
		if err := json.Unmarshal([]byte(v), &r); err != nil || !r.OK || len(r.IDs) != 40 {
			t.Fatalf("%s: the writes failed: %s %v", tb.name, v, err)
		}
		own := []string{own1, own2}[i]
		for j, id := range r.IDs {
			rec := []string{shared, own}[j%2]
			byRecord[rec] = append(byRecord[rec], id)
		}
	}

	records := []string{shared, own1, own2}
	var sts []deviceStatus
	if miss := eventually(2*time.Minute, func() string {
		sts = sts[:0]
		for _, tb := range tabs {
			st := tb.deviceStatus(records...)
			sts = append(sts, st)
			if st.Outbox != 0 || st.Quarantine != 0 {
				return fmt.Sprintf("%s: outbox %d, quarantine %d, error %q", tb.name, st.Outbox, st.Quarantine, st.Error)
			}
			if st.Leader && !st.Live {
				return tb.name + ": the leader's live stream is not connected"
			}
		}
		return ""
	}); miss != "" {
		t.Fatalf("the leader did not drain the outbox of both tabs' writes with its live stream connected: %s", miss)
	}
	synced := 0
	for i, st := range sts {
		tb, other := tabs[i], []string{own2, own1}[i]
		if st.EverSynced {
			synced++
			if !st.Leader {
				t.Errorf("%s synced but is not the leader", tb.name)
			}
			if !st.Live {
				t.Errorf("%s leads but its live stream (GET /v1/sync/events) is not connected", tb.name)
			}
		}
		if !slices.Contains(st.Heard, other) {
			t.Errorf("%s's subscription never heard of the other tab's record (BroadcastChannel); heard %v", tb.name, st.Heard)
		}
		for rec, ids := range byRecord {
			if m := missing(ids, st.Ops[rec]); len(m) > 0 {
				t.Errorf("%s lacks %d of the %d ops written to %s by both tabs, such as %s", tb.name, len(m), len(ids), rec, m[0])
			}
		}
	}
	if synced != 1 {
		t.Errorf("%d tabs ran a sync; want exactly one (the leader)", synced)
	}
	for rec, ids := range byRecord {
		serverHolds(t, s, rec, ids)
	}
	lead := leaders()
	t.Logf("leader %v; %d ops written at once by two tabs, all on the server", lead, len(byRecord[shared])+len(byRecord[own1])+len(byRecord[own2]))

	// The leader tab closes: the other takes the leader lock over and
	// syncs its next write.
	heir := second
	if lead[0] == second.name {
		first, heir = second, first
	}
	first.cancel()
	after := heir.deviceWrite(shared, []edit{{Field: "notes", Action: "append", Value: map[string]string{"text": "after the leader left"}}})
	if miss := eventually(time.Minute, func() string {
		if st := heir.deviceStatus(); !st.Leader || st.Outbox != 0 {
			return fmt.Sprintf("leader %v, outbox %d, error %q", st.Leader, st.Outbox, st.Error)
		}
		return ""
	}); miss != "" {
		t.Fatalf("%s did not take over after the leader tab closed: %s", heir.name, miss)
	}
	serverHolds(t, s, shared, after)
}

// rawScan is h.rawScan's answer.
type rawScan struct {
	Databases []string `json:"databases"`
	Values    int      `json:"values"`
	Envelopes int      `json:"envelopes"`
	Clear     []string `json:"clear"`
	Found     []string `json:"found"`
}

// TestSDKDeviceEncryptedAtRest: a Device writes a note holding a unique
// canary and syncs it (the server's answer is stored too); a raw read of
// every object store of the origin (bypassing the SDK) finds no canary in
// the device's database, whose every value except the keyring is an
// AES-GCM envelope. The scan can fail: it finds the canary in a clear
// replica of the same origin. After a reload a wrong PIN is refused and
// the right one opens the device and reads the note.
func TestSDKDeviceEncryptedAtRest(t *testing.T) {
	s, p, _, first := deviceSetup(t, uuid.NewString())
	record, canary := uuid.NewString(), "canary-"+uuid.NewString()
	first.deviceWrite(record, []edit{{Field: "team", Action: "set", Value: s.team}, {Field: "status", Action: "set", Value: "potential"}})
	first.deviceWrite(record, []edit{{Field: "notes", Action: "append", Value: map[string]string{"text": "met at " + canary}}})
	var res outcome
	first.call(&res, "deviceSync")
	if !res.OK {
		t.Fatalf("device sync: %+v", res)
	}
	if st := first.deviceStatus(record); !strings.Contains(st.States[record], canary) {
		t.Fatalf("the device does not read its own note: %s", st.States[record])
	}
	// A clear replica (the SDK's Replica on IndexedDB, no Device) of the
	// same origin holds the canary: the scan must find it there.
	first.call(nil, "open", uuid.NewString(), "clear")
	first.call(nil, "login", "fw", sdkPassword)
	first.write(record, []edit{{Field: "notes", Action: "append", Value: map[string]string{"text": "met at " + canary}}})

	var scan rawScan
	first.call(&scan, "rawScan", canary)
	if !slices.Contains(scan.Databases, "fieldsync") || !slices.Contains(scan.Databases, "clear") {
		t.Fatalf("the raw scan read databases %v; want fieldsync and clear", scan.Databases)
	}
	var inClear int
	for _, f := range scan.Found {
		if !strings.HasPrefix(f, "clear/") {
			t.Errorf("the canary is readable at rest in the device's database at %s", f)
		} else {
			inClear++
		}
	}
	if inClear == 0 {
		t.Errorf("the raw scan did not find the canary in the clear replica (the scan cannot see it): %+v", scan)
	}
	var devClear []string
	for _, c := range scan.Clear {
		if strings.HasPrefix(c, "fieldsync/") {
			devClear = append(devClear, c)
		}
	}
	if !slices.Equal(devClear, []string{`fieldsync/meta/\0keyring`}) {
		t.Errorf("values of the device's database not encrypted: %v; want only the keyring", devClear)
	}
	t.Logf("raw scan: %d values in %v, %d AES-GCM envelopes, canary found only in the clear replica (%d places)", scan.Values, scan.Databases, scan.Envelopes, inClear)

	// A reload: the key is gone with the page; a wrong PIN is refused.
	if err := chromedp.Do(first.ctx, chromedp.Navigate(sdkPage(p))); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if _, err := chromedp.Run(first.ctx, chromedp.Poll[bool](`window.ready === true`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if o := first.deviceOpen("000000", ""); o.OK || o.Name != "WrongPinError" {
		t.Fatalf("a wrong PIN answered %+v; want WrongPinError", o)
	}
	var state string
	first.call(&state, "deviceState")
	if state != "locked" {
		t.Errorf("after a wrong PIN the device is %q; want locked", state)
	}
	first.deviceOpenOK(devicePIN, "", "locked")
	if st := first.deviceStatus(record); !strings.Contains(st.States[record], canary) {
		t.Errorf("after a reload and the right PIN the device does not read the note: %q", st.States[record])
	}
}

// TestSDKDeviceWipeWithAnotherTabOpen: a Device open in two tabs, the
// second also holding the app's own database open (closing it when asked
// to, as the SDK's connection does) plus a cache and a localStorage key.
// An administrator revokes the device; the first tab's next sync wipes:
// both tabs then see no IndexedDB database and no cache, and the second
// tab's device is wiped too. Then a device wiped by wipe() while the
// other tab holds a connection that never closes: see the test's log.
func TestSDKDeviceWipeWithAnotherTabOpen(t *testing.T) {
	device := uuid.NewString()
	s, p, b, first := deviceSetup(t, device)
	record := uuid.NewString()
	first.deviceWrite(record, []edit{{Field: "team", Action: "set", Value: s.team}, {Field: "status", Action: "set", Value: "potential"}})
	var res outcome
	if first.call(&res, "deviceSync"); !res.OK {
		t.Fatalf("device sync: %+v", res)
	}
	second := tabIn(t, "tab 2", b.ctx, sdkPage(p))
	second.deviceOpenOK(devicePIN, "", "locked")
	var filled struct {
		originStores
		LocalStorage int `json:"localStorage"`
	}
	second.call(&filled, "fillOrigin")
	if len(filled.IDB) < 2 || len(filled.Caches) != 1 || filled.LocalStorage != 1 {
		t.Fatalf("the origin was not filled: %+v", filled)
	}
	second.call(nil, "holdDatabase", "app-data", true)

	s.must(http.StatusOK, http.MethodPost, "/v1/devices/"+device+"/revoke", s.admin, nil, nil)
	if first.call(&res, "deviceSync"); res.OK || res.Name != "WipedError" {
		t.Fatalf("the revoked device's sync answered %+v; want WipedError", res)
	}
	for _, tb := range []*tab{first, second} {
		if miss := eventually(30*time.Second, func() string {
			if st := tb.stores(); len(st.IDB)+len(st.Caches) > 0 {
				return fmt.Sprintf("IndexedDB %v, caches %v", st.IDB, st.Caches)
			}
			return ""
		}); miss != "" {
			t.Errorf("%s: after the wipe the origin still keeps %s", tb.name, miss)
		}
	}
	var state string
	if second.call(&state, "deviceState"); state != "wiped" {
		t.Errorf("the other tab's device is %q after the wipe; want wiped", state)
	}
	if n, err := chromedp.Run(second.ctx, chromedp.Evaluate[int](`localStorage.length`)); err != nil || n != 0 {
		t.Errorf("localStorage keeps %d keys after the wipe (%v)", n, err)
	}
}

// TestSDKDeviceWipeBlockedByAnotherTab: another tab of the origin holds
// the app's own database open and never closes it (no versionchange
// handler), which blocks its deletion. wipe() still finishes: the key and
// the SDK's database are gone, Cache Storage is emptied, and the blocked
// deletion stays queued; once that tab closes, the origin keeps no
// database.
func TestSDKDeviceWipeBlockedByAnotherTab(t *testing.T) {
	_, p, b, first := deviceSetup(t, uuid.NewString())
	second := tabIn(t, "tab 2", b.ctx, sdkPage(p))
	second.call(nil, "fillOrigin")
	second.call(nil, "holdDatabase", "app-data", false)

	ctx, cancel := context.WithTimeout(first.ctx, 30*time.Second)
	_, err := chromedp.Run(ctx, chromedp.Evaluate[string](`h.deviceWipe()`, chromedp.EvalAwaitPromise))
	cancel()
	if err != nil {
		t.Fatalf("wipe() did not finish within 30 s while another tab held a database open: %v", err)
	}
	st := first.stores()
	if len(st.Caches) != 0 || slices.Contains(st.IDB, "fieldsync") {
		t.Errorf("after wipe() with a deletion blocked, the origin keeps IndexedDB %v and caches %v; want no cache and no fieldsync database", st.IDB, st.Caches)
	}
	if v, err := chromedp.Run(second.ctx, chromedp.Evaluate[bool](`window.heldVersionChange`)); err != nil || !v {
		t.Errorf("the holding tab was not asked to close its connection (versionchange): %v %v", v, err)
	}
	t.Logf("with the deletion blocked: IndexedDB %v, caches %v", st.IDB, st.Caches)

	second.cancel() // the tab goes away, its connection with it
	if miss := eventually(30*time.Second, func() string {
		if st := first.stores(); len(st.IDB)+len(st.Caches) > 0 {
			return fmt.Sprintf("IndexedDB %v, caches %v", st.IDB, st.Caches)
		}
		return ""
	}); miss != "" {
		t.Errorf("after the blocking tab closed the origin still keeps %s", miss)
	}
}
