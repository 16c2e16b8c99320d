package server

import "github.com/gofiber/fiber/v2"

// getSchema handles GET /v1/schema: the declarative schema and the
// indicator catalogue.
func (s *Server) getSchema(c *fiber.Ctx) error {
	return c.JSON(s.schema)
}
