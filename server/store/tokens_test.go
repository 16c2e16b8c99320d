package store

import (
	"context"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
)

// TestChain: the family, device and user of a token come back from one
// read, as stored; any of them absent is CodeNotFound.
func TestChain(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	u := model.User{ID: newID(), Username: "mara", Role: model.RoleFieldWorker, PasswordHash: "h"}
	d := model.Device{ID: newID(), User: u.ID, CreatedAt: at}
	f := model.TokenFamily{ID: newID(), User: u.ID, Device: d.ID, CreatedAt: at}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := db.PutDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := db.PutFamily(ctx, f); err != nil {
		t.Fatal(err)
	}
	c, err := db.Chain(ctx, f.ID, d.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Family.ID != f.ID || c.Device.ID != d.ID || c.User.Username != "mara" {
		t.Errorf("Chain = %+v", c)
	}
	for _, tc := range []struct{ name, family, device, user string }{
		{"no family", newID(), d.ID, u.ID},
		{"no device", f.ID, newID(), u.ID},
		{"no user", f.ID, d.ID, newID()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.Chain(ctx, tc.family, tc.device, tc.user)
			if got, want := model.ErrorCode(err), model.CodeNotFound; got != want {
				t.Errorf("code = %v (%v), want %v", got, err, want)
			}
		})
	}
}
