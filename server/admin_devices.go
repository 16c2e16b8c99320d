package server

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/sync/access"
)

// listDevices handles GET /v1/admin/devices: each device with its user,
// last sync, last IP and state.
func (s *Server) listDevices(c *fiber.Ctx) error {
	devices, err := s.db.ListDevices(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]api.Device, 0, len(devices))
	for _, d := range devices {
		out = append(out, s.servedDevice(c.UserContext(), d))
	}
	return c.JSON(fiber.Map{"devices": out})
}

func (s *Server) servedDevice(ctx context.Context, d model.Device) api.Device {
	state := "active"
	if d.Revoked() {
		state = "revoked"
	}
	name := ""
	if u, err := s.db.User(ctx, d.User); err == nil {
		name = u.Username
	}
	return api.Device{Device: d, Username: name, State: state}
}

// revokeDevice handles POST /v1/devices/:id/revoke: admins and supervisors
// revoke any device, team leads those of their teams' members. The device's
// tokens die at once; its next request is told to wipe.
func (s *Server) revokeDevice(c *fiber.Ctx) error {
	id := c.Params("id")
	if !model.ValidID(id) {
		return model.Errorf(model.CodeInvalidID, "The device id must be a UUID in canonical lowercase form.")
	}
	p := principal(c)
	d, err := s.db.Device(c.UserContext(), id)
	if err != nil {
		return err
	}
	if p.Role == model.RoleTeamLead && !s.leadsUserOf(c.UserContext(), p, d) {
		return model.Errorf(model.CodeNotFound, "There is no device %s you may revoke.", id)
	}
	d, err = s.db.RevokeDevice(c.UserContext(), id, p.User, s.now().UTC())
	if err != nil {
		return err
	}
	s.streams.recheckDevice(id)
	s.log.Warn("device revoked", "device", id, "by", p.User)
	s.record(c.UserContext(), event(c, audit.ActionDeviceRevoked, id, d.User))
	return c.JSON(s.servedDevice(c.UserContext(), d))
}

// leadsUserOf reports whether team lead p shares a team with d's user.
func (s *Server) leadsUserOf(ctx context.Context, p *access.Principal, d model.Device) bool {
	u, err := s.db.User(ctx, d.User)
	if err != nil {
		return false
	}
	for _, t := range u.Teams {
		if p.InTeam(t) {
			return true
		}
	}
	return false
}
