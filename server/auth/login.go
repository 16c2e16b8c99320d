package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/model"
)

// LoginRequest is one login attempt.
type LoginRequest struct {
	Username string
	Password string
	// DeviceID is the device logging in; "" registers a new one.
	DeviceID string
	// DeviceName names a newly registered device.
	DeviceName string
	// IP is the client's address, recorded on the device.
	IP string
}

// deviceToucher is implemented by stores that can record a device's last
// use without a read-modify-write (which could undo a concurrent revoke).
// Auth records it only where the store offers this.
type deviceToucher interface {
	TouchDevice(ctx context.Context, id, ip string, at time.Time) error
}

// Login checks a username and password and starts a new token family on
// the request's device. A wrong username or password is
// CodeInvalidCredentials (the same answer, at the same cost); a visitor
// whose grant ended is CodeGrantExpired; a non-canonical DeviceID is
// CodeInvalidID; another user's device is CodeForbidden; a revoked device
// is CodeDeviceRevoked. An empty or unknown DeviceID registers the device
// to this user.
func (s *Service) Login(ctx context.Context, req LoginRequest) (Session, error) {
	if err := s.ready(); err != nil {
		return Session{}, err
	}
	if req.DeviceID != "" && !model.ValidID(req.DeviceID) {
		return Session{}, model.Errorf(model.CodeInvalidID, "device_id must be a UUID in canonical lowercase form.")
	}
	u, err := s.checkCredentials(ctx, req.Username, req.Password)
	if err != nil {
		return Session{}, err
	}
	if u.Disabled() { // told only to who knows the password
		return Session{}, errAccountDisabled()
	}
	now := s.now()
	if grantEnded(&u, now) {
		return Session{}, errGrantExpired()
	}
	dev, err := s.loginDevice(ctx, &u, req, now)
	if err != nil {
		return Session{}, err
	}
	return s.startFamily(ctx, &u, dev.ID, now)
}

// checkCredentials returns the user named username if pw is their
// password. Every failure costs one argon2id verification.
func (s *Service) checkCredentials(ctx context.Context, username, pw string) (model.User, error) {
	u, err := s.Store.UserByName(ctx, username)
	if isNotFound(err) || err == nil && u.PasswordHash == "" {
		burnDummy(pw)
		return model.User{}, errInvalidCredentials()
	}
	if err != nil {
		return model.User{}, fmt.Errorf("load user: %w", err)
	}
	ok, err := VerifyPassword(u.PasswordHash, pw)
	if err != nil {
		return model.User{}, fmt.Errorf("check password of user %s: %w", u.ID, err)
	}
	if !ok {
		return model.User{}, errInvalidCredentials()
	}
	return u, nil
}

// grantEnded reports whether u is a visitor whose grant has ended at now
// (a visitor without a valid_until has none).
func grantEnded(u *model.User, now time.Time) bool {
	return u.Role == model.RoleVisitor && (u.ValidUntil == nil || !now.Before(*u.ValidUntil))
}

// loginDevice returns the device of a login: the request's own device if
// it is u's and not revoked, or a newly registered one.
func (s *Service) loginDevice(ctx context.Context, u *model.User, req LoginRequest, now time.Time) (model.Device, error) {
	id := req.DeviceID
	if id == "" {
		var err error
		if id, err = newID(); err != nil {
			return model.Device{}, err
		}
	} else {
		d, err := s.Store.Device(ctx, id)
		if err == nil {
			return d, s.reuseDevice(ctx, &d, u, req.IP, now)
		}
		if !isNotFound(err) {
			return model.Device{}, fmt.Errorf("load device: %w", err)
		}
	}
	d := model.Device{ID: id, User: u.ID, Name: req.DeviceName, CreatedAt: now, LastSeen: now, LastIP: req.IP}
	if err := s.Store.PutDevice(ctx, d); err != nil {
		return model.Device{}, fmt.Errorf("register device: %w", err)
	}
	return d, nil
}

// reuseDevice checks that an existing device may log in for u, and
// records its use.
func (s *Service) reuseDevice(ctx context.Context, d *model.Device, u *model.User, ip string, now time.Time) error {
	if d.User != u.ID {
		return model.Errorf(model.CodeForbidden, "This device is registered to another user.")
	}
	if d.Revoked() {
		return errDeviceRevoked()
	}
	s.touchDevice(ctx, d.ID, ip, now)
	return nil
}

// touchDevice records a device's last use if the store can do so safely.
// It is bookkeeping: a failure does not fail the login or refresh.
func (s *Service) touchDevice(ctx context.Context, id, ip string, now time.Time) {
	if t, ok := s.Store.(deviceToucher); ok {
		_ = t.TouchDevice(ctx, id, ip, now)
	}
}

// startFamily stores a new token family for u on device and its first
// token pair.
func (s *Service) startFamily(ctx context.Context, u *model.User, device string, now time.Time) (Session, error) {
	id, err := newID()
	if err != nil {
		return Session{}, err
	}
	fam := model.TokenFamily{ID: id, User: u.ID, Device: device, CreatedAt: now}
	if err := s.Store.PutFamily(ctx, fam); err != nil {
		return Session{}, fmt.Errorf("store token family: %w", err)
	}
	sess, rt, err := s.mint(u, device, fam.ID, now)
	if err != nil {
		return Session{}, err
	}
	if err := s.Store.PutRefreshToken(ctx, rt); err != nil {
		return Session{}, fmt.Errorf("store refresh token: %w", err)
	}
	return sess, nil
}

// mint makes a token pair of family for u on device; the caller stores
// the returned refresh token.
func (s *Service) mint(u *model.User, device, family string, now time.Time) (Session, model.RefreshToken, error) {
	refresh, hash, err := newRefreshToken()
	if err != nil {
		return Session{}, model.RefreshToken{}, err
	}
	at, err := s.issueAccess(u.ID, device, family, now)
	if err != nil {
		return Session{}, model.RefreshToken{}, err
	}
	rt := model.RefreshToken{
		Hash: hash, Family: family, User: u.ID, Device: device,
		IssuedAt: now, ExpiresAt: now.Add(s.refreshTTL()),
	}
	user := *u
	user.PasswordHash = ""
	sess := Session{
		AccessToken: at, RefreshToken: refresh, ExpiresIn: int(s.accessTTL() / time.Second),
		DeviceID: device, User: user,
	}
	return sess, rt, nil
}

// newID returns a new lowercase UUIDv7.
func newID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	return id.String(), nil
}
