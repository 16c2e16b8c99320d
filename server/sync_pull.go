package server

import (
	"encoding/json"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// pull handles GET /v1/sync/pull?cursor=&limit=. A supervisor's page that
// serves ops of identification records is audited before it is sent: one
// records_pulled entry per page with its counts (never ids or content), so
// a full sync writes one entry per page; a page that cannot be audited is
// refused (the device retries from the same cursor).
func (s *Server) pull(c *fiber.Ctx) error {
	limit := 0
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return model.Errorf(model.CodeInvalidRequest, "limit must be an integer; it is clamped to 1..%d.", s.cfg.Limits.MaxPull)
		}
		limit = max(n, 1)
	}
	res, err := s.sync.Pull(c.UserContext(), principal(c), c.Query("cursor"), limit)
	if err != nil {
		return err
	}
	if auditsReads(principal(c), model.KindIdentification) && res.IdentificationOps > 0 {
		if err := s.mustRecord(c.UserContext(), event(c, audit.ActionRecordsPulled, "", pullDetail(res))); err != nil {
			return err
		}
	}
	ops := make([]json.RawMessage, len(res.Ops))
	for i, op := range res.Ops {
		ops[i] = op
	}
	s.metrics.pulledOps.Add(float64(len(ops)))
	return c.JSON(api.PullResponse{Ops: ops, Cursor: res.Cursor, More: res.More, Drop: res.Drop, ServerHLC: res.ServerHLC.String()})
}

// pullDetail is the audit detail of a pulled page: its counts.
func pullDetail(res protocol.PullResult) string {
	return strconv.Itoa(res.IdentificationOps) + " ops of " + strconv.Itoa(res.IdentificationRecords) + " records"
}
