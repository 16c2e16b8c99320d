package server

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/server/auth"
)

// login handles POST /v1/auth/login. The login throttle (loginThrottle)
// decides before the password is checked, from counters that do not
// depend on whether the username exists.
func (s *Server) login(c *fiber.Ctx) error {
	var req api.LoginRequest
	if err := decodeBody(requestBody(c), s.cfg.MaxDepth, &req); err != nil {
		return err
	}
	if err := checkLoginStrings(&req); err != nil {
		return err
	}
	ip := clientIP(c)
	key, err := s.loginKeyOf(c.UserContext(), &req, clientOf(c))
	if err != nil {
		return err
	}
	if v := s.loginThrottle.admit(key); v.wait > 0 {
		return s.loginRefused(c, &req, ip, v)
	}
	sess, err := s.auth.Login(c.UserContext(), auth.LoginRequest{
		Username: req.Username, Password: req.Password, DeviceID: req.DeviceID, DeviceName: req.DeviceName, IP: ip,
	})
	if err != nil {
		s.loginFailed(c.UserContext(), &req, ip, key, err)
		return err
	}
	s.loginThrottle.succeeded(key)
	s.record(c.UserContext(), audit.Event{Actor: sess.User.ID, Role: string(sess.User.Role), Device: sess.DeviceID, Action: audit.ActionLogin, IP: ip})
	s.metrics.logins.WithLabelValues("ok").Inc()
	return c.JSON(s.withTeamNames(c.UserContext(), tokenResponse(sess)))
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

// loginKeyOf returns the throttle counters of an attempt: its username
// with the device its refresh token proves, or else with the client's
// address.
func (s *Server) loginKeyOf(ctx context.Context, req *api.LoginRequest, client netip.Addr) (loginKey, error) {
	if req.RefreshToken != "" {
		proven, err := s.auth.ProvesDevice(ctx, req.Username, req.DeviceID, req.RefreshToken)
		if err != nil {
			return loginKey{}, fmt.Errorf("check device proof: %w", err)
		}
		if proven {
			return newLoginKey(req.Username, "device:"+req.DeviceID, true), nil
		}
	}
	return newLoginKey(req.Username, addressKey(client), false), nil
}

// loginFailed audits a failed attempt and what the throttle made of it.
func (s *Server) loginFailed(ctx context.Context, req *api.LoginRequest, ip string, key loginKey, err error) {
	s.metrics.logins.WithLabelValues("failed").Inc()
	events := []audit.Event{{Action: audit.ActionLoginFailed, Object: req.Username, Detail: string(model.ErrorCode(err)), IP: ip}}
	f := s.loginThrottle.failed(key)
	if f.delay > 0 {
		events = append(events, audit.Event{Action: audit.ActionLoginThrottled, Object: req.Username, Detail: "delay " + f.delay.String(), IP: ip})
	}
	if f.addrFull {
		events = append(events, audit.Event{Action: audit.ActionLoginThrottled, Detail: "address limit", IP: ip})
	}
	s.record(ctx, events...)
}

// loginRefused answers an attempt the throttle refused: 429 rate_limited
// with Retry-After, the same for every username, existing or not. The
// first refusal of each wait is audited.
func (s *Server) loginRefused(c *fiber.Ctx, req *api.LoginRequest, ip string, v throttleVerdict) error {
	s.metrics.logins.WithLabelValues("throttled").Inc()
	secs := retryAfterSeconds(v.wait)
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
	if v.addr {
		if v.report {
			s.record(c.UserContext(), audit.Event{Action: audit.ActionLoginRefused, Object: req.Username, Detail: "address", IP: ip})
		}
		return model.Errorf(model.CodeRateLimited, "Too many failed logins came from this network address; try again in %s.", seconds(secs))
	}
	if v.report {
		s.record(c.UserContext(), audit.Event{Action: audit.ActionLoginRefused, Object: req.Username, Detail: "user and client", IP: ip})
	}
	return model.Errorf(model.CodeRateLimited, "Too many failed logins for this username from here; try again in %s.", seconds(secs))
}

// retryAfterSeconds rounds a wait up to whole seconds (at least one).
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// seconds says a wait of n seconds in words (minutes from two on).
func seconds(n int) string {
	switch {
	case n == 1:
		return "1 second"
	case n < 120:
		return strconv.Itoa(n) + " seconds"
	}
	return strconv.Itoa((n+59)/60) + " minutes"
}

// withTeamNames adds the names of the user's teams to a token response, so
// a device can name them offline. A team that cannot be read is left out.
func (s *Server) withTeamNames(ctx context.Context, tr api.TokenResponse) api.TokenResponse {
	for _, id := range tr.User.Teams {
		t, err := s.db.Team(ctx, id)
		if err != nil {
			continue
		}
		if tr.TeamNames == nil {
			tr.TeamNames = map[string]string{}
		}
		tr.TeamNames[id] = t.Name
	}
	return tr
}

func tokenResponse(sess auth.Session) api.TokenResponse {
	return api.TokenResponse{
		AccessToken: sess.AccessToken, RefreshToken: sess.RefreshToken, TokenType: "Bearer",
		ExpiresIn: sess.ExpiresIn, DeviceID: sess.DeviceID, User: api.UserOf(sess.User),
	}
}
