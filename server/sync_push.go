package server

import (
	"encoding/json"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// push handles POST /v1/sync/push. A 200 means every applied op is durable.
func (s *Server) push(c *fiber.Ctx) error {
	start := time.Now()
	ops, err := decodePush(requestBody(c), s.cfg.MaxDepth)
	if err != nil {
		return err
	}
	res, err := s.sync.Push(c.UserContext(), principal(c), ops)
	if err != nil {
		return err
	}
	appliedAny := false
	var events []audit.Event
	// Counted per outcome, added once per push: a push is usually all
	// applied.
	type outcome struct {
		status protocol.Status
		code   model.Code
	}
	counts := map[outcome]int{}
	for _, r := range res.Results {
		counts[outcome{r.Status, r.Code}]++
		appliedAny = appliedAny || r.Status == protocol.StatusApplied
		if r.Status == protocol.StatusRejected {
			events = append(events, event(c, audit.ActionOpRejected, r.ID, string(r.Code)))
		}
	}
	for o, n := range counts {
		s.metrics.ops.WithLabelValues(string(o.status), string(o.code)).Add(float64(n))
	}
	for _, op := range res.Applied {
		if op.Action == model.ActionRedact {
			events = append(events, event(c, audit.ActionRedaction, op.Record, "entry "+op.Base[0]+" of "+op.Field))
		}
	}
	s.record(c.UserContext(), events...)
	if appliedAny {
		s.changes.notify()
	}
	s.metrics.pushSeconds.Observe(time.Since(start).Seconds())
	return c.JSON(api.PushResponse{Results: res.Results, ServerHLC: res.ServerHLC.String()})
}

// decodePush parses {"ops":[...]} in one pass, keeping each op raw. What is
// wrong inside one op (invalid UTF-8, a repeated key, a bad member) is left
// for that op's own rejection, so the outer parse tolerates it.
func decodePush(body []byte, maxDepth int) ([]json.RawMessage, error) {
	if d := jsonDepth(body); d > maxDepth {
		return nil, model.Errorf(model.CodeTooDeep, "The body nests %d levels deep; at most %d are allowed.", d, maxDepth)
	}
	var req struct {
		Ops []jsontext.Value `json:"ops"`
	}
	err := jsonv2.Unmarshal(body, &req, jsonv2.RejectUnknownMembers(true), jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
	if err != nil || req.Ops == nil {
		return nil, &model.Error{Code: model.CodeInvalidJSON, Message: "The body must be {\"ops\":[...]} and nothing else.", Err: err}
	}
	ops := make([]json.RawMessage, len(req.Ops))
	for i, op := range req.Ops {
		ops[i] = json.RawMessage(op)
	}
	return ops, nil
}
