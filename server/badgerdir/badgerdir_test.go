package badgerdir_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/server/badgerdir"
)

// testOptions are small badger options for a store in dir; values of 1 KiB
// or more go to the value log.
func testOptions(dir string) badger.Options {
	return badger.DefaultOptions(dir).
		WithLogger(nil).
		WithSyncWrites(true).
		WithMemTableSize(1 << 20).
		WithValueLogFileSize(1 << 20).
		WithValueThreshold(1 << 10).
		WithBlockCacheSize(1 << 20).
		WithNumCompactors(2)
}

// seed creates a store in dir holding key k0 with a small value (in the
// LSM) and key k1 with a large one (in the value log), and closes it.
func seed(t *testing.T, dir string) {
	t.Helper()
	db, err := badgerdir.Open(testOptions(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(txn *badger.Txn) error {
		if err := txn.Set([]byte("k0"), []byte("small")); err != nil {
			return err
		}
		return txn.Set([]byte("k1"), bytes.Repeat([]byte("L"), 4<<10))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkSeeded fails unless db holds what seed wrote.
func checkSeeded(t *testing.T, db *badger.DB) {
	t.Helper()
	err := db.View(func(txn *badger.Txn) error {
		for key, want := range map[string][]byte{"k0": []byte("small"), "k1": bytes.Repeat([]byte("L"), 4<<10)} {
			item, err := txn.Get([]byte(key))
			if err != nil {
				return fmt.Errorf("get %s: %w", key, err)
			}
			got, err := item.ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read %s: %w", key, err)
			}
			if !bytes.Equal(got, want) {
				return fmt.Errorf("%s holds %d bytes, want %d", key, len(got), len(want))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// emptyFiles are the states a process killed between badger's create and
// truncate of a log leaves: 0-byte memtables and value logs.
var emptyFiles = map[string][]string{
	"memtable":           {"00003.mem"},
	"newest value log":   {"000002.vlog"},
	"memtable and vlog":  {"00003.mem", "000002.vlog"},
	"two memtables":      {"00003.mem", "00004.mem"},
	"value log far away": {"000009.vlog"},
}

// TestOpenAfterKillLeftEmptyLog opens stores where a kill left a 0-byte
// memtable or value log: the first Open succeeds, nothing is lost, the
// removal is logged.
func TestOpenAfterKillLeftEmptyLog(t *testing.T) {
	for name, files := range emptyFiles {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			seed(t, dir)
			for _, f := range files {
				if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var logs bytes.Buffer
			db, err := badgerdir.Open(testOptions(dir), slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("open after a kill left %v: %v", files, err)
			}
			defer db.Close()
			checkSeeded(t, db)
			for _, f := range files {
				if !strings.Contains(logs.String(), "file="+f) {
					t.Errorf("log %q does not name the removed %s", logs.String(), f)
				}
			}
		})
	}
}

// TestBadgerChokesOnEmptyLog pins the upstream bug the package works
// around (dgraph-io/badger issue 2207): plain badger.Open fails on a
// 0-byte memtable or newest value log. When a badger upgrade makes this
// test fail, the repair may be no longer needed.
func TestBadgerChokesOnEmptyLog(t *testing.T) {
	for _, f := range []string{"00003.mem", "000002.vlog"} {
		dir := t.TempDir()
		seed(t, dir)
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		db, err := badger.Open(testOptions(dir))
		if err == nil {
			_ = db.Close()
			t.Fatalf("badger.Open with a 0-byte %s succeeded; upstream may have fixed issue 2207", f)
		}
		if !strings.Contains(err.Error(), "Create a new file") {
			t.Errorf("badger.Open with a 0-byte %s: %v, want the z.NewFile error", f, err)
		}
	}
}

// TestOpenLeavesLockedDirectory opens a store that another badger holds:
// the open fails on badger's lock and the 0-byte file stays, for the
// running badger owns the directory.
func TestOpenLeavesLockedDirectory(t *testing.T) {
	dir := t.TempDir()
	db, err := badgerdir.Open(testOptions(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	empty := filepath.Join(dir, "00099.mem")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(empty)
	second, err := badgerdir.Open(testOptions(dir), nil)
	if err == nil {
		_ = second.Close()
		t.Fatal("a second Open of a directory in use succeeded")
	}
	if _, err := os.Stat(empty); errors.Is(err, os.ErrNotExist) {
		t.Fatal("the repair removed a file of a directory another badger holds")
	}
}

// TestOpenAfterOtherCrashStates opens the other states a kill can leave in
// a badger directory, which badger recovers by itself and the repair
// leaves alone: a log killed after its truncate but before its header
// (full size, all zeros), a log shorter than its header, a 0-byte
// DISCARD, the temporary files of a MANIFEST or KEYREGISTRY rewrite, and a
// table the MANIFEST does not list yet.
func TestOpenAfterOtherCrashStates(t *testing.T) {
	states := map[string]struct {
		name string
		size int
	}{
		"memtable without header":    {"00003.mem", 2 << 20},
		"value log without header":   {"000002.vlog", 2 << 20},
		"memtable shorter than one":  {"00003.mem", 7},
		"value log shorter than one": {"000002.vlog", 7},
		"empty discard stats":        {"DISCARD", 0},
		"manifest rewrite":           {"MANIFEST-REWRITE", 4},
		"key registry rewrite":       {"KEYREGISTRY.rewrite", 0},
		"table not in the manifest":  {"000009.sst", 0},
	}
	for state, f := range states {
		t.Run(state, func(t *testing.T) {
			dir := t.TempDir()
			seed(t, dir)
			if err := os.WriteFile(filepath.Join(dir, f.name), make([]byte, f.size), 0o644); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			db, err := badgerdir.Open(testOptions(dir), slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("open with %s: %v", f.name, err)
			}
			defer db.Close()
			checkSeeded(t, db)
			if logs.Len() > 0 {
				t.Errorf("the repair touched a file badger recovers itself: %s", logs.String())
			}
		})
	}
}
