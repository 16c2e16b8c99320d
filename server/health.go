package server

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// healthStore is what readiness needs from storage: a read that works.
type healthStore interface {
	LastSeq(ctx context.Context) (uint64, error)
}

// healthz handles GET /healthz: the process is up.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(api.Health{Status: "ok"})
}

// readyz handles GET /readyz: the store answers and the server is not
// shutting down.
func (s *Server) readyz(c *fiber.Ctx) error {
	select {
	case <-s.shutdown:
		return model.Errorf(model.CodeUnavailable, "The server is shutting down.")
	default:
	}
	if _, err := s.db.LastSeq(c.UserContext()); err != nil {
		return &model.Error{Code: model.CodeUnavailable, Message: "The store is not available.", Err: err}
	}
	return c.JSON(api.Health{Status: "ready"})
}
