package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
)

// touchInterval is how stale a device's last-seen time may get before
// TouchDevice writes it again (an IP change is always written).
const touchInterval = time.Minute

// getJSON decodes key's JSON value into v; badger.ErrKeyNotFound when
// absent.
func getJSON(txn *badger.Txn, k []byte, v any) error {
	item, err := txn.Get(k)
	if err != nil {
		return err
	}
	return item.Value(func(b []byte) error {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("decode %s: %w", k, err)
		}
		return nil
	})
}

// setJSON stores v's JSON under key.
func setJSON(txn *badger.Txn, k []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", k, err)
	}
	return txn.Set(k, b)
}

// exists reports whether key is set.
func exists(txn *badger.Txn, k []byte) (bool, error) {
	_, err := txn.Get(k)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// absent turns badger.ErrKeyNotFound into the CodeNotFound error made by
// nf (when not nil), passes *model.Error through, and wraps anything else
// with what.
func absent(err error, what string, nf func() error) error {
	var me *model.Error
	switch {
	case err == nil:
		return nil
	case nf != nil && errors.Is(err, badger.ErrKeyNotFound):
		return nf()
	case errors.As(err, &me):
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// scanJSON decodes every value under prefix, in key order, with decode.
func scanJSON(txn *badger.Txn, prefix string, decode func(b []byte) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: true, PrefetchSize: 100})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if err := it.Item().Value(decode); err != nil {
			return fmt.Errorf("decode %s: %w", it.Item().Key(), err)
		}
	}
	return nil
}

// scanIDs returns the key suffixes under prefix, in key order.
func scanIDs(txn *badger.Txn, prefix []byte) []string {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var ids []string
	for it.Rewind(); it.Valid(); it.Next() {
		ids = append(ids, string(it.Item().Key()[len(prefix):]))
	}
	return ids
}

// User implements auth.Store.
func (db *DB) User(ctx context.Context, id string) (model.User, error) {
	var u model.User
	err := db.view(ctx, func(txn *badger.Txn) error { return getJSON(txn, key(prefixUser, id), &u) })
	return u, absent(err, "read user", func() error { return notFound("There is no user %s.", id) })
}

// UserByName implements auth.Store.
func (db *DB) UserByName(ctx context.Context, username string) (model.User, error) {
	var u model.User
	err := db.view(ctx, func(txn *badger.Txn) error {
		id, err := getValue(txn, key(prefixUsername, username))
		if err != nil {
			return err
		}
		return getJSON(txn, key(prefixUser, string(id)), &u)
	})
	return u, absent(err, "read user", func() error { return notFound("There is no user named %q.", username) })
}

// CreateUser implements auth.Store: a taken id or username is
// CodeConflict.
func (db *DB) CreateUser(ctx context.Context, u model.User) error {
	if u.ID == "" || u.Username == "" {
		return model.Errorf(model.CodeInvalidRequest, "A user needs an id and a username.")
	}
	err := db.update(ctx, func(txn *badger.Txn) error {
		if ok, err := exists(txn, key(prefixUsername, u.Username)); err != nil || ok {
			return cmpErr(err, model.Errorf(model.CodeConflict, "The username %q is taken.", u.Username))
		}
		if ok, err := exists(txn, key(prefixUser, u.ID)); err != nil || ok {
			return cmpErr(err, model.Errorf(model.CodeConflict, "A user with id %s exists.", u.ID))
		}
		if err := setJSON(txn, key(prefixUser, u.ID), &u); err != nil {
			return err
		}
		return txn.Set(key(prefixUsername, u.Username), []byte(u.ID))
	})
	return absent(err, "create user", nil)
}

// HasUsers implements auth.Store.
func (db *DB) HasUsers(ctx context.Context) (bool, error) {
	var found bool
	err := db.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixUser)})
		defer it.Close()
		it.Rewind()
		found = it.Valid()
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("look for users: %w", err)
	}
	return found, nil
}

// ListUsers returns every user, sorted by username.
func (db *DB) ListUsers(ctx context.Context) ([]model.User, error) {
	users := []model.User{}
	err := db.view(ctx, func(txn *badger.Txn) error {
		return scanJSON(txn, prefixUser, func(b []byte) error {
			var u model.User
			err := json.Unmarshal(b, &u)
			users = append(users, u)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	slices.SortFunc(users, func(a, b model.User) int { return cmp.Compare(a.Username, b.Username) })
	return users, nil
}

// CreateTeam stores a new team; a taken id is CodeConflict.
func (db *DB) CreateTeam(ctx context.Context, t model.Team) error {
	if t.ID == "" {
		return model.Errorf(model.CodeInvalidRequest, "A team needs an id.")
	}
	err := db.update(ctx, func(txn *badger.Txn) error {
		if ok, err := exists(txn, key(prefixTeam, t.ID)); err != nil || ok {
			return cmpErr(err, model.Errorf(model.CodeConflict, "A team with id %s exists.", t.ID))
		}
		return setJSON(txn, key(prefixTeam, t.ID), &t)
	})
	return absent(err, "create team", nil)
}

// Team returns team id; CodeNotFound when absent.
func (db *DB) Team(ctx context.Context, id string) (model.Team, error) {
	var t model.Team
	err := db.view(ctx, func(txn *badger.Txn) error { return getJSON(txn, key(prefixTeam, id), &t) })
	return t, absent(err, "read team", func() error { return notFound("There is no team %s.", id) })
}

// ListTeams returns every team, sorted by name, then id.
func (db *DB) ListTeams(ctx context.Context) ([]model.Team, error) {
	teams := []model.Team{}
	err := db.view(ctx, func(txn *badger.Txn) error {
		return scanJSON(txn, prefixTeam, func(b []byte) error {
			var t model.Team
			err := json.Unmarshal(b, &t)
			teams = append(teams, t)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	slices.SortStableFunc(teams, func(a, b model.Team) int { return cmp.Compare(a.Name, b.Name) })
	return teams, nil
}

// Device implements auth.Store.
func (db *DB) Device(ctx context.Context, id string) (model.Device, error) {
	var d model.Device
	err := db.view(ctx, func(txn *badger.Txn) error { return getJSON(txn, key(prefixDevice, id), &d) })
	return d, absent(err, "read device", func() error { return notFound("There is no device %s.", id) })
}

// PutDevice implements auth.Store: it stores d, replacing the device with
// its id.
func (db *DB) PutDevice(ctx context.Context, d model.Device) error {
	if d.ID == "" {
		return model.Errorf(model.CodeInvalidRequest, "A device needs an id.")
	}
	err := db.update(ctx, func(txn *badger.Txn) error {
		var old model.Device
		switch err := getJSON(txn, key(prefixDevice, d.ID), &old); {
		case err == nil && old.User != d.User:
			if err := txn.Delete(key2(prefixUserDevice, old.User, d.ID)); err != nil {
				return err
			}
		case err != nil && !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		if err := setJSON(txn, key(prefixDevice, d.ID), &d); err != nil {
			return err
		}
		return txn.Set(key2(prefixUserDevice, d.User, d.ID), []byte{})
	})
	return absent(err, "put device", nil)
}

// ListDevices returns every device, by id.
func (db *DB) ListDevices(ctx context.Context) ([]model.Device, error) {
	devices := []model.Device{}
	err := db.view(ctx, func(txn *badger.Txn) error {
		return scanJSON(txn, prefixDevice, func(b []byte) error {
			var d model.Device
			err := json.Unmarshal(b, &d)
			devices = append(devices, d)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	return devices, nil
}

// DevicesOfUser returns the devices of user, by id.
func (db *DB) DevicesOfUser(ctx context.Context, user string) ([]model.Device, error) {
	devices := []model.Device{}
	err := db.view(ctx, func(txn *badger.Txn) error {
		for _, id := range scanIDs(txn, key2(prefixUserDevice, user, "")) {
			var d model.Device
			if err := getJSON(txn, key(prefixDevice, id), &d); err != nil {
				return fmt.Errorf("read device %s: %w", id, err)
			}
			devices = append(devices, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list devices of user: %w", err)
	}
	return devices, nil
}

// RevokeDevice marks device id revoked at at by user by, revokes every
// token family of the device, and returns the device. Revoking a revoked
// device changes nothing. CodeNotFound when absent.
func (db *DB) RevokeDevice(ctx context.Context, id, by string, at time.Time) (model.Device, error) {
	var d model.Device
	err := db.update(ctx, func(txn *badger.Txn) error {
		if err := getJSON(txn, key(prefixDevice, id), &d); err != nil {
			return err
		}
		if d.RevokedAt == nil {
			at := at
			d.RevokedAt, d.RevokedBy = &at, by
			if err := setJSON(txn, key(prefixDevice, id), &d); err != nil {
				return err
			}
		}
		for _, fid := range scanIDs(txn, key2(prefixDeviceFamily, id, "")) {
			if err := revokeFamily(txn, fid, "device_revoked", at); err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
		}
		return nil
	})
	return d, absent(err, "revoke device", func() error { return notFound("There is no device %s.", id) })
}

// TouchDevice records that device id was seen at at from ip. It writes
// nothing when the stored time is less than a minute old and the IP is
// unchanged. CodeNotFound when absent.
func (db *DB) TouchDevice(ctx context.Context, id, ip string, at time.Time) error {
	err := db.update(ctx, func(txn *badger.Txn) error {
		var d model.Device
		if err := getJSON(txn, key(prefixDevice, id), &d); err != nil {
			return err
		}
		if d.LastIP == ip && at.Sub(d.LastSeen) < touchInterval {
			return nil
		}
		d.LastSeen, d.LastIP = at, ip
		return setJSON(txn, key(prefixDevice, id), &d)
	})
	return absent(err, "touch device", func() error { return notFound("There is no device %s.", id) })
}

// DisableUser marks user id disabled at at by user by and, in the same
// transaction, revokes every token family of every device of it, so no
// session of it survives even if it is enabled again. Disabling a
// disabled user keeps its first disabling. CodeNotFound when absent.
func (db *DB) DisableUser(ctx context.Context, id, by string, at time.Time) (model.User, error) {
	return db.updateUser(ctx, id, func(txn *badger.Txn, u *model.User) error {
		if u.DisabledAt == nil {
			at := at
			u.DisabledAt, u.DisabledBy = &at, by
		}
		return revokeUserFamilies(txn, id, "account_disabled", at)
	})
}

// EnableUser clears user id's disabling; its ended sessions stay ended.
// CodeNotFound when absent.
func (db *DB) EnableUser(ctx context.Context, id string) (model.User, error) {
	return db.updateUser(ctx, id, func(_ *badger.Txn, u *model.User) error {
		u.DisabledAt, u.DisabledBy = nil, ""
		return nil
	})
}

// SetPassword replaces user id's password hash and, in the same
// transaction, revokes every token family of it: whoever knew the old
// password is logged out everywhere. CodeNotFound when absent.
func (db *DB) SetPassword(ctx context.Context, id, hash string, at time.Time) (model.User, error) {
	if hash == "" {
		return model.User{}, model.Errorf(model.CodeInvalidRequest, "A password hash may not be empty.")
	}
	return db.updateUser(ctx, id, func(txn *badger.Txn, u *model.User) error {
		u.PasswordHash = hash
		return revokeUserFamilies(txn, id, "password_reset", at)
	})
}

// updateUser reads user id, lets change modify it (and write more in the
// same transaction) and stores it.
func (db *DB) updateUser(ctx context.Context, id string, change func(txn *badger.Txn, u *model.User) error) (model.User, error) {
	var u model.User
	err := db.update(ctx, func(txn *badger.Txn) error {
		if err := getJSON(txn, key(prefixUser, id), &u); err != nil {
			return err
		}
		if err := change(txn, &u); err != nil {
			return err
		}
		return setJSON(txn, key(prefixUser, id), &u)
	})
	return u, absent(err, "update user", func() error { return notFound("There is no user %s.", id) })
}

// revokeUserFamilies revokes every token family of every device of user.
func revokeUserFamilies(txn *badger.Txn, user, reason string, at time.Time) error {
	for _, dev := range scanIDs(txn, key2(prefixUserDevice, user, "")) {
		for _, fid := range scanIDs(txn, key2(prefixDeviceFamily, dev, "")) {
			if err := revokeFamily(txn, fid, reason, at); err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
		}
	}
	return nil
}
