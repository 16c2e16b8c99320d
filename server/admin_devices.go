package server

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/audit"
	"github.com/fieldsync/fieldsync/sync/access"
)

// deviceStore is what the device endpoints need from storage.
type deviceStore interface {
	Device(ctx context.Context, id string) (model.Device, error)
	ListDevices(ctx context.Context) ([]model.Device, error)
	ListUsers(ctx context.Context) ([]model.User, error)
	User(ctx context.Context, id string) (model.User, error)
	RevokeDevice(ctx context.Context, id, by string, at time.Time) (model.Device, error)
}

// devicesAndUsers returns every device and every account by id.
func (s *Server) devicesAndUsers(ctx context.Context) ([]model.Device, map[string]*model.User, error) {
	devices, err := s.db.ListDevices(ctx)
	if err != nil {
		return nil, nil, err
	}
	users, err := s.db.ListUsers(ctx)
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[string]*model.User, len(users))
	for i := range users {
		byID[users[i].ID] = &users[i]
	}
	return devices, byID, nil
}

// listDevices handles GET /v1/admin/devices: each device with its user,
// last sync, last IP and state; every device for an admin, for anyone
// else its own devices and those of the accounts it manages.
func (s *Server) listDevices(c *fiber.Ctx) error {
	ctx := c.UserContext()
	devices, byID, err := s.devicesAndUsers(ctx)
	if err != nil {
		return err
	}
	p, accountOf := principal(c), s.accountResolver(ctx)
	out := make([]api.Device, 0, len(devices))
	for _, d := range devices {
		u := byID[d.User]
		if p.Role != model.RoleAdmin && (u == nil || !access.ManagesDevice(p, accountOf(u))) {
			continue
		}
		out = append(out, servedDevice(d, u))
	}
	return c.JSON(fiber.Map{"devices": out})
}

// servedDevice returns the served form of d, whose user is u (nil when
// unknown).
func servedDevice(d model.Device, u *model.User) api.Device {
	state := "active"
	if d.Revoked() {
		state = "revoked"
	}
	name := ""
	if u != nil {
		name = u.Username
	}
	return api.Device{Device: d, Username: name, State: state}
}

// revokeDevice handles POST /v1/devices/:id/revoke: admins revoke any
// device; supervisors and team leads their own devices and those of the
// accounts they manage (access.ManagesDevice); any other device answers
// exactly like one that does not exist. The device's tokens die at once;
// its next request is told to wipe.
func (s *Server) revokeDevice(c *fiber.Ctx) error {
	id := c.Params("id")
	if !model.ValidID(id) {
		return model.Errorf(model.CodeInvalidID, "The device id must be a UUID in canonical lowercase form.")
	}
	p := principal(c)
	owner, err := s.managedDeviceOwner(c.UserContext(), p, id)
	if err != nil {
		return err
	}
	d, err := s.db.RevokeDevice(c.UserContext(), id, p.User, s.now().UTC())
	if err != nil {
		return err
	}
	s.streams.recheckDevice(id)
	s.log.Warn("device revoked", "device", id, "by", p.User)
	s.record(c.UserContext(), event(c, audit.ActionDeviceRevoked, id, d.User))
	return c.JSON(servedDevice(d, owner))
}

// managedDeviceOwner returns the owner of device id if p may revoke it,
// and otherwise the not_found answer a device that does not exist gets.
func (s *Server) managedDeviceOwner(ctx context.Context, p *access.Principal, id string) (*model.User, error) {
	noDevice := model.Errorf(model.CodeNotFound, "There is no device %s you may revoke.", id)
	d, err := s.db.Device(ctx, id)
	if model.ErrorCode(err) == model.CodeNotFound {
		return nil, noDevice
	}
	if err != nil {
		return nil, err
	}
	u, err := s.db.User(ctx, d.User)
	if model.ErrorCode(err) == model.CodeNotFound {
		if p.Role == model.RoleAdmin {
			return nil, nil
		}
		return nil, noDevice
	}
	if err != nil {
		return nil, err
	}
	if !access.ManagesDevice(p, s.accountResolver(ctx)(&u)) {
		return nil, noDevice
	}
	return &u, nil
}
