package badgerdir

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestRepairRemovesOnlyEmptyLogs fills a directory with every kind of
// file badger keeps, empty and not: only the 0-byte <number>.mem and
// <number>.vlog files go.
func TestRepairRemovesOnlyEmptyLogs(t *testing.T) {
	dir := t.TempDir()
	files := map[string]int{ // name -> size
		"00003.mem": 0, "00004.mem": 5, "000002.vlog": 0, "000003.vlog": 1,
		"MANIFEST": 0, "KEYREGISTRY": 0, "DISCARD": 0, "000001.sst": 0, "LOCK": 0,
		"x.mem": 0, ".mem": 0, "00003.mem.bak": 0, "3.vlog~": 0, "-1.vlog": 0,
	}
	for name, size := range files {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "00005.mem"), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	if err := repair(badger.DefaultOptions(dir), slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{"-1.vlog", ".mem", "00003.mem.bak", "00004.mem", "000001.sst", "000003.vlog", "00005.mem", "3.vlog~", "DISCARD", "KEYREGISTRY", "LOCK", "MANIFEST", "x.mem"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if n := strings.Count(logs.String(), "removed an empty badger file"); n != 2 {
		t.Errorf("logged %d removals, want 2: %s", n, logs.String())
	}
}

// TestRepairSplitDirectories removes empty memtables from Dir and empty
// value logs from ValueDir only.
func TestRepairSplitDirectories(t *testing.T) {
	dir, valueDir := t.TempDir(), t.TempDir()
	for _, p := range []string{filepath.Join(dir, "00001.mem"), filepath.Join(dir, "000001.vlog"),
		filepath.Join(valueDir, "00001.mem"), filepath.Join(valueDir, "000001.vlog")} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := repair(badger.DefaultOptions(dir).WithValueDir(valueDir), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{filepath.Join(dir, "00001.mem"): false, filepath.Join(dir, "000001.vlog"): true,
		filepath.Join(valueDir, "00001.mem"): true, filepath.Join(valueDir, "000001.vlog"): false} {
		_, err := os.Stat(p)
		if got := err == nil; got != want {
			t.Errorf("%s exists: %v, want %v", p, got, want)
		}
	}
}

// TestRepairMissingDirectory is a no-op on a store not created yet.
func TestRepairMissingDirectory(t *testing.T) {
	if err := repair(badger.DefaultOptions(filepath.Join(t.TempDir(), "absent")), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
}
