package main

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// world is what the run creates on the server: teams, one field worker
// (or team lead) per simulated device, each logged in on its own device,
// and a national supervisor who logs in only for the first pull.
type world struct {
	run      string // per-run prefix of names
	admin    *session
	teams    []string
	devices  []*device
	password string
	// supervisor is the username of the national supervisor.
	supervisor string
}

// teamsFor spreads devices over one to four teams of about four.
func teamsFor(devices int) int {
	return min(max((devices+3)/4, 1), 4)
}

// regions are the field teams' regions, by team.
var regions = []string{"Varna", "Sliven", "Pleven", "Burgas"}

func setupWorld(ctx context.Context, c *client, tgt *target, devices int, progress io.Writer) (*world, error) {
	w := &world{run: "load-" + randomHex(4), password: "pw-" + randomHex(12)}
	admin, err := c.login(ctx, "admin", tgt.adminPassword, w.run+" admin")
	if err != nil {
		return nil, err
	}
	w.admin = admin
	for i := range teamsFor(devices) {
		var t model.Team
		req := api.CreateTeamRequest{Name: fmt.Sprintf("%s team %d", w.run, i+1), Region: regions[i%len(regions)]}
		if err := c.call(ctx, http.MethodPost, "/v1/admin/teams", admin, req, http.StatusCreated, &t); err != nil {
			return nil, fmt.Errorf("create a team: %w", err)
		}
		w.teams = append(w.teams, t.ID)
	}
	fmt.Fprintf(progress, "setup: %s, logging in %s\n", plural(len(w.teams), "team"), plural(devices, "device"))
	for i := range devices {
		team := i % len(w.teams)
		role := model.RoleFieldWorker
		if i < len(w.teams) {
			role = model.RoleTeamLead // the first member of each team leads it
		}
		name := fmt.Sprintf("%s-worker-%03d", w.run, i+1)
		if err := w.createUser(ctx, c, name, role, []string{w.teams[team]}); err != nil {
			return nil, err
		}
		s, err := c.login(ctx, name, w.password, fmt.Sprintf("tablet %d", i+1))
		if err != nil {
			return nil, err
		}
		w.devices = append(w.devices, newDevice(i, s, w.teams[team], regions[team%len(regions)]))
	}
	w.supervisor = w.run + "-national-supervisor"
	if err := w.createUser(ctx, c, w.supervisor, model.RoleSupervisor, []string{}); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *world) createUser(ctx context.Context, c *client, name string, role model.Role, teams []string) error {
	req := api.CreateUserRequest{Username: name, Password: w.password, Role: role, Teams: teams}
	if err := c.call(ctx, http.MethodPost, "/v1/admin/users", w.admin, req, http.StatusCreated, nil); err != nil {
		return fmt.Errorf("create the user %s: %w", name, err)
	}
	return nil
}
