package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// push handles POST /v1/sync/push. A 200 means every applied op is durable.
func (s *Server) push(c *fiber.Ctx) error {
	start := time.Now()
	var req api.PushRequest
	if err := decodeBody(c.Body(), s.cfg.MaxDepth, &req); err != nil {
		if model.ErrorCode(err) == model.CodeInvalidRequest {
			return &model.Error{Code: model.CodeInvalidJSON, Message: "The body must be {\"ops\":[...]} and nothing else.", Err: err}
		}
		return err
	}
	if req.Ops == nil {
		return model.Errorf(model.CodeInvalidJSON, "The body must be {\"ops\":[...]}.")
	}
	res, err := s.sync.Push(c.UserContext(), principal(c), req.Ops)
	if err != nil {
		return err
	}
	appliedAny := false
	var events []audit.Event
	for _, r := range res.Results {
		s.metrics.ops.WithLabelValues(string(r.Status), string(r.Code)).Inc()
		appliedAny = appliedAny || r.Status == protocol.StatusApplied
		if r.Status == protocol.StatusRejected {
			events = append(events, event(c, audit.ActionOpRejected, r.ID, string(r.Code)))
		}
	}
	for _, op := range res.Redactions {
		events = append(events, event(c, audit.ActionRedaction, op.Record, "entry "+op.Base[0]+" of "+op.Field))
	}
	s.record(c.UserContext(), events...)
	if appliedAny {
		s.changes.notify()
	}
	s.metrics.pushSeconds.Observe(time.Since(start).Seconds())
	return c.JSON(api.PushResponse{Results: res.Results, ServerHLC: res.ServerHLC.String()})
}
