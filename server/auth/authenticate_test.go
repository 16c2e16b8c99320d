package auth

import (
	"reflect"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
)

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	teams := []string{"0195a3c0-6666-7000-8000-000000000006"}
	ana := f.addUser(t, "ana", model.RoleTeamLead, func(u *model.User) { u.Teams = teams })
	s := f.login(t, "ana", "")
	f.store.resetCounts()
	p, err := f.svc.Authenticate(t.Context(), s.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	want := &access.Principal{User: ana.ID, Device: s.DeviceID, Role: model.RoleTeamLead, Teams: teams}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("principal = %+v, want %+v", p, want)
	}
	wantReads := map[string]int{"Chain": 1} // one read (one transaction) per request
	if got := f.store.counts(); !reflect.DeepEqual(got, wantReads) {
		t.Errorf("store reads = %v, want %v", got, wantReads)
	}
}

func TestAuthenticateVisitor(t *testing.T) {
	f := newFixture(t)
	until := t0.Add(10 * time.Minute)
	vera := f.addUser(t, "vera", model.RoleVisitor, visitorUntil(until))
	s := f.login(t, "vera", "")
	p, err := f.svc.Authenticate(t.Context(), s.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	want := &access.Principal{User: vera.ID, Device: s.DeviceID, Role: model.RoleVisitor,
		Teams: []string{}, ActionWeek: vera.ActionWeek, ValidUntil: until}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("principal = %+v, want %+v", p, want)
	}
	f.clock.Advance(10 * time.Minute) // the access token is still fresh, the grant is not
	_, err = f.svc.Authenticate(t.Context(), s.AccessToken)
	wantCode(t, err, model.CodeGrantExpired)
}

func TestAuthenticateRefused(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture, s Session)
		want  model.Code
	}{
		{"family revoked for reuse", func(t *testing.T, f *fixture, s Session) {
			revoke(t, f, s, "reuse")
		}, model.CodeTokenReused},
		{"family logged out", func(t *testing.T, f *fixture, s Session) {
			revoke(t, f, s, "logout")
		}, model.CodeUnauthorized},
		{"device revoked", func(_ *testing.T, f *fixture, s Session) {
			f.store.revokeDevice(s.DeviceID, t0)
		}, model.CodeDeviceRevoked},
		{"device revoked and family revoked", func(t *testing.T, f *fixture, s Session) {
			f.store.revokeDevice(s.DeviceID, t0)
			revoke(t, f, s, "device_revoked")
		}, model.CodeDeviceRevoked},
		{"user deleted", func(_ *testing.T, f *fixture, s Session) {
			f.store.deleteUser(s.User.ID)
		}, model.CodeUnauthorized},
		{"device given to another user", func(t *testing.T, f *fixture, s Session) {
			d, _ := f.store.device(s.DeviceID)
			d.User = "0195a3c0-5555-7000-8000-000000000005"
			if err := f.store.PutDevice(t.Context(), d); err != nil {
				t.Fatal(err)
			}
		}, model.CodeUnauthorized},
		{"access token expired", func(_ *testing.T, f *fixture, _ Session) {
			f.clock.Advance(DefaultAccessTTL + Leeway)
		}, model.CodeTokenExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.addUser(t, "ana", model.RoleFieldWorker)
			s := f.login(t, "ana", "")
			tt.setup(t, f, s)
			p, err := f.svc.Authenticate(t.Context(), s.AccessToken)
			wantCode(t, err, tt.want)
			if p != nil {
				t.Errorf("principal %+v returned with an error", p)
			}
		})
	}
}

func revoke(t *testing.T, f *fixture, s Session, reason string) {
	t.Helper()
	if err := f.store.RevokeFamily(t.Context(), familyOf(t, f, s), reason, t0); err != nil {
		t.Fatal(err)
	}
}

func TestAuthenticateUnknownFamily(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	s := f.login(t, "ana", "")
	c, _ := f.svc.ParseAccess(s.AccessToken)
	tok, err := f.svc.issueAccess(c.User, c.Device, testFamily, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.Authenticate(t.Context(), tok)
	wantCode(t, err, model.CodeUnauthorized)
}

func TestServiceWithoutStore(t *testing.T) {
	var s Service
	if _, err := s.Authenticate(t.Context(), "x"); err == nil {
		t.Errorf("a Service without store or keys authenticated")
	}
	if _, err := s.Login(t.Context(), LoginRequest{}); err == nil {
		t.Errorf("a Service without store or keys logged in")
	}
}
