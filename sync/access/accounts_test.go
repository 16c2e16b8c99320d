package access_test

import (
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
)

// TestManagesAccount checks every principal against accounts of every
// role: the managers listed manage the account, nobody else does.
func TestManagesAccount(t *testing.T) {
	admins := []string{"admin", "admin alone"}
	tests := []struct {
		name     string
		account  access.Account
		managers []string
	}{
		{"field worker of A", access.Account{ID: uid(60), Role: model.RoleFieldWorker, Teams: []string{teamA}},
			append([]string{"lead A", "sup A", "sup A+B", "sup national"}, admins...)},
		{"field worker of A and B", access.Account{ID: uid(60), Role: model.RoleFieldWorker, Teams: []string{teamA, teamB}},
			append([]string{"sup A+B", "sup national"}, admins...)},
		{"field worker of no team", access.Account{ID: uid(60), Role: model.RoleFieldWorker}, admins},
		{"team lead of A", access.Account{ID: uid(60), Role: model.RoleTeamLead, Teams: []string{teamA}},
			append([]string{"sup A", "sup A+B", "sup national"}, admins...)},
		{"supervisor of A", access.Account{ID: uid(60), Role: model.RoleSupervisor, Teams: []string{teamA}}, admins},
		{"national supervisor", access.Account{ID: uid(60), Role: model.RoleSupervisor}, admins},
		{"auditor", access.Account{ID: uid(60), Role: model.RoleAuditor}, admins},
		{"admin", access.Account{ID: uid(60), Role: model.RoleAdmin}, admins},
		{"visitor of a week hosted by A", access.Account{ID: uid(60), Role: model.RoleVisitor, WeekHostTeam: teamA},
			append([]string{"lead A", "sup A", "sup A+B", "sup national"}, admins...)},
		{"visitor of a week hosted by B", access.Account{ID: uid(60), Role: model.RoleVisitor, WeekHostTeam: teamB},
			append([]string{"lead B", "sup B", "sup A+B", "sup national"}, admins...)},
		{"visitor of a week without host", access.Account{ID: uid(60), Role: model.RoleVisitor},
			append([]string{"sup national"}, admins...)},
		{"unknown role", access.Account{ID: uid(60), Role: "owner", Teams: []string{teamA}}, admins},
	}
	for _, tt := range tests {
		for _, name := range principalNames() {
			got := access.ManagesAccount(principal(t, name), tt.account)
			if want := slices.Contains(tt.managers, name); got != want {
				t.Errorf("%s manages %s = %v, want %v", name, tt.name, got, want)
			}
		}
	}
}

// TestManagesDevice: a device is managed with its account, and its
// owner manages it too (a supervisor revokes its own devices, not
// another supervisor's).
func TestManagesDevice(t *testing.T) {
	supA := access.Account{ID: userSup, Role: model.RoleSupervisor, Teams: []string{teamA}}
	national := access.Account{ID: userNat, Role: model.RoleSupervisor}
	lead := access.Account{ID: userLead, Role: model.RoleTeamLead, Teams: []string{teamA}}
	tests := []struct {
		who   string
		owner access.Account
		want  bool
	}{
		{"sup A", supA, true},
		{"sup A", national, false},
		{"sup national", supA, false},
		{"lead A", supA, false},
		{"lead A", lead, true},
		{"sup A", lead, true},
		{"admin", national, true},
		{"fw A", access.Account{Role: model.RoleFieldWorker, Teams: []string{teamA}}, false},
	}
	for _, tt := range tests {
		if got := access.ManagesDevice(principal(t, tt.who), tt.owner); got != tt.want {
			t.Errorf("%s manages a device of %+v = %v, want %v", tt.who, tt.owner, got, tt.want)
		}
	}
}

// TestCreatesRole: the roles each principal may create agree with the
// accounts it manages; no role creates an unknown role.
func TestCreatesRole(t *testing.T) {
	for _, name := range principalNames() {
		p := principal(t, name)
		for _, r := range model.Roles {
			// The most favourable account of role r for p: its own teams
			// (or any, for a national supervisor) and a week they host.
			a := access.Account{ID: uid(60), Role: r, Teams: p.Teams, WeekHostTeam: teamA}
			if len(p.Teams) > 0 {
				a.WeekHostTeam = p.Teams[0]
			}
			if p.National() || len(a.Teams) == 0 {
				a.Teams = []string{teamA}
			}
			manages := access.ManagesAccount(p, a)
			if got := access.CreatesRole(p, r); got != manages {
				t.Errorf("%s creates %s = %v, but manages the most favourable such account = %v", name, r, got, manages)
			}
		}
		if access.CreatesRole(p, "owner") {
			t.Errorf("%s creates accounts of an unknown role", name)
		}
	}
}
