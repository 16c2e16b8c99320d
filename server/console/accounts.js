// Accounts (administrators and supervisors): teams, users and the
// visitors of action weeks with their week's id and validity (never the
// week's name: administrators read no record content); disable or enable
// an account and set a new password, each in two clicks. The server
// decides who may manage whom; this page only offers.
import * as api from "./api.js";
import { h, replace, when, isoTime, words } from "./dom.js";
import { busy, ui, ctx, loadNames } from "./app.js";

/** Whether a visitor's grant is still valid at now. */
export function visitorValid(u, now = Date.now()) {
  return !!u.valid_until && new Date(u.valid_until).getTime() > now;
}

function teamNames(ids) {
  return ids.map((id) => (ctx.teams.get(id) || { name: "a team you cannot see" }).name).join(", ");
}

/** A button that acts on its second click ("Confirm: …" in between). */
function twoClick(label, confirm, attrs, action) {
  const b = h("button", { type: "button", ...attrs }, label);
  let armed = false;
  b.addEventListener("click", busy(b, async () => {
    if (!armed) {
      armed = true;
      b.textContent = confirm;
      return;
    }
    await action();
  }));
  return b;
}

function teamsCard(teams, isAdmin, refresh) {
  const name = h("input", { id: "team-name", type: "text", autocomplete: "off", maxlength: 200 });
  const region = h("input", { id: "team-region", type: "text", autocomplete: "off", maxlength: 200 });
  const create = h("button", { type: "submit", id: "team-create" }, "Create team");
  const form = h("form", { class: "filters", id: "team-form", novalidate: true },
    h("div", {}, h("label", { for: "team-name" }, "Name"), name),
    h("div", {}, h("label", { for: "team-region" }, "Region"), region),
    h("div", { class: "filter-actions" }, create));
  form.addEventListener("submit", busy(create, async () => {
    if (!name.value.trim()) throw new Error("Enter the team's name.");
    await api.post("/v1/admin/teams", { name: name.value.trim(), region: region.value.trim() });
    ui.message(`Team ${name.value.trim()} created.`);
    await refresh();
  }));
  return h("div", { class: "card", id: "teams" },
    h("h2", {}, `Teams (${teams.length})`),
    h("div", { class: "scroll" }, h("table", { class: "dense accounts" },
      h("thead", {}, h("tr", {}, ["Team", "Region", "Created", "Id"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, teams.map((t) => h("tr", { "data-team": t.id },
        h("td", {}, t.name), h("td", {}, t.region || ""), h("td", {}, when(t.created_at)), h("td", { class: "id" }, t.id)))))),
    isAdmin ? form : null);
}

function passwordForm(u, refresh) {
  const pw = h("input", { type: "password", id: `pw-${u.id}`, autocomplete: "new-password", "aria-label": `New password for ${u.username}` });
  const again = h("input", { type: "password", id: `pw2-${u.id}`, autocomplete: "new-password", "aria-label": "The new password again" });
  const save = h("button", { type: "submit", "data-action": "set-password" }, "Set password");
  const form = h("form", { class: "inline password-form", hidden: true, novalidate: true }, pw, again, save);
  form.addEventListener("submit", busy(save, async () => {
    if (pw.value.length < 12) throw new Error("A password needs at least 12 characters.");
    if (pw.value !== again.value) throw new Error("The two passwords differ.");
    await api.post(api.path`/v1/admin/users/${u.id}/password`, { password: pw.value });
    pw.value = again.value = "";
    ui.message(`The password of ${u.username} was changed; their sessions ended. Tell them the new one in person.`);
    await refresh();
  }));
  return form;
}

function userRow(u, me, refresh, withGrant) {
  const disabled = !!u.disabled_at;
  const actions = [];
  if (u.id !== me.id && u.role !== "admin") {
    actions.push(disabled
      ? twoClick("Enable", "Confirm: enable", { class: "secondary", "data-action": "enable", "data-user": u.id }, async () => {
        await api.post(api.path`/v1/admin/users/${u.id}/enable`);
        ui.message(`${u.username} can log in again.`);
        await refresh();
      })
      : twoClick("Disable", "Confirm: disable", { class: "danger", "data-action": "disable", "data-user": u.id }, async () => {
        await api.post(api.path`/v1/admin/users/${u.id}/disable`);
        ui.message(`${u.username} is disabled: their sessions ended at once and they cannot log in.`);
        await refresh();
      }));
    const form = passwordForm(u, refresh);
    actions.push(h("button", {
      type: "button", class: "secondary", "data-action": "reset-password", "data-user": u.id,
      onclick: () => { form.hidden = !form.hidden; if (!form.hidden) form.querySelector("input").focus(); },
    }, "Reset password"), form);
  } else if (u.id === me.id) {
    actions.push(h("span", { class: "muted small" }, "you"));
  }
  let grant = "";
  if (u.role === "visitor") {
    grant = h("span", {},
      h("span", { class: "id", title: "The action week's id (its name is record content)" }, u.action_week || "no week"),
      h("br"),
      u.valid_until
        ? h("span", { class: visitorValid(u) ? "ok" : "muted", "data-valid": String(visitorValid(u)) },
          `${visitorValid(u) ? "valid until" : "expired"} ${isoTime(u.valid_until)}`)
        : "no end date");
  }
  return h("tr", { "data-user": u.id, class: disabled ? "disabled" : null },
    h("td", {}, u.username), h("td", {}, words(u.role)), h("td", {}, teamNames(u.teams)),
    h("td", {}, disabled ? h("span", { class: "badge badge-revoked", title: isoTime(u.disabled_at) }, "disabled") : "active"),
    h("td", {}, when(u.created_at)),
    withGrant ? h("td", {}, grant) : null,
    h("td", { class: "actions" }, actions));
}

export async function accountsView() {
  const me = api.current().user;
  const [{ users }, { teams }] = await Promise.all([api.get("/v1/admin/users"), api.get("/v1/admin/teams")]);
  await loadNames();
  const root = h("section", { class: "view-accounts" });
  async function refresh() {
    const fresh = await accountsView();
    document.querySelector(".view-accounts").replaceWith(fresh);
  }
  const order = { admin: 0, supervisor: 1, auditor: 2, team_lead: 3, field_worker: 4, visitor: 5 };
  users.sort((a, b) => (order[a.role] ?? 9) - (order[b.role] ?? 9) || a.username.localeCompare(b.username));
  teams.sort((a, b) => a.name.localeCompare(b.name));
  const people = users.filter((u) => u.role !== "visitor");
  const visitors = users.filter((u) => u.role === "visitor");
  const table = (rows, id, withGrant) => h("div", { class: "scroll" }, h("table", { class: "dense accounts", id },
    h("thead", {}, h("tr", {}, ["User", "Role", "Teams", "State", "Created", withGrant ? "Action week and validity" : null, ""]
      .filter((t) => t !== null).map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((u) => userRow(u, me, refresh, withGrant)))));
  replace(root,
    h("h1", {}, "Accounts"),
    h("p", { class: "muted" }, "Disabling an account ends its sessions at once; so does a new password. Visitors of an action week are listed with the week's id and how long their access lasts."),
    teamsCard(teams, me.role === "admin", refresh),
    h("div", { class: "card", id: "users" }, h("h2", {}, `Users (${people.length})`), table(people, "users-table", false)),
    h("div", { class: "card", id: "visitors" }, h("h2", {}, `Visitors (${visitors.length})`),
      visitors.length ? table(visitors, "visitors-table", true) : h("p", { class: "muted" }, "No visitor accounts.")));
  return root;
}
