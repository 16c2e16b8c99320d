package store

import (
	"context"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
)

// TestDisableAndPassword: disabling a user and setting its password each
// revoke every family of every device of it, and of no one else.
func TestDisableAndPassword(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	ana := model.User{ID: newID(), Username: "ana", Role: model.RoleFieldWorker, PasswordHash: "h1", Teams: []string{newID()}}
	bob := model.User{ID: newID(), Username: "bob", Role: model.RoleFieldWorker, PasswordHash: "h1", Teams: ana.Teams}
	families := map[string][]string{}
	for _, u := range []model.User{ana, bob} {
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			d := model.Device{ID: newID(), User: u.ID}
			f := model.TokenFamily{ID: newID(), User: u.ID, Device: d.ID}
			if err := db.PutDevice(ctx, d); err != nil {
				t.Fatal(err)
			}
			if err := db.PutFamily(ctx, f); err != nil {
				t.Fatal(err)
			}
			families[u.ID] = append(families[u.ID], f.ID)
		}
	}
	open := func(user string) (n int) {
		for _, id := range families[user] {
			f, err := db.Family(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if f.RevokedAt == nil {
				n++
			}
		}
		return n
	}
	u, err := db.DisableUser(ctx, ana.ID, bob.ID, at)
	if err != nil || !u.Disabled() || u.DisabledBy != bob.ID {
		t.Fatalf("DisableUser = %+v, %v", u, err)
	}
	if got, want := open(ana.ID), 0; got != want {
		t.Errorf("open families of the disabled user = %d, want %d", got, want)
	}
	if got, want := open(bob.ID), 2; got != want {
		t.Errorf("open families of another user = %d, want %d", got, want)
	}
	if u, err = db.User(ctx, ana.ID); err != nil || !u.Disabled() {
		t.Errorf("stored user after disable = %+v, %v", u, err)
	}
	if u, err = db.EnableUser(ctx, ana.ID); err != nil || u.Disabled() {
		t.Errorf("EnableUser = %+v, %v", u, err)
	}
	if u, err = db.SetPassword(ctx, bob.ID, "h2", at); err != nil || u.PasswordHash != "h2" {
		t.Errorf("SetPassword = %+v, %v", u, err)
	}
	if got, want := open(bob.ID), 0; got != want {
		t.Errorf("open families after a password reset = %d, want %d", got, want)
	}
	if _, err := db.DisableUser(ctx, newID(), bob.ID, at); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("DisableUser(unknown): %v, want not_found", err)
	}
}
