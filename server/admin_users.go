package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/auth"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// userStore is what the user endpoints need from storage: users, and the
// teams and action weeks a new user is checked against.
type userStore interface {
	CreateUser(ctx context.Context, u model.User) error
	ListUsers(ctx context.Context) ([]model.User, error)
	Team(ctx context.Context, id string) (model.Team, error)
	Record(ctx context.Context, id string) (*protocol.RecordState, error)
}

// createUser handles POST /v1/admin/users. Admins create any user;
// supervisors and team leads only accounts they will manage
// (access.ManagesAccount): a team or week outside the caller's
// jurisdiction is refused, a week it may not read exactly like a week
// that does not exist.
func (s *Server) createUser(c *fiber.Ctx) error {
	var req api.CreateUserRequest
	if err := decodeBody(requestBody(c), s.cfg.MaxDepth, &req); err != nil {
		return err
	}
	p := principal(c)
	if req.Role.Valid() && !access.CreatesRole(p, req.Role) {
		return model.Errorf(model.CodeForbidden, "Your role (%s) may not create %s accounts.", p.Role, req.Role)
	}
	u, err := s.newUser(c.UserContext(), p, req)
	if err != nil {
		return err
	}
	if err := s.db.CreateUser(c.UserContext(), u); err != nil {
		return err
	}
	s.record(c.UserContext(), event(c, audit.ActionUserCreated, u.ID, string(u.Role)))
	return c.Status(http.StatusCreated).JSON(api.UserOf(u))
}

// newUser validates a request of p and returns the user to store.
func (s *Server) newUser(ctx context.Context, p *access.Principal, req api.CreateUserRequest) (model.User, error) {
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
	if err := checkGrantShape(&req); err != nil {
		return model.User{}, err
	}
	if err := s.checkTeams(ctx, p, req.Teams); err != nil {
		return model.User{}, err
	}
	acct := access.Account{Role: req.Role, Teams: req.Teams}
	if req.Role == model.RoleVisitor {
		host, err := s.checkVisitorGrant(ctx, p, &req)
		if err != nil {
			return model.User{}, err
		}
		acct.WeekHostTeam = host
	}
	if !access.ManagesAccount(p, acct) {
		return model.User{}, model.Errorf(model.CodeForbidden, "This account would lie outside your jurisdiction.")
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

// checkGrantShape enforces the per-role shape of DESIGN §5, before any
// stored data is read: a visitor has an action week and an end in the
// future and no teams; auditors and admins have no teams; field workers
// and team leads at least one.
func checkGrantShape(req *api.CreateUserRequest) error {
	for _, t := range req.Teams {
		if !model.ValidID(t) {
			return model.Errorf(model.CodeInvalidID, "Team ids must be UUIDs in canonical lowercase form.")
		}
	}
	switch req.Role {
	case model.RoleVisitor:
		if len(req.Teams) > 0 || req.ValidUntil == nil {
			return model.Errorf(model.CodeInvalidRequest, "A visitor has no teams, an action_week and a valid_until in the future.")
		}
		if !model.ValidID(req.ActionWeek) {
			return model.Errorf(model.CodeInvalidID, "action_week must be a UUID in canonical lowercase form.")
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

// checkTeams checks that each team is p's (for a non-admin) and exists.
// p's own teams exist, so a foreign team is refused the same whether it
// exists or not.
func (s *Server) checkTeams(ctx context.Context, p *access.Principal, teams []string) error {
	for _, t := range teams {
		if p.Role != model.RoleAdmin && !p.InTeam(t) {
			return model.Errorf(model.CodeForbidden, "You may give an account only teams you lead or supervise.")
		}
		if _, err := s.db.Team(ctx, t); err != nil {
			return model.Errorf(model.CodeInvalidRequest, "There is no team %s.", t)
		}
	}
	return nil
}

// errNoGrantWeek is the one answer to a visitor's week that does not
// exist, is deleted, or lies outside the caller's jurisdiction.
func errNoGrantWeek() error {
	return model.Errorf(model.CodeNotFound, "There is no such action week you may grant.")
}

// checkVisitorGrant checks a visitor's week and end for p: the week exists,
// p manages its visitors, it has an ends_on, and valid_until lies in the
// future and at most the visitor grace past the end of the ends_on day
// (UTC). It returns the week's host team.
func (s *Server) checkVisitorGrant(ctx context.Context, p *access.Principal, req *api.CreateUserRequest) (string, error) {
	st, err := s.db.Record(ctx, req.ActionWeek)
	if err != nil && model.ErrorCode(err) != model.CodeNotFound {
		return "", err
	}
	if err != nil || st.Record.Kind != model.KindActionWeek || string(st.Record.Value(model.FieldDeleted)) == "true" ||
		!access.ManagesAccount(p, access.Account{Role: model.RoleVisitor, WeekHostTeam: st.Scope.HostTeam}) {
		return "", errNoGrantWeek()
	}
	end, ok := weekEnd(st.Record.Value(model.FieldEndsOn))
	if !ok {
		return "", model.Errorf(model.CodeInvalidRequest, "An action week without ends_on cannot have visitors; set its ends_on first.")
	}
	if !req.ValidUntil.After(s.now()) {
		return "", model.Errorf(model.CodeInvalidRequest, "A visitor's valid_until must lie in the future.")
	}
	if req.ValidUntil.After(end.Add(s.cfg.VisitorGrace)) {
		return "", model.Errorf(model.CodeInvalidRequest, "A visitor's valid_until may lie at most %s past the end of its action week's ends_on day.", s.cfg.VisitorGrace)
	}
	return st.Scope.HostTeam, nil
}

// weekEnd returns the end (UTC) of the day an ends_on value names.
func weekEnd(v json.RawMessage) (time.Time, bool) {
	var day string
	if json.Unmarshal(v, &day) != nil {
		return time.Time{}, false
	}
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return time.Time{}, false
	}
	return d.AddDate(0, 0, 1), true
}

// listUsers handles GET /v1/admin/users: every user for an admin, the
// accounts the caller manages for anyone else.
func (s *Server) listUsers(c *fiber.Ctx) error {
	users, err := s.db.ListUsers(c.UserContext())
	if err != nil {
		return err
	}
	p, accountOf := principal(c), s.accountResolver(c.UserContext())
	out := make([]api.User, 0, len(users))
	for _, u := range users {
		if p.Role == model.RoleAdmin || access.ManagesAccount(p, accountOf(&u)) {
			out = append(out, api.UserOf(u))
		}
	}
	return c.JSON(fiber.Map{"users": out})
}

// accountResolver returns a function giving the access.Account of a user,
// looking up (once per week) a visitor's week's host team.
func (s *Server) accountResolver(ctx context.Context) func(u *model.User) access.Account {
	hosts := map[string]string{}
	return func(u *model.User) access.Account {
		a := access.Account{ID: u.ID, Role: u.Role, Teams: u.Teams}
		if u.Role != model.RoleVisitor || u.ActionWeek == "" {
			return a
		}
		host, ok := hosts[u.ActionWeek]
		if !ok {
			if st, err := s.db.Record(ctx, u.ActionWeek); err == nil && st.Record.Kind == model.KindActionWeek {
				host = st.Scope.HostTeam
			}
			hosts[u.ActionWeek] = host
		}
		a.WeekHostTeam = host
		return a
	}
}
