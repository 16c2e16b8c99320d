//go:build browser

package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// seedOps pushes records×10 ops over HTTP as username (team, then status,
// sex, age_group, three set adds and notes in turn), as clients/go/e2e's
// BenchmarkFreshDevicePull100k does, and returns how many.
func seedOps(t testing.TB, s *sdkServer, username string, records int) int {
	t.Helper()
	tr := s.login(username, sdkPassword)
	clk := hlc.NewClock(time.Now, 0)
	var batch []json.RawMessage
	total := 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		var res api.PushResponse
		s.must(http.StatusOK, http.MethodPost, "/v1/sync/push", tr.AccessToken, api.PushRequest{Ops: batch}, &res)
		for _, r := range res.Results {
			if r.Status != "applied" {
				t.Fatalf("seed op %s: %s %s %s", r.ID, r.Status, r.Code, r.Message)
			}
		}
		total += len(batch)
		batch = batch[:0]
	}
	op := func(rec, field, action string, value any) {
		data, err := json.Marshal(map[string]any{"id": uuid.NewString(), "record": rec, "kind": model.KindIdentification,
			"field": field, "action": action, "value": value, "base": []string{}, "hlc": clk.Now().String(), "device": tr.DeviceID})
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, data)
		if len(batch) == 1000 {
			flush()
		}
	}
	fields := []func(rec string, i int){
		func(rec string, i int) { op(rec, "status", "set", []string{"potential", "presumed"}[i%2]) },
		func(rec string, i int) { op(rec, "sex", "set", "female") },
		func(rec string, i int) { op(rec, "age_group", "set", "adult") },
		func(rec string, i int) { op(rec, "indicators", "add", "debt_bondage") },
		func(rec string, i int) { op(rec, "exploitation_types", "add", "labour") },
		func(rec string, i int) { op(rec, "payment_means", "add", "cash") },
		func(rec string, i int) {
			op(rec, "notes", "append", map[string]any{"text": fmt.Sprintf("statement %d: met at the bus station, says the employer kept the passport", i)})
		},
	}
	for r := range records {
		rec := uuid.NewString()
		op(rec, "team", "set", s.team)
		for i := 1; i < 10; i++ {
			fields[(r+i)%len(fields)](rec, i)
		}
	}
	flush()
	return total
}

// TestSDKBenchFreshBrowserPull is a benchmark, not a timed test: it logs
// figures and asserts only that the pulls are complete. Run it with
// FIELDSYNC_BROWSER_BENCH=1 (FIELDSYNC_BROWSER_BENCH_RECORDS: records of
// 10 ops each, default 10,000, i.e. 100,000 ops). A fresh Go SDK device
// and then a fresh browser device (the TypeScript SDK on IndexedDB in the
// browser's default, on-disk profile) log in and pull and materialise
// every op, 5,000 to a page, straight from the server; then 500 local
// writes in the browser (a set or an append each, strict durability) give
// p50/p99, the same on the Go device, and the browser's wipe is timed.
func TestSDKBenchFreshBrowserPull(t *testing.T) {
	if os.Getenv("FIELDSYNC_BROWSER_BENCH") != "1" {
		t.Skip("a benchmark: set FIELDSYNC_BROWSER_BENCH=1 to run it")
	}
	records := 10_000
	if v := os.Getenv("FIELDSYNC_BROWSER_BENCH_RECORDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("FIELDSYNC_BROWSER_BENCH_RECORDS=%q is not a positive number", v)
		}
		records = n
	}
	chromium := requireBrowser(t)
	bundle := sdkBundle(t)
	s := startSDKServer(t)
	s.fieldWorker("fw")
	start := time.Now()
	total := seedOps(t, s, "fw", records)
	t.Logf("seeded %d ops in %d records in %v", total, records, time.Since(start).Round(time.Millisecond))
	ctx := context.Background()

	// The Go SDK, straight to the server.
	c, err := fieldsync.Open(t.TempDir(), fieldsync.Options{ServerURL: s.url, PullLimit: fieldsync.MaxPullLimit})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Login(ctx, "fw", sdkPassword); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	goPull := time.Since(start)
	if st, err := c.Status(ctx); err != nil || st.Records != records {
		t.Fatalf("the Go device holds %d records (%v), want %d", st.Records, err, records)
	}
	list, err := c.List(ctx, fieldsync.Query{})
	if err != nil || len(list) == 0 {
		t.Fatalf("list the Go device's records: %d, %v", len(list), err)
	}
	one := list[0].ID
	var goLat []time.Duration
	for i := range 500 {
		start := time.Now()
		if i%2 == 0 {
			_, err = c.Set(ctx, one, "status", []string{"potential", "presumed"}[i/2%2])
		} else {
			_, err = c.Append(ctx, one, "notes", map[string]any{"text": fmt.Sprintf("note %d", i)})
		}
		goLat = append(goLat, time.Since(start))
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(goLat)

	// The browser, through the proxy (never cutting: it serves the page).
	p := startCutProxy(t, s.url, bundle, 1)
	b := newSDKBrowser(t, chromium, 20*time.Minute)
	tb := tabIn(t, "bench", b.ctx, sdkPage(p))
	tb.call(nil, "open", uuid.NewString(), "fieldsync", map[string]any{"pullLimit": 5000})
	tb.call(nil, "login", "fw", sdkPassword)
	var pull, enc struct {
		MS      float64 `json:"ms"`
		ApplyMS float64 `json:"apply_ms"`
		Records int     `json:"records"`
		Timings struct {
			Pages   int     `json:"pages"`
			ReadMS  float64 `json:"readMs"`
			MergeMS float64 `json:"mergeMs"`
			WriteMS float64 `json:"writeMs"`
		} `json:"timings"`
		Report struct {
			Pulled int `json:"pulled"`
		} `json:"report"`
	}
	tb.call(&pull, "timedSync")
	if pull.Records != records || pull.Report.Pulled < total {
		t.Fatalf("the browser holds %d records after pulling %d ops; want %d and %d", pull.Records, pull.Report.Pulled, records, total)
	}
	var lat struct {
		P50 float64 `json:"p50_ms"`
		P99 float64 `json:"p99_ms"`
	}
	tb.call(&lat, "latency", one, 500)
	var wipe struct {
		MS  float64  `json:"ms"`
		IDB []string `json:"idb"`
	}
	tb.call(&wipe, "timedWipe")
	if len(wipe.IDB) != 0 {
		t.Errorf("after the wipe the origin keeps IndexedDB %v", wipe.IDB)
	}
	// The same pull encrypted at rest, as a Device keeps its replica.
	tb.call(nil, "open", uuid.NewString(), "fieldsync-encrypted", map[string]any{"pullLimit": 5000, "pin": "2468"})
	tb.call(nil, "login", "fw", sdkPassword)
	tb.call(&enc, "timedSync")
	if enc.Records != records || enc.Report.Pulled < total {
		t.Fatalf("the encrypted browser replica holds %d records after pulling %d ops; want %d and %d", enc.Records, enc.Report.Pulled, records, total)
	}
	tb.call(&wipe, "timedWipe")
	t.Logf("fresh device pull of %d ops (%d records): browser (TypeScript SDK, IndexedDB) %.2f s, %.0f ops/s; Go SDK %.2f s, %.0f ops/s",
		total, records, pull.MS/1000, float64(total)/(pull.MS/1000), goPull.Seconds(), float64(total)/goPull.Seconds())
	t.Logf("browser pull: %.2f s in applyPage (IndexedDB and merge), %.2f s in fetching, parsing and decoding pages", pull.ApplyMS/1000, (pull.MS-pull.ApplyMS)/1000)
	t.Logf("browser applyPage of %d pages: %.2f s reading, %.2f s merging and encoding, %.2f s writing until committed",
		pull.Timings.Pages, pull.Timings.ReadMS/1000, pull.Timings.MergeMS/1000, pull.Timings.WriteMS/1000)
	t.Logf("fresh device pull encrypted at rest (EncryptedStorage, AES-GCM per value): browser %.2f s, %.0f ops/s (%.2f s in applyPage)",
		enc.MS/1000, float64(total)/(enc.MS/1000), enc.ApplyMS/1000)
	t.Logf("encrypted applyPage: %.2f s reading and decrypting, %.2f s merging and encoding, %.2f s encrypting and writing until committed",
		enc.Timings.ReadMS/1000, enc.Timings.MergeMS/1000, enc.Timings.WriteMS/1000)
	t.Logf("local write latency (500 writes, set or append, strict durability): browser p50 %.1f ms, p99 %.1f ms; Go SDK p50 %.1f ms, p99 %.1f ms",
		lat.P50, lat.P99, ms(goLat[len(goLat)/2]), ms(goLat[len(goLat)*99/100]))
	t.Logf("browser wipe of the replica (%d records): %.0f ms", records, wipe.MS)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
