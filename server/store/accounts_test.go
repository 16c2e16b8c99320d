package store

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
)

func TestUsersAndTeams(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	if ok, err := db.HasUsers(ctx); err != nil || ok {
		t.Fatalf("HasUsers on an empty store = %v, %v", ok, err)
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	u := model.User{ID: newID(), Username: "mara", Role: model.RoleFieldWorker, PasswordHash: "h", Teams: []string{newID()}, CreatedAt: at}
	if err := db.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, model.User{ID: newID(), Username: "mara"}); model.ErrorCode(err) != model.CodeConflict {
		t.Errorf("taken username: %v, want conflict", err)
	}
	if err := db.CreateUser(ctx, model.User{ID: u.ID, Username: "other"}); model.ErrorCode(err) != model.CodeConflict {
		t.Errorf("taken id: %v, want conflict", err)
	}
	if err := db.CreateUser(ctx, model.User{ID: newID(), Username: "admin", Role: model.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.HasUsers(ctx); err != nil || !ok {
		t.Errorf("HasUsers = %v, %v", ok, err)
	}
	got, err := db.User(ctx, u.ID)
	if err != nil || got.Username != "mara" || !got.CreatedAt.Equal(at) || got.Teams[0] != u.Teams[0] {
		t.Errorf("User = %+v, %v", got, err)
	}
	got, err = db.UserByName(ctx, "mara")
	if err != nil || got.ID != u.ID {
		t.Errorf("UserByName = %+v, %v", got, err)
	}
	if _, err := db.User(ctx, newID()); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("User(unknown): %v", err)
	}
	if _, err := db.UserByName(ctx, "nobody"); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("UserByName(unknown): %v", err)
	}
	users, err := db.ListUsers(ctx)
	if err != nil || len(users) != 2 || users[0].Username != "admin" || users[1].Username != "mara" {
		t.Errorf("ListUsers = %+v, %v", users, err)
	}

	for _, name := range []string{"Varna", "Burgas"} {
		if err := db.CreateTeam(ctx, model.Team{ID: newID(), Name: name, Region: "east"}); err != nil {
			t.Fatal(err)
		}
	}
	teams, err := db.ListTeams(ctx)
	if err != nil || len(teams) != 2 || teams[0].Name != "Burgas" {
		t.Fatalf("ListTeams = %+v, %v", teams, err)
	}
	if err := db.CreateTeam(ctx, teams[0]); model.ErrorCode(err) != model.CodeConflict {
		t.Errorf("CreateTeam(existing): %v", err)
	}
	if tm, err := db.Team(ctx, teams[1].ID); err != nil || tm.Name != "Varna" {
		t.Errorf("Team = %+v, %v", tm, err)
	}
	if _, err := db.Team(ctx, newID()); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("Team(unknown): %v", err)
	}
}

func TestRefreshTokens(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	fam := model.TokenFamily{ID: newID(), User: newID(), Device: newID(), CreatedAt: at}
	if err := db.PutFamily(ctx, fam); err != nil {
		t.Fatal(err)
	}
	tok := func(hash string) model.RefreshToken {
		return model.RefreshToken{Hash: hash, Family: fam.ID, User: fam.User, Device: fam.Device, IssuedAt: at, ExpiresAt: at.Add(time.Hour)}
	}
	if err := db.PutRefreshToken(ctx, tok("h1")); err != nil {
		t.Fatal(err)
	}
	if err := db.UseRefreshToken(ctx, "h1", tok("h2"), at.Add(time.Minute)); err != nil {
		t.Fatalf("first use: %v", err)
	}
	err := db.UseRefreshToken(ctx, "h1", tok("h3"), at.Add(2*time.Minute))
	if model.ErrorCode(err) != model.CodeTokenReused {
		t.Fatalf("second use: %v, want token_reused", err)
	}
	used, err := db.RefreshToken(ctx, "h1")
	if err != nil || used.UsedAt == nil || !used.UsedAt.Equal(at.Add(time.Minute)) || used.Next != "h2" {
		t.Errorf("used token = %+v, %v", used, err)
	}
	if next, err := db.RefreshToken(ctx, "h2"); err != nil || next.UsedAt != nil || next.Family != fam.ID {
		t.Errorf("next token = %+v, %v", next, err)
	}
	if _, err := db.RefreshToken(ctx, "h3"); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("the refused next token was stored: %v", err)
	}
	if err := db.UseRefreshToken(ctx, "nope", tok("h4"), at); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("unknown token: %v", err)
	}

	// Concurrent uses of one token: exactly one wins.
	if err := db.PutRefreshToken(ctx, tok("c0")); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.UseRefreshToken(ctx, "c0", tok("c"+strings.Repeat("x", i+1)), at)
		}()
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch model.ErrorCode(err) {
		case model.CodeTokenReused:
		default:
			if err != nil {
				t.Errorf("concurrent use: %v", err)
			}
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d concurrent uses succeeded, want 1", won)
	}

	if err := db.RevokeFamily(ctx, fam.ID, "token_reused", at); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeFamily(ctx, fam.ID, "again", at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	f, err := db.Family(ctx, fam.ID)
	if err != nil || f.RevokedAt == nil || !f.RevokedAt.Equal(at) || f.Reason != "token_reused" {
		t.Errorf("family = %+v, %v", f, err)
	}
	if err := db.RevokeFamily(ctx, newID(), "x", at); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("RevokeFamily(unknown): %v", err)
	}
	if _, err := db.Family(ctx, newID()); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("Family(unknown): %v", err)
	}
}

func TestDevices(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, Options{})
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	user, other := newID(), newID()
	d1 := model.Device{ID: newID(), User: user, Name: "tablet 1", CreatedAt: at}
	d2 := model.Device{ID: newID(), User: user, Name: "tablet 2", CreatedAt: at}
	d3 := model.Device{ID: newID(), User: other, Name: "phone", CreatedAt: at}
	for _, d := range []model.Device{d1, d2, d3} {
		if err := db.PutDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if all, err := db.ListDevices(ctx); err != nil || len(all) != 3 {
		t.Errorf("ListDevices = %d, %v", len(all), err)
	}
	if mine, err := db.DevicesOfUser(ctx, user); err != nil || len(mine) != 2 {
		t.Errorf("DevicesOfUser = %+v, %v", mine, err)
	}
	// Families of d1 (two) and of d2 (one).
	fams := []model.TokenFamily{
		{ID: newID(), User: user, Device: d1.ID, CreatedAt: at},
		{ID: newID(), User: user, Device: d1.ID, CreatedAt: at},
		{ID: newID(), User: user, Device: d2.ID, CreatedAt: at},
	}
	for _, f := range fams {
		if err := db.PutFamily(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.RevokeFamily(ctx, fams[1].ID, "logout", at); err != nil {
		t.Fatal(err)
	}
	rev := at.Add(time.Hour)
	got, err := db.RevokeDevice(ctx, d1.ID, "lead", rev)
	if err != nil || !got.Revoked() || !got.RevokedAt.Equal(rev) || got.RevokedBy != "lead" {
		t.Fatalf("RevokeDevice = %+v, %v", got, err)
	}
	for i, want := range []struct {
		at     time.Time
		reason string
	}{{rev, "device_revoked"}, {at, "logout"}, {}} {
		f, err := db.Family(ctx, fams[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if want.reason == "" {
			if f.RevokedAt != nil {
				t.Errorf("family of another device revoked: %+v", f)
			}
			continue
		}
		if f.RevokedAt == nil || !f.RevokedAt.Equal(want.at) || f.Reason != want.reason {
			t.Errorf("family %d = %+v, want revoked at %v for %s", i, f, want.at, want.reason)
		}
	}
	again, err := db.RevokeDevice(ctx, d1.ID, "admin", rev.Add(time.Hour))
	if err != nil || !again.RevokedAt.Equal(rev) || again.RevokedBy != "lead" {
		t.Errorf("second RevokeDevice = %+v, %v; want the first revocation kept", again, err)
	}
	if _, err := db.RevokeDevice(ctx, newID(), "x", at); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("RevokeDevice(unknown): %v", err)
	}
	if d, err := db.Device(ctx, d2.ID); err != nil || d.Revoked() {
		t.Errorf("other device = %+v, %v", d, err)
	}

	// TouchDevice writes when stale or when the IP changes.
	if err := db.TouchDevice(ctx, d2.ID, "10.0.0.1", at); err != nil {
		t.Fatal(err)
	}
	seen := func() model.Device {
		d, err := db.Device(ctx, d2.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := seen(); !d.LastSeen.Equal(at) || d.LastIP != "10.0.0.1" {
		t.Errorf("after touch: %+v", d)
	}
	_ = db.TouchDevice(ctx, d2.ID, "10.0.0.1", at.Add(30*time.Second))
	if d := seen(); !d.LastSeen.Equal(at) {
		t.Errorf("a touch within a minute was written: %v", d.LastSeen)
	}
	_ = db.TouchDevice(ctx, d2.ID, "10.0.0.2", at.Add(40*time.Second))
	if d := seen(); d.LastIP != "10.0.0.2" || !d.LastSeen.Equal(at.Add(40*time.Second)) {
		t.Errorf("a new IP was not written: %+v", d)
	}
	_ = db.TouchDevice(ctx, d2.ID, "10.0.0.2", at.Add(2*time.Minute))
	if d := seen(); !d.LastSeen.Equal(at.Add(2 * time.Minute)) {
		t.Errorf("a stale last-seen was not written: %v", d.LastSeen)
	}
	if err := db.TouchDevice(ctx, newID(), "x", at); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("TouchDevice(unknown): %v", err)
	}

	// Moving a device to another user moves its index entry.
	d3.User = user
	if err := db.PutDevice(ctx, d3); err != nil {
		t.Fatal(err)
	}
	if theirs, _ := db.DevicesOfUser(ctx, other); len(theirs) != 0 {
		t.Errorf("old owner still lists %d devices", len(theirs))
	}
	if _, err := db.Device(ctx, newID()); model.ErrorCode(err) != model.CodeNotFound {
		t.Errorf("Device(unknown): %v", err)
	}
}

func TestEncryption(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	key := []byte("0123456789abcdef0123456789abcdef")
	db, err := Open(dir, Options{EncryptionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	a := newAuthor()
	rec := newID()
	mustApplied(t, commit(t, db, a.identification(t, rec, newID())...))
	if err := db.CreateUser(ctx, model.User{ID: newID(), Username: "secret-name"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	assertNotOnDisk(t, dir, "secret-name", "bus station", rec)

	wrong := []byte("fedcba9876543210fedcba9876543210")
	for name, k := range map[string][]byte{"wrong key": wrong, "no key": nil, "short wrong key": wrong[:16]} {
		_, err := Open(dir, Options{EncryptionKey: k})
		if err == nil {
			t.Fatalf("%s: Open succeeded", name)
		}
		if !errors.Is(err, badger.ErrEncryptionKeyMismatch) || !strings.Contains(err.Error(), "encryption key") {
			t.Errorf("%s: %v, want a clear key mismatch", name, err)
		}
	}
	if _, err := Open(dir, Options{EncryptionKey: []byte("short")}); err == nil {
		t.Error("a 5-byte key was accepted")
	}

	db = openAt(t, dir, Options{EncryptionKey: key})
	if st, err := db.Record(ctx, rec); err != nil || st.Record.ID != rec {
		t.Errorf("Record after reopening with the key: %v", err)
	}
	if u, err := db.UserByName(ctx, "secret-name"); err != nil || u.Username != "secret-name" {
		t.Errorf("UserByName after reopening: %v", err)
	}
	if last, _ := db.LastSeq(ctx); last != 3 {
		t.Errorf("LastSeq = %d, want 3", last)
	}

	// An unencrypted store refuses a key.
	plain := t.TempDir()
	db2, err := Open(plain, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = db2.Close()
	if _, err := Open(plain, Options{EncryptionKey: key}); !errors.Is(err, badger.ErrEncryptionKeyMismatch) {
		t.Errorf("key for an unencrypted store: %v", err)
	}
}

// assertNotOnDisk fails if any file under dir holds one of the strings in
// plain text.
func assertNotOnDisk(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n += len(b)
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q in plain text", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("the store wrote nothing")
	}
}
