package server_test

import (
	"net/http"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// TestLoginAndRefreshNameTheUsersTeams: login and refresh answer
// team_names, the names of exactly the user's teams (a device names them
// and checks a team offline); a user without teams gets none.
func TestLoginAndRefreshNameTheUsersTeams(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north", "south"}, map[string]userSpec{
		"ana":    {role: model.RoleFieldWorker, teams: []string{"north"}},
		"auditi": {role: model.RoleAuditor},
	})
	_, status, body := h.tryLogin("ana", userPassword, "")
	if status != http.StatusOK {
		t.Fatalf("login: %d %s", status, body)
	}
	var tr api.TokenResponse
	mustUnmarshal(t, body, &tr)
	if len(tr.TeamNames) != 1 || tr.TeamNames[w.teams["north"]] != "north" {
		t.Fatalf("login team_names = %v, want only north", tr.TeamNames)
	}
	var refreshed api.TokenResponse
	status, body = h.do(http.MethodPost, "/v1/auth/refresh", "", api.RefreshRequest{RefreshToken: tr.RefreshToken})
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %s", status, body)
	}
	mustUnmarshal(t, body, &refreshed)
	if len(refreshed.TeamNames) != 1 || refreshed.TeamNames[w.teams["north"]] != "north" {
		t.Fatalf("refresh team_names = %v, want only north", refreshed.TeamNames)
	}
	_, _, body = h.tryLogin("auditi", userPassword, "")
	var auditor api.TokenResponse
	mustUnmarshal(t, body, &auditor)
	if auditor.TeamNames != nil {
		t.Fatalf("auditor's team_names = %v, want none", auditor.TeamNames)
	}
}
