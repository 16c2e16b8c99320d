package auth

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
)

// Authenticate checks an access token and returns who it acts for. Beyond
// ParseAccess's checks, the token's family must not be revoked
// (CodeUnauthorized, or CodeTokenReused if revoked for reuse), its device
// must exist, belong to its user and not be revoked (CodeDeviceRevoked),
// its user must exist and not be disabled (CodeAccountDisabled), and a
// visitor's grant must not have ended (CodeGrantExpired). It reads the
// family, the device and the user in one Store.Chain read on every call:
// nothing about an account is cached, so revoking a device, disabling an
// account or ending a grant refuses its very next request. The caller
// fills in Principal.WeekHostTeam.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (*access.Principal, error) {
	c, err := s.ParseAccess(accessToken)
	if err != nil {
		return nil, s.wipeOrExpired(ctx, accessToken, err)
	}
	ch, err := s.loadChain(ctx, c.User, c.Device, c.Family)
	if err != nil {
		return nil, err
	}
	if err := ch.deviceAndGrant(s.now()); err != nil {
		return nil, err
	}
	if err := ch.accountEnabled(); err != nil {
		return nil, err
	}
	if err := ch.familyOpen(); err != nil {
		return nil, err
	}
	return principalOf(&ch.User, &ch.Device), nil
}

// wipeOrExpired answers an expired but authentic token with
// CodeDeviceRevoked or CodeGrantExpired when those apply, so a revoked or
// expired device learns to wipe on its next contact whatever its token's
// age; every other error is returned as it is.
func (s *Service) wipeOrExpired(ctx context.Context, token string, err error) error {
	if model.ErrorCode(err) != model.CodeTokenExpired {
		return err
	}
	var c jwtClaims
	// Defence in depth, equivalent today: a token_expired from ParseAccess
	// already passed the signature and checkAccessClaims (classifyParseError).
	if _, perr := s.parser(jwt.WithoutClaimsValidation()).ParseWithClaims(token, &c, s.keyfunc); perr != nil || checkAccessClaims(&c) != nil {
		return err
	}
	ac := accessClaimsOf(&c)
	ch, cerr := s.loadChain(ctx, ac.User, ac.Device, ac.Family)
	if cerr != nil {
		return err
	}
	if werr := ch.deviceAndGrant(s.now()); werr != nil {
		return werr
	}
	return err
}

// principalOf returns the principal of u on d.
func principalOf(u *model.User, d *model.Device) *access.Principal {
	p := &access.Principal{
		User: u.ID, Device: d.ID, Role: u.Role,
		Teams: slices.Clone(u.Teams), ActionWeek: u.ActionWeek,
	}
	if u.ValidUntil != nil {
		p.ValidUntil = *u.ValidUntil
	}
	return p
}

// chain is a token's Chain with the checks Authenticate makes on it.
type chain Chain

// loadChain reads the family, device and user a token names and checks
// they agree with each other; anything missing or mismatched is
// CodeUnauthorized.
func (s *Service) loadChain(ctx context.Context, user, device, family string) (chain, error) {
	c, err := s.Store.Chain(ctx, family, device, user)
	if err != nil {
		return chain{}, chainErr("load token chain", err)
	}
	if c.Family.User != user || c.Family.Device != device || c.Device.User != user || c.User.ID != user {
		return chain{}, errSessionEnded()
	}
	return chain(c), nil
}

// chainErr maps a missing link to CodeUnauthorized and wraps the rest.
func chainErr(what string, err error) error {
	if isNotFound(err) {
		return errSessionEnded()
	}
	return fmt.Errorf("%s: %w", what, err)
}

// deviceAndGrant refuses a revoked device or an ended visitor grant: the
// answers that make a client wipe its data, so they come first.
func (c *chain) deviceAndGrant(now time.Time) error {
	if c.Device.Revoked() {
		return errDeviceRevoked()
	}
	if grantEnded(&c.User, now) {
		return errGrantExpired()
	}
	return nil
}

// accountEnabled refuses a disabled account.
func (c *chain) accountEnabled() error {
	if c.User.Disabled() {
		return errAccountDisabled()
	}
	return nil
}

// familyOpen refuses a revoked family.
func (c *chain) familyOpen() error {
	if c.Family.RevokedAt == nil {
		return nil
	}
	if c.Family.Reason == reasonReuse {
		return errTokenReused()
	}
	return errSessionEnded()
}
