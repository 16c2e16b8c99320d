package access_test

import (
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
)

// TestCheckWriteNamedScope: an op setting a scope field needs the right
// to write the scope its value names, even when the value loses to a
// concurrent one and the record stays where it is (After == Before).
func TestCheckWriteNamedScope(t *testing.T) {
	schema := model.DefaultSchema()
	named := func(w access.Write, s access.Scope) access.Write { w.Named = &s; return w }
	identToB := identA
	identToB.Team = teamB
	weekToB := weekW1
	weekToB.HostTeam = teamB
	visitToW2 := visitW1
	visitToW2.ActionWeek, visitToW2.HostTeam = week2, teamB
	tests := []struct {
		name string
		who  string
		w    access.Write
		want model.Code
	}{
		{"losing team outside the jurisdiction", "sup A", named(onExisting(wop(ident, "team", set, `"`+teamB+`"`), identA), identToB), model.CodeForbidden},
		{"losing team inside the jurisdiction", "sup A+B", named(onExisting(wop(ident, "team", set, `"`+teamB+`"`), identA), identToB), ""},
		{"losing host team outside the jurisdiction", "sup A", named(onExisting(wop(week, "host_team", set, `"`+teamB+`"`), weekW1), weekToB), model.CodeForbidden},
		{"losing host team inside the jurisdiction", "sup A+B", named(onExisting(wop(week, "host_team", set, `"`+teamB+`"`), weekW1), weekToB), ""},
		{"losing week of another host", "sup A", named(onExisting(wop(visit, "action_week", set, `"`+week2+`"`), visitW1), visitToW2), model.CodeForbidden},
		{"re-setting the shown team", "sup A", named(onExisting(wop(ident, "team", set, `"`+teamA+`"`), identA), identA), ""},
		{"moving out, named too", "sup A", named(moving(wop(ident, "team", set, `"`+teamB+`"`), identA, identToB), identToB), model.CodeForbidden},
		{"moving in, named too", "sup B", named(moving(wop(ident, "team", set, `"`+teamB+`"`), identA, identToB), identToB), model.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := access.CheckWrite(schema, principal(t, tt.who), tt.w)
			if got := model.ErrorCode(err); err != nil && got != tt.want || err == nil && tt.want != "" {
				t.Errorf("CheckWrite = %v, want %q", err, tt.want)
			}
		})
	}
}
