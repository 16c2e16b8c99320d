package fieldsync

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// leaveEmptyLogs leaves in the badger directory dir what a process killed
// while badger creates its next memtable and value log leaves: a 0-byte
// .mem and a 0-byte .vlog, each with the next file id.
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

// TestOpenAfterKillLeftEmptyLogs opens a replica whose last process was
// killed while badger created a memtable and a value log (0-byte files,
// badger issue 2207): the first Open succeeds and the records, the outbox
// and the session are all there.
func TestOpenAfterKillLeftEmptyLogs(t *testing.T) {
	for name, key := range map[string][]byte{"plain": nil, "encrypted": []byte("0123456789abcdef0123456789abcdef")} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			f := newFakeServer(t)
			dir := t.TempDir()
			withKey := func(o *Options) { o.EncryptionKey = key }
			c := loggedIn(t, dir, f, withKey)
			id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("notes", map[string]any{"text": "statement"})))
			before := status(t, c)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			leaveEmptyLogs(t, filepath.Join(dir, "db"))

			opt := Options{Logger: testLogger(), EncryptionKey: key, ServerURL: f.srv.URL}
			c2, err := Open(dir, opt)
			if err != nil {
				t.Fatalf("first open after the kill: %v", err)
			}
			defer c2.Close()
			must[*Record](t)(c2.Record(ctx, id))
			if got := status(t, c2); got.Outbox != before.Outbox || !got.LoggedIn || got.DeviceID != before.DeviceID {
				t.Errorf("status after the kill = %+v, want outbox %d, logged in, device %s", got, before.Outbox, before.DeviceID)
			}
		})
	}
}
