package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server"
)

// adminDeployment is a deployment with a regional supervisor of north
// (sup.n) and a field worker of east (fw.e) besides.
func adminDeployment(t *testing.T, h *harness) *deployment {
	t.Helper()
	d := newDeployment(t, h)
	d.addUser("sup.n", userSpec{role: model.RoleSupervisor, teams: []string{"north"}})
	d.addUser("fw.e", userSpec{role: model.RoleFieldWorker, teams: []string{"east"}})
	return d
}

// visitorRequest asks for a visitor of week until until.
func visitorRequest(name, week string, until time.Time) api.CreateUserRequest {
	return api.CreateUserRequest{Username: name, Password: userPassword, Role: model.RoleVisitor, Teams: []string{}, ActionWeek: week, ValidUntil: &until}
}

// TestVisitorGrantsStayInJurisdiction: a supervisor of east may not create
// a visitor of a week north hosts, and is answered exactly as for a week
// that does not exist; the week's own supervisor and team lead may. A
// visitor's end lies at most the grace past the week's ends_on, and a week
// without ends_on gets no visitors.
func TestVisitorGrantsStayInJurisdiction(t *testing.T) {
	h := startServer(t)
	d := adminDeployment(t, h)
	until := h.now().Add(48 * time.Hour)
	supE := d.clients["sup.e"]
	fStatus, foreign := supE.do(http.MethodPost, "/v1/admin/users", visitorRequest("v.foreign", d.week, until))
	mStatus, missing := supE.do(http.MethodPost, "/v1/admin/users", visitorRequest("v.missing", newID(), until))
	if fStatus != http.StatusNotFound || mStatus != fStatus || !bytes.Equal(foreign, missing) {
		t.Errorf("a week outside the jurisdiction: %d %s; a missing week: %d %s; want the same 404", fStatus, foreign, mStatus, missing)
	}
	for _, who := range []string{"tl", "sup.n", "sup"} {
		d.clients[who].mustDo(http.StatusCreated, http.MethodPost, "/v1/admin/users", visitorRequest("v."+who, d.week, until))
	}
	// ends_on is 2030-01-01: its day ends 2030-01-02, the grace is 7 days.
	end := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC)
	d.clients["sup"].mustDo(http.StatusCreated, http.MethodPost, "/v1/admin/users", visitorRequest("v.last", d.week, end.Add(7*24*time.Hour)))
	for name, until := range map[string]time.Time{"v.late": end.Add(7*24*time.Hour + time.Second), "v.decade": end.AddDate(10, 0, 0)} {
		status, body := d.admin.do(http.MethodPost, "/v1/admin/users", visitorRequest(name, d.week, until))
		if status != http.StatusBadRequest || errorCode(t, body) != "invalid_request" {
			t.Errorf("visitor until %s: %d %s, want 400 invalid_request", until, status, body)
		}
	}
	sup, open := d.clients["sup"], newID()
	sup.pushApplied(sup.op(open, model.KindActionWeek, "host_team", "set", d.teams["north"]))
	status, body := sup.do(http.MethodPost, "/v1/admin/users", visitorRequest("v.open", open, until))
	if status != http.StatusBadRequest || errorCode(t, body) != "invalid_request" {
		t.Errorf("visitor of a week without ends_on: %d %s, want 400 invalid_request", status, body)
	}
}

// TestAccountCreationStaysInJurisdiction: supervisors and team leads
// create only accounts they will manage.
func TestAccountCreationStaysInJurisdiction(t *testing.T) {
	h := startServer(t)
	d := adminDeployment(t, h)
	n := 0
	req := func(role model.Role, teams ...string) api.CreateUserRequest {
		n++
		r := api.CreateUserRequest{Username: "new" + string(rune('a'+n)), Password: userPassword, Role: role, Teams: []string{}}
		for _, team := range teams {
			r.Teams = append(r.Teams, d.teams[team])
		}
		return r
	}
	tests := []struct {
		who  string
		req  api.CreateUserRequest
		want int
	}{
		{"sup.e", req(model.RoleFieldWorker, "east"), http.StatusCreated},
		{"sup.e", req(model.RoleTeamLead, "east"), http.StatusCreated},
		{"sup.e", req(model.RoleFieldWorker, "north"), http.StatusForbidden},
		{"sup.e", req(model.RoleFieldWorker, "east", "north"), http.StatusForbidden},
		{"sup.e", req(model.RoleSupervisor, "east"), http.StatusForbidden},
		{"sup.e", req(model.RoleAdmin), http.StatusForbidden},
		{"sup.e", req(model.RoleAuditor), http.StatusForbidden},
		{"sup", req(model.RoleFieldWorker, "south"), http.StatusCreated},
		{"sup", req(model.RoleSupervisor), http.StatusForbidden},
		{"tl", req(model.RoleFieldWorker, "north"), http.StatusCreated},
		{"tl", req(model.RoleFieldWorker, "south"), http.StatusForbidden},
		{"tl", req(model.RoleTeamLead, "north"), http.StatusForbidden},
		{"tl", req(model.RoleSupervisor, "north"), http.StatusForbidden},
		{"fw", req(model.RoleFieldWorker, "north"), http.StatusForbidden},
	}
	for _, tt := range tests {
		status, body := d.clients[tt.who].do(http.MethodPost, "/v1/admin/users", tt.req)
		if status != tt.want {
			t.Errorf("%s creates a %s of %v: %d %s, want %d", tt.who, tt.req.Role, tt.req.Teams, status, body, tt.want)
		}
	}
}

// TestAccountListsStayInJurisdiction: supervisors and team leads list only
// the accounts they manage, and devices of those and their own.
func TestAccountListsStayInJurisdiction(t *testing.T) {
	h := startServer(t)
	d := adminDeployment(t, h)
	tests := []struct {
		who   string
		users []string
	}{
		{"tl", []string{"fw", "visitor"}},
		{"sup.n", []string{"fw", "tl", "visitor"}},
		{"sup.e", []string{"fw.e"}},
		{"sup", []string{"fw", "fw.e", "fw.s", "tl", "visitor"}},
	}
	for _, tt := range tests {
		c := d.clients[tt.who]
		var users struct{ Users []api.User }
		mustUnmarshal(t, c.mustDo(http.StatusOK, http.MethodGet, "/v1/admin/users", nil), &users)
		var got []string
		for _, u := range users.Users {
			got = append(got, u.Username)
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.users) {
			t.Errorf("%s lists users %v, want %v", tt.who, got, tt.users)
		}
		var devices struct{ Devices []api.Device }
		mustUnmarshal(t, c.mustDo(http.StatusOK, http.MethodGet, "/v1/admin/devices", nil), &devices)
		got = got[:0]
		for _, dev := range devices.Devices {
			got = append(got, dev.Username)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(append(slices.Clone(tt.users), tt.who)))
		if !slices.Equal(got, want) {
			t.Errorf("%s lists devices of %v, want %v", tt.who, got, want)
		}
	}
}

// TestDeviceRevocationStaysInJurisdiction: nobody but an admin revokes an
// admin's or a supervisor's device (a supervisor revokes its own); a
// device outside the caller's jurisdiction answers like a missing one.
func TestDeviceRevocationStaysInJurisdiction(t *testing.T) {
	h := startServer(t)
	d := adminDeployment(t, h)
	second := func(name string) string { return h.login(name, userPassword, "").device }
	adminDevice := h.login("admin", adminPassword, "").device
	tests := []struct {
		who, device string
		want        int
	}{
		{"tl", second("sup.n"), http.StatusNotFound},
		{"tl", second("sup"), http.StatusNotFound},
		{"tl", second("fw.s"), http.StatusNotFound},
		{"sup.e", adminDevice, http.StatusNotFound},
		{"sup.e", second("sup"), http.StatusNotFound},
		{"sup.n", second("sup.e"), http.StatusNotFound},
		{"sup.e", second("fw"), http.StatusNotFound},
		{"sup.e", second("auditor"), http.StatusNotFound},
		{"sup", second("sup.e"), http.StatusNotFound},
		{"sup.e", newID(), http.StatusNotFound},
		{"sup.e", second("sup.e"), http.StatusOK},
		{"sup.e", second("fw.e"), http.StatusOK},
		{"sup.n", second("visitor"), http.StatusOK},
		{"tl", second("fw"), http.StatusOK},
		{"tl", second("tl"), http.StatusOK},
		{"sup", second("tl"), http.StatusOK},
	}
	for _, tt := range tests {
		status, body := d.clients[tt.who].do(http.MethodPost, "/v1/devices/"+tt.device+"/revoke", nil)
		if status != tt.want {
			t.Errorf("%s revokes device %s: %d %s, want %d", tt.who, tt.device, status, body, tt.want)
		}
		if status == http.StatusNotFound && !bytes.Contains(body, []byte("There is no device "+tt.device+" you may revoke.")) {
			t.Errorf("%s revokes device %s: %s, want the answer a missing device gets", tt.who, tt.device, body)
		}
	}
	d.admin.mustDo(http.StatusOK, http.MethodPost, "/v1/devices/"+second("sup")+"/revoke", nil)
}

// TestDisabledAccountIsRefusedAtOnce: disabling an account refuses its live
// access and refresh tokens on their very next request and its logins;
// enabling lets it log in again (its old sessions stay ended); a password
// reset ends its sessions too. Every change is audited.
func TestDisabledAccountIsRefusedAtOnce(t *testing.T) {
	h := startServer(t)
	d := adminDeployment(t, h)
	fw, sup := d.clients["fw"], d.clients["sup.n"]
	fw.mustDo(http.StatusOK, http.MethodGet, "/v1/sync/pull", nil)
	var u api.User
	mustUnmarshal(t, sup.mustDo(http.StatusOK, http.MethodPost, "/v1/admin/users/"+fw.user.ID+"/disable", nil), &u)
	if u.DisabledAt == nil {
		t.Errorf("disabled user served without disabled_at: %+v", u)
	}
	wantCode := func(what string, status int, body []byte, code string) {
		t.Helper()
		if status != http.StatusUnauthorized || errorCode(t, body) != code {
			t.Errorf("%s: %d %s, want 401 %s", what, status, body, code)
		}
	}
	status, body := fw.do(http.MethodGet, "/v1/sync/pull", nil)
	wantCode("pull with a live token", status, body, "account_disabled")
	status, body = h.do(http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh_token": fw.refresh})
	wantCode("refresh", status, body, "account_disabled")
	_, status, body = h.tryLogin("fw", userPassword, "")
	wantCode("login", status, body, "account_disabled")
	_, status, body = h.tryLogin("fw", "not the password at all", "")
	wantCode("login with a wrong password", status, body, "invalid_credentials")

	sup.mustDo(http.StatusOK, http.MethodPost, "/v1/admin/users/"+fw.user.ID+"/enable", nil)
	status, body = fw.do(http.MethodGet, "/v1/sync/pull", nil)
	wantCode("the old token after enable", status, body, "unauthorized")
	again := h.login("fw", userPassword, fw.device)
	again.mustDo(http.StatusOK, http.MethodGet, "/v1/sync/pull", nil)

	const newPassword = "a brand new long password"
	sup.mustDo(http.StatusOK, http.MethodPost, "/v1/admin/users/"+fw.user.ID+"/password", api.SetPasswordRequest{Password: newPassword})
	status, body = again.do(http.MethodGet, "/v1/sync/pull", nil)
	wantCode("a token after the password reset", status, body, "unauthorized")
	_, status, body = h.tryLogin("fw", userPassword, "")
	wantCode("the old password", status, body, "invalid_credentials")
	h.login("fw", newPassword, "")

	var page struct {
		Entries []struct{ Actor, Action, Object string }
	}
	mustUnmarshal(t, d.clients["auditor"].mustDo(http.StatusOK, http.MethodGet, "/v1/audit?limit=1000", nil), &page)
	var got []string
	for _, e := range page.Entries {
		if e.Object == fw.user.ID && e.Actor == sup.user.ID {
			got = append(got, e.Action)
		}
	}
	if want := []string{"user_disabled", "user_enabled", "password_reset"}; !slices.Equal(got, want) {
		t.Errorf("audited account actions = %v, want %v", got, want)
	}
}

// TestAccountPowersStayInJurisdiction: a supervisor disables, enables and
// resets only the non-supervisor accounts of its jurisdiction; anything
// else answers like a missing user; nobody disables itself; team leads
// and the other roles may not use these routes.
func TestAccountPowersStayInJurisdiction(t *testing.T) {
	h := startServer(t)
	d := adminDeployment(t, h)
	var users struct{ Users []api.User }
	mustUnmarshal(t, d.admin.mustDo(http.StatusOK, http.MethodGet, "/v1/admin/users", nil), &users)
	id := map[string]string{}
	for _, u := range users.Users {
		id[u.Username] = u.ID
	}
	tests := []struct {
		who, target string
		want        int
	}{
		{"sup.e", "fw", http.StatusNotFound},
		{"sup.e", "visitor", http.StatusNotFound},
		{"sup.e", "sup", http.StatusNotFound},
		{"sup.e", "admin", http.StatusNotFound},
		{"sup.e", "auditor", http.StatusNotFound},
		{"sup.n", "sup.e", http.StatusNotFound},
		{"sup", "sup.n", http.StatusNotFound},
		{"sup.e", "sup.e", http.StatusForbidden},
		{"admin", "admin", http.StatusForbidden},
		{"tl", "fw", http.StatusForbidden},
		{"fw", "fw", http.StatusForbidden},
		{"sup.e", "fw.e", http.StatusOK},
		{"sup.n", "visitor", http.StatusOK},
		{"sup", "tl", http.StatusOK},
		{"admin", "sup", http.StatusOK},
	}
	for _, tt := range tests {
		c := d.admin
		if tt.who != "admin" {
			c = d.clients[tt.who]
		}
		status, body := c.do(http.MethodPost, "/v1/admin/users/"+id[tt.target]+"/disable", nil)
		if status != tt.want {
			t.Errorf("%s disables %s: %d %s, want %d", tt.who, tt.target, status, body, tt.want)
		}
		if status == http.StatusOK {
			c.mustDo(http.StatusOK, http.MethodPost, "/v1/admin/users/"+id[tt.target]+"/enable", nil)
		}
		if tt.want == http.StatusNotFound {
			c.mustDo(http.StatusNotFound, http.MethodPost, "/v1/admin/users/"+id[tt.target]+"/password", api.SetPasswordRequest{Password: "a brand new long password"})
		}
	}
}

// TestResetPasswordTool: with the server stopped, the reset-password tool
// sets a lost admin password, enables the account, ends its sessions and
// extends the audit chain, which still verifies.
func TestResetPasswordTool(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, nil, map[string]userSpec{"auditor": {role: model.RoleAuditor}})
	admin := w.admin
	h.stop()
	const newPassword = "the admin's new password"
	res, err := server.ResetPassword(context.Background(), h.dir, "", "admin", newPassword, discardLogger(), h.now)
	if err != nil || res.Generated != "" || res.Enabled {
		t.Fatalf("ResetPassword = %+v, %v", res, err)
	}
	if _, err := server.ResetPassword(context.Background(), h.dir, "", "nobody", newPassword, discardLogger(), h.now); err == nil {
		t.Errorf("ResetPassword of an unknown user succeeded")
	}
	h.start()
	if status, body := admin.do(http.MethodGet, "/v1/admin/users", nil); status != http.StatusUnauthorized {
		t.Errorf("the admin's old session after the reset: %d %s, want 401", status, body)
	}
	if _, status, _ := h.tryLogin("admin", adminPassword, ""); status != http.StatusUnauthorized {
		t.Errorf("login with the lost password: %d, want 401", status)
	}
	h.login("admin", newPassword, "")
	var page struct {
		Entries []struct{ Actor, Action, Object, Detail string }
	}
	mustUnmarshal(t, h.login("auditor", userPassword, "").mustDo(http.StatusOK, http.MethodGet, "/v1/audit?limit=1000", nil), &page)
	if !slices.ContainsFunc(page.Entries, func(e struct{ Actor, Action, Object, Detail string }) bool {
		return e.Action == "password_reset" && e.Object == admin.user.ID && e.Detail == "cli" && e.Actor == ""
	}) {
		t.Errorf("the audit log holds no password_reset of the admin by the tool: %+v", page.Entries)
	}
	h.stop()
	if err := server.VerifyAudit(context.Background(), h.dir, "", discardLogger(), io.Discard); err != nil {
		t.Errorf("the audit chain after the reset: %v", err)
	}
}

// TestVisitorGraceIsConfiguration: the grace is read and validated at start.
func TestVisitorGraceIsConfiguration(t *testing.T) {
	for v, ok := range map[string]bool{"0s": true, "72h": true, "-1h": false, "2000h": false, "week": false} {
		m := server.NewMain()
		err := m.ParseFlags([]string{"--data", t.TempDir()}, func(k string) string {
			if k == "FIELDSYNC_VISITOR_GRACE" {
				return v
			}
			return ""
		})
		if (err == nil) != ok {
			t.Errorf("FIELDSYNC_VISITOR_GRACE=%s: %v, want ok = %v", v, err, ok)
		}
	}
}
