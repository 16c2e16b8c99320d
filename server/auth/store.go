package auth

import (
	"context"
	"time"

	"github.com/fieldsync/fieldsync/model"
)

// Chain is what an access token stands on: its family, device and user.
type Chain struct {
	Family model.TokenFamily
	Device model.Device
	User   model.User
}

// Store is the persistence auth needs; server/store implements it. Lookups
// of something absent return an *model.Error with CodeNotFound.
type Store interface {
	User(ctx context.Context, id string) (model.User, error)
	UserByName(ctx context.Context, username string) (model.User, error)
	// CreateUser stores a new user; a taken username is CodeConflict.
	CreateUser(ctx context.Context, u model.User) error
	// HasUsers reports whether any user exists (first start creates admin).
	HasUsers(ctx context.Context) (bool, error)

	Device(ctx context.Context, id string) (model.Device, error)
	PutDevice(ctx context.Context, d model.Device) error

	RefreshToken(ctx context.Context, hash string) (model.RefreshToken, error)
	PutRefreshToken(ctx context.Context, t model.RefreshToken) error
	// UseRefreshToken atomically marks the token hash used at at, pointing
	// to next, and stores next. If hash was already used it changes
	// nothing and returns CodeTokenReused.
	UseRefreshToken(ctx context.Context, hash string, next model.RefreshToken, at time.Time) error

	Family(ctx context.Context, id string) (model.TokenFamily, error)
	// Chain reads a token's family, device and user in one consistent
	// read (one transaction), whether or not they agree with each other;
	// any of them absent is CodeNotFound. Authenticate calls it on every
	// request, so it must read the stored state, never a cache.
	Chain(ctx context.Context, family, device, user string) (Chain, error)
	PutFamily(ctx context.Context, f model.TokenFamily) error
	// RevokeFamily marks a family revoked (idempotent).
	RevokeFamily(ctx context.Context, id, reason string, at time.Time) error
}
