package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/model"
)

func TestLogin(t *testing.T) {
	const unknownDevice = "0195a3c0-9999-7000-8000-000000000009"
	tests := []struct {
		name     string
		username string
		password string
		device   string // "own", "other", "revoked", or a literal id
		want     model.Code
	}{
		{"new device", "ana", testPassword, "", ""},
		{"own device", "ana", testPassword, "own", ""},
		{"unknown device registered", "ana", testPassword, unknownDevice, ""},
		{"wrong password", "ana", "wrong password!", "", model.CodeInvalidCredentials},
		{"empty password", "ana", "", "", model.CodeInvalidCredentials},
		{"unknown user", "nobody", testPassword, "", model.CodeInvalidCredentials},
		{"empty username", "", testPassword, "", model.CodeInvalidCredentials},
		{"visitor within grant", "vera", testPassword, "", ""},
		{"visitor grant ended", "old-visitor", testPassword, "", model.CodeGrantExpired},
		{"visitor without valid_until", "odd-visitor", testPassword, "", model.CodeGrantExpired},
		{"grant ended, wrong password", "old-visitor", "wrong password!", "", model.CodeInvalidCredentials},
		{"device id upper case", "ana", testPassword, strings.ToUpper(unknownDevice), model.CodeInvalidID},
		{"device id not a uuid", "ana", testPassword, "tablet-7", model.CodeInvalidID},
		{"another user's device", "ana", testPassword, "other", model.CodeForbidden},
		{"revoked device", "ana", testPassword, "revoked", model.CodeDeviceRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ana := f.addUser(t, "ana", model.RoleFieldWorker, func(u *model.User) { u.Teams = []string{testFamily} })
			f.addUser(t, "bob", model.RoleFieldWorker)
			f.addUser(t, "vera", model.RoleVisitor, visitorUntil(t0.Add(time.Hour)))
			f.addUser(t, "old-visitor", model.RoleVisitor, visitorUntil(t0))
			f.addUser(t, "odd-visitor", model.RoleVisitor)
			device := tt.device
			switch device {
			case "own":
				device = f.login(t, "ana", "").DeviceID
			case "other":
				device = f.login(t, "bob", "").DeviceID
			case "revoked":
				device = f.login(t, "ana", "").DeviceID
				f.store.revokeDevice(device, t0)
			}
			f.clock.Advance(time.Minute)
			sess, err := f.svc.Login(t.Context(), LoginRequest{
				Username: tt.username, Password: tt.password, DeviceID: device, DeviceName: "Tablet 7", IP: "198.51.100.7",
			})
			wantCode(t, err, tt.want)
			if err != nil {
				return
			}
			checkSession(t, f, sess, tt.username)
			if device != "" && sess.DeviceID != device {
				t.Errorf("DeviceID = %s, want %s", sess.DeviceID, device)
			}
			d, ok := f.store.device(sess.DeviceID)
			if !ok || d.User != sess.User.ID {
				t.Errorf("device %s stored = %v, user %s; want bound to %s", sess.DeviceID, ok, d.User, sess.User.ID)
			}
			if d.LastIP != "198.51.100.7" || !d.LastSeen.Equal(f.clock.Now()) {
				t.Errorf("device last seen %v from %q, want %v from 198.51.100.7", d.LastSeen, d.LastIP, f.clock.Now())
			}
			if tt.username == "ana" && sess.User.ID != ana.ID {
				t.Errorf("User.ID = %s, want %s", sess.User.ID, ana.ID)
			}
		})
	}
}

// checkSession checks the shape of a session of username.
func checkSession(t *testing.T, f *fixture, sess Session, username string) {
	t.Helper()
	if sess.User.Username != username {
		t.Errorf("User.Username = %q, want %q", sess.User.Username, username)
	}
	if sess.User.PasswordHash != "" {
		t.Errorf("session carries the password hash")
	}
	id, err := uuid.Parse(sess.DeviceID)
	if err != nil || !model.ValidID(sess.DeviceID) {
		t.Errorf("DeviceID %q is not a canonical uuid", sess.DeviceID)
	}
	if sess.DeviceID != "" && id.Version() != 7 && id.Version() != 4 {
		t.Errorf("DeviceID version %d", id.Version())
	}
	if got, want := sess.ExpiresIn, int(DefaultAccessTTL/time.Second); got != want {
		t.Errorf("ExpiresIn = %d, want %d", got, want)
	}
	if !wellFormedRefresh(sess.RefreshToken) {
		t.Errorf("refresh token %q malformed", sess.RefreshToken)
	}
	c, err := f.svc.ParseAccess(sess.AccessToken)
	if err != nil {
		t.Fatalf("ParseAccess(issued token): %v", err)
	}
	if c.User != sess.User.ID || c.Device != sess.DeviceID {
		t.Errorf("claims %+v do not match session user %s device %s", c, sess.User.ID, sess.DeviceID)
	}
	rt, err := f.store.RefreshToken(t.Context(), hashRefresh(sess.RefreshToken))
	if err != nil {
		t.Fatalf("refresh token not stored by hash: %v", err)
	}
	if rt.Family != c.Family || rt.User != c.User || rt.Device != c.Device {
		t.Errorf("stored refresh token %+v does not match claims %+v", rt, c)
	}
	if want := f.clock.Now().Add(DefaultRefreshTTL); !rt.ExpiresAt.Equal(want) {
		t.Errorf("refresh ExpiresAt = %v, want %v", rt.ExpiresAt, want)
	}
}

func TestLoginNewDeviceIsV7(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	sess := f.login(t, "ana", "")
	id, err := uuid.Parse(sess.DeviceID)
	if err != nil || id.Version() != 7 || sess.DeviceID != strings.ToLower(sess.DeviceID) {
		t.Errorf("DeviceID %q: want a lowercase UUIDv7", sess.DeviceID)
	}
	d, _ := f.store.device(sess.DeviceID)
	if d.Name != "" || !d.CreatedAt.Equal(t0) {
		t.Errorf("device = %+v", d)
	}
}

func TestLoginSameMessageForUnknownUser(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	_, errUser := f.svc.Login(t.Context(), LoginRequest{Username: "nobody", Password: testPassword})
	_, errPass := f.svc.Login(t.Context(), LoginRequest{Username: "ana", Password: "wrong password!"})
	if model.ErrorMessage(errUser) != model.ErrorMessage(errPass) || model.ErrorCode(errUser) != model.ErrorCode(errPass) {
		t.Errorf("unknown user %v and wrong password %v differ", errUser, errPass)
	}
}

func TestLoginEachStartsAFamily(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	s1 := f.login(t, "ana", "")
	s2 := f.login(t, "ana", s1.DeviceID)
	c1, _ := f.svc.ParseAccess(s1.AccessToken)
	c2, _ := f.svc.ParseAccess(s2.AccessToken)
	if c1.Family == c2.Family {
		t.Errorf("two logins share family %s", c1.Family)
	}
	if s1.DeviceID != s2.DeviceID {
		t.Errorf("second login moved to device %s", s2.DeviceID)
	}
}
