package store

import (
	"context"
	"io/fs"
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// bigNotes is the number of notes of the big record of
// BenchmarkPushOneOp.
const bigNotes = 10_000

// BenchmarkPushOneOp measures a 1-op push (one durable Commit) to a new
// record and to a record already holding bigNotes notes (the record
// limits raised for it): the cost per op, in time and in disk growth
// (disk-B/op, the blocks the data directory gained), must not depend on
// the record's size.
//
//	go test ./server/store -run '^$' -bench PushOneOp -benchtime 2000x
func BenchmarkPushOneOp(b *testing.B) {
	b.Run("new-record", func(b *testing.B) {
		db, dir := openBench(b)
		a := newAuthor()
		team := newID()
		ops := make([]protocol.Pending, b.N)
		for i := range ops {
			ops[i] = a.op(b, newID(), model.KindIdentification, model.FieldTeam, model.ActionSet, quote(team))
		}
		pushEach(b, db, dir, ops)
	})
	b.Run("record-of-10000-notes", func(b *testing.B) {
		db, dir := openBench(b)
		a := newAuthor()
		rec := newID()
		const k = model.KindIdentification
		note := `{"text":"Met near the bus station with two others; says the employer keeps her passport."}`
		setup := []protocol.Pending{a.op(b, rec, k, model.FieldTeam, model.ActionSet, quote(newID()))}
		for range bigNotes {
			setup = append(setup, a.op(b, rec, k, "notes", model.ActionAppend, note))
			if len(setup) == 1000 {
				commitBench(b, db, setup)
				setup = setup[:0]
			}
		}
		commitBench(b, db, setup)
		ops := make([]protocol.Pending, b.N)
		for i := range ops {
			ops[i] = a.op(b, rec, k, "notes", model.ActionAppend, note)
		}
		pushEach(b, db, dir, ops)
	})
}

// openBench opens a store whose schema lets a record grow far past the
// default limits.
func openBench(b *testing.B) (*DB, string) {
	s := model.DefaultSchema()
	s.SetLimits(model.RecordLimits{MaxLogEntries: 1 << 30, MaxEntryBytes: 1 << 20, MaxRecordBytes: 1 << 40})
	dir := b.TempDir()
	db, err := Open(dir, Options{Schema: s, Logger: slog.New(slog.DiscardHandler), GCInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db, dir
}

func commitBench(b *testing.B, db *DB, ops []protocol.Pending) {
	res, err := db.Commit(context.Background(), ops, decideAll)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range res {
		if r.Status != protocol.StatusApplied {
			b.Fatalf("op not applied: %+v", r)
		}
	}
}

// pushEach commits ops one by one, timed, and reports the disk growth
// per op.
func pushEach(b *testing.B, db *DB, dir string, ops []protocol.Pending) {
	before := diskBytes(b, dir)
	b.ResetTimer()
	for i := range ops {
		commitBench(b, db, ops[i:i+1])
	}
	b.StopTimer()
	b.ReportMetric(float64(diskBytes(b, dir)-before)/float64(len(ops)), "disk-B/op")
}

// diskBytes returns the bytes of disk blocks the files under dir use
// (badger preallocates sparse files, so sizes would mislead).
func diskBytes(b *testing.B, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
