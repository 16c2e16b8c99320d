package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// benchBatch is the number of ops per batch (raw) and per Commit.
const benchBatch = 500

// benchWriters is the number of goroutines committing concurrently.
const benchWriters = 8

// BenchmarkRawBatchedWrite is the baseline of DESIGN §8: badger alone
// with SyncWrites, 500-op batches, two small keys per op (a ~200-byte
// value and a 16-byte index key), one transaction (one fsync) per batch.
// One iteration is one batch.
func BenchmarkRawBatchedWrite(b *testing.B) {
	bdb, err := badger.Open(badger.DefaultOptions(b.TempDir()).WithSyncWrites(true).WithLogger(nil))
	if err != nil {
		b.Fatal(err)
	}
	defer bdb.Close()
	value := make([]byte, 200)
	_, _ = rand.Read(value)
	seq := uint64(0)
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		txn := bdb.NewTransaction(true)
		for range benchBatch {
			seq++
			k := binary.BigEndian.AppendUint64([]byte("f/"), seq)
			idx := make([]byte, 16)
			_, _ = rand.Read(idx)
			if err := txn.Set(k, value); err != nil {
				b.Fatal(err)
			}
			if err := txn.Set(idx, k); err != nil {
				b.Fatal(err)
			}
		}
		if err := txn.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report(b, cpu)
}

// benchRecordOps returns the 25 ops a field worker writes for one new
// identification: registers, set elements and log entries.
func benchRecordOps(b *testing.B, a author, team string, codes []string) []protocol.Pending {
	rec := newID()
	const k = model.KindIdentification
	note := `{"text":"Met near the bus station with two others; says the employer keeps her passport and she owes money for the trip."}`
	ops := []protocol.Pending{
		a.op(b, rec, k, model.FieldTeam, model.ActionSet, quote(team)),
		a.op(b, rec, k, model.FieldStatus, model.ActionSet, `"potential"`),
		a.op(b, rec, k, "code", model.ActionSet, `"VT-2025-0192"`),
		a.op(b, rec, k, "region", model.ActionSet, `"Varna"`),
		a.op(b, rec, k, "location", model.ActionSet, `"central bus station"`),
		a.op(b, rec, k, "sex", model.ActionSet, `"female"`),
		a.op(b, rec, k, "age_group", model.ActionSet, `"adult"`),
		a.op(b, rec, k, "age_estimate", model.ActionSet, `23`),
		a.op(b, rec, k, "encounter_date", model.ActionSet, `"2025-03-01"`),
		a.op(b, rec, k, "citizenship", model.ActionSet, `"BG"`),
		a.op(b, rec, k, "child_presumed", model.ActionSet, `false`),
		a.op(b, rec, k, "exploitation_types", model.ActionAdd, `"sexual"`),
		a.op(b, rec, k, "exploitation_types", model.ActionAdd, `"labour"`),
		a.op(b, rec, k, "exploitation_types", model.ActionAdd, `"begging"`),
		a.op(b, rec, k, "recruitment_channels", model.ActionAdd, `"social_network"`),
		a.op(b, rec, k, "recruitment_channels", model.ActionAdd, `"acquaintance"`),
		a.op(b, rec, k, "consent", model.ActionAppend, `{"scope":"data_processing","given":true}`),
		a.op(b, rec, k, "referrals", model.ActionAppend, `{"service":"shelter","note":"placed for the night"}`),
		a.op(b, rec, k, "notes", model.ActionAppend, note),
		a.op(b, rec, k, "notes", model.ActionAppend, note),
		a.op(b, rec, k, "notes", model.ActionAppend, note),
	}
	for _, c := range codes[:4] {
		ops = append(ops, a.op(b, rec, k, "indicators", model.ActionAdd, quote(c)))
	}
	return ops
}

// benchCommits builds n commits of benchBatch ops each: 20 new records of
// 25 ops, spread over a few teams.
func benchCommits(b *testing.B, n int, teams []string) [][]protocol.Pending {
	codes := model.DefaultCatalogue().Codes()
	commits := make([][]protocol.Pending, n)
	for i := range commits {
		a := newAuthor()
		for len(commits[i]) < benchBatch {
			commits[i] = append(commits[i], benchRecordOps(b, a, teams[(i+len(commits[i]))%len(teams)], codes)...)
		}
		commits[i] = commits[i][:benchBatch]
	}
	return commits
}

// BenchmarkCommit measures durable ops/s through the group-commit writer:
// benchWriters goroutines commit 500-op batches of realistic ops. One
// iteration is one 500-op Commit, as one iteration of
// BenchmarkRawBatchedWrite is one 500-op batch.
func BenchmarkCommit(b *testing.B) {
	db, err := Open(b.TempDir(), Options{Logger: slog.New(slog.DiscardHandler), GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	commits := benchCommits(b, b.N, []string{newID(), newID(), newID(), newID()})
	b.ResetTimer()
	cpu := cpuTime()
	runCommits(b, len(commits), func(i int) error {
		res, err := db.Commit(context.Background(), commits[i], decideAll)
		if err == nil && res[0].Status != protocol.StatusApplied {
			err = fmt.Errorf("op not applied: %+v", res[0])
		}
		return err
	})
	b.StopTimer()
	report(b, cpu)
}

// BenchmarkPush measures the whole protocol push over the store (JSON
// decoding, validation, access checks, group commit), without HTTP.
func BenchmarkPush(b *testing.B) {
	db, err := Open(b.TempDir(), Options{Logger: slog.New(slog.DiscardHandler), GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	svc := &protocol.Service{Schema: model.DefaultSchema(), Store: db, Clock: hlc.NewClock(time.Now, 0), Now: time.Now, Limits: protocol.DefaultLimits}
	teams := []string{newID(), newID(), newID(), newID()}
	commits := benchCommits(b, b.N, teams)
	bodies := make([][]json.RawMessage, len(commits))
	principals := make([]*access.Principal, len(commits))
	for i, ops := range commits {
		for _, p := range ops {
			bodies[i] = append(bodies[i], p.Op.AppendJSON(nil))
		}
		principals[i] = &access.Principal{User: ops[0].Op.User, Device: ops[0].Op.Device, Role: model.RoleFieldWorker, Teams: teams}
	}
	b.ResetTimer()
	cpu := cpuTime()
	runCommits(b, len(commits), func(i int) error {
		res, err := svc.Push(context.Background(), principals[i], bodies[i])
		if err == nil && res.Results[0].Status != protocol.StatusApplied {
			err = fmt.Errorf("op not applied: %+v", res.Results[0])
		}
		return err
	})
	b.StopTimer()
	report(b, cpu)
}

// runCommits runs do(0..n-1) from benchWriters goroutines.
func runCommits(b *testing.B, n int, do func(i int) error) {
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range benchWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := do(i); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// cpuTime returns the CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report reports ops/s and the CPU time the process spent per op since
// cpu (which, unlike ops/s, hardly depends on other load on the machine).
func report(b *testing.B, cpu time.Duration) {
	ops := float64(b.N * benchBatch)
	b.ReportMetric(ops/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/ops, "cpu-µs/op")
}
