package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"time"

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
	s.indexAttachments(c.UserContext(), res.Applied)
	if appliedAny {
		s.changes.notify()
	}
	s.metrics.pushSeconds.Observe(time.Since(start).Seconds())
	return c.JSON(api.PushResponse{Results: res.Results, ServerHLC: res.ServerHLC.String()})
}

// decodePush parses {"ops":[...]} in one pass, keeping each op raw: the
// ops are slices of body (jsontext reads a bytes.Buffer in place), valid
// while the handler runs, so no op is copied before crdt.DecodeOp copies
// what it keeps. What is wrong inside one op (invalid UTF-8, a repeated
// key, a bad member) is left for that op's own rejection, so the outer
// parse tolerates it. It accepts exactly what unmarshalling into
// struct{ Ops []jsontext.Value } with unknown members refused would
// (TestDecodePushAsUnmarshal): a repeated "ops" replaces the earlier one.
func decodePush(body []byte, maxDepth int) ([]json.RawMessage, error) {
	if d := jsonDepth(body); d > maxDepth {
		return nil, model.Errorf(model.CodeTooDeep, "The body nests %d levels deep; at most %d are allowed.", d, maxDepth)
	}
	ops, err := splitOps(body)
	if err != nil || ops == nil {
		return nil, &model.Error{Code: model.CodeInvalidJSON, Message: "The body must be {\"ops\":[...]} and nothing else.", Err: err}
	}
	return ops, nil
}

// errNotPush is splitOps' answer to a body that is JSON of another shape.
var errNotPush = errors.New("the body is not one object with one member, ops")

// splitOps returns the raw elements of body's "ops" array (nil when ops
// is null or absent).
func splitOps(body []byte) ([]json.RawMessage, error) {
	dec := jsontext.NewDecoder(bytes.NewBuffer(body), jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, errors.Join(errNotPush, err)
	}
	var ops []json.RawMessage
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return nil, err
		}
		if name.String() != "ops" {
			return nil, errNotPush
		}
		if ops, err = readOps(dec); err != nil {
			return nil, err
		}
	}
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '}' {
		return nil, errors.Join(errNotPush, err)
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, errors.Join(errNotPush, err)
	}
	return ops, nil
}

// readOps reads the value of "ops": null (nil) or an array, whose
// elements it returns raw.
func readOps(dec *jsontext.Decoder) ([]json.RawMessage, error) {
	tok, err := dec.ReadToken()
	switch {
	case err != nil:
		return nil, err
	case tok.Kind() == 'n':
		return nil, nil
	case tok.Kind() != '[':
		return nil, errNotPush
	}
	ops := []json.RawMessage{}
	for dec.PeekKind() != ']' {
		v, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		ops = append(ops, json.RawMessage(v))
	}
	_, err = dec.ReadToken()
	return ops, err
}
