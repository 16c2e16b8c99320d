package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
)

// refresh handles POST /v1/auth/refresh: rotates the refresh token.
func (s *Server) refresh(c *fiber.Ctx) error {
	var req api.RefreshRequest
	if err := decodeBody(requestBody(c), s.cfg.MaxDepth, &req); err != nil {
		return err
	}
	sess, err := s.auth.Refresh(c.UserContext(), req.RefreshToken, clientIP(c))
	if err != nil {
		if model.ErrorCode(err) == model.CodeTokenReused {
			s.record(c.UserContext(), audit.Event{Action: audit.ActionTokenReused, Detail: "refresh token family revoked", IP: clientIP(c)})
		}
		return err
	}
	return c.JSON(s.withTeamNames(c.UserContext(), tokenResponse(sess)))
}
