package auth

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/model"
)

// memStore is an in-memory Store that behaves as the contract says: reads
// return copies, absent things are CodeNotFound, UseRefreshToken is atomic.
type memStore struct {
	mu       sync.Mutex
	users    map[string]model.User
	devices  map[string]model.Device
	tokens   map[string]model.RefreshToken
	families map[string]model.TokenFamily
	reads    map[string]int // calls per method, for cost assertions
	// beforeUse, if set, runs (unlocked) at the start of UseRefreshToken.
	beforeUse func(hash string)
}

var _ Store = (*memStore)(nil)
var _ deviceToucher = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{
		users: map[string]model.User{}, devices: map[string]model.Device{},
		tokens: map[string]model.RefreshToken{}, families: map[string]model.TokenFamily{},
		reads: map[string]int{},
	}
}

func notFound(what string) error { return model.Errorf(model.CodeNotFound, "No such %s.", what) }

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

func cloneUser(u model.User) model.User {
	u.Teams = slices.Clone(u.Teams)
	u.ValidUntil = cloneTime(u.ValidUntil)
	return u
}

func cloneDevice(d model.Device) model.Device {
	d.RevokedAt = cloneTime(d.RevokedAt)
	return d
}

func cloneToken(t model.RefreshToken) model.RefreshToken {
	t.UsedAt = cloneTime(t.UsedAt)
	return t
}

func cloneFamily(f model.TokenFamily) model.TokenFamily {
	f.RevokedAt = cloneTime(f.RevokedAt)
	return f
}

func (m *memStore) count(method string) {
	m.reads[method]++
}

func (m *memStore) resetCounts() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads = map[string]int{}
}

func (m *memStore) counts() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := map[string]int{}
	for k, v := range m.reads {
		c[k] = v
	}
	return c
}

func (m *memStore) User(_ context.Context, id string) (model.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("User")
	u, ok := m.users[id]
	if !ok {
		return model.User{}, notFound("user")
	}
	return cloneUser(u), nil
}

func (m *memStore) UserByName(_ context.Context, username string) (model.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("UserByName")
	for _, u := range m.users {
		if u.Username == username {
			return cloneUser(u), nil
		}
	}
	return model.User{}, notFound("user")
}

func (m *memStore) CreateUser(_ context.Context, u model.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.users {
		if x.Username == u.Username {
			return model.Errorf(model.CodeConflict, "The username is taken.")
		}
	}
	if _, ok := m.users[u.ID]; ok {
		return model.Errorf(model.CodeConflict, "The id is taken.")
	}
	m.users[u.ID] = cloneUser(u)
	return nil
}

func (m *memStore) HasUsers(context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.users) > 0, nil
}

func (m *memStore) Device(_ context.Context, id string) (model.Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("Device")
	d, ok := m.devices[id]
	if !ok {
		return model.Device{}, notFound("device")
	}
	return cloneDevice(d), nil
}

func (m *memStore) PutDevice(_ context.Context, d model.Device) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.devices[d.ID] = cloneDevice(d)
	return nil
}

// TouchDevice updates only LastSeen and LastIP, never RevokedAt.
func (m *memStore) TouchDevice(_ context.Context, id, ip string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.devices[id]
	if !ok {
		return notFound("device")
	}
	d.LastSeen, d.LastIP = at, ip
	m.devices[id] = d
	return nil
}

func (m *memStore) RefreshToken(_ context.Context, hash string) (model.RefreshToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("RefreshToken")
	t, ok := m.tokens[hash]
	if !ok {
		return model.RefreshToken{}, notFound("refresh token")
	}
	return cloneToken(t), nil
}

func (m *memStore) PutRefreshToken(_ context.Context, t model.RefreshToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokens[t.Hash] = cloneToken(t)
	return nil
}

func (m *memStore) UseRefreshToken(_ context.Context, hash string, next model.RefreshToken, at time.Time) error {
	if m.beforeUse != nil {
		m.beforeUse(hash)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[hash]
	if !ok {
		return notFound("refresh token")
	}
	if t.UsedAt != nil {
		return model.Errorf(model.CodeTokenReused, "The refresh token was already used.")
	}
	if _, ok := m.tokens[next.Hash]; ok {
		return model.Errorf(model.CodeConflict, "The next refresh token exists already.")
	}
	t.UsedAt, t.Next = &at, next.Hash
	m.tokens[hash] = t
	m.tokens[next.Hash] = cloneToken(next)
	return nil
}

func (m *memStore) Family(_ context.Context, id string) (model.TokenFamily, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("Family")
	f, ok := m.families[id]
	if !ok {
		return model.TokenFamily{}, notFound("token family")
	}
	return cloneFamily(f), nil
}

// Chain reads the three under one lock, as one transaction would.
func (m *memStore) Chain(_ context.Context, family, device, user string) (Chain, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("Chain")
	f, ok := m.families[family]
	if !ok {
		return Chain{}, notFound("token family")
	}
	d, ok := m.devices[device]
	if !ok {
		return Chain{}, notFound("device")
	}
	u, ok := m.users[user]
	if !ok {
		return Chain{}, notFound("user")
	}
	return Chain{Family: cloneFamily(f), Device: cloneDevice(d), User: cloneUser(u)}, nil
}

func (m *memStore) PutFamily(_ context.Context, f model.TokenFamily) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.families[f.ID] = cloneFamily(f)
	return nil
}

// RevokeFamily keeps the first revocation's time and reason.
func (m *memStore) RevokeFamily(_ context.Context, id, reason string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.families[id]
	if !ok {
		return notFound("token family")
	}
	if f.RevokedAt == nil {
		f.RevokedAt, f.Reason = &at, reason
		m.families[id] = f
	}
	return nil
}

// family returns a stored family for assertions.
func (m *memStore) family(id string) model.TokenFamily {
	m.mu.Lock()
	defer m.mu.Unlock()
	return cloneFamily(m.families[id])
}

// device returns a stored device for assertions.
func (m *memStore) device(id string) (model.Device, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.devices[id]
	return cloneDevice(d), ok
}

// revokeDevice revokes a device as an admin would.
func (m *memStore) revokeDevice(id string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.devices[id]
	d.RevokedAt, d.RevokedBy = &at, "admin"
	m.devices[id] = d
}

// putUser stores or replaces a user directly.
func (m *memStore) putUser(u model.User) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users[u.ID] = cloneUser(u)
}

// deleteUser removes a user directly.
func (m *memStore) deleteUser(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.users, id)
}
