package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
)

// testParams make argon2id cheap so the many logins of the tests are fast;
// TestRecommendedParams covers the real parameters.
var testParams = argonParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestMain(m *testing.M) {
	hashParams = testParams
	os.Exit(m.Run())
}

const (
	testPassword = "correct horse battery"
	testIssuer   = "https://fieldsync.test"
	testAudience = "fieldsync-test-api"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	svc   *Service
	store *memStore
	clock *clock
	key   ed25519.PrivateKey
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: t0}
	st := newMemStore()
	svc := &Service{
		Store: st, Keys: NewKeySet(key), Issuer: testIssuer, Audience: testAudience,
		RefreshGrace: DefaultRefreshGrace, Now: clk.Now,
	}
	return &fixture{svc: svc, store: st, clock: clk, key: key}
}

// addUser stores a user named name with testPassword; mod may adjust it.
func (f *fixture) addUser(t *testing.T, name string, role model.Role, mod ...func(*model.User)) model.User {
	t.Helper()
	hash, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	id, err := newID()
	if err != nil {
		t.Fatal(err)
	}
	u := model.User{ID: id, Username: name, Role: role, PasswordHash: hash, Teams: []string{}, CreatedAt: t0}
	for _, m := range mod {
		m(&u)
	}
	f.store.putUser(u)
	return u
}

// login logs name in with testPassword on device (or a new one).
func (f *fixture) login(t *testing.T, name, device string) Session {
	t.Helper()
	s, err := f.svc.Login(t.Context(), LoginRequest{Username: name, Password: testPassword, DeviceID: device, IP: "192.0.2.1"})
	if err != nil {
		t.Fatalf("Login(%s): %v", name, err)
	}
	return s
}

// visitorUntil makes a user a visitor of one week until until.
func visitorUntil(until time.Time) func(*model.User) {
	return func(u *model.User) {
		u.ActionWeek = "0195a3c0-0000-7000-8000-000000000001"
		u.ValidUntil = &until
	}
}

// wantCode fails unless err carries code (or is nil when code is "").
func wantCode(t *testing.T, err error, code model.Code) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("err = nil, want code %s", code)
	}
	if got := model.ErrorCode(err); got != code {
		t.Fatalf("code = %s (%v), want %s", got, err, code)
	}
	if model.ErrorMessage(err) == "" {
		t.Fatalf("error %v has no message", err)
	}
}
