package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// deployment is a world with every role, an action week hosted by north
// and a visitor of that week.
type deployment struct {
	*world
	week      string
	northRec  string
	southRec  string
	weekVisit string
}

func newDeployment(t *testing.T, h *harness) *deployment {
	t.Helper()
	w := newWorld(h, []string{"north", "south", "east"}, map[string]userSpec{
		"fw":      {role: model.RoleFieldWorker, teams: []string{"north"}},
		"tl":      {role: model.RoleTeamLead, teams: []string{"north"}},
		"fw.s":    {role: model.RoleFieldWorker, teams: []string{"south"}},
		"sup":     {role: model.RoleSupervisor},
		"sup.e":   {role: model.RoleSupervisor, teams: []string{"east"}},
		"auditor": {role: model.RoleAuditor},
	})
	d := &deployment{world: w, week: newID(), northRec: newID(), southRec: newID(), weekVisit: newID()}
	sup := w.clients["sup"]
	sup.pushApplied(
		sup.op(d.week, model.KindActionWeek, "name", "set", "Action week"),
		sup.op(d.week, model.KindActionWeek, "host_team", "set", w.teams["north"]),
		sup.op(d.week, model.KindActionWeek, "ends_on", "set", "2030-01-01"),
	)
	w.addUser("visitor", userSpec{role: model.RoleVisitor, actionWeek: d.week, validUntil: h.now().Add(72 * time.Hour)})
	fw := w.clients["fw"]
	fw.pushApplied(fw.newIdentification(d.northRec, w.teams["north"], [3]any{"code", "set", "N-1"})...)
	fw.pushApplied(fw.op(d.weekVisit, model.KindSiteVisit, "action_week", "set", d.week), fw.op(d.weekVisit, model.KindSiteVisit, "town", "set", "Koplik"))
	fs := w.clients["fw.s"]
	fs.pushApplied(fs.newIdentification(d.southRec, w.teams["south"], [3]any{"code", "set", "S-1"})...)
	return d
}

// TestEveryRoleEveryRoute: each role gets exactly the expected status on
// every route (function-level access).
func TestEveryRoleEveryRoute(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	roles := []string{"fw", "tl", "visitor", "sup", "auditor", "admin"}
	clientOf := func(name string) *client {
		if name == "admin" {
			return d.admin
		}
		return d.clients[name]
	}
	n := 0
	unique := func() string { n++; return fmt.Sprintf("user%d", n) }
	// A fresh device of a north field worker, for each revoke.
	victimDevice := func() string {
		name := unique()
		d.admin.mustDo(http.StatusCreated, http.MethodPost, "/v1/admin/users", api.CreateUserRequest{Username: name, Password: userPassword, Role: model.RoleFieldWorker, Teams: []string{d.teams["north"]}})
		return h.login(name, userPassword, "").device
	}
	// A fresh north field worker, for each account action.
	victimUser := func() string {
		var u api.User
		mustUnmarshal(t, d.admin.mustDo(http.StatusCreated, http.MethodPost, "/v1/admin/users", api.CreateUserRequest{Username: unique(), Password: userPassword, Role: model.RoleFieldWorker, Teams: []string{d.teams["north"]}}), &u)
		return u.ID
	}
	visitorBody := func() any {
		until := h.now().Add(24 * time.Hour)
		return api.CreateUserRequest{Username: unique(), Password: userPassword, Role: model.RoleVisitor, Teams: []string{}, ActionWeek: d.week, ValidUntil: &until}
	}
	type want map[string]int
	tests := []struct {
		method string
		path   func() string
		body   func() any
		want   want
	}{
		{"GET", func() string { return "/healthz" }, nil, want{"*": 200}},
		{"GET", func() string { return "/readyz" }, nil, want{"*": 200}},
		{"GET", func() string { return "/metrics" }, nil, want{"*": 404}}, // on its own listener only
		{"GET", func() string { return "/v1/schema" }, nil, want{"*": 200}},
		{"POST", func() string { return "/v1/sync/push" }, func() any { return api.PushRequest{Ops: []json.RawMessage{}} }, want{"fw": 200, "tl": 200, "visitor": 200, "sup": 200, "*": 403}},
		{"GET", func() string { return "/v1/sync/pull" }, nil, want{"fw": 200, "tl": 200, "visitor": 200, "sup": 200, "*": 403}},
		{"GET", func() string { return "/v1/records" }, nil, want{"fw": 200, "tl": 200, "sup": 200, "*": 403}},
		{"GET", func() string { return "/v1/records/" + d.week }, nil, want{"fw": 200, "tl": 200, "visitor": 200, "sup": 200, "*": 403}},
		{"GET", func() string { return "/v1/records/" + d.northRec }, nil, want{"fw": 200, "tl": 200, "visitor": 404, "sup": 200, "*": 403}},
		{"GET", func() string { return "/v1/audit" }, nil, want{"auditor": 200, "*": 403}},
		{"POST", func() string { return "/v1/admin/teams" }, func() any { return api.CreateTeamRequest{Name: unique()} }, want{"admin": 201, "*": 403}},
		{"GET", func() string { return "/v1/admin/teams" }, nil, want{"admin": 200, "sup": 200, "*": 403}},
		{"POST", func() string { return "/v1/admin/users" }, visitorBody, want{"admin": 201, "sup": 201, "tl": 201, "*": 403}},
		{"GET", func() string { return "/v1/admin/users" }, nil, want{"admin": 200, "sup": 200, "tl": 200, "*": 403}},
		{"POST", func() string { return "/v1/admin/users/" + victimUser() + "/disable" }, nil, want{"admin": 200, "sup": 200, "*": 403}},
		{"POST", func() string { return "/v1/admin/users/" + victimUser() + "/enable" }, nil, want{"admin": 200, "sup": 200, "*": 403}},
		{"POST", func() string { return "/v1/admin/users/" + victimUser() + "/password" }, func() any { return api.SetPasswordRequest{Password: "another long password"} }, want{"admin": 200, "sup": 200, "*": 403}},
		{"GET", func() string { return "/v1/admin/devices" }, nil, want{"admin": 200, "sup": 200, "tl": 200, "*": 403}},
		{"POST", func() string { return "/v1/devices/" + victimDevice() + "/revoke" }, nil, want{"admin": 200, "sup": 200, "tl": 200, "*": 403}},
	}
	for _, tt := range tests {
		for _, role := range roles {
			path := tt.path()
			expected, ok := tt.want[role]
			if !ok {
				expected = tt.want["*"]
			}
			var body any
			if tt.body != nil {
				body = tt.body()
			}
			status, data := clientOf(role).do(tt.method, path, body)
			if status != expected {
				t.Errorf("%s %s as %s: %d %s, want %d", tt.method, path, role, status, data, expected)
			}
			if status == 403 && errorCode(t, data) != "forbidden" {
				t.Errorf("%s %s as %s: 403 with code %s", tt.method, path, role, errorCode(t, data))
			}
		}
	}
	// The event stream answers its roles with a stream and others with 403.
	for _, role := range roles {
		req, _ := http.NewRequest(http.MethodGet, h.base+"/v1/sync/events", nil)
		req.Header.Set("Authorization", "Bearer "+clientOf(role).token)
		resp, err := h.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		wantStatus := 200
		if role == "auditor" || role == "admin" {
			wantStatus = 403
		}
		if resp.StatusCode != wantStatus {
			t.Errorf("events as %s: %d, want %d", role, resp.StatusCode, wantStatus)
		}
	}
}

// TestObjectLevelIsolation: three teams with a thousand records each; no
// role receives a record it may not see by pull, by id or by list.
func TestObjectLevelIsolation(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 3,000 records")
	}
	h := startServer(t)
	d := newDeployment(t, h)
	owners := map[string]string{} // record -> team name
	for _, team := range []string{"north", "south", "east"} {
		name := "writer." + team
		c := d.addUser(name, userSpec{role: model.RoleFieldWorker, teams: []string{team}})
		var ops []json.RawMessage
		for i := range 1000 {
			rec := newID()
			owners[rec] = team
			ops = append(ops, c.newIdentification(rec, d.teams[team], [3]any{"status", "set", "presumed"}, [3]any{"region", "set", fmt.Sprint(i % 7)})...)
			if len(ops) >= 900 {
				c.pushApplied(ops...)
				ops = nil
			}
		}
		c.pushApplied(ops...)
	}
	owners[d.northRec], owners[d.southRec] = "north", "south"
	visible := map[string]map[string]bool{
		"fw":      {"north": true},
		"tl":      {"north": true},
		"fw.s":    {"south": true},
		"sup.e":   {"east": true},
		"sup":     {"north": true, "south": true, "east": true},
		"visitor": {},
	}
	for who, teams := range visible {
		c := d.clients[who]
		ops, _, _ := c.pullAll("", 5000)
		seen := map[string]bool{}
		for _, raw := range ops {
			op, err := crdt.DecodeOp(raw)
			if err != nil {
				t.Fatal(err)
			}
			if team, isID := owners[op.Record]; isID && !teams[team] {
				t.Fatalf("%s pulled an op of a %s record", who, team)
			}
			if op.Kind == model.KindIdentification {
				seen[op.Record] = true
			}
		}
		wantCount := 0
		for _, team := range owners {
			if teams[team] {
				wantCount++
			}
		}
		if len(seen) != wantCount {
			t.Errorf("%s pulled %d identifications, want %d", who, len(seen), wantCount)
		}
		if who == "visitor" {
			continue // visitors may not list
		}
		listed := listAll(t, c, "kind=identification")
		for _, r := range listed {
			if !teams[owners[r.ID]] {
				t.Fatalf("%s listed a %s record", who, owners[r.ID])
			}
		}
		if len(listed) != wantCount {
			t.Errorf("%s listed %d identifications, want %d", who, len(listed), wantCount)
		}
		for _, team := range []string{"north", "south", "east"} {
			if got := listAll(t, c, "team="+d.teams[team]+"&status=presumed&region=3"); !teams[team] && len(got) != 0 {
				t.Fatalf("%s filtering by team %s got %d records", who, team, len(got))
			}
		}
		for rec, team := range owners {
			if teams[team] {
				continue
			}
			status, body := c.do(http.MethodGet, "/v1/records/"+rec, nil)
			if status != http.StatusNotFound {
				t.Fatalf("%s reading a %s record: %d %s", who, team, status, body)
			}
			break
		}
	}
}

func listAll(t *testing.T, c *client, query string) []api.RecordSummary {
	t.Helper()
	var out []api.RecordSummary
	after := ""
	for {
		var page api.RecordList
		mustUnmarshal(t, c.mustDo(http.StatusOK, http.MethodGet, "/v1/records?limit=1000&"+query+"&after="+after, nil), &page)
		out = append(out, page.Records...)
		if page.Next == "" {
			return out
		}
		after = page.Next
	}
}

// TestServerOwnedFields: what only the server or a supervisor may set is
// refused from other clients, and the user is always the token's.
func TestServerOwnedFields(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	fw, tl, sup := d.clients["fw"], d.clients["tl"], d.clients["sup"]
	forged := fw.op(d.northRec, model.KindIdentification, "region", "set", "Shkodër")
	var m map[string]any
	mustUnmarshal(t, forged, &m)
	m["user"] = d.clients["sup"].user.ID
	forged, _ = json.Marshal(m)
	fw.pushApplied(forged)
	got := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+d.northRec, nil)
	if !bytes.Contains(got, []byte(`"user":"`+fw.user.ID+`","value":"Shkodër"`)) {
		t.Fatalf("the client's user claim was not overwritten: %s", got)
	}
	tests := []struct {
		name string
		c    *client
		op   json.RawMessage
	}{
		{"field worker moves a record", fw, fw.op(d.northRec, model.KindIdentification, "team", "set", d.teams["south"])},
		{"team lead moves a record", tl, tl.op(d.northRec, model.KindIdentification, "team", "set", d.teams["south"])},
		{"field worker sets review_status", fw, fw.op(d.northRec, model.KindIdentification, "review_status", "set", "reviewed")},
		{"team lead sets identified", tl, tl.op(d.northRec, model.KindIdentification, "status", "set", "identified")},
		{"field worker redacts", fw, fw.op(d.northRec, model.KindIdentification, "notes", "redact", nil, newID())},
		{"field worker deletes", fw, fw.op(d.northRec, model.KindIdentification, "deleted", "set", true)},
		{"field worker writes an action week", fw, fw.op(d.week, model.KindActionWeek, "name", "set", "renamed")},
		{"visitor writes an identification of another team", d.clients["visitor"], d.clients["visitor"].op(d.southRec, model.KindIdentification, "code", "set", "x")},
	}
	for _, tt := range tests {
		res := tt.c.push(tt.op)
		if r := res.Results[0]; r.Status != "rejected" || r.Code != model.CodeForbidden {
			t.Errorf("%s: %+v, want rejected forbidden", tt.name, r)
		}
	}
	// Once a supervisor sets a formal status, only supervisors change it.
	sup.pushApplied(sup.op(d.northRec, model.KindIdentification, "status", "set", "identified", currentSiblings(t, sup, d.northRec, "status")...))
	fw.pullAll("", 1000)
	if r := fw.push(fw.op(d.northRec, model.KindIdentification, "status", "set", "withdrawn")).Results[0]; r.Code != model.CodeForbidden {
		t.Errorf("field worker replacing a formal status: %+v, want forbidden", r)
	}
	// A supervisor moves the record; the team lead's delete is allowed on
	// their own team's record.
	tl.pushApplied(tl.op(d.northRec, model.KindIdentification, "deleted", "set", true))
}

// currentSiblings returns the op ids of a register's siblings as c sees them.
func currentSiblings(t *testing.T, c *client, rec, field string) []string {
	t.Helper()
	var st struct {
		Fields map[string]struct {
			Op        string `json:"op"`
			Conflicts []struct {
				Op string `json:"op"`
			} `json:"conflicts"`
		} `json:"fields"`
	}
	mustUnmarshal(t, c.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+rec, nil), &st)
	f := st.Fields[field]
	ids := []string{}
	if f.Op != "" {
		ids = append(ids, f.Op)
	}
	for _, c := range f.Conflicts {
		ids = append(ids, c.Op)
	}
	return ids
}

// TestRevokedDeviceAndEndedGrantGetWipe: a revoked device and a visitor
// whose grant ended get 401 with the wipe signal on everything, refresh
// included, and nothing else; other devices keep working.
func TestRevokedDeviceAndEndedGrantGetWipe(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	fw := d.clients["fw"]
	second := h.login("fw", userPassword, "")
	d.clients["tl"].mustDo(http.StatusOK, http.MethodPost, "/v1/devices/"+fw.device+"/revoke", nil)
	expectWipe := func(who string, c *client, code string) {
		for _, r := range []struct{ method, path string }{{"GET", "/v1/sync/pull"}, {"POST", "/v1/sync/push"}, {"GET", "/v1/records/" + d.northRec}, {"GET", "/v1/schema"}} {
			status, body := c.do(r.method, r.path, `{"ops":[]}`)
			var e api.ErrorBody
			mustUnmarshal(t, body, &e)
			if status != 401 || string(e.Error.Code) != code || !e.Error.Wipe || bytes.Contains(body, []byte("N-1")) {
				t.Errorf("%s %s %s: %d %s, want 401 %s with wipe", who, r.method, r.path, status, body, code)
			}
		}
		status, body := h.do(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": c.refresh})
		if status != 401 || errorCode(t, body) != code {
			t.Errorf("%s refresh: %d %s, want 401 %s", who, status, body, code)
		}
	}
	expectWipe("revoked device", fw, "device_revoked")
	if _, status, body := h.tryLogin("fw", userPassword, fw.device); status != 401 || errorCode(t, body) != "device_revoked" {
		t.Errorf("login on the revoked device: %d %s", status, body)
	}
	second.mustDo(http.StatusOK, http.MethodGet, "/v1/sync/pull", nil)

	visitor := d.clients["visitor"]
	visitor.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+d.week, nil)
	h.advance(73 * time.Hour)
	expectWipe("expired visitor", visitor, "grant_expired")
	if _, status, body := h.tryLogin("visitor", userPassword, ""); status != 401 || errorCode(t, body) != "grant_expired" {
		t.Errorf("login after the grant: %d %s", status, body)
	}
}

// TestVisitorWritesWithoutReading: a visitor writes site visits of the
// week, creates an identification for the host team it can never read back,
// and reads nothing else.
func TestVisitorWritesWithoutReading(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	v := d.clients["visitor"]
	visit, ident := newID(), newID()
	v.pushApplied(v.op(visit, model.KindSiteVisit, "action_week", "set", d.week), v.op(visit, model.KindSiteVisit, "notes", "append", map[string]string{"text": "met the mayor"}))
	v.pushApplied(v.newIdentification(ident, d.teams["north"], [3]any{"code", "set", "V-1"})...)
	v.pushApplied(v.op(ident, model.KindIdentification, "notes", "append", map[string]string{"text": "follow-up"}))
	if status, _ := v.do(http.MethodGet, "/v1/records/"+ident, nil); status != http.StatusNotFound {
		t.Fatalf("visitor read back its identification: %d", status)
	}
	ops, _, _ := v.pullAll("", 1000)
	for _, raw := range ops {
		if strings.Contains(string(raw), `"kind":"identification"`) {
			t.Fatalf("visitor pulled an identification op: %s", raw)
		}
	}
	if res := v.push(v.newIdentification(newID(), d.teams["south"])...); res.Results[0].Code != model.CodeForbidden {
		t.Fatalf("visitor creating for a team other than the host: %+v", res.Results[0])
	}
	d.clients["fw"].mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+ident, nil)
}
