package fieldsync

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/api"
)

// session is what Login and refresh leave: the tokens and the user. The
// user outlives the tokens, so the device keeps writing offline after the
// session ended and syncs again after the next Login.
type session struct {
	AccessToken  string   `json:"access_token,omitempty"`
	RefreshToken string   `json:"refresh_token,omitempty"`
	User         api.User `json:"user"`
	// TeamNames names the user's teams, by id, as the server last said.
	TeamNames map[string]string `json:"team_names,omitempty"`
}

func loadSession(b *badger.Txn) (session, error) {
	var s session
	data, err := getValue(b, []byte(keySession))
	if err != nil || data == nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("decode session: %w", err)
	}
	return s, nil
}

// Login signs username in on this device (registering the device at the
// server on first use) and keeps the session, durably, until it ends.
// Network errors are retried like Sync's. It
// is needed once: the session survives restarts and is refreshed as its
// access tokens expire. A directory belongs to one user; the server
// refuses another user's login on this device with forbidden.
func (c *Client) Login(ctx context.Context, username, password string) (api.User, error) {
	if err := c.enter(); err != nil {
		return api.User{}, err
	}
	u, err := c.login(ctx, username, password)
	c.leave()
	if err != nil {
		return api.User{}, fmt.Errorf("log in: %w", c.finish(err))
	}
	return u, nil
}

func (c *Client) login(ctx context.Context, username, password string) (api.User, error) {
	ctx, cancel := c.bind(ctx)
	defer cancel()
	c.authMu.Lock()
	defer c.authMu.Unlock()
	req := api.LoginRequest{Username: username, Password: password, DeviceID: c.device, DeviceName: c.opt.DeviceName}
	var tr api.TokenResponse
	err := c.retry(ctx, "login", func(ctx context.Context) (int, error) {
		return 0, c.call(ctx, http.MethodPost, "/v1/auth/login", req, &tr, false)
	})
	if err != nil {
		return api.User{}, err
	}
	if tr.DeviceID != c.device {
		return api.User{}, fmt.Errorf("the server registered device %s, not this device %s", tr.DeviceID, c.device)
	}
	if old, ok := c.user(); ok && old.ID != tr.User.ID {
		return api.User{}, fmt.Errorf("this replica belongs to user %s; %s cannot use it", old.Username, tr.User.Username)
	}
	if err := c.saveSession(session{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken, User: tr.User, TeamNames: tr.TeamNames}); err != nil {
		return api.User{}, err
	}
	c.log.Info("logged in", "user", tr.User.ID, "role", tr.User.Role, "device", c.device)
	c.wake()
	return tr.User, nil
}

// refresh exchanges the refresh token for a new pair after failed (the
// access token a request was refused with) expired. If another goroutine
// refreshed meanwhile it returns at once. A refused refresh ends the
// session (ErrLoginRequired) unless it orders a wipe.
func (c *Client) refresh(ctx context.Context, failed string) error {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	c.sessMu.RLock()
	s := c.sess
	c.sessMu.RUnlock()
	if s.AccessToken != failed {
		return nil
	}
	if s.RefreshToken == "" {
		return c.noSessionError()
	}
	var tr api.TokenResponse
	err := c.call(ctx, http.MethodPost, "/v1/auth/refresh", api.RefreshRequest{RefreshToken: s.RefreshToken}, &tr, false)
	if err != nil {
		if isTransient(err) || isWipe(err) || ctx.Err() != nil {
			return fmt.Errorf("refresh session: %w", err)
		}
		c.log.Warn("session ended", "code", apiCode(err))
		if serr := c.saveSession(session{User: s.User, TeamNames: s.TeamNames}); serr != nil {
			return serr
		}
		return fmt.Errorf("refresh session: %w: %w", ErrLoginRequired, err)
	}
	c.log.Debug("session refreshed", "user", tr.User.ID)
	names := tr.TeamNames
	if names == nil {
		names = s.TeamNames // a server that does not send them
	}
	return c.saveSession(session{AccessToken: tr.AccessToken, RefreshToken: tr.RefreshToken, User: tr.User, TeamNames: names})
}

// Team is one of the user's teams.
type Team struct {
	ID   string
	Name string // "" when the server did not name it
}

// Teams returns the logged-in user's teams (kept after the session ends,
// so a device can name and check them offline), sorted by name, then id.
// It is empty before the first Login, and for roles without teams.
func (c *Client) Teams() []Team {
	c.sessMu.RLock()
	defer c.sessMu.RUnlock()
	teams := make([]Team, 0, len(c.sess.User.Teams))
	for _, id := range c.sess.User.Teams {
		teams = append(teams, Team{ID: id, Name: c.sess.TeamNames[id]})
	}
	slices.SortFunc(teams, func(a, b Team) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return teams
}

// saveSession persists s (synced to disk) before using it: a rotated refresh
// token must never exist only in memory.
func (c *Client) saveSession(s session) error {
	data, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	if err := c.db.Update(func(b *badger.Txn) error { return b.Set([]byte(keySession), data) }); err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	if err := c.syncStore(); err != nil {
		return err
	}
	c.sessMu.Lock()
	c.sess = s
	c.sessMu.Unlock()
	return nil
}

// user returns the logged-in user (kept after the session ended).
func (c *Client) user() (api.User, bool) {
	c.sessMu.RLock()
	defer c.sessMu.RUnlock()
	return c.sess.User, c.sess.User.ID != ""
}

func (c *Client) accessToken() string {
	c.sessMu.RLock()
	defer c.sessMu.RUnlock()
	return c.sess.AccessToken
}
