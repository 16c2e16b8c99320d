package store

import (
	"context"
	"log/slog"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/badgerdir/badgerdirtest"
)

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
			badgerdirtest.LeaveEmptyLogs(t, dir)

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
