package fieldsync

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// BenchmarkMaterialise100k measures the device side alone: a fresh
// replica pulls 100,000 ops (10,000 records of 10 ops) from pages served
// from memory, and materialises them. The end-to-end figure, server
// included, is BenchmarkFreshDevicePull100k in e2e.
func BenchmarkMaterialise100k(b *testing.B) {
	const records, perRecord, pageSize = 10_000, 10, MaxPullLimit
	team, user, dev := uuid.NewString(), uuid.NewString(), uuid.NewString()
	clk := hlc.NewClock(time.Now, 0)
	var ops []json.RawMessage
	for r := range records {
		rec := uuid.NewString()
		add := func(field string, action model.Action, value any) {
			v, _ := json.Marshal(value)
			raw, _ := json.Marshal(opJSON{ID: uuid.NewString(), Record: rec, Kind: model.KindIdentification, Field: field,
				Action: action, Value: v, Base: []string{}, HLC: clk.Now(), Device: dev, User: user})
			op, err := crdt.DecodeOp(raw)
			if err != nil {
				b.Fatal(err)
			}
			ops = append(ops, op.AppendJSON(nil))
		}
		add("team", model.ActionSet, team)
		for i := 1; i < perRecord; i++ {
			switch (r + i) % 4 {
			case 0:
				add("status", model.ActionSet, "presumed")
			case 1:
				add("indicators", model.ActionAdd, "debt_bondage")
			case 2:
				add("sex", model.ActionSet, "female")
			default:
				add("notes", model.ActionAppend, map[string]any{"text": fmt.Sprintf("statement %d: met at the bus station, says the employer kept the passport", i)})
			}
		}
	}
	var pages [][]byte
	for i := 0; i < len(ops); i += pageSize {
		end := min(i+pageSize, len(ops))
		p, _ := json.Marshal(api.PullResponse{Ops: ops[i:end], Cursor: strconv.Itoa(end), More: end < len(ops), Drop: []string{}, ServerHLC: clk.Now().String()})
		pages = append(pages, p)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/auth/login", func(w http.ResponseWriter, r *http.Request) {
		var req api.LoginRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		writeJSON(w, http.StatusOK, api.TokenResponse{AccessToken: "a", RefreshToken: "r", DeviceID: req.DeviceID,
			User: api.User{ID: user, Username: "ana", Role: model.RoleFieldWorker, Teams: []string{team}}})
	})
	mux.HandleFunc("GET /v1/sync/pull", func(w http.ResponseWriter, r *http.Request) {
		from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(pages[from/pageSize])
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		c, err := Open(b.TempDir(), Options{ServerURL: srv.URL, PullLimit: pageSize, PageTime: -1, Logger: testLogger()})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Login(ctx, "ana", "x"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := c.pull(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(len(ops)*b.N)/b.Elapsed().Seconds(), "ops/s")
}
