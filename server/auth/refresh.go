package auth

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/model"
)

// Refresh exchanges a refresh token for a new pair of the same family.
// An unknown token is CodeUnauthorized; a revoked device
// CodeDeviceRevoked; a visitor whose grant ended CodeGrantExpired; a
// disabled account CodeAccountDisabled; an
// expired token CodeTokenExpired; a revoked family CodeUnauthorized, or
// CodeTokenReused if it was revoked for reuse. A token presented again
// within RefreshGrace of its use returns the pair it was exchanged for,
// unless that pair's refresh token was used already; any other reuse
// revokes the family and is CodeTokenReused. ip is recorded on the device.
func (s *Service) Refresh(ctx context.Context, refreshToken, ip string) (Session, error) {
	if err := s.ready(); err != nil {
		return Session{}, err
	}
	if !wellFormedRefresh(refreshToken) {
		return Session{}, unauthorized("The refresh token is not valid.")
	}
	hash := hashRefresh(refreshToken)
	mu := s.lockFor(hash)
	mu.Lock()
	defer mu.Unlock()
	rt, err := s.Store.RefreshToken(ctx, hash)
	if isNotFound(err) {
		return Session{}, unauthorized("The refresh token is not valid.")
	}
	if err != nil {
		return Session{}, fmt.Errorf("load refresh token: %w", err)
	}
	now := s.now()
	u, err := s.checkRefreshable(ctx, &rt, now)
	if err != nil {
		return Session{}, err
	}
	if rt.UsedAt != nil {
		return s.reused(ctx, &rt, now)
	}
	return s.rotate(ctx, &rt, &u, ip, now)
}

// lockFor returns the mutex that serialises refreshes of one token, so a
// retry racing its original gets the grace answer, not a reuse verdict.
func (s *Service) lockFor(hash string) *sync.Mutex {
	var i uint64
	if len(hash) >= 2 { // > 2 or < 2 is equivalent: a hash is 64 hex digits, one lock serialises too
		i, _ = strconv.ParseUint(hash[:2], 16, 8)
	}
	return &s.locks[i%uint64(len(s.locks))]
}

// checkRefreshable loads the token's family, device and user and refuses
// the exchange if any of them forbids it; it returns the user.
func (s *Service) checkRefreshable(ctx context.Context, rt *model.RefreshToken, now time.Time) (model.User, error) {
	c, err := s.loadChain(ctx, rt.User, rt.Device, rt.Family)
	if err != nil {
		return model.User{}, err
	}
	if err := c.deviceAndGrant(now); err != nil {
		return model.User{}, err
	}
	if err := c.accountEnabled(); err != nil {
		return model.User{}, err
	}
	if !now.Before(rt.ExpiresAt) {
		return model.User{}, model.Errorf(model.CodeTokenExpired, "The refresh token has expired; sign in again.")
	}
	if err := c.familyOpen(); err != nil {
		return model.User{}, err
	}
	return c.User, nil
}

// rotate exchanges the unused token rt for a new pair.
func (s *Service) rotate(ctx context.Context, rt *model.RefreshToken, u *model.User, ip string, now time.Time) (Session, error) {
	sess, next, err := s.mint(u, rt.Device, rt.Family, now)
	if err != nil {
		return Session{}, err
	}
	err = s.Store.UseRefreshToken(ctx, rt.Hash, next, now)
	if isCode(err, model.CodeTokenReused) {
		return Session{}, s.revokeForReuse(ctx, rt.Family, now) // lost a race
	}
	if err != nil {
		return Session{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	if s.RefreshGrace > 0 { // >= is equivalent: reused never reads the cache without a grace
		s.grace.put(rt.Hash, graceEntry{next: next.Hash, session: sess, until: now.Add(s.RefreshGrace)}, now)
	}
	s.touchDevice(ctx, rt.Device, ip, now)
	return sess, nil
}

// reused answers a used token presented again: the pair it was exchanged
// for while the grace lasts and that pair's refresh token is unused,
// otherwise the family's end.
// (Boundary and &&/|| mutants of the two conditions are equivalent: the
// cache entry ends exactly when the grace does, and holds the rt.Next of
// the exchange that made it.)
func (s *Service) reused(ctx context.Context, rt *model.RefreshToken, now time.Time) (Session, error) {
	if s.RefreshGrace > 0 && now.Sub(*rt.UsedAt) < s.RefreshGrace {
		if e, ok := s.grace.get(rt.Hash, now); ok && e.next == rt.Next {
			next, err := s.Store.RefreshToken(ctx, rt.Next)
			if err != nil && !isNotFound(err) {
				return Session{}, fmt.Errorf("load refresh token: %w", err)
			}
			if err == nil && next.UsedAt == nil {
				return e.session, nil
			}
		}
	}
	return Session{}, s.revokeForReuse(ctx, rt.Family, now)
}

// reasonReuse is the TokenFamily.Reason of a family revoked for reuse.
const reasonReuse = "reuse"

// revokeForReuse revokes family for reuse and returns CodeTokenReused.
func (s *Service) revokeForReuse(ctx context.Context, family string, now time.Time) error {
	if err := s.Store.RevokeFamily(ctx, family, reasonReuse, now); err != nil {
		return fmt.Errorf("revoke token family: %w", err)
	}
	return errTokenReused()
}

// graceEntry is the answer a used refresh token gets within the grace.
type graceEntry struct {
	next    string // hash of the refresh token it was exchanged for
	session Session
	until   time.Time
}

// graceCache maps a used refresh token's hash to its graceEntry. It lives
// in memory only: a restart ends every grace, which DESIGN §5 allows.
type graceCache struct {
	mu    sync.Mutex
	m     map[string]graceEntry
	swept time.Time
}

// put records e for the used token hash and drops lapsed entries.
func (g *graceCache) put(hash string, e graceEntry, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.m == nil {
		g.m = map[string]graceEntry{}
	}
	if now.Sub(g.swept) > time.Minute { // >= is equivalent: only memory use differs
		for h, old := range g.m {
			if !now.Before(old.until) {
				delete(g.m, h)
			}
		}
		g.swept = now
	}
	g.m[hash] = e
}

// get returns the entry of the used token hash while it lasts.
func (g *graceCache) get(hash string, now time.Time) (graceEntry, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.m[hash]
	if !ok || !now.Before(e.until) {
		return graceEntry{}, false
	}
	return e, true
}
