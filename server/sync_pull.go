package server

import (
	"encoding/json"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// pull handles GET /v1/sync/pull?cursor=&limit=.
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
	ops := make([]json.RawMessage, len(res.Ops))
	for i, op := range res.Ops {
		ops[i] = op
	}
	s.metrics.pulledOps.Add(float64(len(ops)))
	return c.JSON(api.PullResponse{Ops: ops, Cursor: res.Cursor, More: res.More, Drop: res.Drop, ServerHLC: res.ServerHLC.String()})
}
