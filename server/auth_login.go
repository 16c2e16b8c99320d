package server

import (
	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/auth"
)

// login handles POST /v1/auth/login.
func (s *Server) login(c *fiber.Ctx) error {
	var req api.LoginRequest
	if err := decodeBody(requestBody(c), s.cfg.MaxDepth, &req); err != nil {
		return err
	}
	if err := checkLoginStrings(&req); err != nil {
		return err
	}
	userKey, ipKey := "user:"+req.Username, "ip:"+c.IP()
	if err := s.loginAllowed(userKey, ipKey); err != nil {
		return err
	}
	sess, err := s.auth.Login(c.UserContext(), auth.LoginRequest{
		Username: req.Username, Password: req.Password, DeviceID: req.DeviceID, DeviceName: req.DeviceName, IP: c.IP(),
	})
	if err != nil {
		s.metrics.logins.WithLabelValues("failed").Inc()
		if model.ErrorCode(err) == model.CodeInvalidCredentials {
			s.loginLock.fail(userKey)
			s.loginLock.fail(ipKey)
		}
		s.record(c.UserContext(), audit.Event{Action: audit.ActionLoginFailed, Object: req.Username, Detail: string(model.ErrorCode(err)), IP: c.IP()})
		return err
	}
	s.loginLock.succeed(userKey)
	s.record(c.UserContext(), audit.Event{Actor: sess.User.ID, Role: string(sess.User.Role), Device: sess.DeviceID, Action: audit.ActionLogin, IP: c.IP()})
	s.metrics.logins.WithLabelValues("ok").Inc()
	return c.JSON(tokenResponse(sess))
}

// checkLoginStrings bounds a login's strings before anything (the lockout
// table, the device list) keeps them.
func checkLoginStrings(req *api.LoginRequest) error {
	if err := model.CheckName("username", req.Username, model.MaxUsernameLength); err != nil {
		return err
	}
	if len(req.Password) > 4*model.MaxPasswordLength {
		return model.Errorf(model.CodeInvalidRequest, "password may be at most %d characters.", model.MaxPasswordLength)
	}
	return model.CheckName("device_name", req.DeviceName, model.MaxDeviceNameLength)
}

// loginAllowed refuses a login while the username or the IP is locked out
// after repeated failures, or while the IP sends logins too fast.
func (s *Server) loginAllowed(userKey, ipKey string) error {
	for _, key := range []string{userKey, ipKey} {
		if locked, left := s.loginLock.locked(key); locked {
			return model.Errorf(model.CodeRateLimited, "Too many failed logins; try again in %d minutes.", int(left.Minutes())+1)
		}
	}
	if !s.loginRate.allow(ipKey) {
		return model.Errorf(model.CodeRateLimited, "Too many login attempts from this address; wait a minute.")
	}
	return nil
}

func tokenResponse(sess auth.Session) api.TokenResponse {
	return api.TokenResponse{
		AccessToken: sess.AccessToken, RefreshToken: sess.RefreshToken, TokenType: "Bearer",
		ExpiresIn: sess.ExpiresIn, DeviceID: sess.DeviceID, User: api.UserOf(sess.User),
	}
}
