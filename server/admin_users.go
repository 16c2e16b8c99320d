package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/auth"
)

// createUser handles POST /v1/admin/users. Admins create any user;
// supervisors create only visitors (action-week delegations).
func (s *Server) createUser(c *fiber.Ctx) error {
	var req api.CreateUserRequest
	if err := decodeBody(requestBody(c), s.cfg.MaxDepth, &req); err != nil {
		return err
	}
	if p := principal(c); p.Role == model.RoleSupervisor && req.Role != model.RoleVisitor {
		return model.Errorf(model.CodeForbidden, "Supervisors create visitor accounts only.")
	}
	u, err := s.newUser(c.UserContext(), req)
	if err != nil {
		return err
	}
	if err := s.db.CreateUser(c.UserContext(), u); err != nil {
		return err
	}
	s.record(c.UserContext(), event(c, audit.ActionUserCreated, u.ID, string(u.Role)))
	return c.Status(http.StatusCreated).JSON(api.UserOf(u))
}

// newUser validates a request and returns the user to store.
func (s *Server) newUser(ctx context.Context, req api.CreateUserRequest) (model.User, error) {
	req.Username = strings.TrimSpace(req.Username)
	if req.Username == "" || strings.ContainsAny(req.Username, " \t\r\n") || model.CheckName("username", req.Username, model.MaxUsernameLength) != nil {
		return model.User{}, model.Errorf(model.CodeInvalidRequest, "A username is 1 to %d characters without spaces or control characters.", model.MaxUsernameLength)
	}
	if !req.Role.Valid() {
		return model.User{}, model.Errorf(model.CodeInvalidRequest, "role must be one of %v.", model.Roles)
	}
	if err := auth.CheckPasswordStrength(req.Password); err != nil {
		return model.User{}, err
	}
	if err := s.checkGrant(ctx, &req); err != nil {
		return model.User{}, err
	}
	hash, err := auth.HashPassword(req.Password)
	if err != nil {
		return model.User{}, err
	}
	return model.User{
		ID: newID(), Username: req.Username, Role: req.Role, PasswordHash: hash, Teams: nonNil(req.Teams),
		ActionWeek: req.ActionWeek, ValidUntil: req.ValidUntil, CreatedAt: s.now().UTC(),
	}, nil
}

// checkGrant enforces the per-role shape of DESIGN §5: teams exist; a
// visitor has an existing action week and an end in the future and no
// teams; auditors and admins have no teams.
func (s *Server) checkGrant(ctx context.Context, req *api.CreateUserRequest) error {
	for _, t := range req.Teams {
		if !model.ValidID(t) {
			return model.Errorf(model.CodeInvalidID, "Team ids must be UUIDs in canonical lowercase form.")
		}
		if _, err := s.db.Team(ctx, t); err != nil {
			return model.Errorf(model.CodeInvalidRequest, "There is no team %s.", t)
		}
	}
	switch req.Role {
	case model.RoleVisitor:
		if len(req.Teams) > 0 || req.ValidUntil == nil || !req.ValidUntil.After(s.now()) {
			return model.Errorf(model.CodeInvalidRequest, "A visitor has no teams, an action_week and a valid_until in the future.")
		}
		if !model.ValidID(req.ActionWeek) {
			return model.Errorf(model.CodeInvalidID, "action_week must be a UUID in canonical lowercase form.")
		}
		st, err := s.db.Record(ctx, req.ActionWeek)
		if err != nil || st.Record.Kind != model.KindActionWeek {
			return model.Errorf(model.CodeInvalidRequest, "There is no action week %s.", req.ActionWeek)
		}
	case model.RoleAuditor, model.RoleAdmin:
		if len(req.Teams) > 0 {
			return model.Errorf(model.CodeInvalidRequest, "Auditors and admins belong to no team.")
		}
		fallthrough
	default:
		if req.ActionWeek != "" || req.ValidUntil != nil {
			return model.Errorf(model.CodeInvalidRequest, "Only visitors have an action_week and a valid_until.")
		}
	}
	if (req.Role == model.RoleFieldWorker || req.Role == model.RoleTeamLead) && len(req.Teams) == 0 {
		return model.Errorf(model.CodeInvalidRequest, "Field workers and team leads belong to at least one team.")
	}
	return nil
}

// listUsers handles GET /v1/admin/users.
func (s *Server) listUsers(c *fiber.Ctx) error {
	users, err := s.db.ListUsers(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]api.User, len(users))
	for i, u := range users {
		out[i] = api.UserOf(u)
	}
	return c.JSON(fiber.Map{"users": out})
}
