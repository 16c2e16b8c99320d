package server

import (
	"fmt"
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

// requestLog gives each request an id (echoed as X-Request-Id) and logs
// method, route, status and duration; never bodies, tokens or queries.
func (s *Server) requestLog(c *fiber.Ctx) error {
	s.active.Add(1)
	defer s.active.Add(-1)
	id := uuid.NewString()
	c.Locals(requestIDKey, id)
	c.Set("X-Request-Id", id)
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
// request id), so one bad request never takes the server down.
func (s *Server) recoverPanics(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic", "request_id", requestID(c), "panic", fmt.Sprint(r))
			err = &model.Error{Code: model.CodeInternal, Message: "An internal error occurred; nothing of this request was applied.", Err: fmt.Errorf("panic: %v", r)}
		}
	}()
	return c.Next()
}

// limitBody refuses bodies over the configured limit with 413
// body_too_large, having read them (so the client reads the answer).
func (s *Server) limitBody(c *fiber.Ctx) error {
	if n := len(c.Body()); n > s.cfg.BodyLimit {
		return model.Errorf(model.CodeBodyTooLarge, "The body is %d bytes; at most %d are accepted. Send fewer ops per push.", n, s.cfg.BodyLimit)
	}
	return c.Next()
}
