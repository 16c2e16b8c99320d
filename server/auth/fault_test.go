package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
)

// errFault is the failure a faultStore injects.
var errFault = errors.New("injected store fault")

// faultStore is a Store (and deviceToucher) that passes every call to a
// memStore and fails the failAt-th one (counting from 1; 0 fails none)
// with errFault, having changed nothing. calls names every call, in order.
type faultStore struct {
	*memStore
	mu     sync.Mutex
	failAt int
	calls  []string
}

var (
	_ Store         = (*faultStore)(nil)
	_ deviceToucher = (*faultStore)(nil)
)

// arm resets the call log and makes the n-th call from now fail.
func (f *faultStore) arm(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAt, f.calls = n, nil
}

func (f *faultStore) log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *faultStore) fail(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	if len(f.calls) == f.failAt {
		return fmt.Errorf("%s: %w", name, errFault)
	}
	return nil
}

func (f *faultStore) User(ctx context.Context, id string) (model.User, error) {
	if err := f.fail("User"); err != nil {
		return model.User{}, err
	}
	return f.memStore.User(ctx, id)
}

func (f *faultStore) UserByName(ctx context.Context, name string) (model.User, error) {
	if err := f.fail("UserByName"); err != nil {
		return model.User{}, err
	}
	return f.memStore.UserByName(ctx, name)
}

func (f *faultStore) CreateUser(ctx context.Context, u model.User) error {
	if err := f.fail("CreateUser"); err != nil {
		return err
	}
	return f.memStore.CreateUser(ctx, u)
}

func (f *faultStore) HasUsers(ctx context.Context) (bool, error) {
	if err := f.fail("HasUsers"); err != nil {
		return false, err
	}
	return f.memStore.HasUsers(ctx)
}

func (f *faultStore) Device(ctx context.Context, id string) (model.Device, error) {
	if err := f.fail("Device"); err != nil {
		return model.Device{}, err
	}
	return f.memStore.Device(ctx, id)
}

func (f *faultStore) PutDevice(ctx context.Context, d model.Device) error {
	if err := f.fail("PutDevice"); err != nil {
		return err
	}
	return f.memStore.PutDevice(ctx, d)
}

func (f *faultStore) TouchDevice(ctx context.Context, id, ip string, at time.Time) error {
	if err := f.fail("TouchDevice"); err != nil {
		return err
	}
	return f.memStore.TouchDevice(ctx, id, ip, at)
}

func (f *faultStore) RefreshToken(ctx context.Context, hash string) (model.RefreshToken, error) {
	if err := f.fail("RefreshToken"); err != nil {
		return model.RefreshToken{}, err
	}
	return f.memStore.RefreshToken(ctx, hash)
}

func (f *faultStore) PutRefreshToken(ctx context.Context, t model.RefreshToken) error {
	if err := f.fail("PutRefreshToken"); err != nil {
		return err
	}
	return f.memStore.PutRefreshToken(ctx, t)
}

func (f *faultStore) UseRefreshToken(ctx context.Context, hash string, next model.RefreshToken, at time.Time) error {
	if err := f.fail("UseRefreshToken"); err != nil {
		return err
	}
	return f.memStore.UseRefreshToken(ctx, hash, next, at)
}

func (f *faultStore) Family(ctx context.Context, id string) (model.TokenFamily, error) {
	if err := f.fail("Family"); err != nil {
		return model.TokenFamily{}, err
	}
	return f.memStore.Family(ctx, id)
}

func (f *faultStore) PutFamily(ctx context.Context, fam model.TokenFamily) error {
	if err := f.fail("PutFamily"); err != nil {
		return err
	}
	return f.memStore.PutFamily(ctx, fam)
}

func (f *faultStore) RevokeFamily(ctx context.Context, id, reason string, at time.Time) error {
	if err := f.fail("RevokeFamily"); err != nil {
		return err
	}
	return f.memStore.RevokeFamily(ctx, id, reason, at)
}

// faultFixture is a fixture whose service runs over a faultStore.
func faultFixture(t *testing.T) (*fixture, *faultStore) {
	t.Helper()
	f := newFixture(t)
	fs := &faultStore{memStore: f.store}
	f.svc.Store = fs
	return f, fs
}

// wantStoreFailure checks err is the injected failure, reported as an
// internal error (not a *model.Error: the server answers 500 internal),
// and that no session came with it.
func wantStoreFailure(t *testing.T, what string, sess Session, err error) {
	t.Helper()
	if !errors.Is(err, errFault) {
		t.Fatalf("%s: err = %v, want the store's failure", what, err)
	}
	var me *model.Error
	if errors.As(err, &me) {
		t.Errorf("%s: a *model.Error (%s), want an internal error", what, me.Code)
	}
	if sess.AccessToken != "" || sess.RefreshToken != "" {
		t.Errorf("%s: a session came with the error", what)
	}
}

// usableTokens counts the stored refresh tokens that are unused and whose
// family is open: those a client could still exchange.
func usableTokens(m *memStore) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, rt := range m.tokens {
		if fam, ok := m.families[rt.Family]; ok && rt.UsedAt == nil && fam.RevokedAt == nil {
			n++
		}
	}
	return n
}

// TestLoginStoreFaults: whichever store call of a login fails (a login
// on a new device and on a known one), the login fails with the store's
// error and no session, leaves no usable refresh token behind, and the
// same login succeeds once the store works. A failed TouchDevice is
// bookkeeping and does not fail the login.
func TestLoginStoreFaults(t *testing.T) {
	for _, known := range []bool{false, true} {
		f, fs := faultFixture(t)
		f.addUser(t, "ana", model.RoleFieldWorker)
		device := ""
		if known {
			device = f.login(t, "ana", "").DeviceID
		}
		req := LoginRequest{Username: "ana", Password: testPassword, DeviceID: device, IP: "192.0.2.7"}
		fs.arm(0)
		if _, err := f.svc.Login(t.Context(), req); err != nil {
			t.Fatalf("login without faults: %v", err)
		}
		calls := fs.log()
		for n := 1; n <= len(calls); n++ {
			name := fmt.Sprintf("known device %v, failed %s", known, calls[n-1])
			before := usableTokens(f.store)
			fs.arm(n)
			sess, err := f.svc.Login(t.Context(), req)
			if calls[n-1] == "TouchDevice" {
				if err != nil {
					t.Errorf("%s: %v, want a session", name, err)
				}
				continue
			}
			wantStoreFailure(t, name, sess, err)
			if got := usableTokens(f.store); got != before {
				t.Errorf("%s: %d usable refresh tokens, want %d as before", name, got, before)
			}
			fs.arm(0)
			if _, err := f.svc.Login(t.Context(), req); err != nil {
				t.Errorf("%s: the next login fails: %v", name, err)
			}
		}
	}
}

// TestRefreshStoreFaults: whichever store call of a refresh fails, the
// refresh fails with the store's error and no session, the presented
// token stays unused (a retry exchanges it), and no new token is usable.
func TestRefreshStoreFaults(t *testing.T) {
	f, fs := faultFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	f.svc.RefreshGrace = 0
	fs.arm(0)
	s := f.login(t, "ana", "")
	fs.arm(0)
	probe := f.login(t, "ana", "")
	fs.arm(0)
	if _, err := f.svc.Refresh(t.Context(), probe.RefreshToken, "192.0.2.7"); err != nil {
		t.Fatalf("refresh without faults: %v", err)
	}
	calls := fs.log()
	for _, want := range []string{"RefreshToken", "UseRefreshToken"} {
		if !containsCall(calls, want) {
			t.Fatalf("a refresh never calls %s; calls: %v", want, calls)
		}
	}
	if !containsCall(calls, "Family") && !containsCall(calls, "Chain") {
		t.Fatalf("a refresh reads its token's chain through no faulting method (calls: %v): wrap the Store's new read in faultStore", calls)
	}
	for n := 1; n <= len(calls); n++ {
		name := "failed " + calls[n-1]
		before := usableTokens(f.store)
		fs.arm(n)
		sess, err := f.svc.Refresh(t.Context(), s.RefreshToken, "192.0.2.7")
		if calls[n-1] == "TouchDevice" {
			if err != nil {
				t.Fatalf("%s: %v, want a session", name, err)
			}
			s = sess
			continue
		}
		wantStoreFailure(t, name, sess, err)
		if got := usableTokens(f.store); got != before {
			t.Errorf("%s: %d usable refresh tokens, want %d as before", name, got, before)
		}
		fs.arm(0)
		next, err := f.svc.Refresh(t.Context(), s.RefreshToken, "192.0.2.7")
		if err != nil {
			t.Fatalf("%s: the retry fails: %v", name, err)
		}
		s = next
	}
}

// TestRefreshReuseRevocationFault: when reuse is detected but revoking the
// family fails, the refresh reports the failure (not token_reused, which
// would claim the family ended) and no session; the family stays open
// only until the next presentation of the reused token, which revokes it.
func TestRefreshReuseRevocationFault(t *testing.T) {
	f, fs := faultFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	f.svc.RefreshGrace = 0
	fs.arm(0)
	s := f.login(t, "ana", "")
	if _, err := f.svc.Refresh(t.Context(), s.RefreshToken, ""); err != nil {
		t.Fatal(err)
	}
	fs.arm(0)
	_, err := f.svc.Refresh(t.Context(), s.RefreshToken, "")
	wantCode(t, err, model.CodeTokenReused)
	calls := fs.log()
	if calls[len(calls)-1] != "RevokeFamily" {
		t.Fatalf("reuse does not end with RevokeFamily: %v", calls)
	}
	// A second family, reused with the revocation failing.
	fs.arm(0)
	s2 := f.login(t, "ana", "")
	if _, err := f.svc.Refresh(t.Context(), s2.RefreshToken, ""); err != nil {
		t.Fatal(err)
	}
	fs.arm(len(calls))
	sess, err := f.svc.Refresh(t.Context(), s2.RefreshToken, "")
	wantStoreFailure(t, "failed RevokeFamily", sess, err)
	family := familyOf(t, f, s2)
	if f.store.family(family).RevokedAt != nil {
		t.Fatal("the family is revoked although RevokeFamily failed")
	}
	fs.arm(0)
	_, err = f.svc.Refresh(t.Context(), s2.RefreshToken, "")
	wantCode(t, err, model.CodeTokenReused)
	if fam := f.store.family(family); fam.RevokedAt == nil || fam.Reason != reasonReuse {
		t.Fatalf("family after the retry: %+v, want revoked for reuse", fam)
	}
}

// TestAuthenticateStoreFaults: a store failure while authenticating is an
// internal error, never unauthorized (which would sign a device out over
// a passing fault) and never a principal.
func TestAuthenticateStoreFaults(t *testing.T) {
	f, fs := faultFixture(t)
	f.addUser(t, "ana", model.RoleFieldWorker)
	s := f.login(t, "ana", "")
	fs.arm(0)
	if _, err := f.svc.Authenticate(t.Context(), s.AccessToken); err != nil {
		t.Fatal(err)
	}
	calls := fs.log()
	if len(calls) == 0 {
		t.Fatal("Authenticate reads through no faulting method: wrap the Store's new read in faultStore")
	}
	for n := 1; n <= len(calls); n++ {
		fs.arm(n)
		p, err := f.svc.Authenticate(t.Context(), s.AccessToken)
		wantStoreFailure(t, "failed "+calls[n-1], Session{}, err)
		if p != nil {
			t.Errorf("failed %s: principal %+v", calls[n-1], p)
		}
	}
}

func containsCall(calls []string, name string) bool {
	for _, c := range calls {
		if c == name {
			return true
		}
	}
	return false
}

func (f *faultStore) Chain(ctx context.Context, family, device, user string) (Chain, error) {
	if err := f.fail("Chain"); err != nil {
		return Chain{}, err
	}
	return f.memStore.Chain(ctx, family, device, user)
}
