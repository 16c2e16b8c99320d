// Package badgerdirtest helps tests of the stores that open badger through
// server/badgerdir recreate the crash state it repairs.
package badgerdirtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// LeaveEmptyLogs leaves in the badger directory dir what a process killed
// while badger creates its next memtable and value log leaves: a 0-byte
// .mem and a 0-byte .vlog, each with the next file id.
func LeaveEmptyLogs(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	nextMem, nextVlog := 3, 1
	for _, e := range entries {
		if stem, ok := strings.CutSuffix(e.Name(), ".mem"); ok {
			n, _ := strconv.Atoi(stem)
			nextMem = max(nextMem, n+1)
		}
		if stem, ok := strings.CutSuffix(e.Name(), ".vlog"); ok {
			n, _ := strconv.Atoi(stem)
			nextVlog = max(nextVlog, n+1)
		}
	}
	for _, name := range []string{fmt.Sprintf("%05d.mem", nextMem), fmt.Sprintf("%06d.vlog", nextVlog)} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
