package auth

import (
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

func TestProvesDevice(t *testing.T) {
	tests := []struct {
		name string
		// prove returns the username, device and token to check after
		// ana logged in (s) and bo logged in (other).
		prove func(t *testing.T, f *fixture, s, other Session) (string, string, string)
		want  bool
	}{
		{"the device's current token", func(t *testing.T, f *fixture, s, _ Session) (string, string, string) {
			return "ana", s.DeviceID, s.RefreshToken
		}, true},
		{"no device id", func(t *testing.T, f *fixture, s, _ Session) (string, string, string) {
			return "ana", "", s.RefreshToken
		}, false},
		{"no token", func(t *testing.T, f *fixture, s, _ Session) (string, string, string) {
			return "ana", s.DeviceID, ""
		}, false},
		{"a malformed token", func(t *testing.T, f *fixture, s, _ Session) (string, string, string) {
			return "ana", s.DeviceID, s.RefreshToken + "x"
		}, false},
		{"another username", func(t *testing.T, f *fixture, s, _ Session) (string, string, string) {
			return "bo", s.DeviceID, s.RefreshToken
		}, false},
		{"another user's device and token", func(t *testing.T, f *fixture, _, other Session) (string, string, string) {
			return "ana", other.DeviceID, other.RefreshToken
		}, false},
		{"another device", func(t *testing.T, f *fixture, s, other Session) (string, string, string) {
			return "ana", other.DeviceID, s.RefreshToken
		}, false},
		{"a used token", func(t *testing.T, f *fixture, s, _ Session) (string, string, string) {
			if _, err := f.svc.Refresh(t.Context(), s.RefreshToken, ""); err != nil {
				t.Fatal(err)
			}
			return "ana", s.DeviceID, s.RefreshToken
		}, false},
		{"the token it was exchanged for", func(t *testing.T, f *fixture, s, _ Session) (string, string, string) {
			next, err := f.svc.Refresh(t.Context(), s.RefreshToken, "")
			if err != nil {
				t.Fatal(err)
			}
			return "ana", s.DeviceID, next.RefreshToken
		}, true},
		{"an expired token", func(t *testing.T, f *fixture, s, _ Session) (string, string, string) {
			f.clock.Advance(DefaultRefreshTTL)
			return "ana", s.DeviceID, s.RefreshToken
		}, false},
		{"a revoked device", func(t *testing.T, f *fixture, s, _ Session) (string, string, string) {
			f.store.revokeDevice(s.DeviceID, f.clock.Now())
			return "ana", s.DeviceID, s.RefreshToken
		}, false},
		{"a revoked family", func(t *testing.T, f *fixture, s, _ Session) (string, string, string) {
			if err := f.store.RevokeFamily(t.Context(), familyOf(t, f, s), "logout", f.clock.Now()); err != nil {
				t.Fatal(err)
			}
			return "ana", s.DeviceID, s.RefreshToken
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.addUser(t, "ana", model.RoleFieldWorker)
			f.addUser(t, "bo", model.RoleFieldWorker)
			s, other := f.login(t, "ana", ""), f.login(t, "bo", "")
			username, device, token := tt.prove(t, f, s, other)
			got, err := f.svc.ProvesDevice(t.Context(), username, device, token)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ProvesDevice = %v, want %v", got, tt.want)
			}
		})
	}
}
