package access_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// uid returns a canonical lowercase UUID numbered n.
func uid(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// The world every table of this package is written against: teams A, B
// and C; action week W1 hosted by A, W2 hosted by B, W3 with no host team
// (yet); a visitor of W1 and one of W2.
var (
	teamA = uid(1)
	teamB = uid(2)
	teamC = uid(3)
	week1 = uid(11)
	week2 = uid(12)
	week3 = uid(13)

	userFW      = uid(21)
	userFWB     = uid(22)
	userLead    = uid(23)
	userSup     = uid(24)
	userNat     = uid(25)
	userVisitor = uid(26)
	userVisit2  = uid(27)
	userAuditor = uid(28)
	userAdmin   = uid(29)
	userOther   = uid(30)
)

// principals by name, so that tables can list who may do what.
func principals() map[string]*access.Principal {
	grant := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	return map[string]*access.Principal{
		"fw A":            {User: userFW, Device: uid(41), Role: model.RoleFieldWorker, Teams: []string{teamA}},
		"fw B":            {User: userFWB, Device: uid(42), Role: model.RoleFieldWorker, Teams: []string{teamB}},
		"fw A+B":          {User: userFW, Device: uid(41), Role: model.RoleFieldWorker, Teams: []string{teamA, teamB}},
		"fw no team":      {User: userFW, Device: uid(41), Role: model.RoleFieldWorker},
		"lead A":          {User: userLead, Device: uid(43), Role: model.RoleTeamLead, Teams: []string{teamA}},
		"lead B":          {User: userLead, Device: uid(43), Role: model.RoleTeamLead, Teams: []string{teamB}},
		"sup A":           {User: userSup, Device: uid(44), Role: model.RoleSupervisor, Teams: []string{teamA}},
		"sup B":           {User: userSup, Device: uid(44), Role: model.RoleSupervisor, Teams: []string{teamB}},
		"sup A+B":         {User: userSup, Device: uid(44), Role: model.RoleSupervisor, Teams: []string{teamA, teamB}},
		"sup national":    {User: userNat, Device: uid(45), Role: model.RoleSupervisor},
		"visitor W1":      {User: userVisitor, Device: uid(46), Role: model.RoleVisitor, ActionWeek: week1, ValidUntil: grant, WeekHostTeam: teamA},
		"visitor W2":      {User: userVisit2, Device: uid(47), Role: model.RoleVisitor, ActionWeek: week2, ValidUntil: grant, WeekHostTeam: teamB},
		"visitor no host": {User: userVisitor, Device: uid(46), Role: model.RoleVisitor, ActionWeek: week3, ValidUntil: grant},
		"auditor":         {User: userAuditor, Device: uid(48), Role: model.RoleAuditor, Teams: []string{teamA}},
		"admin":           {User: userAdmin, Device: uid(49), Role: model.RoleAdmin, Teams: []string{teamA}},
		"auditor alone":   {User: userAuditor, Device: uid(48), Role: model.RoleAuditor},
		"admin alone":     {User: userAdmin, Device: uid(49), Role: model.RoleAdmin},
	}
}

// principal returns the named principal of principals.
func principal(t *testing.T, name string) *access.Principal {
	t.Helper()
	p, ok := principals()[name]
	if !ok {
		t.Fatalf("no principal %q", name)
	}
	return p
}

// principalNames lists principals' names in a stable order.
func principalNames() []string {
	names := make([]string, 0, 16)
	for name := range principals() {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Scopes of the world.
var (
	identA       = access.Scope{Kind: model.KindIdentification, Team: teamA, Creator: userFW}
	identAByVis  = access.Scope{Kind: model.KindIdentification, Team: teamA, Creator: userVisitor}
	identB       = access.Scope{Kind: model.KindIdentification, Team: teamB, Creator: userFWB}
	identBByVis  = access.Scope{Kind: model.KindIdentification, Team: teamB, Creator: userVisitor}
	identNoTeam  = access.Scope{Kind: model.KindIdentification, Creator: userFW}
	weekW1       = access.Scope{Kind: model.KindActionWeek, ActionWeek: week1, HostTeam: teamA, Creator: userNat}
	weekW2       = access.Scope{Kind: model.KindActionWeek, ActionWeek: week2, HostTeam: teamB, Creator: userNat}
	weekW3       = access.Scope{Kind: model.KindActionWeek, ActionWeek: week3, Creator: userNat}
	visitW1      = access.Scope{Kind: model.KindSiteVisit, ActionWeek: week1, HostTeam: teamA, Creator: userVisitor}
	visitW2      = access.Scope{Kind: model.KindSiteVisit, ActionWeek: week2, HostTeam: teamB, Creator: userVisit2}
	visitW3      = access.Scope{Kind: model.KindSiteVisit, ActionWeek: week3, Creator: userNat}
	visitNoWeek  = access.Scope{Kind: model.KindSiteVisit, HostTeam: teamA, Creator: userVisitor}
	unknownKindA = access.Scope{Kind: "person", Team: teamA, ActionWeek: week1, HostTeam: teamA, Creator: userFW}
)

// TestCanRead checks every principal against every scope: the readers
// listed may read, everybody else may not (deny by default).
func TestCanRead(t *testing.T) {
	tests := []struct {
		name    string
		scope   access.Scope
		readers []string
	}{
		// Identifications: the team's members and supervisors whose
		// jurisdiction holds the team; a visitor never reads one, not even
		// the one they created.
		{"identification of team A", identA, []string{"fw A", "fw A+B", "lead A", "sup A", "sup A+B", "sup national"}},
		{"identification of team A created by the visitor", identAByVis, []string{"fw A", "fw A+B", "lead A", "sup A", "sup A+B", "sup national"}},
		{"identification of team B", identB, []string{"fw B", "fw A+B", "lead B", "sup B", "sup A+B", "sup national"}},
		{"identification of team B created by the visitor", identBByVis, []string{"fw B", "fw A+B", "lead B", "sup B", "sup A+B", "sup national"}},
		{"identification with no team", identNoTeam, []string{"sup national"}},
		// Action weeks: the visitors of that week, the host team's members,
		// supervisors whose jurisdiction holds the host team.
		{"action week W1 hosted by A", weekW1, []string{"fw A", "fw A+B", "lead A", "sup A", "sup A+B", "sup national", "visitor W1"}},
		{"action week W2 hosted by B", weekW2, []string{"fw B", "fw A+B", "lead B", "sup B", "sup A+B", "sup national", "visitor W2"}},
		{"action week W3 without host team", weekW3, []string{"sup national", "visitor no host"}},
		// Site visits follow their week.
		{"site visit of W1", visitW1, []string{"fw A", "fw A+B", "lead A", "sup A", "sup A+B", "sup national", "visitor W1"}},
		{"site visit of W2", visitW2, []string{"fw B", "fw A+B", "lead B", "sup B", "sup A+B", "sup national", "visitor W2"}},
		{"site visit of W3 without host team", visitW3, []string{"sup national", "visitor no host"}},
		{"site visit without week", visitNoWeek, []string{"fw A", "fw A+B", "lead A", "sup A", "sup A+B", "sup national"}},
		// A kind without a rule: nobody.
		{"unknown kind", unknownKindA, nil},
		{"empty scope", access.Scope{}, nil},
	}
	for _, tt := range tests {
		for _, name := range principalNames() {
			p := principal(t, name)
			got := access.CanRead(p, tt.scope)
			want := slices.Contains(tt.readers, name)
			if got != want {
				t.Errorf("%s: CanRead(%s) = %v, want %v", tt.name, name, got, want)
			}
		}
	}
}

// TestCanReadVisitorWithoutWeek: a visitor whose grant names no week reads
// nothing, in particular not a site visit that names no week either.
func TestCanReadVisitorWithoutWeek(t *testing.T) {
	p := &access.Principal{User: userVisitor, Role: model.RoleVisitor}
	for _, s := range []access.Scope{visitNoWeek, {Kind: model.KindActionWeek}, {Kind: model.KindSiteVisit}, identAByVis} {
		if got, want := access.CanRead(p, s), false; got != want {
			t.Errorf("CanRead(visitor without week, %+v) = %v, want %v", s, got, want)
		}
	}
}

// TestEveryKindHasAReadRule fails when a kind is added to the schema
// without a read rule (nobody could read it) or with one that lets
// auditors or admins read record content.
func TestEveryKindHasAReadRule(t *testing.T) {
	s := model.DefaultSchema()
	if len(s.Kinds) == 0 {
		t.Fatal("the default schema has no kinds")
	}
	// Everything in the world is team A's and week W1's, so each role's
	// best chance of reading is tried.
	for kind, k := range s.Kinds {
		scope := access.Scope{Kind: kind, Team: teamA, ActionWeek: week1, HostTeam: teamA, Creator: userVisitor}
		var readers []model.Role
		for _, name := range principalNames() {
			p := principal(t, name)
			if access.CanRead(p, scope) && !slices.Contains(readers, p.Role) {
				readers = append(readers, p.Role)
			}
		}
		if len(readers) == 0 {
			t.Errorf("kind %q: no role may read a record of it; give it a rule in access.CanRead", kind)
		}
		for _, r := range []model.Role{model.RoleAuditor, model.RoleAdmin} {
			if slices.Contains(readers, r) {
				t.Errorf("kind %q: %s may read record content", kind, r)
			}
		}

		// A record whose scope field is set has a bucket, so that its
		// first op can be accepted and pulled.
		rec := crdt.NewRecord(uid(900), kind)
		if k.Scope != "" {
			applySet(t, s, rec, kind, k.Scope, teamA, hlc.New(1000, 0))
		}
		got := access.ScopeOf(rec, userFW, func(string) string { return teamA })
		if got.Bucket() == "" {
			t.Errorf("kind %q: ScopeOf a record with its scope field %q set has no bucket: %+v", kind, k.Scope, got)
		}
		if !access.CanRead(principal(t, "sup national"), got) {
			t.Errorf("kind %q: a national supervisor cannot read %+v", kind, got)
		}
		for _, name := range []string{"auditor", "admin", "auditor alone", "admin alone"} {
			if access.CanRead(principal(t, name), got) {
				t.Errorf("kind %q: %s may read %+v", kind, name, got)
			}
		}
	}
}

func TestNationalAndInTeam(t *testing.T) {
	tests := []struct {
		name         string
		wantNational bool
		team         string
		wantInTeam   bool
	}{
		{"sup national", true, teamC, true},
		{"sup national", true, "", true},
		{"sup A", false, teamA, true},
		{"sup A", false, teamB, false},
		{"sup A", false, "", false},
		{"fw A", false, teamA, true},
		{"fw A", false, teamB, false},
		{"fw no team", false, teamA, false},
		{"fw no team", false, "", false},
		{"lead A", false, teamA, true},
		{"visitor W1", false, teamA, false},
		{"auditor alone", false, teamA, false},
		{"admin alone", false, teamA, false},
	}
	for _, tt := range tests {
		p := principal(t, tt.name)
		if got, want := p.National(), tt.wantNational; got != want {
			t.Errorf("%s: National() = %v, want %v", tt.name, got, want)
		}
		if got, want := p.InTeam(tt.team), tt.wantInTeam; got != want {
			t.Errorf("%s: InTeam(%q) = %v, want %v", tt.name, tt.team, got, want)
		}
	}
}

func TestSyncs(t *testing.T) {
	for _, name := range principalNames() {
		p := principal(t, name)
		want := p.Role != model.RoleAuditor && p.Role != model.RoleAdmin
		if got := p.Syncs(); got != want {
			t.Errorf("%s: Syncs() = %v, want %v", name, got, want)
		}
	}
	if got, want := (&access.Principal{Role: "janitor"}).Syncs(), false; got != want {
		t.Errorf("unknown role: Syncs() = %v, want %v", got, want)
	}
}

func TestGrantExpired(t *testing.T) {
	until := time.Date(2026, 3, 9, 12, 0, 0, 0, time.UTC)
	visitor := &access.Principal{Role: model.RoleVisitor, ActionWeek: week1, ValidUntil: until}
	tests := []struct {
		name string
		p    *access.Principal
		now  time.Time
		want bool
	}{
		{"visitor, long before", visitor, until.Add(-72 * time.Hour), false},
		{"visitor, a nanosecond before", visitor, until.Add(-time.Nanosecond), false},
		{"visitor, at valid_until", visitor, until, true},
		{"visitor, after", visitor, until.Add(time.Second), true},
		{"visitor, same instant in another zone", visitor, until.In(time.FixedZone("UTC+2", 2*3600)), true},
		{"visitor without valid_until", &access.Principal{Role: model.RoleVisitor, ActionWeek: week1}, until, true},
		{"field worker without valid_until", &access.Principal{Role: model.RoleFieldWorker, Teams: []string{teamA}}, until, false},
		{"supervisor with a past valid_until", &access.Principal{Role: model.RoleSupervisor, ValidUntil: until.Add(-time.Hour)}, until, false},
		{"team lead", &access.Principal{Role: model.RoleTeamLead, Teams: []string{teamA}}, until, false},
		{"auditor", &access.Principal{Role: model.RoleAuditor}, until, false},
		{"admin", &access.Principal{Role: model.RoleAdmin}, until, false},
	}
	for _, tt := range tests {
		if got := tt.p.GrantExpired(tt.now); got != tt.want {
			t.Errorf("%s: GrantExpired(%v) = %v, want %v", tt.name, tt.now, got, tt.want)
		}
	}
}

func TestBuckets(t *testing.T) {
	tests := []struct {
		name    string
		p       *access.Principal
		hosted  []string
		want    []string
		wantAll bool
	}{
		{"field worker", principal(t, "fw A"), nil, []string{"t:" + teamA}, false},
		{"field worker of a host team", principal(t, "fw A"), []string{week1}, []string{"t:" + teamA, "w:" + week1}, false},
		{"field worker of two teams, hosted weeks unsorted and repeated",
			&access.Principal{Role: model.RoleFieldWorker, Teams: []string{teamB, teamA, teamB}}, []string{week2, week1, week2},
			[]string{"t:" + teamA, "t:" + teamB, "w:" + week1, "w:" + week2}, false},
		{"field worker without team", principal(t, "fw no team"), nil, nil, false},
		{"team lead", principal(t, "lead A"), []string{week1}, []string{"t:" + teamA, "w:" + week1}, false},
		{"supervisor with a jurisdiction", principal(t, "sup A+B"), []string{week1, week2}, []string{"t:" + teamA, "t:" + teamB, "w:" + week1, "w:" + week2}, false},
		{"national supervisor", principal(t, "sup national"), nil, nil, true},
		{"national supervisor, hosted weeks ignored", principal(t, "sup national"), []string{week1}, nil, true},
		{"visitor", principal(t, "visitor W1"), nil, []string{"w:" + week1}, false},
		{"visitor, hosted weeks ignored", principal(t, "visitor W1"), []string{week2}, []string{"w:" + week1}, false},
		{"auditor with teams", principal(t, "auditor"), []string{week1}, nil, false},
		{"admin with teams", principal(t, "admin"), []string{week1}, nil, false},
		{"auditor", principal(t, "auditor alone"), nil, nil, false},
		{"admin", principal(t, "admin alone"), nil, nil, false},
	}
	for _, tt := range tests {
		got, gotAll := access.Buckets(tt.p, tt.hosted)
		if !slices.Equal(got, tt.want) || gotAll != tt.wantAll {
			t.Errorf("%s: Buckets = %v, %v; want %v, %v", tt.name, got, gotAll, tt.want, tt.wantAll)
		}
	}
}

// TestBucketsCoverReadable: every scope a principal may read lives in one
// of the principal's buckets (or the principal reads all), so a pull never
// misses a readable record.
func TestBucketsCoverReadable(t *testing.T) {
	hostedBy := map[string]string{week1: teamA, week2: teamB}
	scopes := []access.Scope{identA, identAByVis, identB, identBByVis, weekW1, weekW2, weekW3, visitW1, visitW2, visitW3}
	for _, name := range principalNames() {
		p := principal(t, name)
		var hosted []string
		for w, team := range hostedBy {
			if slices.Contains(p.Teams, team) {
				hosted = append(hosted, w)
			}
		}
		buckets, all := access.Buckets(p, hosted)
		for _, s := range scopes {
			if access.CanRead(p, s) && !all && !slices.Contains(buckets, s.Bucket()) {
				t.Errorf("%s reads %+v but its bucket %q is not among %v", name, s, s.Bucket(), buckets)
			}
		}
	}
}

func TestBucketNames(t *testing.T) {
	tests := []struct {
		name  string
		scope access.Scope
		want  string
	}{
		{"identification", identA, "t:" + teamA},
		{"identification without team", identNoTeam, ""},
		{"identification ignores a week", access.Scope{Kind: model.KindIdentification, ActionWeek: week1}, ""},
		{"action week", weekW1, "w:" + week1},
		{"action week without host", weekW3, "w:" + week3},
		{"action week without id", access.Scope{Kind: model.KindActionWeek, HostTeam: teamA}, ""},
		{"site visit", visitW2, "w:" + week2},
		{"site visit without week", visitNoWeek, ""},
		{"site visit ignores a team", access.Scope{Kind: model.KindSiteVisit, Team: teamA}, ""},
		{"unknown kind", unknownKindA, ""},
	}
	for _, tt := range tests {
		if got := tt.scope.Bucket(); got != tt.want {
			t.Errorf("%s: Bucket() = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got, want := access.TeamBucket(teamB), "t:"+teamB; got != want {
		t.Errorf("TeamBucket = %q, want %q", got, want)
	}
	if got, want := access.WeekBucket(week2), "w:"+week2; got != want {
		t.Errorf("WeekBucket = %q, want %q", got, want)
	}
}

// applySet applies "set field=value" (a JSON string) to rec.
func applySet(t *testing.T, s *model.Schema, rec *crdt.Record, kind, field, value string, at hlc.Timestamp, base ...string) string {
	t.Helper()
	id := uid(int(100000 + at))
	op := crdt.Op{ID: id, Record: rec.ID, Kind: kind, Field: field, Action: model.ActionSet,
		Value: json.RawMessage(strconv.Quote(value)), Base: append([]string{}, base...), HLC: at, Device: uid(41), User: userFW}
	if _, err := rec.Apply(s, &op); err != nil {
		t.Fatalf("apply %s.%s=%s: %v", kind, field, value, err)
	}
	return id
}

func TestScopeOf(t *testing.T) {
	s := model.DefaultSchema()
	hosts := map[string]string{week1: teamA, week2: teamB}
	hostTeam := func(week string) string { return hosts[week] }
	wrongHost := func(string) string { return teamC }
	rec := uid(500)

	tests := []struct {
		name     string
		kind     string
		fields   [][2]string // set in order, each one later than the last
		hostTeam func(string) string
		want     access.Scope
	}{
		{"identification", model.KindIdentification, [][2]string{{"team", teamA}, {"code", "X-1"}}, hostTeam,
			access.Scope{Kind: model.KindIdentification, Team: teamA, Creator: userOther}},
		{"identification moved", model.KindIdentification, [][2]string{{"team", teamA}, {"team", teamB}}, hostTeam,
			access.Scope{Kind: model.KindIdentification, Team: teamB, Creator: userOther}},
		{"identification without team", model.KindIdentification, [][2]string{{"code", "X-1"}}, hostTeam,
			access.Scope{Kind: model.KindIdentification, Creator: userOther}},
		// An identification's action_week is a plain field, not its scope.
		{"identification of an action week", model.KindIdentification, [][2]string{{"team", teamB}, {"action_week", week1}}, hostTeam,
			access.Scope{Kind: model.KindIdentification, Team: teamB, Creator: userOther}},
		{"site visit", model.KindSiteVisit, [][2]string{{"action_week", week1}, {"town", "Korçë"}}, hostTeam,
			access.Scope{Kind: model.KindSiteVisit, ActionWeek: week1, HostTeam: teamA, Creator: userOther}},
		{"site visit of an unknown week", model.KindSiteVisit, [][2]string{{"action_week", week3}}, hostTeam,
			access.Scope{Kind: model.KindSiteVisit, ActionWeek: week3, Creator: userOther}},
		{"site visit, no host lookup", model.KindSiteVisit, [][2]string{{"action_week", week2}}, nil,
			access.Scope{Kind: model.KindSiteVisit, ActionWeek: week2, Creator: userOther}},
		{"site visit without week", model.KindSiteVisit, [][2]string{{"town", "Fier"}}, hostTeam,
			access.Scope{Kind: model.KindSiteVisit, Creator: userOther}},
		// An action week is its own scope; its host team is its own field,
		// never looked up.
		{"action week", model.KindActionWeek, [][2]string{{"name", "Spring"}, {"host_team", teamB}}, wrongHost,
			access.Scope{Kind: model.KindActionWeek, ActionWeek: rec, HostTeam: teamB, Creator: userOther}},
		{"action week without host team", model.KindActionWeek, [][2]string{{"name", "Spring"}}, wrongHost,
			access.Scope{Kind: model.KindActionWeek, ActionWeek: rec, Creator: userOther}},
		{"action week, host team changed", model.KindActionWeek, [][2]string{{"host_team", teamA}, {"host_team", teamC}}, nil,
			access.Scope{Kind: model.KindActionWeek, ActionWeek: rec, HostTeam: teamC, Creator: userOther}},
	}
	for _, tt := range tests {
		r := crdt.NewRecord(rec, tt.kind)
		var last string
		for i, f := range tt.fields {
			var base []string
			if i > 0 && tt.fields[i-1][0] == f[0] {
				base = []string{last}
			}
			last = applySet(t, s, r, tt.kind, f[0], f[1], hlc.New(int64(1000+i), 0), base...)
		}
		got := access.ScopeOf(r, userOther, tt.hostTeam)
		if got != tt.want {
			t.Errorf("%s: ScopeOf = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestScopeOfConflictingTeams: with two concurrent team values the shown
// one (greatest stamp) places the record.
func TestScopeOfConflictingTeams(t *testing.T) {
	s := model.DefaultSchema()
	r := crdt.NewRecord(uid(501), model.KindIdentification)
	applySet(t, s, r, model.KindIdentification, "team", teamB, hlc.New(2000, 0))
	applySet(t, s, r, model.KindIdentification, "team", teamA, hlc.New(1000, 0)) // older, concurrent
	if got, want := access.ScopeOf(r, userFW, nil).Team, teamB; got != want {
		t.Errorf("ScopeOf with conflicting teams: Team = %s, want the shown %s", got, want)
	}
}

// TestScopeOfUnknownKind: a kind without a rule gets no team, week or
// bucket, so nothing can read it.
func TestScopeOfUnknownKind(t *testing.T) {
	r := crdt.NewRecord(uid(502), "person")
	got := access.ScopeOf(r, userFW, func(string) string { return teamA })
	want := access.Scope{Kind: "person", Creator: userFW}
	if got != want {
		t.Errorf("ScopeOf(unknown kind) = %+v, want %+v", got, want)
	}
}
