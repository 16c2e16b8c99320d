//go:build browser

// Package browser holds the console's browser tests: a real fieldsync
// server with demo data, driven through the system's headless Chromium
// with chromedp. See README.md.
package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/server"
	"github.com/fieldsync/fieldsync/server/demo"
)

const adminPassword = "correct horse battery staple"

// chromiumPath is the browser the tests drive: FIELDSYNC_CHROMIUM, else
// Debian's /usr/bin/chromium.
func chromiumPath() string {
	if p := os.Getenv("FIELDSYNC_CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

// requireBrowser skips the test when Chromium is missing, unless
// FIELDSYNC_REQUIRE_BROWSER=1 (CI), where that is a failure.
func requireBrowser(t *testing.T) string {
	t.Helper()
	p := chromiumPath()
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("FIELDSYNC_REQUIRE_BROWSER") == "1" {
			t.Fatalf("Chromium is not installed at %s and FIELDSYNC_REQUIRE_BROWSER=1: install it (apt-get install -y chromium) or set FIELDSYNC_CHROMIUM", p)
		}
		t.Skipf("skipping the browser tests: Chromium is not installed at %s (apt-get install -y chromium, or set FIELDSYNC_CHROMIUM); set FIELDSYNC_REQUIRE_BROWSER=1 to make this a failure", p)
	}
	return p
}

// cleanArtifacts removes an earlier run's screenshots once per test
// process, so that one test never removes another's.
var cleanArtifacts sync.Once

// shotCount numbers the screenshots of every test of the process.
var shotCount atomic.Int32

// artifactsDir is where screenshots go: FIELDSYNC_ARTIFACTS, else
// server/browser/artifacts/ (ignored by git).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FIELDSYNC_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Screenshots of an earlier run would be mistaken for this one's.
	cleanArtifacts.Do(func() {
		old, _ := filepath.Glob(filepath.Join(dir, "[0-9][0-9]-*.png"))
		for _, f := range old {
			_ = os.Remove(f)
		}
	})
	abs, _ := filepath.Abs(dir)
	return abs
}

// startDemo starts `fieldsync serve --demo` on a free loopback port.
func startDemo(t *testing.T) string {
	t.Helper()
	return "http://" + startMain(t, map[string]string{"FIELDSYNC_ADMIN_PASSWORD": adminPassword}, "--demo", nil).Addr()
}

// startMain starts a fieldsync server on 127.0.0.1 over a fresh data
// directory, configured by env and the extra flags (configure, when set,
// adjusts the Main first), its logs discarded unless FIELDSYNC_TEST_LOGS
// is set; it is closed when the test ends.
func startMain(t testing.TB, env map[string]string, extra string, configure func(*server.Main)) *server.Main {
	t.Helper()
	m := server.NewMain()
	m.Stdout = io.Discard
	if os.Getenv("FIELDSYNC_TEST_LOGS") == "" {
		m.Log = slog.New(slog.DiscardHandler)
	}
	if configure != nil {
		configure(m)
	}
	args := []string{"--addr", "127.0.0.1:0", "--metrics-addr", "", "--data", t.TempDir()}
	if extra != "" {
		args = append(args, extra)
	}
	if err := m.ParseFlags(args, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return m
}

// apiClient checks the console's results through the API.
type apiClient struct {
	t     *testing.T
	base  string
	token string
	user  api.User
}

func login(t *testing.T, base, username, password string) *apiClient {
	t.Helper()
	c := &apiClient{t: t, base: base}
	var tr api.TokenResponse
	c.do(http.MethodPost, "/v1/auth/login", api.LoginRequest{Username: username, Password: password}, &tr)
	c.token, c.user = tr.AccessToken, tr.User
	return c
}

func (c *apiClient) do(method, path string, body, out any) {
	c.t.Helper()
	data := c.raw(method, path, body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// raw sends body (JSON, or none when nil) and returns the answer's bytes,
// failing the test on anything but 200.
func (c *apiClient) raw(method, path string, body any) []byte {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return data
}

// fieldState is one field of GET /v1/records/{id}.
type fieldState struct {
	Value     json.RawMessage `json:"value"`
	Conflicts []struct {
		Value json.RawMessage `json:"value"`
	} `json:"conflicts"`
}

func (c *apiClient) field(record, name string) fieldState {
	c.t.Helper()
	var r struct {
		Fields map[string]fieldState `json:"fields"`
	}
	c.do(http.MethodGet, "/v1/records/"+record, nil, &r)
	return r.Fields[name]
}

// browser is one headless Chromium tab on the console.
type browser struct {
	t        *testing.T
	ctx      context.Context
	dir      string
	shots    []string
	mu       sync.Mutex
	jsErrors []string
}

func newBrowser(t *testing.T, chromium string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, dir: artifactsDir(t)}
	// Start the browser, then collect page errors (exceptions, console
	// errors such as a Content-Security-Policy violation).
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1024, 768)); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// A refused login answers 401, which the browser logs as a
			// failed resource load: that is expected, not a page error.
			if m.IsException() || m.Type == chromedp.ConsoleError && !strings.Contains(m.Text, "Failed to load resource") {
				b.mu.Lock()
				b.jsErrors = append(b.jsErrors, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// do runs actions and fails the test on error, with a screenshot.
// do runs actions. It first empties the console's #message line, so that a
// following waitText on it sees the answer to these actions, never the
// one left from an earlier action.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	clear := `(() => { const m = document.querySelector('#message'); if (m) { m.textContent = ''; } return ''; })()`
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](clear)); err != nil {
		b.t.Fatalf("%s: clear the message line: %v", what, err)
	}
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v (page errors: %v)", what, err, b.errors())
	}
}

func (b *browser) eval(js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

// shot saves a full-page screenshot as <n>-<name>.png in the artifacts
// folder.
func (b *browser) shot(name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", shotCount.Add(1), name))
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		b.t.Errorf("write %s: %v", file, err)
		return
	}
	b.shots = append(b.shots, file)
}

func (b *browser) errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.jsErrors...)
}

// waitText waits until the element sel shows text containing want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); return !!el && !el.hidden && el.textContent.includes(%q); })()`, sel, want)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		b.shot("failed-wait")
		got, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel)))
		b.t.Fatalf("waiting for %s to say %q: %v (it says %q; page errors %v)", sel, want, err, got, b.errors())
	}
}

// TestConsole logs in against a demo server, walks every page, resolves
// two conflicts (keep a value; write a new one), decides, revokes a
// device, logs out, and checks each result through the API. A screenshot
// of every page is kept in the artifacts folder.
func TestConsole(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newBrowser(t, chromium)

	// The login page; a wrong password is told in plain words.
	b.do("open the console", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.shot("login")
	b.do("log in wrong",
		chromedp.SendKeys(chromedp.CSS("#username"), "supervisor"),
		chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
		chromedp.Click(chromedp.CSS("#login-button")))
	b.waitText("#error", "The username or password is wrong.")
	b.shot("login-error")

	// Log in: the queue shows conflicts.
	b.do("log in",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#password").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#password"), demo.Password),
		chromedp.Click(chromedp.CSS("#login-button")),
		chromedp.WaitVisible(chromedp.CSS("#queue-list .queue-item")))
	b.waitText(".view-queue", "wait")
	if !strings.Contains(b.text(".view-queue"), "Conflict") {
		t.Errorf("the demo queue shows no conflict: %s", b.text(".view-queue"))
	}
	b.shot("queue")

	sup := login(t, base, "supervisor", demo.Password)
	var queue api.QueuePage
	sup.do(http.MethodGet, "/v1/review/queue?reason=conflict&limit=500", nil, &queue)
	var statusRec, otherRec, otherField string
	for _, it := range queue.Items {
		for _, f := range it.Conflicts {
			switch {
			case f == "status" && statusRec == "":
				statusRec = it.ID
			case f != "status" && otherRec == "" && len(it.Conflicts) == 1:
				otherRec, otherField = it.ID, f
			}
		}
	}
	if statusRec == "" || otherRec == "" {
		t.Fatalf("the demo has no status conflict (%q) or no other conflict (%q)", statusRec, otherRec)
	}

	// Open a record with a status conflict from the queue's conflict
	// filter; keep the value that is not shown now.
	b.do("filter conflicts", chromedp.Click(chromedp.CSS(".chips button:nth-child(2)")))
	b.waitText(".chips .chip.active", "Conflicting values")
	b.do("open the status conflict",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`a.queue-item[data-record=%q]`, statusRec))),
		chromedp.WaitVisible(chromedp.CSS(`.conflict[data-field="status"] .sibling`)))
	b.waitText(`.conflict[data-field="status"]`, "Written by")
	b.shot("record-conflict")
	kept := b.eval(`document.querySelector('.conflict[data-field="status"] .sibling:nth-child(2) button[data-action="keep"]').dataset.value`)
	b.do("keep a value", chromedp.Click(chromedp.CSS(`.conflict[data-field="status"] .sibling:nth-child(2) button[data-action="keep"]`)))
	b.waitText("#message", "Saved")
	b.do("conflict gone", chromedp.WaitNotPresent(chromedp.CSS(`.conflict[data-field="status"]`)))
	b.shot("record-resolved")
	if st := sup.field(statusRec, "status"); len(st.Conflicts) != 0 || string(st.Value) != kept {
		t.Errorf("after keeping %s the server holds status %s with %d conflicts", kept, st.Value, len(st.Conflicts))
	}

	// Decide: mark reviewed. The record leaves the queue.
	b.do("mark reviewed", chromedp.Click(chromedp.CSS(`button[data-action="review-reviewed"]`)))
	b.waitText("#message", "Marked as reviewed")
	var after api.QueuePage
	sup.do(http.MethodGet, "/v1/review/queue?limit=500", nil, &after)
	for _, it := range after.Items {
		if it.ID == statusRec {
			t.Errorf("the decided record is still in the queue: %+v", it.Reasons)
		}
	}
	if rs := sup.field(statusRec, "review_status"); string(rs.Value) != `"reviewed"` {
		t.Errorf("review_status %s, want reviewed", rs.Value)
	}

	// Another conflict: write a new value instead.
	b.do("open the other conflict",
		chromedp.Navigate(base+"/#/record/"+otherRec),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`.conflict[data-field=%q]`, otherField))))
	newValue := "unknown"
	b.do("write a new value",
		chromedp.SetValue(chromedp.CSS("#new-"+otherField), newValue),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`.conflict[data-field=%q] button[data-action="write-new"]`, otherField))))
	b.waitText("#message", "Saved")
	if st := sup.field(otherRec, otherField); len(st.Conflicts) != 0 || string(st.Value) != `"`+newValue+`"` {
		t.Errorf("after writing %s the server holds %s %s with %d conflicts", newValue, otherField, st.Value, len(st.Conflicts))
	}

	// A referral decision.
	b.do("refer",
		chromedp.SetValue(chromedp.CSS("#ref-service"), "legal"),
		chromedp.SendKeys(chromedp.CSS("#ref-country"), "de"),
		chromedp.Click(chromedp.CSS("#ref-abroad")),
		chromedp.Click(chromedp.CSS(`button[data-action="refer"]`)))
	b.waitText("#message", "Saved")
	var rec struct {
		Fields map[string]struct {
			Entries []struct {
				Value map[string]any `json:"value"`
			} `json:"entries"`
		} `json:"fields"`
	}
	sup.do(http.MethodGet, "/v1/records/"+otherRec, nil, &rec)
	refs := rec.Fields["referrals"].Entries
	if len(refs) == 0 || refs[len(refs)-1].Value["destination_country"] != "DE" || refs[len(refs)-1].Value["cross_border"] != true {
		t.Errorf("referrals after the decision: %+v", refs)
	}
	b.shot("record-decided")

	// The figures, with a chart.
	b.do("figures", chromedp.Click(chromedp.CSS(`#nav a[data-view="figures"]`)), chromedp.WaitVisible(chromedp.CSS("svg.chart")))
	b.waitText(".view-figures", "Identifications counted")
	if got := b.eval(`String(document.querySelectorAll('svg.chart rect.bar').length)`); got == "0" {
		t.Error("the chart has no bars")
	}
	b.shot("figures")

	// The devices page: revoke a field worker's tablet.
	var devices struct{ Devices []api.Device }
	sup.do(http.MethodGet, "/v1/admin/devices", nil, &devices)
	victim := ""
	for _, d := range devices.Devices {
		if d.Username == "worker2.north" && d.State == "active" {
			victim = d.ID
		}
	}
	if victim == "" {
		t.Fatal("the demo has no device of worker2.north")
	}
	revoke := chromedp.CSS(fmt.Sprintf(`button[data-action="revoke"][data-device=%q]`, victim))
	b.do("devices", chromedp.Click(chromedp.CSS(`#nav a[data-view="devices"]`)), chromedp.WaitVisible(revoke))
	b.shot("devices")
	// The demo's stale tablet is flagged, with how long it has been silent.
	stale := b.eval(`[...document.querySelectorAll(".view-devices tr.stale")].map((r) => r.cells[0].textContent + ": " + r.cells[3].textContent).join("; ")`)
	if want := fmt.Sprintf("%s: not seen for %d days", demo.StaleDevice, demo.StaleDays); stale != want {
		t.Errorf("the devices flagged stale: %q, want %q", stale, want)
	}
	b.do("revoke", chromedp.Click(revoke))
	b.waitText(fmt.Sprintf(`button[data-device=%q]`, victim), "Confirm")
	b.do("confirm revoke", chromedp.Click(revoke))
	b.waitText("#message", "Revoked:")
	b.shot("devices-revoked")
	sup.do(http.MethodGet, "/v1/admin/devices", nil, &devices)
	for _, d := range devices.Devices {
		if d.ID == victim && d.State != "revoked" {
			t.Errorf("device %s is %s after the console revoked it", victim, d.State)
		}
	}

	// A narrow tablet in portrait shows the queue too.
	b.do("portrait", chromedp.EmulateViewport(768, 1024), chromedp.Click(chromedp.CSS(`#nav a[data-view="queue"]`)),
		chromedp.WaitVisible(chromedp.CSS("#queue-list .queue-item")))
	b.shot("queue-portrait")
	if w := b.eval(`String(document.documentElement.scrollWidth)`); w != "768" {
		t.Errorf("the queue is %spx wide on a 768px tablet (it scrolls sideways)", w)
	}
	b.do("landscape", chromedp.EmulateViewport(1024, 768))

	// Log out: nothing of the session is left in the browser.
	b.do("log out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.waitText("#message", "You are logged out.")
	b.shot("logged-out")
	left := b.eval(`(async () => {
		const dbs = indexedDB.databases ? (await indexedDB.databases()).length : 0;
		const caches_ = self.caches ? (await caches.keys()).length : 0;
		return [localStorage.length, sessionStorage.length, document.cookie.length, dbs, caches_].join(",");
	})()`)
	if left != "0,0,0,0,0" {
		t.Errorf("after logout the browser keeps storage (local, session, cookies, IndexedDB, caches): %s", left)
	}
	body := b.eval(`document.body.innerText`)
	for _, leak := range []string{"N-2026", "S-2026", "Shkodër", "Conflict"} {
		if strings.Contains(body, leak) {
			t.Errorf("after logout the page still shows %q", leak)
		}
	}
	// The console's device was revoked at logout.
	sup.do(http.MethodGet, "/v1/admin/devices", nil, &devices)
	consoles := 0
	for _, d := range devices.Devices {
		if strings.HasPrefix(d.Name, "supervisor · ") && strings.HasSuffix(d.Name, "(console)") {
			consoles++
			if d.State != "revoked" {
				t.Errorf("the console's device %s is %s after logout", d.ID, d.State)
			}
		}
	}
	if consoles == 0 {
		t.Error("no console device was registered")
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
	t.Logf("screenshots in %s: %d files", b.dir, len(b.shots))
}

// TestConsoleCallsOnlyAPIPaths: an id from the address bar, or any path
// that is not plainly one of the API's (dots, escapes), never makes the
// console call another route: `#/record/..%2Fexport%2Frecords%3F` would
// otherwise resolve to the records export.
func TestConsoleCallsOnlyAPIPaths(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newBrowser(t, chromium)
	b.do("log in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#username"), "supervisor"),
		chromedp.SendKeys(chromedp.CSS("#password"), demo.Password),
		chromedp.Click(chromedp.CSS("#login-button")),
		chromedp.WaitVisible(chromedp.CSS("#queue-list .queue-item")))
	called := func() string {
		return b.eval(`performance.getEntriesByType("resource").map((e) => e.name).filter((n) => n.includes("/v1/export") || n.includes("..") || /%2e/i.test(n)).join(" ")`)
	}
	b.do("open a forged record address", chromedp.Navigate(base+"/#/record/..%2Fexport%2Frecords%3F"))
	b.waitText("#app-view", "could not be loaded")
	// Straight through the console's API module, as any id in a path goes.
	got := b.eval(`(async () => {
		const api = await import("/console/api.js");
		const out = [];
		for (const p of ["/v1/records/../export/records?", "/v1/records/%2e%2e/export/records", "/v1/records/..%2Fexport%2Frecords%3F"]) {
			try { await api.get(p); out.push("called"); } catch (e) { out.push(e.code); }
		}
		try { api.path` + "`/v1/records/${\"../export/records?\"}`" + `; out.push("built"); } catch (e) { out.push(e.code); }
		return out.join(",");
	})()`)
	if want := "invalid_request,invalid_request,invalid_request,invalid_id"; got != want {
		t.Errorf("forged paths through the console's API module: %s, want %s", got, want)
	}
	if urls := called(); urls != "" {
		t.Errorf("the console called %s", urls)
	}
}
