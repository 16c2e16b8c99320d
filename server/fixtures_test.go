package server_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// userPassword is every fixture user's password.
const userPassword = "a long enough password"

// world is a small deployment: teams and one user per role.
type world struct {
	h       *harness
	admin   *client
	teams   map[string]string // name -> id
	clients map[string]*client
}

// newWorld creates teams and users over the admin API and logs each user in
// on its own device. users maps username -> role and team names.
func newWorld(h *harness, teams []string, users map[string]userSpec) *world {
	w := &world{h: h, admin: h.login("admin", adminPassword, ""), teams: map[string]string{}, clients: map[string]*client{}}
	for _, name := range teams {
		var t model.Team
		mustUnmarshal(h.t, w.admin.mustDo(http.StatusCreated, http.MethodPost, "/v1/admin/teams", api.CreateTeamRequest{Name: name, Region: name + " region"}), &t)
		w.teams[name] = t.ID
	}
	for name, spec := range users {
		w.addUser(name, spec)
	}
	return w
}

type userSpec struct {
	role       model.Role
	teams      []string
	actionWeek string
	validUntil time.Time
}

func (w *world) addUser(name string, spec userSpec) *client {
	req := api.CreateUserRequest{Username: name, Password: userPassword, Role: spec.role, Teams: []string{}}
	for _, t := range spec.teams {
		req.Teams = append(req.Teams, w.teams[t])
	}
	if spec.role == model.RoleVisitor {
		req.ActionWeek = spec.actionWeek
		req.ValidUntil = &spec.validUntil
	}
	w.admin.mustDo(http.StatusCreated, http.MethodPost, "/v1/admin/users", req)
	c := w.h.login(name, userPassword, "")
	w.clients[name] = c
	return c
}

// newIdentification returns the ops creating an identification of team.
func (c *client) newIdentification(id, teamID string, more ...[3]any) []json.RawMessage {
	ops := []json.RawMessage{c.op(id, model.KindIdentification, "team", "set", teamID)}
	for _, m := range more {
		ops = append(ops, c.op(id, model.KindIdentification, m[0].(string), m[1].(string), m[2]))
	}
	return ops
}
