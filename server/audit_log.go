package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/sync/access"
)

// event returns an audit event of the caller of c (when authenticated).
func event(c *fiber.Ctx, action audit.Action, object, detail string) audit.Event {
	ev := audit.Event{Action: action, Object: object, Detail: detail, IP: clientIP(c)}
	if p := principal(c); p != nil {
		ev.Actor, ev.Role, ev.Device = p.User, string(p.Role), p.Device
	}
	return ev
}

// record writes events to the audit log. A failure is logged; callers that
// must not proceed unaudited use mustRecord.
func (s *Server) record(ctx context.Context, events ...audit.Event) {
	if err := s.audit.Record(ctx, events...); err != nil {
		s.log.Error("audit log write failed", "err", err)
	}
}

// mustRecord writes events or fails the request: content is never served
// without its audit entry.
func (s *Server) mustRecord(ctx context.Context, events ...audit.Event) error {
	if err := s.audit.Record(ctx, events...); err != nil {
		return &model.Error{Code: model.CodeInternal, Message: "The read could not be audited, so it was refused.", Err: err}
	}
	return nil
}

// auditsReads reports whether p's reads of kind are audited: supervisors'
// reads of identifications (DESIGN §6).
func auditsReads(p *access.Principal, kind string) bool {
	return p.Role == model.RoleSupervisor && kind == model.KindIdentification
}

const maxAuditPage = 1000

// listAudit handles GET /v1/audit?after=<seq>&limit=<n> (auditors): the
// chain in order, each entry with its hashes so it can be verified
// outside the server.
func (s *Server) listAudit(c *fiber.Ctx) error {
	after, err := strconv.ParseUint(c.Query("after", "0"), 10, 64)
	if err != nil {
		return model.Errorf(model.CodeInvalidRequest, "after must be an entry sequence number.")
	}
	limit, err := strconv.Atoi(c.Query("limit", "100"))
	if err != nil || limit < 1 {
		return model.Errorf(model.CodeInvalidRequest, "limit must be a positive integer (at most %d).", maxAuditPage)
	}
	entries, err := s.db.ScanAudit(c.UserContext(), after, min(limit, maxAuditPage))
	if err != nil {
		return err
	}
	return c.Status(http.StatusOK).JSON(fiber.Map{"entries": nonNil(entries)})
}
