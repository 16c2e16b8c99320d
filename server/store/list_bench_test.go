package store

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// benchListRecords is the number of records BenchmarkListRecords lists:
// a supervisor's 50,000 (FIELDSYNC_BENCH_LIST_RECORDS sets another).
func benchListRecords(b *testing.B) int {
	if s := os.Getenv("FIELDSYNC_BENCH_LIST_RECORDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			b.Fatalf("FIELDSYNC_BENCH_LIST_RECORDS=%q: want a number of records, at least 100", s)
		}
		return n
	}
	return 50000
}

// BenchmarkListRecords measures one listing of every summary of a store
// of benchListRecords identifications (status, region and team labels)
// as a supervisor of their team asks for the withdrawn ones (1 in 100):
// the listing reads and decodes every summary. One iteration is one
// whole listing; records/s is summaries read per second.
func BenchmarkListRecords(b *testing.B) {
	n := benchListRecords(b)
	db, err := Open(b.TempDir(), Options{Logger: slog.New(slog.DiscardHandler), GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	team, a := newID(), newAuthor()
	const k = model.KindIdentification
	var batch []protocol.Pending
	for i := range n {
		rec, status := newID(), `"potential"`
		if i%100 == 0 {
			status = `"withdrawn"`
		}
		batch = append(batch,
			a.op(b, rec, k, model.FieldTeam, model.ActionSet, quote(team)),
			a.op(b, rec, k, model.FieldStatus, model.ActionSet, status),
			a.op(b, rec, k, model.FieldRegion, model.ActionSet, quote(fmt.Sprintf("region %d", i%40))))
		if len(batch) >= 1500 || i == n-1 {
			if _, err := db.Commit(context.Background(), batch, decideAll); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	visible := func(s access.Scope) bool { return s.Team == team }
	b.ResetTimer()
	cpu := cpuTime()
	for b.Loop() {
		got, _, err := db.ListRecords(context.Background(), ListFilter{Status: "withdrawn", Visible: visible, Limit: n})
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != (n+99)/100 {
			b.Fatalf("listed %d records, want %d", len(got), (n+99)/100)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}
