//go:build browser

package browser

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/fieldsync/fieldsync/server/demo"
)

// The field app's browser tests (server/app): each browser reaches the
// demo server through its own appProxy, which can drop every connection
// (the network is gone for the page, its service worker and the SDK
// alike), while DevTools tells the page it is offline (navigator.onLine).

// appProxy forwards to the server until cut, then closes every request's
// connection unanswered, as a lost network does.
type appProxy struct {
	url string
	cut atomic.Bool
	// shell, when set, is served as the service worker's shell version in
	// /app/sw.js: a new release of the app as the browser sees it.
	shell atomic.Value
}

func newAppProxy(t *testing.T, base string) *appProxy {
	t.Helper()
	target, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &appProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.cut.Load() {
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				_ = conn.Close()
			}
			return
		}
		if v, _ := p.shell.Load().(string); v != "" && r.URL.Path == "/app/sw.js" {
			p.serveRelease(w, base, v)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// serveRelease answers /app/sw.js with its shell version replaced by v.
func (p *appProxy) serveRelease(w http.ResponseWriter, base, v string) {
	resp, err := http.Get(base + "/app/sw.js")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(regexp.MustCompile(`"[0-9a-f]{16}"`).ReplaceAll(body, []byte(`"`+v+`"`)))
}

// appBrowser is one Chromium (its own profile) on the field app through
// its own proxy.
type appBrowser struct {
	*browser
	proxy *appProxy
}

func newAppBrowser(t *testing.T, chromium, base string, width, height int64) *appBrowser {
	t.Helper()
	b := &appBrowser{browser: newBrowser(t, chromium), proxy: newAppProxy(t, base)}
	b.do("viewport", chromedp.EmulateViewport(width, height))
	return b
}

// open loads the app and logs in as username.
func (b *appBrowser) open(username, wait string) {
	b.t.Helper()
	b.do("open the app", chromedp.Navigate(b.proxy.url+"/app/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.do("log in as "+username,
		chromedp.SendKeys(chromedp.CSS("#username"), username),
		chromedp.SendKeys(chromedp.CSS("#password"), demo.Password),
		chromedp.Click(chromedp.CSS("#login-button")),
		chromedp.WaitVisible(chromedp.CSS(wait)))
	b.waitShell(wait)
	b.idle()
}

// waitShell waits until the service worker's cache holds the whole shell
// and the worker controls the page, so that the next visit works offline.
// A first visit the worker has not claimed (Chromium sometimes leaves it
// uncontrolled under load although the worker called clients.claim) is
// reloaded once, as a person's second visit would be; ready is the
// selector that shows the page is back.
func (b *appBrowser) waitShell(ready string) {
	b.t.Helper()
	cached := `(async () => {
		const reg = await navigator.serviceWorker.getRegistration();
		if (!reg || !reg.active || reg.active.state !== "activated") { return false; }
		const keys = await caches.keys();
		if (keys.length !== 1) { return false; }
		return (await (await caches.open(keys[0])).keys()).length === 5;
	})()`
	controlled := `!!navigator.serviceWorker.controller`
	poll := func(js string, d time.Duration) error {
		_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(200*time.Millisecond)))
		return err
	}
	err := poll(cached, 60*time.Second)
	if err == nil && poll(controlled, 5*time.Second) != nil {
		b.do("reload the app (second visit)", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(ready)))
		err = poll(controlled, 30*time.Second)
	}
	if err != nil {
		state := b.eval(`(async () => JSON.stringify({controller: !!navigator.serviceWorker.controller, registrations: (await navigator.serviceWorker.getRegistrations()).length, caches: await caches.keys()}))()`)
		b.t.Fatalf("the service worker did not cache the shell and control the page: %v (%s; page errors %v)", err, state, b.errors())
	}
}

// offline cuts the network (proxy and navigator.onLine) or brings it back.
func (b *appBrowser) offline(off bool) {
	b.t.Helper()
	b.proxy.cut.Store(off)
	if _, err := chromedp.Call(b.ctx, network.Enable, network.EnableParams{}); err != nil {
		b.t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		b.t.Fatalf("override the network state: %v", err)
	}
	want := "Online"
	if off {
		want = "Offline"
	}
	b.waitText("#st-online", want)
}

// sync presses "Sync now" and waits until nothing is left to send.
func (b *appBrowser) sync() {
	b.t.Helper()
	b.do("sync", chromedp.Click(chromedp.CSS("#sync")))
	b.waitText("#message", "Synced")
	b.waitJS(`document.querySelector("#sync").getAttribute("aria-busy") === "false" && document.querySelector("#st-unsynced").dataset.count === "0"`)
}

// view saves what the screen shows (the viewport, as a person sees it at
// this size; shot saves the whole page) as <n>-<name>.png, after scrolling
// to sel when given.
func (b *appBrowser) view(name, sel string) {
	b.t.Helper()
	if sel != "" {
		b.eval(fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (el) { el.scrollIntoView({block: "start"}); window.scrollBy(0, -document.querySelector("#status").offsetHeight - 8); } return ""; })()`, sel))
	} else {
		b.eval(`(() => { window.scrollTo(0, 0); return ""; })()`)
	}
	buf, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", shotCount.Add(1), name))
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		b.t.Errorf("write %s: %v", file, err)
	}
}

func (b *appBrowser) waitJS(js string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		b.shot("failed-wait")
		b.t.Fatalf("waiting for %s: %v (page errors %v)", js, err, b.errors())
	}
}

// unsynced returns the status bar's count of changes not sent.
func (b *appBrowser) unsynced() string {
	return b.eval(`document.querySelector("#st-unsynced").dataset.count`)
}

// storageLeft lists what the origin keeps: localStorage, sessionStorage,
// IndexedDB databases and Cache Storage entries.
func (b *appBrowser) storageLeft() string {
	return b.eval(`(async () => [localStorage.length, sessionStorage.length, (await indexedDB.databases()).length, (await caches.keys()).length].join(","))()`)
}

// recordID returns the id of the record the page shows.
func (b *appBrowser) recordID() string {
	b.t.Helper()
	id := strings.TrimPrefix(b.eval(`location.hash`), "#/record/")
	if len(id) != 36 {
		b.t.Fatalf("the page shows %q, not a record", id)
	}
	return id
}

// serverRecord is GET /v1/records/{id} as the tests read it.
type serverRecord struct {
	Deleted bool `json:"deleted"`
	Fields  map[string]struct {
		Value     json.RawMessage `json:"value"`
		Values    []string        `json:"values"`
		Conflicts []struct {
			Value json.RawMessage `json:"value"`
		} `json:"conflicts"`
		Entries []struct {
			Value map[string]any `json:"value"`
		} `json:"entries"`
	} `json:"fields"`
}

func (c *apiClient) record(id string) serverRecord {
	c.t.Helper()
	var r serverRecord
	c.do(http.MethodGet, "/v1/records/"+id, nil, &r)
	return r
}

// TestAppOfflineCreate: a field worker logs in once, loses the network,
// creates an identification with indicators and a note, reloads the page
// offline and still finds it by its code, comes back online and syncs;
// the server's record is exactly what was entered, and no answer of the
// API was ever put in the service worker's cache.
func TestAppOfflineCreate(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newAppBrowser(t, chromium, base, 800, 1280)
	b.do("open the app", chromedp.Navigate(b.proxy.url+"/app/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.view("app-login", "")
	b.open("worker.north", "#list .item")
	b.waitText("#st-unsynced", "All changes sent")
	b.view("app-list", "")

	b.offline(true)
	b.do("new identification", chromedp.Click(chromedp.CSS(`#nav a[href="#/new"]`)), chromedp.WaitVisible(chromedp.CSS("#new-form")))
	b.do("fill the form",
		chromedp.SendKeys(chromedp.CSS("#new-code"), "N-APP-001"),
		choose("#new-encounter_date", "2026-12-01"),
		chromedp.SendKeys(chromedp.CSS("#new-location"), "Bus station, Shkodër"),
		chromedp.SendKeys(chromedp.CSS("#new-region"), "Shkodër"),
		chromedp.SendKeys(chromedp.CSS("#new-citizenship"), "al"),
		choose("#new-status", "presumed"),
		choose("#new-sex", "female"),
		choose("#new-age_group", "adult"),
		chromedp.Click(chromedp.CSS("#new-exploitation_types-labour")),
		chromedp.Click(chromedp.CSS("#new-recruitment_channels-online_ad")))
	b.view("app-new", "#new-form")
	b.do("save", chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#indicators")))
	b.waitText("#message", "Saved on this device.")
	id := b.recordID()
	if got := b.text("#ind-variant"); !strings.Contains(got, "adult") {
		t.Errorf("an adult's record shows the indicator variant %q", got)
	}
	// Two indicators of two dimensions, then a note.
	n := 0
	fmt.Sscan(b.unsynced(), &n)
	if n != 13 {
		t.Errorf("the new record waits as %d ops, want 13 (team, identifier type, 9 fields, 2 set elements)", n)
	}
	waitCount := func(want int) {
		b.waitJS(fmt.Sprintf(`document.querySelector("#st-unsynced").dataset.count === "%d"`, want))
	}
	b.do("indicators",
		chromedp.Click(chromedp.CSS("#ind-deceived_nature_of_job")))
	waitCount(n + 1)
	b.do("second indicator", chromedp.Click(chromedp.CSS(`fieldset[data-dimension="exploitative_conditions"] input[type=checkbox]`)))
	waitCount(n + 2)
	second := b.eval(`document.querySelector('fieldset[data-dimension="exploitative_conditions"] input[type=checkbox]').value`)
	b.do("note",
		chromedp.SendKeys(chromedp.CSS("#notes-text-identification"), "Met at the bus station; says her passport was taken."),
		chromedp.Click(chromedp.CSS("#add-notes")))
	b.waitText("#log-notes", "passport was taken")
	waitCount(n + 3)
	// A consent event and a referral abroad.
	b.do("consent", choose("#consent-scope", "referral"), chromedp.Click(chromedp.CSS("#add-consent")))
	b.waitText("#log-consent", "Being referred to a service: Given")
	b.do("referral", choose("#ref-service", "legal"), chromedp.SendKeys(chromedp.CSS("#ref-org"), "Legal aid clinic"),
		chromedp.SendKeys(chromedp.CSS("#ref-country"), "de"), chromedp.Click(chromedp.CSS("#add-referral")))
	b.waitText("#log-referrals", "Legal aid · Legal aid clinic · DE")
	waitCount(n + 5)
	b.view("app-record-consent", "#log-consent")
	b.view("app-record-offline", "")
	b.view("app-record-indicators", "#indicators")
	b.view("app-record-notes", "#log-notes")

	// Reload without a network: the service worker serves the app, the
	// replica the data; search by code finds it.
	b.do("reload offline", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#status")))
	b.offline(true) // DevTools' override does not outlive the reload everywhere: say it again
	b.do("list offline", chromedp.Click(chromedp.CSS(`#nav a[href="#/list"]`)), chromedp.WaitVisible(chromedp.CSS("#search-code")),
		chromedp.SendKeys(chromedp.CSS("#search-code"), "APP-001"))
	b.waitText("#list-count", "1 of")
	b.waitText("#list", "N-APP-001")
	if got := b.unsynced(); got != fmt.Sprint(n+5) {
		t.Errorf("after the reload %s changes wait, want %d", got, n+5)
	}
	b.view("app-offline-reload", "")
	b.do("open it offline", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[data-record=%q]`, id))), chromedp.WaitVisible(chromedp.CSS("#log-notes")))
	b.waitText("#log-notes", "passport was taken")
	if got := b.eval(`String(document.querySelector("#ind-deceived_nature_of_job").checked)`); got != "true" {
		t.Error("the indicator is not checked after the reload")
	}

	// Back online: sync; the server holds exactly what was entered.
	b.offline(false)
	b.sync()
	b.view("app-synced", "")
	w := login(t, base, "worker.north", demo.Password)
	r := w.record(id)
	registers := map[string]string{
		"code": `"N-APP-001"`, "encounter_date": `"2026-12-01"`, "location": `"Bus station, Shkodër"`, "region": `"Shkodër"`,
		"citizenship": `"AL"`, "status": `"presumed"`, "sex": `"female"`, "age_group": `"adult"`, "child_presumed": "false",
		"identifier_type": `"first_responder"`, "team": fmt.Sprintf("%q", w.user.Teams[0]),
	}
	sets := map[string][]string{
		"exploitation_types": {"labour"}, "recruitment_channels": {"online_ad"},
		"indicators": slices.Sorted(slices.Values([]string{"deceived_nature_of_job", second})),
	}
	var names []string
	for f := range r.Fields {
		names = append(names, f)
	}
	if len(r.Fields) != len(registers)+len(sets)+3 {
		t.Errorf("the server's record has fields %v, want exactly the %d entered", names, len(registers)+len(sets)+3)
	}
	// Each entry is dated by the device (YYYY-MM-DD); the rest is exact.
	entry := func(f string) string {
		es := r.Fields[f].Entries
		if len(es) != 1 {
			return fmt.Sprintf("%d entries", len(es))
		}
		if d, _ := es[0].Value["date"].(string); len(d) != 10 {
			return fmt.Sprintf("date %q", d)
		}
		delete(es[0].Value, "date")
		return fmt.Sprint(es[0].Value)
	}
	if got, want := entry("consent"), fmt.Sprint(map[string]any{"scope": "referral", "given": true}); got != want {
		t.Errorf("server consent = %s, want %s", got, want)
	}
	if got, want := entry("referrals"), fmt.Sprint(map[string]any{"service": "legal", "organisation": "Legal aid clinic", "destination_country": "DE", "cross_border": true}); got != want {
		t.Errorf("server referrals = %s, want %s", got, want)
	}
	for f, want := range registers {
		if got := string(r.Fields[f].Value); got != want || len(r.Fields[f].Conflicts) != 0 {
			t.Errorf("server %s = %s (%d conflicts), want %s", f, got, len(r.Fields[f].Conflicts), want)
		}
	}
	for f, want := range sets {
		if got := r.Fields[f].Values; !slices.Equal(got, want) {
			t.Errorf("server %s = %v, want %v", f, got, want)
		}
	}
	if notes := r.Fields["notes"].Entries; len(notes) != 1 || notes[0].Value["text"] != "Met at the bus station; says her passport was taken." {
		t.Errorf("server notes = %+v", notes)
	}
	// The service worker's cache holds the shell and nothing of the API.
	cached := b.eval(`(async () => { const out = []; for (const k of await caches.keys()) { for (const r of await (await caches.open(k)).keys()) { out.push(new URL(r.url).pathname); } } return out.sort().join(" "); })()`)
	if want := "/app/ /app/app.js /app/icon.svg /app/manifest.webmanifest /app/style.css"; cached != want {
		t.Errorf("the service worker's cache holds %s, want the shell alone: %s", cached, want)
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

// choose sets a select's or date field's value as a person does: with
// its input and change events.
func choose(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.value = %q; el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true})); })()`, sel, value))
}

// idle waits until no sync runs.
func (b *appBrowser) idle() {
	b.t.Helper()
	b.waitJS(`!!document.querySelector("#sync") && document.querySelector("#sync").getAttribute("aria-busy") === "false"`)
}

// goRecord shows record id (it must be on the device).
func (b *appBrowser) goRecord(id string) {
	b.t.Helper()
	b.eval(fmt.Sprintf(`(() => { location.hash = "#/record/%s"; return ""; })()`, id))
	b.waitJS(fmt.Sprintf(`location.hash === "#/record/%s" && !!document.querySelector("#details-form")`, id))
	b.idle()
}

// setStatus saves status on the record the page shows.
func (b *appBrowser) setStatus(status string) {
	b.t.Helper()
	b.do("status "+status, choose("#ed-status", status), chromedp.Click(chromedp.CSS("#save-details")))
	b.waitText("#message", "Saved on this device.")
}

// conflictValues returns the values the status conflict shows side by side.
func (b *appBrowser) conflictValues() string {
	return b.eval(`[...document.querySelectorAll('.conflict[data-field="status"] .sibling')].map((s) => s.dataset.value).sort().join(" ")`)
}

// TestAppConflict: two field workers of one team set different statuses
// offline and sync; both see the conflict with both values, who and when;
// the team lead keeps one with one action; everyone converges on it.
func TestAppConflict(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	a := newAppBrowser(t, chromium, base, 800, 1280)
	b := newAppBrowser(t, chromium, base, 1280, 800)
	a.open("worker.north", "#list .item")
	a.do("new", chromedp.Click(chromedp.CSS(`#nav a[href="#/new"]`)), chromedp.WaitVisible(chromedp.CSS("#new-form")),
		chromedp.SendKeys(chromedp.CSS("#new-code"), "N-APP-002"), chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#indicators")))
	id := a.recordID()
	a.sync()
	b.open("worker2.north", "#list .item")
	b.goRecord(id)

	a.offline(true)
	b.offline(true)
	a.setStatus("presumed")
	b.setStatus("withdrawn")
	a.offline(false)
	a.sync()
	b.offline(false)
	b.sync()
	a.sync()
	want := `"presumed" "withdrawn"`
	for _, x := range []*appBrowser{a, b} {
		x.waitJS(`document.querySelectorAll('.conflict[data-field="status"] .sibling').length === 2`)
		if got := x.conflictValues(); got != want {
			t.Errorf("the conflict shows %s, want %s", got, want)
		}
		x.waitText(".conflict", "Written by you on this device")
		x.waitText(".conflict", "Written by another member")
	}
	a.view("app-conflict", "#conflicts")
	b.view("app-conflict-landscape", "#conflicts")
	a.do("list of conflicts", chromedp.Click(chromedp.CSS(`#nav a[href="#/list"]`)), chromedp.WaitVisible(chromedp.CSS("#filter-conflicts")),
		chromedp.Click(chromedp.CSS("#filter-conflicts")))
	a.waitText("#list", "N-APP-002")
	a.view("app-list-conflicts", "")

	// The team lead keeps "withdrawn" with one action.
	lead := newAppBrowser(t, chromium, base, 800, 1280)
	lead.open("lead.north", "#list .item")
	lead.goRecord(id)
	lead.waitJS(`document.querySelectorAll('.conflict[data-field="status"] .sibling').length === 2`)
	lead.do("keep withdrawn", chromedp.Click(chromedp.CSS(`.conflict[data-field="status"] button[data-action="keep"][data-value='"withdrawn"']`)))
	lead.waitText("#message", "Saved on this device.")
	lead.sync()
	lead.waitJS(`!document.querySelector("#conflicts")`)
	lead.view("app-conflict-kept", "")
	// The team lead deletes the record and restores it.
	lead.do("delete", chromedp.Click(chromedp.CSS("#delete")))
	lead.waitJS(`!!document.querySelector("#deleted-note") && !!document.querySelector("#undelete")`)
	lead.sync()
	w := login(t, base, "worker.north", demo.Password)
	if r := w.record(id); !r.Deleted {
		t.Error("the record the team lead deleted is not deleted at the server")
	}
	lead.do("undelete", chromedp.Click(chromedp.CSS("#undelete")))
	lead.waitJS(`!document.querySelector("#deleted-note") && !!document.querySelector("#delete")`)
	lead.sync()
	if r := w.record(id); r.Deleted {
		t.Error("the record the team lead restored is still deleted at the server")
	}
	for _, x := range []*appBrowser{a, b} {
		x.sync()
		x.goRecord(id)
		x.waitJS(`!document.querySelector("#conflicts") && document.querySelector("#ed-status").value === "withdrawn"`)
	}
	if st := w.record(id).Fields["status"]; string(st.Value) != `"withdrawn"` || len(st.Conflicts) != 0 {
		t.Errorf("the server holds status %s with %d conflicts, want withdrawn alone", st.Value, len(st.Conflicts))
	}
	for _, x := range []*appBrowser{a, b, lead} {
		if errs := x.errors(); len(errs) > 0 {
			t.Errorf("page errors: %v", errs)
		}
	}
}

// idbRecords lists the kinds of the records in the app's replica database.
const idbRecords = `(async () => {
	const db = await new Promise((ok, ko) => { const r = indexedDB.open("fieldsync-app"); r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
	const all = await new Promise((ok, ko) => { const r = db.transaction("records").objectStore("records").getAll(); r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
	db.close();
	return all.map((s) => s.kind).sort().join(" ");
})()`

// TestAppVisitor: on a phone, a visitor writes a site visit with a note
// and an identification for the host team; after the sync the
// identification is gone from the phone (and the app says so), and the
// host team's field worker has it.
func TestAppVisitor(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	v := newAppBrowser(t, chromium, base, 360, 800)
	v.open("visitor.de", "#view section[data-week]")
	v.view("app-visitor-visits", "")
	v.do("new visit",
		choose("#visit-date", "2026-12-02"),
		chromedp.SendKeys(chromedp.CSS("#visit-summary"), "Met the labour inspectorate at the port."),
		chromedp.Click(chromedp.CSS("#save-visit")),
		chromedp.WaitVisible(chromedp.CSS("#log-notes")))
	v.do("visit note",
		chromedp.SendKeys(chromedp.CSS("#notes-text-site_visit"), "Two workers without contracts at the fish market."),
		chromedp.Click(chromedp.CSS("#add-notes")))
	v.waitText("#log-notes", "without contracts")
	v.view("app-visitor-visit", "")
	visit := strings.TrimPrefix(v.eval(`location.hash`), "#/visit/")

	v.do("identification for the host team", chromedp.Click(chromedp.CSS(`#nav a[href="#/new"]`)), chromedp.WaitVisible(chromedp.CSS("#new-form")))
	v.waitText("#new-form", "removed from this device")
	v.do("fill",
		chromedp.SendKeys(chromedp.CSS("#new-code"), "V-APP-001"),
		choose("#new-age_group", "unknown"),
		chromedp.SendKeys(chromedp.CSS("#new-location"), "Fish market"))
	v.view("app-visitor-new", "")
	v.do("save", chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#view section[data-week]")))
	v.waitText("#message", "then removed from this device")
	v.sync()
	v.waitText("#visitor-sent", "1 identification was sent to the host team and removed from this device.")
	v.view("app-visitor-sent", "")
	if got := v.eval(idbRecords); strings.Contains(got, "identification") || !strings.Contains(got, "site_visit") {
		t.Errorf("after the sync the visitor's phone holds records of kinds %q, want site visits and no identification", got)
	}

	w := login(t, base, "worker.north", demo.Password)
	var list struct {
		Records []struct {
			ID string `json:"id"`
		} `json:"records"`
	}
	w.do(http.MethodGet, "/v1/records?kind=identification&code=V-APP-001", nil, &list)
	if len(list.Records) != 1 {
		t.Fatalf("the host team's field worker finds %d records with code V-APP-001, want 1", len(list.Records))
	}
	r := w.record(list.Records[0].ID)
	if string(r.Fields["team"].Value) != fmt.Sprintf("%q", w.user.Teams[0]) || string(r.Fields["child_presumed"].Value) != "true" {
		t.Errorf("the visitor's identification: team %s, child_presumed %s", r.Fields["team"].Value, r.Fields["child_presumed"].Value)
	}
	if notes := w.record(visit).Fields["notes"].Entries; len(notes) != 1 || notes[0].Value["text"] != "Two workers without contracts at the fish market." {
		t.Errorf("the site visit's notes at the server: %+v", notes)
	}
	if errs := v.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

// TestAppRejectedAndLogout: a change the server refuses is told in plain
// words and can be dismissed; logout with unsent changes refuses until it
// could sync, then leaves nothing in the browser; the next person logs in
// on the same browser and gets the app shell cached again.
func TestAppRejectedAndLogout(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newAppBrowser(t, chromium, base, 800, 1280)
	b.open("worker.north", "#list .item")

	// A formal status set by a supervisor: the field worker's change of it
	// is refused by the server.
	b.do("formal records", choose("#filter-status", "identified"))
	b.waitText("#list-count", "of")
	b.do("open one", chromedp.Click(chromedp.CSS("#list a.item")), chromedp.WaitVisible(chromedp.CSS("#details-form")))
	b.setStatus("presumed")
	b.do("sync", chromedp.Click(chromedp.CSS("#sync")))
	b.waitText("#st-rejected", "1 change was refused")
	b.do("see why", chromedp.Click(chromedp.CSS("#st-rejected")), chromedp.WaitVisible(chromedp.CSS("#rejected li")))
	b.waitText("#rejected", "Your change to Status of")
	b.waitText("#rejected", "You may not make this change")
	b.view("app-rejected", "")
	b.do("dismiss", chromedp.Click(chromedp.CSS(`#rejected button[data-action="dismiss"]`)))
	b.waitText("#rejected", "No change was refused.")

	// Logout with a change not sent: refused, told, kept.
	b.offline(true)
	b.do("new", chromedp.Click(chromedp.CSS(`#nav a[href="#/new"]`)), chromedp.WaitVisible(chromedp.CSS("#new-form")),
		chromedp.SendKeys(chromedp.CSS("#new-code"), "N-APP-003"), chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#indicators")))
	id := b.recordID()
	b.do("log out offline", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#logout-unsent")))
	b.waitText("#logout-unsent", "not reached the server")
	b.view("app-logout-refused", "")
	// (not b.do: it would empty the message line, where the choice is)
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("#logout-cancel"))); err != nil {
		t.Fatalf("stay logged in: %v", err)
	}
	if b.unsynced() == "0" {
		t.Error("the refused logout lost the unsent change")
	}
	// Online, logout syncs first and then clears everything.
	b.offline(false)
	b.do("log out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.waitText("#message", "You are logged out.")
	b.view("app-logged-out", "")
	if got := b.storageLeft(); got != "0,0,0,0" {
		t.Errorf("after logout the browser keeps (local, session, IndexedDB, caches) %s", got)
	}
	w := login(t, base, "worker.north", demo.Password)
	if got := string(w.record(id).Fields["code"].Value); got != `"N-APP-003"` {
		t.Errorf("the change logout synced: code %s", got)
	}

	// The next person logs in on the same browser.
	b.do("log in again", chromedp.SendKeys(chromedp.CSS("#username"), "worker2.north"),
		chromedp.SendKeys(chromedp.CSS("#password"), demo.Password),
		chromedp.Click(chromedp.CSS("#login-button")))
	b.waitJS(`!!document.querySelector("#list .item")`)
	b.waitShell("#list .item")
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

// TestAppWiped: a team lead revokes a member's tablet from the app's
// devices screen; the tablet is wiped at its next contact and says why;
// nothing is left in its browser.
func TestAppWiped(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newAppBrowser(t, chromium, base, 800, 1280)
	b.open("worker2.north", "#list .item")
	device := b.eval(`localStorage.getItem("fieldsync.app.device")`)
	// The team lead revokes it from the app's devices screen (two clicks).
	lead := newAppBrowser(t, chromium, base, 1280, 800)
	lead.open("lead.north", "#list .item")
	revoke := chromedp.CSS(fmt.Sprintf(`button[data-action="revoke"][data-device=%q]`, device))
	lead.do("devices", chromedp.Click(chromedp.CSS(`#nav a[href="#/devices"]`)), chromedp.WaitVisible(revoke))
	lead.view("app-devices", "")
	lead.do("revoke", chromedp.Click(revoke))
	lead.waitText(fmt.Sprintf(`button[data-device=%q]`, device), "Confirm")
	lead.do("confirm revoke", chromedp.Click(revoke))
	lead.waitText("#message", "Revoked:")
	lead.waitText(fmt.Sprintf(`li[data-device=%q]`, device), "revoked")
	b.do("sync after the revoke", chromedp.Click(chromedp.CSS("#sync")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.waitText("#message", "ordered this device to delete its data")
	b.view("app-wiped", "")
	if got := b.storageLeft(); got != "0,0,0,0" {
		t.Errorf("after the wipe the browser keeps (local, session, IndexedDB, caches) %s", got)
	}
	if body := b.eval(`document.body.innerText`); strings.Contains(body, "N-2026") {
		t.Error("after the wipe the page still shows records")
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

// axeScript is axe-core from the field app's dev dependencies (npm ci in
// server/app, as .ci/run does before these tests).
func axeScript(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "app", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		if os.Getenv("FIELDSYNC_REQUIRE_BROWSER") == "1" {
			t.Fatalf("axe-core is not installed: run npm ci in server/app (%v)", err)
		}
		t.Skipf("skipping the accessibility check: axe-core is not installed (npm ci in server/app): %v", err)
	}
	return string(data)
}

// axe runs axe-core's WCAG 2 A and AA rules on the page and returns its
// serious and critical violations, one line each.
func (b *appBrowser) axe(script, screen string) []string {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](script+";true")); err != nil {
		b.t.Fatalf("load axe-core: %v", err)
	}
	js := `(async () => {
		const r = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}});
		return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
			.map((v) => v.id + " (" + v.impact + "): " + v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", "));
	})()`
	var out []string
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("run axe-core on %s: %v", screen, err)
	}
	for _, x := range v {
		out = append(out, screen+": "+x)
	}
	return out
}

// TestAppAccessibility: axe-core finds no serious or critical WCAG 2
// A/AA violation on any screen of the field app (login, list, new
// identification, a record with a conflict, site visits, a visit, sync
// and device), and every control can be reached with the keyboard.
func TestAppAccessibility(t *testing.T) {
	chromium := requireBrowser(t)
	script := axeScript(t)
	base := startDemo(t)
	b := newAppBrowser(t, chromium, base, 800, 1280)
	b.do("open the app", chromedp.Navigate(b.proxy.url+"/app/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	// The check can fail: an input without a label is a serious violation.
	b.eval(`(() => { const i = document.createElement("input"); i.id = "unlabelled"; document.body.append(i); return ""; })()`)
	if got := strings.Join(b.axe(script, "self-check"), "; "); !strings.Contains(got, "label") {
		t.Errorf("axe-core did not report an unlabelled input: %q", got)
	}
	b.eval(`(() => { document.querySelector("#unlabelled").remove(); return ""; })()`)
	found := b.axe(script, "login")
	b.open("lead.north", "#list .item")
	found = append(found, b.axe(script, "list")...)
	conflicted := b.eval(`(() => { const c = [...document.querySelectorAll("#list a.item")].find((a) => a.textContent.includes("Conflict")); return c ? c.dataset.record : ""; })()`)
	if conflicted == "" {
		t.Fatal("the demo's list shows no conflict for lead.north")
	}
	b.goRecord(conflicted)
	b.waitJS(`!!document.querySelector("#conflicts")`)
	found = append(found, b.axe(script, "record")...)
	for _, s := range []struct{ hash, wait, name string }{
		{"#/new", "#new-form", "new"}, {"#/visits", "#visit-form", "visits"}, {"#/status", "#rejected", "status"},
	} {
		b.eval(fmt.Sprintf(`(() => { location.hash = %q; return ""; })()`, s.hash))
		b.waitJS(fmt.Sprintf(`!!document.querySelector(%q)`, s.wait))
		found = append(found, b.axe(script, s.name)...)
	}
	b.eval(`(() => { location.hash = "#/visits"; return ""; })()`)
	b.waitJS(`!!document.querySelector("#view section[data-week] a.item")`)
	b.eval(`(() => { location.hash = document.querySelector("#view section[data-week] a.item").getAttribute("href"); return ""; })()`)
	b.waitJS(`!!document.querySelector("#log-notes")`)
	found = append(found, b.axe(script, "visit")...)
	for _, f := range found {
		t.Errorf("accessibility: %s", f)
	}
	// The keyboard reaches the controls in reading order: tabbing from the
	// first menu entry visits logout, sync, the search field, the status
	// filter and the records.
	b.eval(`(() => { location.hash = "#/list"; return ""; })()`)
	b.waitJS(`!!document.querySelector("#search-code")`)
	reached := map[string]bool{}
	b.eval(`(() => { document.querySelector("#nav a").focus(); return ""; })()`)
	for range 20 {
		if err := chromedp.Do(b.ctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatal(err)
		}
		reached[b.eval(`document.activeElement.id || document.activeElement.className || document.activeElement.tagName`)] = true
	}
	for _, want := range []string{"sync", "logout", "search-code", "filter-status", "item"} {
		if !reached[want] {
			t.Errorf("tabbing through the list never reaches %s (reached %v)", want, reached)
		}
	}
}

// TestAppUpdateKeepsData: a new release of the app arrives while changes
// wait offline; its service worker caches the new shell completely, then
// deletes the old one and nothing else; the page says a new version is
// ready; reloaded without a network, the new version shows the waiting
// change, which then syncs.
func TestAppUpdateKeepsData(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newAppBrowser(t, chromium, base, 800, 1280)
	b.open("worker.north", "#list .item")
	old := b.eval(`caches.keys().then((k) => k.join(" "))`)
	b.offline(true)
	b.do("new", chromedp.Click(chromedp.CSS(`#nav a[href="#/new"]`)), chromedp.WaitVisible(chromedp.CSS("#new-form")),
		chromedp.SendKeys(chromedp.CSS("#new-code"), "N-APP-UPD"), chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#indicators")))
	id := b.recordID()
	waiting := b.unsynced()

	// The release reaches the browser (the page still believes it is
	// offline, so the app does not sync meanwhile).
	b.proxy.shell.Store("0000000000000001")
	b.proxy.cut.Store(false)
	b.eval(`navigator.serviceWorker.getRegistration().then((r) => r.update()).then(() => "")`)
	b.waitJS(`(async () => (await caches.keys()).join(" ") === "fieldsync-app-shell-0000000000000001" && (await (await caches.open("fieldsync-app-shell-0000000000000001")).keys()).length === 5)()`)
	b.waitText("#st-update", "A new version of the app is ready")
	b.view("app-update-ready", "")
	if old == "fieldsync-app-shell-0000000000000001" || !strings.HasPrefix(old, "fieldsync-app-shell-") {
		t.Fatalf("the first shell cache was %q", old)
	}

	// Offline again, reload: the new version shows the waiting change.
	b.proxy.cut.Store(true)
	b.do("reload offline", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#status")))
	b.offline(true)
	b.goRecord(id)
	if got := b.text("h1"); got != "N-APP-UPD" {
		t.Errorf("after the update the record shows %q", got)
	}
	if got := b.unsynced(); got != waiting {
		t.Errorf("after the update %s changes wait, want %s", got, waiting)
	}
	b.offline(false)
	b.sync()
	w := login(t, base, "worker.north", demo.Password)
	if got := string(w.record(id).Fields["code"].Value); got != `"N-APP-UPD"` {
		t.Errorf("the change made before the update reached the server as code %s", got)
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
