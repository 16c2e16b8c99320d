package model

// Role is what a user is allowed to do, as in DESIGN §6.
type Role string

// The roles of DESIGN §6.
const (
	RoleFieldWorker Role = "field_worker"
	RoleTeamLead    Role = "team_lead"
	RoleVisitor     Role = "visitor"
	RoleSupervisor  Role = "supervisor"
	RoleAuditor     Role = "auditor"
	RoleAdmin       Role = "admin"
)

// Roles lists every role in a stable order.
var Roles = []Role{RoleFieldWorker, RoleTeamLead, RoleVisitor, RoleSupervisor, RoleAuditor, RoleAdmin}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if x == r {
			return true
		}
	}
	return false
}
