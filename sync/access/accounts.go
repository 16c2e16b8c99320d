package access

import "github.com/fieldsync/fieldsync/model"

// Account is what the account powers need to know of a user account.
type Account struct {
	ID    string
	Role  model.Role
	Teams []string
	// WeekHostTeam is the host team of a visitor's action week ("" when
	// the week is unknown or has none).
	WeekHostTeam string
}

// ManagesAccount reports whether p may create account a, see it in the
// account and device lists, revoke its devices, and (for the roles whose
// routes allow it) disable, enable it and reset its password (DESIGN §6):
//   - an admin manages every account;
//   - a supervisor manages field workers and team leads all of whose teams
//     lie in its jurisdiction, and visitors of weeks hosted there;
//   - a team lead manages field workers all of whose teams are its own,
//     and visitors of weeks its teams host;
//   - nobody else manages anyone, and nobody but an admin manages an
//     admin's, a supervisor's or an auditor's account.
//
// An account with teams only partly in a jurisdiction is not managed
// there: whoever could reset its password could read the other teams.
func ManagesAccount(p *Principal, a Account) bool {
	switch p.Role {
	case model.RoleAdmin:
		return true
	case model.RoleSupervisor:
		switch a.Role {
		case model.RoleFieldWorker, model.RoleTeamLead:
			return allInTeams(p, a.Teams)
		case model.RoleVisitor:
			return hostsWeek(p, a.WeekHostTeam)
		}
	case model.RoleTeamLead:
		switch a.Role {
		case model.RoleFieldWorker:
			return allInTeams(p, a.Teams)
		case model.RoleVisitor:
			return hostsWeek(p, a.WeekHostTeam)
		}
	}
	return false
}

// CreatesRole reports whether p may create some account of role r: the
// role-level half of ManagesAccount, checked before any stored data.
func CreatesRole(p *Principal, r model.Role) bool {
	switch p.Role {
	case model.RoleAdmin:
		return r.Valid()
	case model.RoleSupervisor:
		return r == model.RoleFieldWorker || r == model.RoleTeamLead || r == model.RoleVisitor
	case model.RoleTeamLead:
		return r == model.RoleFieldWorker || r == model.RoleVisitor
	}
	return false
}

// ManagesDevice reports whether p may see and revoke a device of account
// owner: a device of an account p manages, or one of p's own.
func ManagesDevice(p *Principal, owner Account) bool {
	return owner.ID != "" && owner.ID == p.User || ManagesAccount(p, owner)
}

// allInTeams reports whether teams is not empty and each is one of p's
// teams (any team, for a national supervisor).
func allInTeams(p *Principal, teams []string) bool {
	for _, t := range teams {
		if !p.InTeam(t) {
			return false
		}
	}
	return len(teams) > 0
}

// hostsWeek reports whether a week hosted by host lies in p's teams. A
// week without a host team lies only in a national supervisor's.
func hostsWeek(p *Principal, host string) bool {
	return p.InTeam(host)
}
