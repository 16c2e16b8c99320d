//go:build browser

package browser

// The TypeScript SDK (clients/ts, bundled by `npm run bundle`) in headless
// Chromium against a real fieldsync server on 127.0.0.1 with a badger
// directory of its own: isolated browser contexts and Go SDK devices
// (clients/go) edit the same records offline, then sync through a proxy
// that cuts connections; a tab closed mid-write; two tabs writing at once;
// a revoked device. See README.md ("The TypeScript SDK in Chromium").

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server"
	"github.com/fieldsync/fieldsync/server/testproxy"
)

const sdkPassword = "a long enough password"

// sdkBundle builds the SDK's browser bundle (clients/ts: npm run bundle,
// which needs `npm ci` there first) and returns its path;
// FIELDSYNC_SDK_BUNDLE names a prebuilt one instead (to compare builds).
func sdkBundle(t testing.TB) string {
	t.Helper()
	if f := os.Getenv("FIELDSYNC_SDK_BUNDLE"); f != "" {
		return f
	}
	dir, err := filepath.Abs("../../clients/ts")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "esbuild")); err != nil {
		t.Fatalf("the SDK's dev dependencies are not installed: run `npm ci` in clients/ts (%v)", err)
	}
	cmd := exec.Command("npm", "run", "-s", "bundle")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm run bundle in clients/ts: %v\n%s", err, out)
	}
	t.Logf("bundle: %s", bytes.TrimSpace(out))
	return filepath.Join(dir, "dist", "browser", "fieldsync.js")
}

// sdkServer is a real fieldsync server (no demo data) with its admin.
type sdkServer struct {
	t     testing.TB
	m     *server.Main
	url   string
	admin string
	team  string
}

func startSDKServer(t testing.TB) *sdkServer {
	t.Helper()
	m := startMain(t, map[string]string{"FIELDSYNC_ADMIN_PASSWORD": adminPassword, "FIELDSYNC_USER_RATE": "10000", "FIELDSYNC_USER_BURST": "10000"}, "", nil)
	s := &sdkServer{t: t, m: m, url: "http://" + m.Addr()}
	s.admin = s.login("admin", adminPassword).AccessToken
	var team model.Team
	s.must(http.StatusCreated, http.MethodPost, "/v1/admin/teams", s.admin, api.CreateTeamRequest{Name: "north", Region: "north"}, &team)
	s.team = team.ID
	return s
}

// must sends a JSON request, wants status and decodes the answer into out.
func (s *sdkServer) must(want int, method, path, token string, body, out any) []byte {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		s.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return data
}

func (s *sdkServer) login(username, password string) api.TokenResponse {
	s.t.Helper()
	var tr api.TokenResponse
	s.must(http.StatusOK, http.MethodPost, "/v1/auth/login", "", api.LoginRequest{Username: username, Password: password}, &tr)
	return tr
}

// fieldWorker creates a field worker of the team.
func (s *sdkServer) fieldWorker(name string) {
	s.t.Helper()
	s.must(http.StatusCreated, http.MethodPost, "/v1/admin/users", s.admin,
		api.CreateUserRequest{Username: name, Password: sdkPassword, Role: model.RoleFieldWorker, Teams: []string{s.team}}, nil)
}

// record returns GET /v1/records/{id} (?history=true when history) as the
// server serves token's user.
func (s *sdkServer) record(token, id string, history bool) []byte {
	s.t.Helper()
	path := "/v1/records/" + id
	if history {
		path += "?history=true"
	}
	return s.must(http.StatusOK, http.MethodGet, path, token, nil, nil)
}

// cutProxy is the browsers' and Go devices' way to the server: a
// testproxy.Proxy that also counts upload chunks.
type cutProxy struct {
	*testproxy.Proxy
	// patchBytes counts the bytes of upload chunks (PATCH bodies) forwarded to the server;
	// while cutting, the cutPatchBefore-th and cutPatchAfter-th PATCH (1-based, 0 for none)
	// are cut before the server sees them and after it answered.
	patchBytes, patches, cutPatchBefore, cutPatchAfter atomic.Int64
}

// startCutProxy starts the browsers' and Go devices' way to the server,
// on 127.0.0.1: it serves the test page and the bundle under /sdk/ and
// forwards everything else to the server. While cutting (Cutting), it
// aborts one request in four before the server sees it and one in four
// after the server answered (half the answer sent, then the connection
// cut); the test page is never cut.
func startCutProxy(t testing.TB, target, bundle string, seed uint64) *cutProxy {
	t.Helper()
	cp := &cutProxy{}
	files := map[string]string{"/sdk/index.html": "testdata/sdk/index.html", "/sdk/harness.js": "testdata/sdk/harness.js", "/sdk/fieldsync.js": bundle}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 14))
	cp.Proxy = testproxy.StartHTTP(t, target, testproxy.HTTP{
		Local: func(w http.ResponseWriter, r *http.Request) bool {
			f, ok := files[r.URL.Path]
			if !ok {
				return false
			}
			data, err := os.ReadFile(f)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return true
			}
			w.Header().Set("Content-Type", map[bool]string{true: "text/html; charset=utf-8", false: "text/javascript; charset=utf-8"}[strings.HasSuffix(f, ".html")])
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write(data)
			return true
		},
		Fate: func(r *http.Request) testproxy.Fate {
			if _, ok := files[r.URL.Path]; ok {
				return testproxy.Forward
			}
			fate := testproxy.Forward
			mu.Lock()
			switch rng.IntN(4) {
			case 1:
				fate = testproxy.CutRequest
			case 2:
				fate = testproxy.CutResponse
			}
			mu.Unlock()
			if r.Method == http.MethodPatch {
				switch n := cp.patches.Add(1); n {
				case cp.cutPatchBefore.Load():
					fate = testproxy.CutRequest
				case cp.cutPatchAfter.Load():
					fate = testproxy.CutResponse
				}
				if fate != testproxy.CutRequest {
					cp.patchBytes.Add(r.ContentLength)
				}
			}
			return fate
		},
	})
	return cp
}

// sdkBrowser is one headless Chromium with a fresh profile.
type sdkBrowser struct {
	t   testing.TB
	ctx context.Context
}

func newSDKBrowser(t testing.TB, chromium string, timeout time.Duration) *sdkBrowser {
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
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &sdkBrowser{t: t, ctx: ctx}
}

// tab is one page of the SDK test in a browser context.
type tab struct {
	t      testing.TB
	name   string
	ctx    context.Context
	cancel context.CancelFunc
}

// isolated opens a tab in a new browser context (its own IndexedDB).
func (b *sdkBrowser) isolated(name, page string) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	return openTab(b.t, name, ctx, cancel, page)
}

// tabIn opens another tab in the browser context of parent (the default
// profile when parent is the browser's first tab).
func tabIn(t testing.TB, name string, parent context.Context, page string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent)
	return openTab(t, name, ctx, cancel, page)
}

func openTab(t testing.TB, name string, ctx context.Context, cancel context.CancelFunc, page string) *tab {
	t.Helper()
	tb := &tab{t: t, name: name, ctx: ctx, cancel: cancel}
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("%s: open %s: %v", name, page, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.ready === true`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("%s: the test page did not load the SDK: %v", name, err)
	}
	return tb
}

// call evaluates h.<fn>(args...) in the tab and decodes its JSON answer into out.
func (tb *tab) call(out any, fn string, args ...any) {
	tb.t.Helper()
	js := make([]string, len(args))
	for i, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			tb.t.Fatal(err)
		}
		js[i] = string(b)
	}
	expr := fmt.Sprintf("h.%s(%s)", fn, strings.Join(js, ","))
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s: %s: %v", tb.name, fn, err)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(v), out); err != nil {
			tb.t.Fatalf("%s: %s answered %s: %v", tb.name, fn, v, err)
		}
	}
}

// setOffline cuts the tab off the network (Chromium's network emulation:
// every request fails, navigator.onLine is false) or restores it.
func (tb *tab) setOffline(offline bool) {
	tb.t.Helper()
	conds := []*network.Conditions{}
	if offline {
		conds = append(conds, &network.Conditions{Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
	}
	_, err := chromedp.Call(tb.ctx, network.Enable, network.EnableParams{})
	if err == nil {
		_, err = chromedp.Call(tb.ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: conds})
	}
	if err == nil {
		_, err = chromedp.Call(tb.ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1})
	}
	if err != nil {
		tb.t.Fatalf("%s: set offline %v: %v", tb.name, offline, err)
	}
}

// syncResult is h.sync's answer.
type syncResult struct {
	OK      bool            `json:"ok"`
	Name    string          `json:"name"`
	Message string          `json:"message"`
	Report  json.RawMessage `json:"report"`
}

func (tb *tab) sync() syncResult {
	tb.t.Helper()
	var r syncResult
	tb.call(&r, "sync")
	return r
}

func (tb *tab) syncOK() {
	tb.t.Helper()
	if r := tb.sync(); !r.OK {
		tb.t.Fatalf("%s: sync: %s: %s", tb.name, r.Name, r.Message)
	}
}

// write applies edits as one local write and returns the new op ids.
func (tb *tab) write(id string, edits []edit) []string {
	tb.t.Helper()
	var raw json.RawMessage
	tb.call(&raw, "write", id, "identification", edits)
	var ids []string
	if err := json.Unmarshal(raw, &ids); err != nil {
		tb.t.Fatalf("%s: write %s: %s", tb.name, id, raw)
	}
	return ids
}

// tabStatus is h.status's answer.
type tabStatus struct {
	Outbox     []string          `json:"outbox"`
	Quarantine []json.RawMessage `json:"quarantine"`
	Ops        []string          `json:"ops"`
}

func (tb *tab) status(record string) tabStatus {
	tb.t.Helper()
	var st tabStatus
	tb.call(&st, "status", record)
	return st
}

// edit is one edit of the TypeScript SDK (its Edit type).
type edit struct {
	Field  string `json:"field"`
	Action string `json:"action"`
	Value  any    `json:"value,omitempty"`
}

// randomEdit is one random edit: a register set, a set add or remove, or a note.
func randomEdit(rng *rand.Rand, who string, n int) edit {
	registers := map[string][]string{
		"status":    {"potential", "presumed", "withdrawn"},
		"sex":       {"female", "male", "other", "unknown"},
		"age_group": {"child", "adult", "unknown"},
		"location":  {"bus station", "border crossing", "bar on the main road", "Straße nach Zürich 😀"},
	}
	sets := map[string][]string{
		"exploitation_types": {"sexual", "labour", "begging", "forced_criminality"},
		"payment_means":      {"cash", "bank_transfer", "crypto", "in_kind"},
	}
	pickKey := func(keys []string) string { slices.Sort(keys); return keys[rng.IntN(len(keys))] }
	switch k := rng.IntN(10); {
	case k < 4:
		f := pickKey(mapKeys(registers))
		return edit{Field: f, Action: "set", Value: registers[f][rng.IntN(len(registers[f]))]}
	case k < 6:
		f := pickKey(mapKeys(sets))
		return edit{Field: f, Action: "add", Value: sets[f][rng.IntN(len(sets[f]))]}
	case k < 8:
		f := pickKey(mapKeys(sets))
		return edit{Field: f, Action: "remove", Value: sets[f][rng.IntN(len(sets[f]))]}
	default:
		return edit{Field: "notes", Action: "append", Value: map[string]any{"text": fmt.Sprintf("%s: statement %d, ﬁ Ë 😀 <&>", who, n)}}
	}
}

func mapKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// goEdit applies e on a Go SDK device and returns the op id ("" when a
// remove had nothing to remove).
func goEdit(t testing.TB, c *fieldsync.Client, id string, e edit) string {
	t.Helper()
	ctx := context.Background()
	var op string
	var err error
	switch e.Action {
	case "set":
		op, err = c.Set(ctx, id, e.Field, e.Value)
	case "add":
		op, err = c.Add(ctx, id, e.Field, e.Value.(string))
	case "remove":
		op, err = c.Remove(ctx, id, e.Field, e.Value.(string))
	case "append":
		op, err = c.Append(ctx, id, e.Field, e.Value)
	}
	if err != nil {
		t.Fatalf("go device: %s %s of %s: %v", e.Action, e.Field, id, err)
	}
	return op
}

// goDevice opens a Go SDK replica through url and logs username in.
func goDevice(t testing.TB, url, username string) *fieldsync.Client {
	t.Helper()
	c, err := fieldsync.Open(t.TempDir(), fieldsync.Options{ServerURL: url, DeviceName: "go device", MaxAttempts: 200,
		PushBatch: 50, PullLimit: 100, Backoff: fieldsync.Backoff{Base: time.Millisecond, Max: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close device: %v", err)
		}
	})
	if _, err := c.Login(context.Background(), username, sdkPassword); err != nil {
		t.Fatalf("log in %s: %v", username, err)
	}
	return c
}

// replica is one of the test's devices: a browser tab or a Go SDK client.
type replica struct {
	name    string
	user    string
	tab     *tab
	go_     *fieldsync.Client
	written []string
}

func (r *replica) edit(t testing.TB, id string, e edit) {
	t.Helper()
	if r.tab != nil {
		r.written = append(r.written, r.tab.write(id, []edit{e})...)
		return
	}
	if op := goEdit(t, r.go_, id, e); op != "" {
		r.written = append(r.written, op)
	}
}

func (r *replica) sync(t testing.TB) {
	t.Helper()
	if r.tab != nil {
		r.tab.syncOK()
		return
	}
	if err := r.go_.Sync(context.Background()); err != nil {
		t.Fatalf("%s: sync: %v", r.name, err)
	}
}

// trySync syncs once and returns what failed; unlike sync it may run
// beside the test's goroutine.
func (r *replica) trySync() error {
	if r.go_ != nil {
		return r.go_.Sync(context.Background())
	}
	v, err := chromedp.Run(r.tab.ctx, chromedp.Evaluate[string](`h.sync()`, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("%s: sync: %w", r.name, err)
	}
	var res syncResult
	if err := json.Unmarshal([]byte(v), &res); err != nil || !res.OK {
		return fmt.Errorf("%s: sync answered %s (%v)", r.name, v, err)
	}
	return nil
}

// state returns the replica's canonical state of record id, with its
// history (as ?history=true serves it) when history.
func (r *replica) state(t testing.TB, id string, history bool) []byte {
	t.Helper()
	if r.tab != nil {
		var states map[string]*string
		r.tab.call(&states, "states", []string{id}, history)
		if states[id] == nil {
			t.Fatalf("%s does not hold record %s", r.name, id)
		}
		return []byte(*states[id])
	}
	b, err := r.go_.RecordJSON(context.Background(), id, history)
	if err != nil {
		t.Fatalf("%s: record %s: %v", r.name, id, err)
	}
	return b
}

// sdkPage returns the test page's address behind p.
func sdkPage(p *cutProxy) string { return p.URL + "/sdk/index.html" }

// TestSDKConvergesInChromium: three browser contexts (the TypeScript SDK
// on IndexedDB, each its own user) and two Go SDK devices edit the same
// records while offline (the tabs through Chromium's network emulation,
// which is checked: a sync then fails), then sync through a proxy that
// cuts one request in four before the server and one in four after it:
// all at once, then one by one in random order, twice. Every replica ends
// byte-identical to the server's state as served to its user, holds no
// outbox or quarantine, and the server holds every acknowledged op once.
// Then an administrator revokes the third browser's device: its next sync
// wipes it, and its origin keeps no IndexedDB database and no cache.
func TestSDKConvergesInChromium(t *testing.T) {
	chromium := requireBrowser(t)
	bundle := sdkBundle(t)
	s := startSDKServer(t)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("FIELDSYNC_SDK_SEED"); v != "" {
		_, _ = fmt.Sscan(v, &seed)
	}
	t.Logf("seed %d (replay with FIELDSYNC_SDK_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	p := startCutProxy(t, s.url, bundle, seed)
	b := newSDKBrowser(t, chromium, 8*time.Minute)

	names := []string{"ana", "ben", "cata", "dan", "eva"}
	var reps []*replica
	for i, n := range names {
		s.fieldWorker(n)
		r := &replica{name: n, user: n}
		if i < 3 {
			r.name = "browser " + n
			r.tab = b.isolated(r.name, sdkPage(p))
			r.tab.call(nil, "open", uuid.NewString())
			r.tab.call(nil, "login", n, sdkPassword)
		} else {
			r.name = "go " + n
			r.go_ = goDevice(t, p.URL, n)
		}
		reps = append(reps, r)
	}

	// The records exist everywhere before the devices go offline: two
	// made in a browser, two on a Go device.
	var records []string
	for i := range 4 {
		id := uuid.NewString()
		team := edit{Field: "team", Action: "set", Value: s.team}
		status := edit{Field: "status", Action: "set", Value: "potential"}
		if i%2 == 0 {
			reps[0].written = append(reps[0].written, reps[0].tab.write(id, []edit{team, status})...)
		} else {
			var err error
			id, err = reps[3].go_.CreateIdentification(context.Background(), s.team, fieldsync.F("status", "potential"))
			if err != nil {
				t.Fatal(err)
			}
			h, _ := reps[3].go_.History(context.Background(), id)
			for _, op := range h {
				reps[3].written = append(reps[3].written, op.ID)
			}
		}
		records = append(records, id)
	}
	reps[0].sync(t)
	reps[3].sync(t)
	for _, r := range reps {
		r.sync(t)
	}

	// Offline: every replica edits the same records.
	for _, r := range reps[:3] {
		r.tab.setOffline(true)
		if res := r.tab.sync(); res.OK || res.Name != "TransportError" {
			t.Fatalf("%s: a sync while offline answered %+v; want a TransportError", r.name, res)
		}
	}
	for _, r := range reps {
		for i := range 30 {
			r.edit(t, records[rng.IntN(len(records))], randomEdit(rng, r.name, i))
		}
	}

	// Online through the cutting proxy: all at once, then one by one in random order, twice.
	p.Cutting.Store(true)
	for _, r := range reps[:3] {
		r.tab.setOffline(false)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(reps))
	for i, r := range reps {
		wg.Go(func() { errs[i] = r.trySync() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent sync: %v", err)
	}
	for range 2 {
		for _, i := range rng.Perm(len(reps)) {
			reps[i].sync(t)
		}
	}
	p.Cutting.Store(false)
	t.Logf("proxy: %d requests forwarded, %d cut before the server, %d cut after it", p.Forwarded.Load(), p.CutRequests.Load(), p.CutResponses.Load())
	if p.CutRequests.Load() == 0 || p.CutResponses.Load() == 0 {
		t.Fatalf("the proxy cut %d requests and %d responses; the test proves nothing without both", p.CutRequests.Load(), p.CutResponses.Load())
	}

	// Every replica holds the server's state as served to its user, byte
	// for byte, and the same history (op ids, hlcs and users as the server
	// stamped them).
	tokens := map[string]string{}
	for _, n := range names {
		tokens[n] = s.login(n, sdkPassword).AccessToken
	}
	for _, id := range records {
		for _, r := range reps {
			for _, history := range []bool{false, true} {
				got, want := r.state(t, id, history), s.record(tokens[r.user], id, history)
				if !bytes.Equal(got, want) {
					t.Errorf("record %s (history %v): %s holds\n%s\nthe server serves %s\n%s", id, history, r.name, got, r.user, want)
				}
			}
		}
	}
	written := map[string]int{}
	for _, r := range reps {
		for _, id := range r.written {
			written[id]++
		}
		if r.tab != nil {
			if st := r.tab.status(""); len(st.Outbox) != 0 || len(st.Quarantine) != 0 {
				t.Errorf("%s: outbox %d, quarantine %s; want both empty", r.name, len(st.Outbox), st.Quarantine)
			}
		} else if st, err := r.go_.Status(context.Background()); err != nil || st.Outbox != 0 || st.Quarantine != 0 {
			t.Errorf("%s: outbox %d, quarantine %d (%v); want both empty", r.name, st.Outbox, st.Quarantine, err)
		}
	}
	held := map[string]int{}
	for _, id := range records {
		var served struct {
			History []struct {
				ID string `json:"id"`
			} `json:"history"`
		}
		if err := json.Unmarshal(s.must(http.StatusOK, http.MethodGet, "/v1/records/"+id+"?history=true", tokens["ana"], nil, nil), &served); err != nil {
			t.Fatal(err)
		}
		for _, op := range served.History {
			held[op.ID]++
		}
	}
	for id, n := range written {
		if n != 1 || held[id] != 1 {
			t.Errorf("op %s: written %d times, held %d times by the server; want 1 and 1", id, n, held[id])
		}
	}
	if len(held) != len(written) {
		t.Errorf("the server holds %d ops of these records, the replicas wrote %d", len(held), len(written))
	}
	t.Logf("%d records, %d ops, 5 replicas byte-identical with the server", len(records), len(held))

	// A revoked device wipes: nothing stays in the origin's storage.
	cata := reps[2].tab
	var dev string
	cata.call(&dev, "device")
	s.must(http.StatusOK, http.MethodPost, "/v1/devices/"+dev+"/revoke", s.admin, nil, nil)
	if res := cata.sync(); res.OK || res.Name != "WipedError" {
		t.Fatalf("the revoked browser's sync answered %+v; want WipedError", res)
	}
	var stores struct {
		IDB    []string `json:"idb"`
		Caches []string `json:"caches"`
	}
	cata.call(&stores, "stores")
	if len(stores.IDB) != 0 || len(stores.Caches) != 0 {
		t.Errorf("after the wipe the origin still keeps IndexedDB %v and caches %v", stores.IDB, stores.Caches)
	}
}
