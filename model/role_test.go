package model

import "testing"

func TestRoleValid(t *testing.T) {
	for _, r := range Roles {
		t.Run(string(r), func(t *testing.T) {
			if !r.Valid() {
				t.Errorf("%q.Valid() = false, want true", r)
			}
		})
	}
	for _, r := range []Role{"", "Admin", "root", "field-worker"} {
		t.Run("invalid "+string(r), func(t *testing.T) {
			if r.Valid() {
				t.Errorf("%q.Valid() = true, want false", r)
			}
		})
	}
	if got, want := len(Roles), 6; got != want {
		t.Errorf("len(Roles) = %d, want %d (DESIGN §6)", got, want)
	}
}

func TestHasRole(t *testing.T) {
	tests := []struct {
		name  string
		roles []Role
		role  Role
		want  bool
	}{
		{"first", []Role{RoleTeamLead, RoleSupervisor}, RoleTeamLead, true},
		{"last", []Role{RoleTeamLead, RoleSupervisor}, RoleSupervisor, true},
		{"absent", []Role{RoleTeamLead, RoleSupervisor}, RoleVisitor, false},
		{"empty list", nil, RoleAdmin, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasRole(tt.roles, tt.role); got != tt.want {
				t.Errorf("HasRole(%v, %q) = %v, want %v", tt.roles, tt.role, got, tt.want)
			}
		})
	}
}
