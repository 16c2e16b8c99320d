package auth

import (
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// TestDisabledAccount: disabling an account refuses its live access and
// refresh tokens at once and its logins with the right password;
// enabling it lets it log in again.
func TestDisabledAccount(t *testing.T) {
	f := newFixture(t)
	ana := f.addUser(t, "ana", model.RoleFieldWorker)
	s := f.login(t, "ana", "")
	at := t0
	ana.DisabledAt, ana.DisabledBy = &at, "0195a3c0-1111-7000-8000-000000000001"
	f.store.putUser(ana)

	_, err := f.svc.Authenticate(t.Context(), s.AccessToken)
	wantCode(t, err, model.CodeAccountDisabled)
	_, err = f.svc.Refresh(t.Context(), s.RefreshToken, "192.0.2.1")
	wantCode(t, err, model.CodeAccountDisabled)
	_, err = f.svc.Login(t.Context(), LoginRequest{Username: "ana", Password: testPassword})
	wantCode(t, err, model.CodeAccountDisabled)
	_, err = f.svc.Login(t.Context(), LoginRequest{Username: "ana", Password: "wrong password!"})
	wantCode(t, err, model.CodeInvalidCredentials)

	ana.DisabledAt, ana.DisabledBy = nil, ""
	f.store.putUser(ana)
	s = f.login(t, "ana", s.DeviceID)
	if _, err := f.svc.Authenticate(t.Context(), s.AccessToken); err != nil {
		t.Errorf("Authenticate after enable: %v", err)
	}
}
