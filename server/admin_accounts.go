package server

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/auth"
	"github.com/fieldsync/fieldsync/sync/access"
)

// accountStore is what the account endpoints (disable, enable, password)
// need from storage.
type accountStore interface {
	User(ctx context.Context, id string) (model.User, error)
	DisableUser(ctx context.Context, id, by string, at time.Time) (model.User, error)
	EnableUser(ctx context.Context, id string) (model.User, error)
	SetPassword(ctx context.Context, id, hash string, at time.Time) (model.User, error)
}

// disableUser handles POST /v1/admin/users/:id/disable: the account may no
// longer log in, and every token family of it is revoked, so each of its
// devices is refused (401 account_disabled) on its very next request.
func (s *Server) disableUser(c *fiber.Ctx) error {
	p := principal(c)
	u, err := s.managedUser(c, false)
	if err != nil {
		return err
	}
	u, err = s.db.DisableUser(c.UserContext(), u.ID, p.User, s.now().UTC())
	if err != nil {
		return err
	}
	s.log.Warn("account disabled", "user", u.ID, "by", p.User)
	s.streams.recheckUser(u.ID)
	s.record(c.UserContext(), event(c, audit.ActionUserDisabled, u.ID, string(u.Role)))
	return c.JSON(api.UserOf(u))
}

// enableUser handles POST /v1/admin/users/:id/enable: the account may log
// in again (its ended sessions stay ended).
func (s *Server) enableUser(c *fiber.Ctx) error {
	u, err := s.managedUser(c, false)
	if err != nil {
		return err
	}
	u, err = s.db.EnableUser(c.UserContext(), u.ID)
	if err != nil {
		return err
	}
	s.record(c.UserContext(), event(c, audit.ActionUserEnabled, u.ID, string(u.Role)))
	return c.JSON(api.UserOf(u))
}

// setPassword handles POST /v1/admin/users/:id/password
// {"password"}: the new password replaces the old one and every token
// family of the account is revoked.
func (s *Server) setPassword(c *fiber.Ctx) error {
	var req api.SetPasswordRequest
	if err := decodeBody(requestBody(c), s.cfg.MaxDepth, &req); err != nil {
		return err
	}
	u, err := s.managedUser(c, true)
	if err != nil {
		return err
	}
	if err := auth.CheckPasswordStrength(req.Password); err != nil {
		return err
	}
	hash, err := auth.HashPassword(req.Password)
	if err != nil {
		return err
	}
	u, err = s.db.SetPassword(c.UserContext(), u.ID, hash, s.now().UTC())
	if err != nil {
		return err
	}
	s.streams.recheckUser(u.ID)
	s.record(c.UserContext(), event(c, audit.ActionPasswordReset, u.ID, string(u.Role)))
	return c.JSON(api.UserOf(u))
}

// managedUser returns the user named by the route's :id if the caller
// manages it (access.ManagesAccount); any other user answers exactly like
// one that does not exist. Nobody disables or enables its own account;
// only an admin sets its own password here (self says whether that is
// the action).
func (s *Server) managedUser(c *fiber.Ctx, self bool) (model.User, error) {
	id, p := c.Params("id"), principal(c)
	if !model.ValidID(id) {
		return model.User{}, model.Errorf(model.CodeInvalidID, "The user id must be a UUID in canonical lowercase form.")
	}
	if id == p.User && (!self || p.Role != model.RoleAdmin) {
		return model.User{}, model.Errorf(model.CodeForbidden, "You may not disable, enable or reset the password of your own account here.")
	}
	return s.userManagedBy(c.UserContext(), p, id)
}

// userManagedBy returns user id if p manages it, else not_found.
func (s *Server) userManagedBy(ctx context.Context, p *access.Principal, id string) (model.User, error) {
	u, err := s.db.User(ctx, id)
	if model.ErrorCode(err) == model.CodeNotFound || err == nil && !access.ManagesAccount(p, s.accountResolver(ctx)(&u)) {
		return model.User{}, model.Errorf(model.CodeNotFound, "There is no user %s you may manage.", id)
	}
	return u, err
}
