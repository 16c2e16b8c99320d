package server

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/model"
)

const requestIDKey = "request_id"

// requestID returns the id the request log and error logs carry.
func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey).(string)
	return id
}

// requestLog gives each request an id (echoed as X-Request-Id), marks
// every answer Cache-Control: no-store, and logs
// method, route, status and duration; never bodies, tokens or queries.
func (s *Server) requestLog(c *fiber.Ctx) error {
	s.active.Add(1)
	defer s.active.Add(-1)
	id := uuid.NewString()
	c.Locals(requestIDKey, id)
	c.Set("X-Request-Id", id)
	// Answers carry records, accounts, figures and tokens: no cache may
	// keep them (the console's static files say otherwise for themselves).
	c.Set(fiber.HeaderCacheControl, "no-store")
	start := time.Now()
	err := c.Next()
	if err != nil {
		if herr := s.handleError(c, err); herr != nil {
			return herr
		}
	}
	status := c.Response().StatusCode()
	route := c.Route().Path
	s.metrics.observeRequest(c.Method(), route, status, time.Since(start))
	s.log.Info("request", "request_id", id, "method", c.Method(), "route", route, "status", status, "duration", time.Since(start).Round(time.Microsecond))
	return nil
}

// recoverPanics turns a panic into a 500 internal error (logged with the
// request id and the stack), so one bad request never takes the server
// down. The panic's value is not logged: it may hold record content.
func (s *Server) recoverPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic", "request_id", requestID(c), "panic_type", fmt.Sprintf("%T", r), "stack", string(debug.Stack()))
			err = &model.Error{Code: model.CodeInternal, Message: "An internal error occurred; nothing of this request was applied.", Err: fmt.Errorf("panic of type %T", r)}
		}
	}()
	return c.Next()
}

const bodyKey = "body"

// limitBody refuses bodies over the route's limit (the body limit for a
// push, the small body limit elsewhere) with 413
// body_too_large, having read them (so the client reads the answer). The
// limit applies to the body as sent and as decoded by its
// Content-Encoding; a compressed body is expanded once, at most to the
// limit (decodeRequestBody), so that a small body cannot expand without
// bound in memory. The decoded body is kept for the handler (requestBody).
func (s *Server) limitBody(c *fiber.Ctx) error {
	limit := s.cfg.BodyLimit
	if !s.takesBigBody(c.Method(), c.Path()) {
		limit = s.cfg.SmallBodyLimit
	}
	body, err := decodeRequestBody(c.Request(), limit)
	if err != nil {
		return err
	}
	c.Locals(bodyKey, body)
	return c.Next()
}

// requestBody returns the body limitBody read, decoded. It is a copy (the
// app is Immutable), so a handler may keep it.
func requestBody(c *fiber.Ctx) []byte {
	body, _ := c.Locals(bodyKey).([]byte)
	return body
}
