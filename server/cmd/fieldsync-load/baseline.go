package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/uuid"
)

// baselineBatch is the ops per transaction of the raw baseline (DESIGN §8).
const baselineBatch = 500

// baselineValue is what the baseline stores per op: an op's JSON, about
// 300 bytes, its ids patched in per op.
const baselineValue = `{"id":"00000000-0000-7000-8000-000000000000","record":"0193f2a1-b2c3-7d4e-8f50-6172839405a6",` +
	`"kind":"identification","field":"notes","action":"append","value":{"text":"Met near the bus station; ` +
	`says the employer keeps her passport."},"base":[],"hlc":"0193f2a1b2c30001","device":"0193f2a1-b2c3-7d4e-8f50-000000000001"}`

// baselineResult is the raw badger batched-write rate.
type baselineResult struct {
	Badger      string  `json:"badger"`
	Ops         int     `json:"ops"`
	Batch       int     `json:"batch"`
	ValueBytes  int     `json:"value_bytes"`
	Seconds     float64 `json:"seconds"`
	OpsPerSec   float64 `json:"ops_per_sec"`
	CPUSeconds  float64 `json:"process_cpu_seconds"`
	Description string  `json:"description"`
}

// runBaseline writes n ops to a fresh badger in its own temporary
// directory with SyncWrites (one fsync per commit), as transactions of
// baselineBatch ops of two keys each: the op (by id, a ~300-byte value) and
// a 16-byte feed index key (bucket, sequence) naming it. One writer
// commits transaction after transaction.
func runBaseline(ctx context.Context, n int) (res baselineResult, err error) {
	dir, err := os.MkdirTemp("", "fieldsync-load-baseline-")
	if err != nil {
		return res, fmt.Errorf("baseline: create a temporary directory: %w", err)
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	db, err := badger.Open(badger.DefaultOptions(dir).WithSyncWrites(true).WithLogger(nil))
	if err != nil {
		return res, fmt.Errorf("baseline: open badger: %w", err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("baseline: close badger: %w", cerr))
		}
	}()
	template := []byte(baselineValue)
	bucket := uuid.New()
	var seq uint64
	cpu0, start := processCPU(), time.Now()
	for written := 0; written < n; {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		size := min(baselineBatch, n-written)
		// One buffer per transaction: badger keeps the slices until the
		// commit.
		buf := make([]byte, 0, size*(len(template)+18+16+16))
		txn := db.NewTransaction(true)
		for range size {
			seq++
			id := uuid.Must(uuid.NewV7())
			at := len(buf)
			buf = append(buf, template...)
			val := buf[at:]
			hex.Encode(val[7:15], id[:4]) // patch the op id's first digits
			buf = append(buf, 'o', '/')
			buf = append(buf, id[:]...)
			opKey := buf[at+len(template):]
			idx := binary.BigEndian.AppendUint64(append(buf, bucket[:8]...), seq)
			buf = idx
			idxKey := idx[len(idx)-16:]
			if err := txn.Set(opKey, val); err != nil {
				txn.Discard()
				return res, fmt.Errorf("baseline: set: %w", err)
			}
			if err := txn.Set(idxKey, id[:]); err != nil {
				txn.Discard()
				return res, fmt.Errorf("baseline: set: %w", err)
			}
		}
		if err := txn.Commit(); err != nil {
			return res, fmt.Errorf("baseline: commit: %w", err)
		}
		written += size
	}
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	return baselineResult{
		Badger: badgerVersion(), Ops: n, Batch: baselineBatch, ValueBytes: len(template),
		Seconds: elapsed.Seconds(), OpsPerSec: float64(n) / elapsed.Seconds(), CPUSeconds: cpu.Seconds(),
		Description: fmt.Sprintf("SyncWrites, %d ops per transaction (one fsync each), 2 keys per op: a %d-byte op value and a 16-byte index key", baselineBatch, len(template)),
	}, nil
}

// badgerVersion is the badger module version built in.
func badgerVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/dgraph-io/badger/v4" {
				if d.Replace != nil {
					d = d.Replace
				}
				return d.Path + " " + d.Version
			}
		}
	}
	return "github.com/dgraph-io/badger/v4"
}
