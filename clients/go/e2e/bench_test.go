package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// seed pushes records×perRecord ops over HTTP as username (10 ops per
// record: team, status, sex, age_group, 3 adds, 3 notes, repeated).
func seed(b *testing.B, s *testServer, username string, records, perRecord int) int {
	b.Helper()
	tr := s.login(username, userPassword)
	clk := hlc.NewClock(time.Now, 0)
	team := s.team("north")
	var batch []json.RawMessage
	total := 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		var res api.PushResponse
		mustUnmarshal(b, s.mustDo(http.StatusOK, http.MethodPost, "/v1/sync/push", tr.AccessToken, api.PushRequest{Ops: batch}), &res)
		for _, r := range res.Results {
			if r.Status != "applied" {
				b.Fatalf("seed op %s: %s %s %s", r.ID, r.Status, r.Code, r.Message)
			}
		}
		total += len(batch)
		batch = batch[:0]
	}
	op := func(rec, field, action string, value any) {
		data, err := json.Marshal(map[string]any{"id": uuid.NewString(), "record": rec, "kind": model.KindIdentification,
			"field": field, "action": action, "value": value, "base": []string{}, "hlc": clk.Now().String(), "device": tr.DeviceID})
		if err != nil {
			b.Fatal(err)
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
		op(rec, "team", "set", team)
		for i := 1; i < perRecord; i++ {
			fields[(r+i)%len(fields)](rec, i)
		}
	}
	flush()
	return total
}

// BenchmarkFreshDevicePull100k: a new device logs in and pulls and
// materialises 100,000 ops (10,000 records). Goal: under 5 s on 2 cores.
func BenchmarkFreshDevicePull100k(b *testing.B) {
	s := startServer(b, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	total := seed(b, s, "fw", 10_000, 10)
	ctx := context.Background()
	var pulled int
	for b.Loop() {
		b.StopTimer()
		c := device(b, s.URL, "fw", func(o *fieldsync.Options) { o.PullLimit = fieldsync.MaxPullLimit })
		b.StartTimer()
		if err := c.Sync(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st := must[fieldsync.Status](b)(c.Status(ctx))
		if st.Records != 10_000 {
			b.Fatalf("device holds %d records, want 10000", st.Records)
		}
		pulled += total
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(pulled)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/100k-ops")
}

// BenchmarkLocalWrite: latency of one durable local write (a set or an
// append: merge, op store, outbox, fsync) on a record of 1,000 ops.
func BenchmarkLocalWrite(b *testing.B) {
	s := startServer(b, nil)
	s.user("fw", model.RoleFieldWorker, "north")
	ctx := context.Background()
	c := device(b, s.URL, "fw")
	id := must[string](b)(c.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential")))
	for i := range 1000 {
		must[string](b)(c.Append(ctx, id, "notes", map[string]any{"text": fmt.Sprintf("earlier note %d", i)}))
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		var err error
		if i%2 == 0 {
			_, err = c.Set(ctx, id, "status", []string{"potential", "presumed"}[i%4/2])
		} else {
			_, err = c.Append(ctx, id, "notes", map[string]any{"text": "note"})
		}
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
