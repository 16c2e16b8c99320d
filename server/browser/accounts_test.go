//go:build browser

package browser

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/server/demo"
)

// userNamed returns the id and state of a user, through the API.
func userNamed(c *apiClient, name string) api.User {
	c.t.Helper()
	var list struct{ Users []api.User }
	c.do(http.MethodGet, "/v1/admin/users", nil, &list)
	for _, u := range list.Users {
		if u.Username == name {
			return u
		}
	}
	c.t.Fatalf("no user %s", name)
	return api.User{}
}

// TestConsoleAccounts: an administrator lands on the accounts screen:
// teams, users, visitors with their week's id and validity (not its
// name); creates a team; disables and enables an account and sets a new
// password, each checked through the API.
func TestConsoleAccounts(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newBrowser(t, chromium)
	admin := login(t, base, "admin", adminPassword)
	b.do("viewport", chromedp.EmulateViewport(1366, 768))
	b.logIn(base, "admin", adminPassword, "#users-table")
	if nav := b.eval(`[...document.querySelectorAll("#nav a")].filter((a) => !a.hidden).map((a) => a.dataset.view).join(",")`); nav != "devices,accounts" {
		t.Errorf("an administrator's menu: %s, want devices,accounts", nav)
	}
	teams := b.text("#teams")
	if !strings.Contains(teams, "Mobile team North") || !strings.Contains(teams, "Shkodër") {
		t.Errorf("the teams card: %q", teams)
	}
	visitor := userNamed(admin, "visitor.de")
	row := b.text(fmt.Sprintf(`#visitors-table tr[data-user=%q]`, visitor.ID))
	if !strings.Contains(row, visitor.ActionWeek) || !strings.Contains(row, "valid until") {
		t.Errorf("the visitor's row %q lacks the week id %s or its validity", row, visitor.ActionWeek)
	}
	b.shot("accounts")

	// A new team.
	b.do("create a team", chromedp.SendKeys(chromedp.CSS("#team-name"), "Mobile team East"), chromedp.SendKeys(chromedp.CSS("#team-region"), "Korçë"),
		chromedp.Click(chromedp.CSS("#team-create")))
	b.waitText("#message", "Team Mobile team East created.")
	b.waitText("#teams", "Korçë")

	// Disable, then enable, worker2.north: two clicks each.
	w2 := userNamed(admin, "worker2.north")
	disable := fmt.Sprintf(`button[data-action="disable"][data-user=%q]`, w2.ID)
	b.click("disable", disable)
	b.waitText(disable, "Confirm")
	b.click("confirm disable", disable)
	b.waitText("#message", "worker2.north is disabled")
	if u := userNamed(admin, "worker2.north"); u.DisabledAt == nil {
		t.Error("worker2.north is not disabled at the server")
	}
	b.waitText(fmt.Sprintf(`#users-table tr[data-user=%q]`, w2.ID), "disabled")
	b.shot("accounts-disabled")
	enable := fmt.Sprintf(`button[data-action="enable"][data-user=%q]`, w2.ID)
	b.click("enable", enable)
	b.waitText(enable, "Confirm")
	b.click("confirm enable", enable)
	b.waitText("#message", "can log in again")
	// The message shows before the view is redrawn: wait for the new row,
	// or the next click lands on a table about to be replaced.
	b.waitJS("the redrawn row", fmt.Sprintf(`(() => { const r = document.querySelector(%q); return !!r && !r.classList.contains("disabled"); })()`, fmt.Sprintf(`#users-table tr[data-user=%q]`, w2.ID)))
	if u := userNamed(admin, "worker2.north"); u.DisabledAt != nil {
		t.Error("worker2.north is still disabled at the server")
	}

	// A new password for worker.north: mismatches are refused in plain words.
	w := userNamed(admin, "worker.north")
	newPassword := "a new password for the field"
	setPassword := fmt.Sprintf(`tr[data-user=%q] button[data-action="set-password"]`, w.ID)
	b.click("open the password form", fmt.Sprintf(`button[data-action="reset-password"][data-user=%q]`, w.ID))
	b.do("type two passwords", chromedp.SendKeys(chromedp.CSS("#pw-"+w.ID), newPassword), chromedp.SendKeys(chromedp.CSS("#pw2-"+w.ID), "something else entirely"))
	b.click("set the password", setPassword)
	b.waitText("#error", "The two passwords differ.")
	b.do("type it again", chromedp.SetValue(chromedp.CSS("#pw2-"+w.ID), newPassword))
	b.click("set it again", setPassword)
	b.waitText("#message", "The password of worker.north was changed")
	login(t, base, "worker.north", newPassword) // fails the test unless the new password works
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

// TestConsoleAudit: an auditor sees only the audit log; the chain is
// verified in the browser (and found broken when an entry is altered),
// with the head's hash shown; filters narrow the entries.
func TestConsoleAudit(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newBrowser(t, chromium)
	// One failed login, for the filter below.
	resp, err := http.Post(base+"/v1/auth/login", "application/json", strings.NewReader(`{"username":"supervisor","password":"not the password"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	b.logIn(base, "auditor", demo.Password, "#chain-status [data-verified]")
	if nav := b.eval(`[...document.querySelectorAll("#nav a")].filter((a) => !a.hidden).map((a) => a.dataset.view).join(",")`); nav != "audit" {
		t.Errorf("an auditor's menu: %s, want audit", nav)
	}
	b.waitText("#chain-status", "The chain verifies")
	aud := login(t, base, "auditor", demo.Password)
	var page struct {
		Entries []struct {
			Seq  uint64 `json:"seq"`
			Hash string `json:"hash"`
		} `json:"entries"`
	}
	aud.do(http.MethodGet, "/v1/audit?limit=1000", nil, &page)
	if len(page.Entries) == 0 {
		t.Fatal("the demo's audit log is empty")
	}
	// The head shown is an entry of the chain (logins since have added more).
	head, found := b.text("#head-hash"), false
	for _, e := range page.Entries {
		found = found || e.Hash == head
	}
	if !found {
		t.Errorf("the head hash shown %q is no entry's hash", head)
	}
	b.shot("audit")

	// The in-browser check catches an altered entry and a removed one.
	got := b.eval(`(async () => {
		const a = await import("/console/audit.js");
		const api = await import("/console/api.js");
		const { entries } = await api.get("/v1/audit?limit=50");
		const ok = (await a.verify(entries)).length;
		const altered = entries.map((e) => ({ ...e }));
		altered[2].detail = (altered[2].detail || "") + "x";
		const removed = entries.filter((_, i) => i !== 1);
		return [ok, (await a.verify(altered)).map((p) => p.seq).join("+"), (await a.verify(removed)).length > 0].join(",");
	})()`)
	if !strings.HasPrefix(got, "0,3,") || !strings.HasSuffix(got, ",true") {
		t.Errorf("verify (intact, altered entry 3, removed entry 2): %s, want 0,3,true", got)
	}

	// Filter by action: only failed logins (the one made above).
	b.do("filter", chromedp.SetValue(chromedp.CSS("#af-action"), "login_failed"), chromedp.Click(chromedp.CSS("#af-apply")))
	b.waitText("#audit-count", " of ")
	rows := b.eval(`[...document.querySelectorAll("#audit-table tbody tr td:nth-child(3)")].map((td) => td.textContent).join(",")`)
	if rows == "" || strings.Trim(strings.ReplaceAll(rows, "Login failed", ""), ",") != "" {
		t.Errorf("filtered to failed logins, the actions are %q", rows)
	}
	b.shot("audit-filtered")
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
