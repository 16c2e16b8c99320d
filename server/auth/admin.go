package auth

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/fieldsync/fieldsync/model"
)

// AdminUsername is the user EnsureAdmin creates.
const AdminUsername = "admin"

// generatedPasswordLen is the length of a generated admin password
// (base32: 120 bits).
const generatedPasswordLen = 24

// EnsureAdmin creates the user admin (role admin) if the store has no
// users. It uses password after CheckPasswordStrength, or, when password
// is empty, a generated one of 24 characters that it returns so the
// caller can print it once. With users present it does nothing and
// returns "".
func (s *Service) EnsureAdmin(ctx context.Context, password string) (generated string, err error) {
	if err := s.ready(); err != nil {
		return "", err
	}
	has, err := s.Store.HasUsers(ctx)
	if err != nil {
		return "", fmt.Errorf("count users: %w", err)
	}
	if has {
		return "", nil
	}
	pw := password
	if pw == "" {
		pw = rand.Text()[:generatedPasswordLen]
	} else if err := CheckPasswordStrength(pw); err != nil {
		return "", err
	}
	created, err := s.createAdmin(ctx, pw)
	if err != nil || !created || password != "" {
		return "", err
	}
	return pw, nil
}

// createAdmin stores the admin user with password pw and reports whether
// it did: losing a race to another creator of admin is not an error.
func (s *Service) createAdmin(ctx context.Context, pw string) (bool, error) {
	hash, err := HashPassword(pw)
	if err != nil {
		return false, err
	}
	id, err := newID()
	if err != nil {
		return false, err
	}
	u := model.User{
		ID: id, Username: AdminUsername, Role: model.RoleAdmin, PasswordHash: hash,
		Teams: []string{}, CreatedAt: s.now(),
	}
	err = s.Store.CreateUser(ctx, u)
	if isCode(err, model.CodeConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("create admin: %w", err)
	}
	return true, nil
}
