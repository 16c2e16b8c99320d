package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/server/auth"
)

// login handles POST /v1/auth/login.
func (s *Server) login(c *fiber.Ctx) error {
	var req api.LoginRequest
	if err := decodeBody(c.Body(), s.cfg.MaxDepth, &req); err != nil {
		return err
	}
	sess, err := s.auth.Login(c.UserContext(), auth.LoginRequest{
		Username: req.Username, Password: req.Password, DeviceID: req.DeviceID, DeviceName: req.DeviceName, IP: c.IP(),
	})
	if err != nil {
		s.metrics.logins.WithLabelValues("failed").Inc()
		return err
	}
	s.metrics.logins.WithLabelValues("ok").Inc()
	return c.JSON(tokenResponse(sess))
}

func tokenResponse(sess auth.Session) api.TokenResponse {
	return api.TokenResponse{
		AccessToken: sess.AccessToken, RefreshToken: sess.RefreshToken, TokenType: "Bearer",
		ExpiresIn: sess.ExpiresIn, DeviceID: sess.DeviceID, User: api.UserOf(sess.User),
	}
}
