package auth

import (
	"context"
	"fmt"

	"github.com/fieldsync/fieldsync/model"
)

// ProvesDevice reports whether refreshToken is the current refresh token
// of device deviceID of the user named username: issued to that user on
// that device, unused, unexpired, its family open and the device not
// revoked. The login throttle counts a proven attempt against the device
// instead of the client's address, so guesses made elsewhere never delay
// it. A token that proves nothing is false, not an error (the login goes
// on unproven); only a failing store is an error. It checks no password
// and changes nothing.
func (s *Service) ProvesDevice(ctx context.Context, username, deviceID, refreshToken string) (bool, error) {
	if err := s.ready(); err != nil {
		return false, err
	}
	if deviceID == "" || !wellFormedRefresh(refreshToken) {
		return false, nil
	}
	rt, err := s.Store.RefreshToken(ctx, hashRefresh(refreshToken))
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load refresh token: %w", err)
	}
	if rt.Device != deviceID || rt.UsedAt != nil || !s.now().Before(rt.ExpiresAt) {
		return false, nil
	}
	c, err := s.loadChain(ctx, rt.User, rt.Device, rt.Family)
	if isCode(err, model.CodeUnauthorized) {
		return false, nil // a missing or mismatched link
	}
	if err != nil {
		return false, err
	}
	return c.User.Username == username && !c.Device.Revoked() && c.Family.RevokedAt == nil, nil
}
