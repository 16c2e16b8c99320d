package auth

// Tests that pin what mutation testing found unpinned (issue 10).

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fieldsync/fieldsync/model"
)

// TestEveryFailedLoginCostsOneArgonRun: an unknown username, a user
// without a password and a wrong password each cost exactly one argon2id
// computation, like a right password, so response time cannot tell which
// usernames exist (password.go burnDummy; counted, never timed).
func TestEveryFailedLoginCostsOneArgonRun(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	f.addUser(t, "nopw", model.RoleFieldWorker, func(u *model.User) { u.PasswordHash = "" })
	if _, err := dummyHash(); err != nil { // made once, on first use
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user, pw string
		want           model.Code
	}{
		{"right password", "ana", testPassword, ""},
		{"wrong password", "ana", "wrong horse battery", model.CodeInvalidCredentials},
		{"unknown username", "nobody", testPassword, model.CodeInvalidCredentials},
		{"user without a password", "nopw", testPassword, model.CodeInvalidCredentials},
	} {
		before := argonRuns.Load()
		_, err := f.svc.Login(t.Context(), LoginRequest{Username: tc.user, Password: tc.pw})
		wantCode(t, err, tc.want)
		if got := argonRuns.Load() - before; got != 1 {
			t.Errorf("%s: %d argon2id runs, want 1", tc.name, got)
		}
	}
}

// phc builds a PHC string with the given parameter text and salt and key
// lengths.
func phc(params string, saltLen, keyLen int) string {
	return fmt.Sprintf("$argon2id$v=19$%s$%s$%s", params,
		phcB64.EncodeToString(make([]byte, saltLen)), phcB64.EncodeToString(make([]byte, keyLen)))
}

// TestParsePHCBounds: each parameter is accepted at its bounds and refused
// one past them; parameters must be named, in order; zero lanes (which
// would make argon2 panic) and zero passes are refused (password.go
// parseParams and parsePHC).
func TestParsePHCBounds(t *testing.T) {
	ok := func(m, t, p int) string { return fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) }
	// The bounds are written out (not the constants) so that moving one
	// fails here: 1 GiB, 16 passes, 16 lanes, salt 8..64, key 16..64.
	tests := []struct {
		name          string
		params        string
		salt, key     int
		valid         bool
		m, passes, th int
	}{
		{"smallest", ok(8, 1, 1), 8, 16, true, 8, 1, 1},
		{"largest", ok(1<<20, 16, 16), 64, 64, true, 1 << 20, 16, 16},
		{"memory 8 per lane", ok(128, 1, 16), 16, 32, true, 128, 1, 16},
		{"memory under 8 per lane", ok(127, 1, 16), 16, 32, false, 0, 0, 0},
		{"memory too large", ok(1<<20+1, 1, 1), 16, 32, false, 0, 0, 0},
		{"memory zero", ok(0, 1, 1), 16, 32, false, 0, 0, 0},
		{"zero passes", ok(64, 0, 1), 16, 32, false, 0, 0, 0},
		{"too many passes", ok(64, 17, 1), 16, 32, false, 0, 0, 0},
		{"zero lanes", ok(64, 1, 0), 16, 32, false, 0, 0, 0},
		{"too many lanes", ok(1024, 1, 17), 16, 32, false, 0, 0, 0},
		{"lanes past uint8", ok(1<<20, 1, 257), 16, 32, false, 0, 0, 0},
		{"salt too short", ok(64, 1, 1), 7, 32, false, 0, 0, 0},
		{"salt too long", ok(64, 1, 1), 65, 32, false, 0, 0, 0},
		{"key too short", ok(64, 1, 1), 16, 15, false, 0, 0, 0},
		{"key too long", ok(64, 1, 1), 16, 65, false, 0, 0, 0},
		{"unnamed parameters", "64,1,1", 16, 32, false, 0, 0, 0},
		{"one unnamed", "m=64,1,p=1", 16, 32, false, 0, 0, 0},
		{"parameters out of order", "t=1,m=64,p=1", 16, 32, false, 0, 0, 0},
		{"a parameter missing", "m=64,t=1", 16, 32, false, 0, 0, 0},
		{"an extra parameter", "m=64,t=1,p=1,x=1", 16, 32, false, 0, 0, 0},
		{"negative", "m=64,t=-1,p=1", 16, 32, false, 0, 0, 0},
		{"past uint32", "m=4294967297,t=1,p=1", 16, 32, false, 0, 0, 0},
	}
	for _, tt := range tests {
		p, salt, key, err := parsePHC(phc(tt.params, tt.salt, tt.key))
		if !tt.valid {
			if err == nil {
				t.Errorf("%s: %s parsed as %+v, want an error", tt.name, tt.params, p)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %s: %v", tt.name, tt.params, err)
			continue
		}
		want := argonParams{Memory: uint32(tt.m), Time: uint32(tt.passes), Threads: uint8(tt.th), SaltLen: uint32(tt.salt), KeyLen: uint32(tt.key)}
		if p != want || len(salt) != tt.salt || len(key) != tt.key {
			t.Errorf("%s: parsed %+v (salt %d, key %d), want %+v", tt.name, p, len(salt), len(key), want)
		}
	}
	for _, bad := range []string{
		strings.Replace(phc(ok(64, 1, 1), 16, 32), "argon2id", "argon2i", 1),
		strings.Replace(phc(ok(64, 1, 1), 16, 32), "v=19", "v=16", 1),
		"x" + phc(ok(64, 1, 1), 16, 32),
		phc(ok(64, 1, 1), 16, 32) + "$",
	} {
		if _, _, _, err := parsePHC(bad); err == nil {
			t.Errorf("parsePHC(%q) = nil error", bad)
		}
	}
}

// TestVerifyZeroLanesIsAnError: a stored hash with zero lanes is an error,
// never a panic inside argon2.
func TestVerifyZeroLanesIsAnError(t *testing.T) {
	if _, err := VerifyPassword(phc("m=64,t=1,p=0", 16, 32), testPassword); err == nil {
		t.Fatal("VerifyPassword accepted a hash with zero lanes")
	}
}

// TestExpiredTokenStillSignalsWipe: an expired access token of a revoked
// device, or of a visitor whose grant ended, gets the wipe signal
// (device_revoked, grant_expired), not token_expired; otherwise an expired
// token is token_expired, also when its chain is gone (authenticate.go
// wipeOrExpired).
func TestExpiredTokenStillSignalsWipe(t *testing.T) {
	expire := func(f *fixture) { f.clock.Advance(DefaultAccessTTL + Leeway + time.Second) }
	tests := []struct {
		name    string
		visitor bool
		setup   func(t *testing.T, f *fixture, s Session)
		want    model.Code
	}{
		{"expired", false, func(_ *testing.T, f *fixture, _ Session) { expire(f) }, model.CodeTokenExpired},
		{"expired, device revoked", false, func(_ *testing.T, f *fixture, s Session) {
			f.store.revokeDevice(s.DeviceID, t0)
			expire(f)
		}, model.CodeDeviceRevoked},
		{"expired, grant ended", true, func(_ *testing.T, f *fixture, _ Session) { expire(f) }, model.CodeGrantExpired},
		{"expired, user deleted", false, func(_ *testing.T, f *fixture, s Session) {
			f.store.deleteUser(s.User.ID)
			expire(f)
		}, model.CodeTokenExpired},
		{"expired, family logged out", false, func(t *testing.T, f *fixture, s Session) {
			revoke(t, f, s, "logout")
			expire(f)
		}, model.CodeTokenExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.visitor {
				f.addUser(t, "ana", model.RoleVisitor, visitorUntil(t0.Add(time.Minute)))
			} else {
				f.addUser(t, "ana", model.RoleFieldWorker)
			}
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

// TestForeignExpiredTokenGetsNoWipe: an expired token this server did not
// sign is unauthorized, even when it names a revoked device: a forger
// learns nothing of devices.
func TestForeignExpiredTokenGetsNoWipe(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	s := f.login(t, "ana", "")
	other := newFixture(t)
	other.store = f.store
	other.svc.Store = f.store
	c, err := f.svc.ParseAccess(s.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.svc.issueAccess(c.User, c.Device, c.Family, t0)
	if err != nil {
		t.Fatal(err)
	}
	f.store.revokeDevice(s.DeviceID, t0)
	f.clock.Advance(DefaultAccessTTL + Leeway + time.Second)
	_, err = f.svc.Authenticate(t.Context(), forged)
	wantCode(t, err, model.CodeUnauthorized)
}

// TestExpiredNonAccessTokenGetsNoWipe: an expired token signed with our
// key that is not an access token is unauthorized, never the wipe signal
// of the device it names.
func TestExpiredNonAccessTokenGetsNoWipe(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	s := f.login(t, "ana", "")
	c, err := f.svc.ParseAccess(s.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: f.svc.issuer(), Subject: c.User, Audience: jwt.ClaimStrings{f.svc.audience()},
			ExpiresAt: jwt.NewNumericDate(t0.Add(time.Minute)), NotBefore: jwt.NewNumericDate(t0),
			IssuedAt: jwt.NewNumericDate(t0), ID: "x",
		},
		Device: c.Device, Family: c.Family, TokenUse: "id",
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	tok.Header["typ"] = accessTyp
	tok.Header["kid"] = f.svc.Keys.KID()
	signed, err := tok.SignedString(f.svc.Keys.signer)
	if err != nil {
		t.Fatal(err)
	}
	f.store.revokeDevice(s.DeviceID, t0)
	f.clock.Advance(time.Hour)
	_, err = f.svc.Authenticate(t.Context(), signed)
	wantCode(t, err, model.CodeUnauthorized)
}

// lostRaceStore reports no users, as a store read just before another
// process created admin: CreateUser then finds the username taken.
type lostRaceStore struct{ *memStore }

func (lostRaceStore) HasUsers(context.Context) (bool, error) { return false, nil }

// TestEnsureAdminLostRace: when another creator of admin wins, EnsureAdmin
// returns no password (the one it generated is nobody's) and no error
// (admin.go: err != nil || !created || password != "").
func TestEnsureAdminLostRace(t *testing.T) {
	f := newFixture(t)
	f.addUser(t, AdminUsername, model.RoleAdmin)
	f.svc.Store = lostRaceStore{f.store}
	got, err := f.svc.EnsureAdmin(t.Context(), "")
	if err != nil || got != "" {
		t.Fatalf("EnsureAdmin after losing the race = %q, %v; want nothing", got, err)
	}
}

// TestChainMustAgree: a token whose family belongs to another user or
// another device is unauthorized, each mismatch on its own
// (authenticate.go loadChain).
func TestChainMustAgree(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*model.TokenFamily)
	}{
		{"family of another user", func(fam *model.TokenFamily) { fam.User = "0195a3c0-7777-7000-8000-000000000007" }},
		{"family of another device", func(fam *model.TokenFamily) { fam.Device = "0195a3c0-7777-7000-8000-000000000008" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.addUser(t, "ana", model.RoleFieldWorker)
			s := f.login(t, "ana", "")
			fam := f.store.family(familyOf(t, f, s))
			tc.mod(&fam)
			if err := f.store.PutFamily(t.Context(), fam); err != nil {
				t.Fatal(err)
			}
			_, err := f.svc.Authenticate(t.Context(), s.AccessToken)
			wantCode(t, err, model.CodeUnauthorized)
			_, err = f.svc.Refresh(t.Context(), s.RefreshToken, "")
			wantCode(t, err, model.CodeUnauthorized)
		})
	}
}

// TestServiceNeedsStoreAndKeys: a Service missing either its store or its
// keys refuses to work (tokens.go ready).
func TestServiceNeedsStoreAndKeys(t *testing.T) {
	f := newFixture(t)
	noStore := &Service{Keys: f.svc.Keys, Issuer: testIssuer, Audience: testAudience, Now: f.clock.Now}
	noKeys := &Service{Store: f.store, Issuer: testIssuer, Audience: testAudience, Now: f.clock.Now}
	f.addUser(t, "ana", model.RoleFieldWorker)
	for name, svc := range map[string]*Service{"no store": noStore, "no keys": noKeys, "nil": nil} {
		if _, err := svc.Login(t.Context(), LoginRequest{Username: "ana", Password: testPassword}); err == nil {
			t.Errorf("%s: Login worked", name)
		}
		if _, err := svc.ParseAccess("x"); err == nil {
			t.Errorf("%s: ParseAccess worked", name)
		}
	}
}

// TestWellFormedRefresh: only a prefixed token of the right length and
// alphabet reaches the store (tokens.go wellFormedRefresh).
func TestWellFormedRefresh(t *testing.T) {
	good, _, err := newRefreshToken()
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimPrefix(good, refreshPrefix)
	for _, tc := range []struct {
		token string
		want  bool
	}{
		{good, true},
		{body, false},
		{"xyz_" + body, false},
		{good[:len(good)-1], false},
		{good + "A", false},
		{refreshPrefix + strings.Repeat("!", len(body)), false},
		{"", false},
	} {
		if got := wellFormedRefresh(tc.token); got != tc.want {
			t.Errorf("wellFormedRefresh(%q) = %v, want %v", tc.token, got, tc.want)
		}
	}
}

// TestGraceCacheExpires: a grace entry is returned strictly before its
// end and never at or after it (refresh.go graceCache.get).
func TestGraceCacheExpires(t *testing.T) {
	var g graceCache
	g.put("h", graceEntry{next: "n", until: t0.Add(time.Second)}, t0)
	if _, ok := g.get("h", t0.Add(time.Second-time.Nanosecond)); !ok {
		t.Error("entry missing before its end")
	}
	if _, ok := g.get("h", t0.Add(time.Second)); ok {
		t.Error("entry returned at its end")
	}
	if _, ok := g.get("other", t0); ok {
		t.Error("entry returned for an unknown hash")
	}
	// A put more than a minute after the last sweep drops lapsed entries.
	g.put("h2", graceEntry{until: t0.Add(2 * time.Minute)}, t0.Add(time.Minute+time.Nanosecond))
	g.mu.Lock()
	_, kept := g.m["h"]
	g.mu.Unlock()
	if kept {
		t.Error("a lapsed entry survived the sweep")
	}
}
