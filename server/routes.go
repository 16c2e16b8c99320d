package server

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// authStore is what authenticating a request needs from storage beyond
// auth.Service: a visitor's action week and the device bookkeeping.
type authStore interface {
	// Record returns a record's state; the caller must not modify it.
	Record(ctx context.Context, id string) (*protocol.RecordState, error)
	// TouchDevice records that a device was seen at a time from an IP.
	TouchDevice(ctx context.Context, id, ip string, at time.Time) error
}

// route is one endpoint with its access policy. public routes need no
// token; every other route lists the roles that may call it.
type route struct {
	method  string
	path    string
	public  bool
	roles   []model.Role
	handler fiber.Handler
}

var (
	syncRoles    = []model.Role{model.RoleFieldWorker, model.RoleTeamLead, model.RoleVisitor, model.RoleSupervisor}
	recordRoles  = []model.Role{model.RoleFieldWorker, model.RoleTeamLead, model.RoleVisitor, model.RoleSupervisor}
	listRoles    = []model.Role{model.RoleFieldWorker, model.RoleTeamLead, model.RoleSupervisor}
	adminRoles   = []model.Role{model.RoleAdmin}
	managerRoles = []model.Role{model.RoleAdmin, model.RoleSupervisor}
	accountRoles = []model.Role{model.RoleAdmin, model.RoleSupervisor, model.RoleTeamLead}
	reviewRoles  = []model.Role{model.RoleSupervisor}
)

// attachmentRoles lets auditors reach the download handler, which answers
// them 404 like any caller who may not read the record.
var attachmentRoles = append([]model.Role{model.RoleAuditor}, recordRoles...)

// routes is the route table: the single list of endpoints and who may call
// them.
func (s *Server) routes() []route {
	return []route{
		{method: fiber.MethodGet, path: "/healthz", public: true, handler: s.healthz},
		{method: fiber.MethodGet, path: "/readyz", public: true, handler: s.readyz},
		{method: fiber.MethodPost, path: "/v1/auth/login", public: true, handler: s.login},
		{method: fiber.MethodPost, path: "/v1/auth/refresh", public: true, handler: s.refresh},
		{method: fiber.MethodGet, path: "/v1/schema", roles: model.Roles, handler: s.getSchema},
		{method: fiber.MethodPost, path: "/v1/sync/push", roles: syncRoles, handler: s.push},
		{method: fiber.MethodGet, path: "/v1/sync/pull", roles: syncRoles, handler: s.pull},
		{method: fiber.MethodGet, path: "/v1/sync/snapshot", roles: syncRoles, handler: s.snapshot},
		{method: fiber.MethodGet, path: "/v1/sync/events", roles: syncRoles, handler: s.events},
		{method: fiber.MethodPost, path: "/v1/sync/purges", roles: syncRoles, handler: s.ackPurges},
		{method: fiber.MethodPut, path: "/v1/records/:id/hold", roles: managerRoles, handler: s.setHold},
		{method: fiber.MethodDelete, path: "/v1/records/:id/hold", roles: managerRoles, handler: s.clearHold},
		{method: fiber.MethodGet, path: "/v1/admin/retention", roles: managerRoles, handler: s.retentionPlan},
		{method: fiber.MethodPost, path: "/v1/admin/retention/run", roles: adminRoles, handler: s.retentionRun},
		{method: fiber.MethodGet, path: "/v1/admin/purges", roles: managerRoles, handler: s.listPurges},
		{method: fiber.MethodGet, path: "/v1/records", roles: listRoles, handler: s.listRecords},
		{method: fiber.MethodGet, path: "/v1/records/:id", roles: recordRoles, handler: s.getRecord},
		{method: fiber.MethodGet, path: "/v1/records/:id/attachments/:digest", roles: attachmentRoles, handler: s.getAttachment},
		{method: fiber.MethodPost, path: "/v1/uploads", roles: syncRoles, handler: s.createUpload},
		{method: fiber.MethodHead, path: "/v1/uploads/:id", roles: syncRoles, handler: s.uploadOffset},
		{method: fiber.MethodPatch, path: "/v1/uploads/:id", roles: syncRoles, handler: s.appendUpload},
		{method: fiber.MethodPost, path: "/v1/uploads/:id/complete", roles: syncRoles, handler: s.completeUpload},
		{method: fiber.MethodGet, path: "/v1/audit", roles: []model.Role{model.RoleAuditor}, handler: s.listAudit},
		{method: fiber.MethodPost, path: "/v1/admin/teams", roles: adminRoles, handler: s.createTeam},
		{method: fiber.MethodGet, path: "/v1/admin/teams", roles: managerRoles, handler: s.listTeams},
		{method: fiber.MethodPost, path: "/v1/admin/users", roles: accountRoles, handler: s.createUser},
		{method: fiber.MethodGet, path: "/v1/admin/users", roles: accountRoles, handler: s.listUsers},
		{method: fiber.MethodPost, path: "/v1/admin/users/:id/disable", roles: managerRoles, handler: s.disableUser},
		{method: fiber.MethodPost, path: "/v1/admin/users/:id/enable", roles: managerRoles, handler: s.enableUser},
		{method: fiber.MethodPost, path: "/v1/admin/users/:id/password", roles: managerRoles, handler: s.setPassword},
		{method: fiber.MethodGet, path: "/v1/admin/devices", roles: accountRoles, handler: s.listDevices},
		{method: fiber.MethodPost, path: "/v1/devices/:id/revoke", roles: accountRoles, handler: s.revokeDevice},
		{method: fiber.MethodGet, path: "/v1/review/queue", roles: reviewRoles, handler: s.reviewQueue},
		{method: fiber.MethodGet, path: "/v1/review/duplicates", roles: reviewRoles, handler: s.listDuplicates},
		{method: fiber.MethodPost, path: "/v1/review/links", roles: reviewRoles, handler: s.linkRecords},
		{method: fiber.MethodGet, path: "/v1/review/links", roles: reviewRoles, handler: s.listLinks},
		{method: fiber.MethodGet, path: "/v1/stats", roles: reviewRoles, handler: s.getStats},
		{method: fiber.MethodGet, path: "/v1/export/stats", roles: reviewRoles, handler: s.exportStats},
		{method: fiber.MethodGet, path: "/v1/export/records", roles: reviewRoles, handler: s.exportRecords},
		{method: fiber.MethodGet, path: "/", public: true, handler: s.consoleIndex},
		{method: fiber.MethodGet, path: "/console/:file", public: true, handler: s.consoleFile},
		{method: fiber.MethodGet, path: "/app/", public: true, handler: s.appIndex},
		{method: fiber.MethodGet, path: "/app/:file", public: true, handler: s.appFile},
	}
}

const principalKey = "principal"

// policy authenticates the caller of a non-public route and refuses roles
// the route does not list.
func (s *Server) policy(r route) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if r.public {
			return c.Next()
		}
		p, err := s.authenticate(c)
		if err != nil {
			return err
		}
		if !s.userRate.allow(p.User) {
			return model.Errorf(model.CodeRateLimited, "Too many requests from your account; slow down and retry in a few seconds.")
		}
		if !model.HasRole(r.roles, p.Role) {
			return model.Errorf(model.CodeForbidden, "Your role (%s) may not use %s %s.", p.Role, r.method, r.path)
		}
		c.Locals(principalKey, p)
		return c.Next()
	}
}

// authenticate checks the bearer token and fills in what the access rules
// need beyond the token: a visitor's host team.
func (s *Server) authenticate(c *fiber.Ctx) (*access.Principal, error) {
	token := bearerToken(c)
	if token == "" {
		return nil, model.Errorf(model.CodeUnauthorized, "This route needs an access token: send \"Authorization: Bearer <token>\".")
	}
	p, err := s.principalOf(c.UserContext(), token)
	if err != nil {
		return nil, err
	}
	s.touch(c, p.Device)
	return p, nil
}

// touch records that the caller's device was seen, at most once per
// touchInterval per device and IP (touchThrottle): bookkeeping, so a
// failure is logged, never returned, and nothing about access depends on
// it.
func (s *Server) touch(c *fiber.Ctx, device string) {
	ip, now := clientIP(c), s.now()
	if !s.touches.due(device, ip, now) {
		return
	}
	if err := s.db.TouchDevice(c.UserContext(), device, ip, now); err != nil {
		s.log.Warn("touch device", "request_id", requestID(c), "err", err)
	}
}

// bearerToken returns the request's bearer token, "" when there is none.
func bearerToken(c *fiber.Ctx) string {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok {
		return ""
	}
	return token
}

// principalOf authenticates an access token (auth.Service.Authenticate)
// and fills in a visitor's host team.
func (s *Server) principalOf(ctx context.Context, token string) (*access.Principal, error) {
	p, err := s.auth.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	if p.Role == model.RoleVisitor {
		if st, err := s.db.Record(ctx, p.ActionWeek); err == nil {
			p.WeekHostTeam = st.Scope.HostTeam
		}
	}
	return p, nil
}

// principal returns the caller of an authenticated route.
func principal(c *fiber.Ctx) *access.Principal {
	p, _ := c.Locals(principalKey).(*access.Principal)
	return p
}
