package store

import (
	"context"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/auth"
)

// RefreshToken implements auth.Store.
func (db *DB) RefreshToken(ctx context.Context, hash string) (model.RefreshToken, error) {
	var t model.RefreshToken
	err := db.view(ctx, func(txn *badger.Txn) error { return getJSON(txn, key(prefixToken, hash), &t) })
	return t, absent(err, "read refresh token", tokenNotFound)
}

func tokenNotFound() error { return notFound("The refresh token is not known.") }

// PutRefreshToken implements auth.Store.
func (db *DB) PutRefreshToken(ctx context.Context, t model.RefreshToken) error {
	if t.Hash == "" {
		return model.Errorf(model.CodeInvalidRequest, "A refresh token needs a hash.")
	}
	err := db.update(ctx, func(txn *badger.Txn) error { return setJSON(txn, key(prefixToken, t.Hash), &t) })
	return absent(err, "put refresh token", nil)
}

// UseRefreshToken implements auth.Store: in one transaction it marks the
// token hash used at at, pointing to next, and stores next. If hash was
// already used it changes nothing and returns CodeTokenReused; CodeNotFound
// when hash is unknown. Two concurrent uses of one token cannot both
// succeed: badger refuses the second commit as a conflict, and its retry
// finds the token used.
func (db *DB) UseRefreshToken(ctx context.Context, hash string, next model.RefreshToken, at time.Time) error {
	if next.Hash == "" || next.Hash == hash {
		return model.Errorf(model.CodeInvalidRequest, "The next refresh token needs a hash of its own.")
	}
	err := db.update(ctx, func(txn *badger.Txn) error {
		var t model.RefreshToken
		if err := getJSON(txn, key(prefixToken, hash), &t); err != nil {
			return err
		}
		if t.UsedAt != nil {
			return model.Errorf(model.CodeTokenReused, "This refresh token was already used.")
		}
		at := at
		t.UsedAt, t.Next = &at, next.Hash
		if err := setJSON(txn, key(prefixToken, hash), &t); err != nil {
			return err
		}
		return setJSON(txn, key(prefixToken, next.Hash), &next)
	})
	return absent(err, "use refresh token", tokenNotFound)
}

// Family implements auth.Store.
func (db *DB) Family(ctx context.Context, id string) (model.TokenFamily, error) {
	var f model.TokenFamily
	err := db.view(ctx, func(txn *badger.Txn) error { return getJSON(txn, key(prefixFamily, id), &f) })
	return f, absent(err, "read token family", func() error { return notFound("There is no token family %s.", id) })
}

// Chain implements auth.Store: one read-only transaction reads the
// family, the device and the user.
func (db *DB) Chain(ctx context.Context, family, device, user string) (auth.Chain, error) {
	var c auth.Chain
	err := db.view(ctx, func(txn *badger.Txn) error {
		if err := getJSON(txn, key(prefixFamily, family), &c.Family); err != nil {
			return absent(err, "read token family", func() error { return notFound("There is no token family %s.", family) })
		}
		if err := getJSON(txn, key(prefixDevice, device), &c.Device); err != nil {
			return absent(err, "read device", func() error { return notFound("There is no device %s.", device) })
		}
		if err := getJSON(txn, key(prefixUser, user), &c.User); err != nil {
			return absent(err, "read user", func() error { return notFound("There is no user %s.", user) })
		}
		return nil
	})
	return c, absent(err, "read token chain", nil)
}

// PutFamily implements auth.Store.
func (db *DB) PutFamily(ctx context.Context, f model.TokenFamily) error {
	if f.ID == "" {
		return model.Errorf(model.CodeInvalidRequest, "A token family needs an id.")
	}
	err := db.update(ctx, func(txn *badger.Txn) error {
		if err := setJSON(txn, key(prefixFamily, f.ID), &f); err != nil {
			return err
		}
		return txn.Set(key2(prefixDeviceFamily, f.Device, f.ID), []byte{})
	})
	return absent(err, "put token family", nil)
}

// RevokeFamily implements auth.Store: it marks family id revoked at at
// for reason; a family already revoked keeps its first revocation.
// CodeNotFound when absent.
func (db *DB) RevokeFamily(ctx context.Context, id, reason string, at time.Time) error {
	err := db.update(ctx, func(txn *badger.Txn) error { return revokeFamily(txn, id, reason, at) })
	return absent(err, "revoke token family", func() error { return notFound("There is no token family %s.", id) })
}

func revokeFamily(txn *badger.Txn, id, reason string, at time.Time) error {
	var f model.TokenFamily
	if err := getJSON(txn, key(prefixFamily, id), &f); err != nil {
		return err
	}
	if f.RevokedAt != nil {
		return nil
	}
	f.RevokedAt, f.Reason = &at, reason
	return setJSON(txn, key(prefixFamily, id), &f)
}
