package store

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// leaveEmptyLogs leaves in dir what a process killed while badger creates
// its next memtable and value log leaves: a 0-byte .mem and a 0-byte
// .vlog, each with the next file id.
func leaveEmptyLogs(t *testing.T, dir string) {
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

// TestOpenAfterKillLeftEmptyLogs opens a store whose last process was
// killed while badger created a memtable and a value log (0-byte files,
// badger issue 2207): the first Open succeeds, logs what it removed, and
// every committed op and account is there.
func TestOpenAfterKillLeftEmptyLogs(t *testing.T) {
	for name, key := range map[string][]byte{"plain": nil, "encrypted": []byte("0123456789abcdef0123456789abcdef")} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			db, err := Open(dir, Options{EncryptionKey: key})
			if err != nil {
				t.Fatal(err)
			}
			a := newAuthor()
			mustApplied(t, commit(t, db, a.identification(t, newID(), newID())...))
			user := model.User{ID: newID(), Username: "ana"}
			if err := db.CreateUser(ctx, user); err != nil {
				t.Fatal(err)
			}
			want := len(feedAll(t, db, nil, 0, 100))
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			leaveEmptyLogs(t, dir)

			logs := &logCapture{}
			db, err = Open(dir, Options{EncryptionKey: key, Logger: slog.New(logs)})
			if err != nil {
				t.Fatalf("first open after the kill: %v", err)
			}
			defer db.Close()
			if got := len(feedAll(t, db, nil, 0, 100)); got != want {
				t.Errorf("feed holds %d ops after the kill, want %d", got, want)
			}
			if _, err := db.User(ctx, user.ID); err != nil {
				t.Errorf("user after the kill: %v", err)
			}
			if n := logs.count("removed an empty badger file a killed process left behind (it held no data)"); n != 2 {
				t.Errorf("logged %d removals, want 2", n)
			}
		})
	}
}
