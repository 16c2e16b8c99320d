package server

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

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
// limit applies to the body as decoded by its Content-Encoding; a
// compressed body is first expanded at most to the limit, so that a small
// body cannot expand without bound in memory. The body is read once, here,
// and kept for the handler (requestBody).
func (s *Server) limitBody(c *fiber.Ctx) error {
	limit := s.cfg.BodyLimit
	if !s.takesBigBody(c.Method(), c.Path()) {
		limit = s.cfg.SmallBodyLimit
	}
	if !decodedWithin(c, limit) {
		return model.Errorf(model.CodeBodyTooLarge, "The decoded body is larger than %d bytes, the most this route accepts.", limit)
	}
	body := c.Body()
	if n := len(body); n > limit {
		return model.Errorf(model.CodeBodyTooLarge, "The body is %d bytes; at most %d are accepted on this route.", n, limit)
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

// errBodyLimit stops a decoder at the body limit.
var errBodyLimit = errors.New("decoded body over the limit")

// decodedWithin reports whether the request body, decoded through its
// Content-Encoding as fiber's Ctx.Body decodes it (the last such header,
// encodings in the order listed, stopping at one it does not know), stays
// within limit bytes. It never holds more than limit decoded bytes of a
// layer. A body that does not decode is left to Ctx.Body to report.
func decodedWithin(c *fiber.Ctx, limit int) bool {
	headers := c.Request().Header.PeekAll(fiber.HeaderContentEncoding)
	if len(headers) == 0 {
		return true
	}
	data := c.Request().Body()
	for _, enc := range strings.Split(string(headers[len(headers)-1]), ",") {
		w := &cappedWriter{limit: limit}
		var err error
		switch strings.TrimLeft(enc, " ") {
		case fiber.StrGzip:
			_, err = fasthttp.WriteGunzip(w, data)
		case fiber.StrBr, fiber.StrBrotli:
			_, err = fasthttp.WriteUnbrotli(w, data)
		case fiber.StrDeflate:
			_, err = fasthttp.WriteInflate(w, data)
		default:
			return true
		}
		if errors.Is(err, errBodyLimit) {
			return false
		}
		if err != nil {
			return true
		}
		data = w.buf
	}
	return true
}

// cappedWriter collects at most limit bytes and fails past them.
type cappedWriter struct {
	buf   []byte
	limit int
}

func (w *cappedWriter) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) > w.limit {
		return 0, errBodyLimit
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}
