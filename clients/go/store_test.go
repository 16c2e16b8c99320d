package fieldsync

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fieldsync/fieldsync/server/badgerdir/badgerdirtest"
)

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
			badgerdirtest.LeaveEmptyLogs(t, filepath.Join(dir, "db"))

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
