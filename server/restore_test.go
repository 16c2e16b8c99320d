package server_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/server"
	"github.com/fieldsync/fieldsync/server/backup"
)

// TestServeRefusesIncompleteRestore: a data directory holding the marker
// of a restore that did not complete (killed, or failed) is refused by
// serve and by the operator tools, and nothing is created in it (before,
// serve opened the half-written store as a new empty one).
func TestServeRefusesIncompleteRestore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dir, "db.restoring"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, backup.IncompleteMarker), []byte("test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	m := server.NewMain()
	m.Stdout = &out
	m.Log = discardLogger()
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "", "--data", dir}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	err := m.Run(context.Background())
	if err == nil {
		m.Close()
		t.Fatal("serve opened a directory a restore left incomplete")
	}
	if !strings.Contains(err.Error(), "incomplete restore") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("serve: %q, want one line naming the incomplete restore", err)
	}
	_ = m.Close()
	if _, err := os.Stat(filepath.Join(dir, "db")); !os.IsNotExist(err) {
		t.Fatalf("serve created a store in the directory: %v", err)
	}
	if err := server.VerifyAudit(context.Background(), dir, "", discardLogger(), &out); err == nil || !strings.Contains(err.Error(), "incomplete restore") {
		t.Fatalf("audit verify: %v, want it refused", err)
	}
}
