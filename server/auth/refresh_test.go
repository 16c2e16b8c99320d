package auth

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
)

// familyOf returns the family of a session, as stored with its refresh
// token (so it works after the access token expired).
func familyOf(t *testing.T, f *fixture, sess Session) string {
	t.Helper()
	rt, err := f.store.RefreshToken(t.Context(), hashRefresh(sess.RefreshToken))
	if err != nil {
		t.Fatal(err)
	}
	return rt.Family
}

func TestRefreshRotates(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	s1 := f.login(t, "ana", "")
	f.clock.Advance(10 * time.Minute)
	s2, err := f.svc.Refresh(t.Context(), s1.RefreshToken, "203.0.113.9")
	if err != nil {
		t.Fatal(err)
	}
	if s2.RefreshToken == s1.RefreshToken || s2.AccessToken == s1.AccessToken {
		t.Errorf("refresh did not rotate the pair")
	}
	checkSession(t, f, s2, "ana")
	if got, want := familyOf(t, f, s2), familyOf(t, f, s1); got != want {
		t.Errorf("rotated into family %s, want %s", got, want)
	}
	old, err := f.store.RefreshToken(t.Context(), hashRefresh(s1.RefreshToken))
	if err != nil {
		t.Fatal(err)
	}
	if old.UsedAt == nil || old.Next != hashRefresh(s2.RefreshToken) {
		t.Errorf("old token used %v next %s, want used and pointing to the new one", old.UsedAt, old.Next)
	}
	if d, _ := f.store.device(s2.DeviceID); d.LastIP != "203.0.113.9" {
		t.Errorf("device LastIP = %q, want the refresh's", d.LastIP)
	}
	// The chain goes on.
	f.clock.Advance(time.Hour)
	s3, err := f.svc.Refresh(t.Context(), s2.RefreshToken, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(t.Context(), s3.AccessToken); err != nil {
		t.Errorf("Authenticate(rotated token): %v", err)
	}
}

func TestRefreshGraceReturnsSamePair(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	s1 := f.login(t, "ana", "")
	s2, err := f.svc.Refresh(t.Context(), s1.RefreshToken, "")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(DefaultRefreshGrace - time.Second)
	again, err := f.svc.Refresh(t.Context(), s1.RefreshToken, "")
	if err != nil {
		t.Fatalf("retry within the grace: %v", err)
	}
	if !reflect.DeepEqual(again, s2) {
		t.Errorf("retry within the grace got another pair")
	}
	if fam := f.store.family(familyOf(t, f, s1)); fam.RevokedAt != nil {
		t.Errorf("family revoked by a retry within the grace")
	}
	if _, err := f.svc.Refresh(t.Context(), s2.RefreshToken, ""); err != nil {
		t.Errorf("the new refresh token no longer works: %v", err)
	}
}

func TestRefreshReuse(t *testing.T) {
	tests := []struct {
		name    string
		grace   time.Duration
		wait    time.Duration
		useNext bool
	}{
		{"after the grace", DefaultRefreshGrace, DefaultRefreshGrace, false},
		{"ten minutes after", DefaultRefreshGrace, 10 * time.Minute, false},
		{"within the grace, new token used", DefaultRefreshGrace, time.Second, true},
		{"grace off", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.svc.RefreshGrace = tt.grace
			f.addUser(t, "ana", model.RoleFieldWorker)
			s1 := f.login(t, "ana", "")
			s2, err := f.svc.Refresh(t.Context(), s1.RefreshToken, "")
			if err != nil {
				t.Fatal(err)
			}
			var s3 Session
			if tt.useNext {
				if s3, err = f.svc.Refresh(t.Context(), s2.RefreshToken, ""); err != nil {
					t.Fatal(err)
				}
			}
			f.clock.Advance(tt.wait)
			_, err = f.svc.Refresh(t.Context(), s1.RefreshToken, "")
			wantCode(t, err, model.CodeTokenReused)

			fam := f.store.family(familyOf(t, f, s1))
			if fam.RevokedAt == nil || fam.Reason != "reuse" {
				t.Fatalf("family = %+v, want revoked for reuse", fam)
			}
			// Every token of the family is dead, access tokens included.
			for _, s := range []Session{s1, s2, s3} {
				if s.AccessToken == "" {
					continue
				}
				_, err := f.svc.Authenticate(t.Context(), s.AccessToken)
				wantCode(t, err, model.CodeTokenReused)
				_, err = f.svc.Refresh(t.Context(), s.RefreshToken, "")
				wantCode(t, err, model.CodeTokenReused)
			}
			// Another login of the same user is unaffected.
			other := f.login(t, "ana", s1.DeviceID)
			if _, err := f.svc.Authenticate(t.Context(), other.AccessToken); err != nil {
				t.Errorf("another family suffered: %v", err)
			}
		})
	}
}

func TestRefreshConcurrentRetries(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	s1 := f.login(t, "ana", "")
	const n = 8
	results := make([]Session, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = f.svc.Refresh(t.Context(), s1.RefreshToken, "")
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("refresh %d: %v", i, errs[i])
		}
		if !reflect.DeepEqual(results[i], results[0]) {
			t.Errorf("refresh %d got a different pair", i)
		}
	}
}

func TestRefreshLostRaceRevokes(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	s1 := f.login(t, "ana", "")
	// Another process exchanges the token between our read and our use.
	f.store.beforeUse = func(hash string) {
		f.store.beforeUse = nil
		next := model.RefreshToken{Hash: "elsewhere", Family: familyOf(t, f, s1), ExpiresAt: t0.Add(time.Hour)}
		if err := f.store.UseRefreshToken(context.Background(), hash, next, t0); err != nil {
			t.Error(err)
		}
	}
	_, err := f.svc.Refresh(t.Context(), s1.RefreshToken, "")
	wantCode(t, err, model.CodeTokenReused)
	if fam := f.store.family(familyOf(t, f, s1)); fam.Reason != "reuse" {
		t.Errorf("family = %+v, want revoked for reuse", fam)
	}
}

func TestRefreshRefused(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture, s Session) string // returns the token to present
		want  model.Code
	}{
		{"empty", func(*testing.T, *fixture, Session) string { return "" }, model.CodeUnauthorized},
		{"garbage", func(*testing.T, *fixture, Session) string { return "fsr_garbage" }, model.CodeUnauthorized},
		{"access token", func(_ *testing.T, _ *fixture, s Session) string { return s.AccessToken }, model.CodeUnauthorized},
		{"unknown", func(*testing.T, *fixture, Session) string {
			tok, _, _ := newRefreshToken()
			return tok
		}, model.CodeUnauthorized},
		{"expired", func(_ *testing.T, f *fixture, s Session) string {
			f.clock.Advance(DefaultRefreshTTL)
			return s.RefreshToken
		}, model.CodeTokenExpired},
		{"family logged out", func(t *testing.T, f *fixture, s Session) string {
			if err := f.store.RevokeFamily(t.Context(), familyOf(t, f, s), "logout", t0); err != nil {
				t.Fatal(err)
			}
			return s.RefreshToken
		}, model.CodeUnauthorized},
		{"device revoked", func(_ *testing.T, f *fixture, s Session) string {
			f.store.revokeDevice(s.DeviceID, t0)
			return s.RefreshToken
		}, model.CodeDeviceRevoked},
		{"device revoked, token expired", func(_ *testing.T, f *fixture, s Session) string {
			f.store.revokeDevice(s.DeviceID, t0)
			f.clock.Advance(DefaultRefreshTTL)
			return s.RefreshToken
		}, model.CodeDeviceRevoked},
		{"user deleted", func(_ *testing.T, f *fixture, s Session) string {
			f.store.deleteUser(s.User.ID)
			return s.RefreshToken
		}, model.CodeUnauthorized},
		{"device given to another user", func(t *testing.T, f *fixture, s Session) string {
			d, _ := f.store.device(s.DeviceID)
			d.User = "0195a3c0-5555-7000-8000-000000000005"
			if err := f.store.PutDevice(t.Context(), d); err != nil {
				t.Fatal(err)
			}
			return s.RefreshToken
		}, model.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.addUser(t, "ana", model.RoleFieldWorker)
			s := f.login(t, "ana", "")
			tok := tt.setup(t, f, s)
			_, err := f.svc.Refresh(t.Context(), tok, "")
			wantCode(t, err, tt.want)
		})
	}
}

func TestRefreshVisitorGrant(t *testing.T) {
	f := newFixture(t)
	until := t0.Add(2 * time.Hour)
	f.addUser(t, "vera", model.RoleVisitor, visitorUntil(until))
	s := f.login(t, "vera", "")
	f.clock.Advance(time.Hour)
	s, err := f.svc.Refresh(t.Context(), s.RefreshToken, "")
	if err != nil {
		t.Fatalf("refresh within the grant: %v", err)
	}
	f.clock.Advance(time.Hour) // now == until: the grant has ended
	_, err = f.svc.Refresh(t.Context(), s.RefreshToken, "")
	wantCode(t, err, model.CodeGrantExpired)
}
