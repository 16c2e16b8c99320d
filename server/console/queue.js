// The review queue: records waiting for a supervisor's decision, oldest
// first, filterable by reason, team, region and status (the queue API's
// filters).
import * as api from "./api.js";
import { h, replace, hlcWhen, words } from "./dom.js";
import { ctx, guard } from "./app.js";

/** What "not reviewed yet" (the queue's reason new) means, said wherever it is offered. */
export const NOT_REVIEWED_RULE = "“Not reviewed yet” means no supervisor has marked the record reviewed or asked for more information since it was created.";

export const reasonLabels = {
  new: "Not reviewed yet",
  conflict: "Conflicting values",
  formal_status: "Awaits a formal status",
  child_presumed: "Presumed child",
  cross_border_referral: "Cross-border referral",
  visitor_note: "Note from a visiting delegation",
};

/** The reasons in the order the console lists them. */
export const reasonOrder = ["conflict", "new", "formal_status", "child_presumed", "cross_border_referral", "visitor_note"];

let filter = ""; // kept while the console is open
const where = { team: "", region: "", status: "" }; // likewise

/** The queue items seen last, by record id (memory only), for the record page. */
export const seen = new Map();

export function reasonBadges(item) {
  const seen = new Set();
  const out = [];
  for (const r of item.reasons) {
    if (r.code === "conflict") {
      out.push(h("span", { class: "badge badge-conflict" }, `Conflict: ${r.field.replace(/_/g, " ")}`));
      continue;
    }
    if (seen.has(r.code)) continue;
    seen.add(r.code);
    out.push(h("span", { class: `badge badge-${r.code}` }, reasonLabels[r.code] || r.code));
  }
  if (item.duplicates.length) out.push(h("span", { class: "badge badge-duplicate" }, "Possible duplicate"));
  return out;
}

function itemRow(item) {
  return h("li", {},
    h("a", { href: `#/record/${item.id}`, class: "queue-item", "data-record": item.id },
      h("span", { class: "queue-code" }, item.code || "(no code)"),
      h("span", { class: "queue-meta" },
        [item.team_name, item.region, item.status && `status ${item.status}`].filter(Boolean).join(" · ")),
      h("span", { class: "queue-badges" }, reasonBadges(item)),
      h("span", { class: "queue-since muted small" }, "waiting since ", hlcWhen(item.since)),
    ));
}

export async function queueView() {
  const list = h("ul", { class: "queue", id: "queue-list" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show more");
  const heading = h("h1", {}, "Review queue");
  const summary = h("p", { class: "muted" });
  const chips = h("div", { class: "chips", role: "group", "aria-label": "Filter by reason" });
  const teams = [...ctx.teams.values()].sort((a, b) => a.name.localeCompare(b.name));
  const regions = [...new Set(teams.map((t) => t.region).filter(Boolean))].sort();
  const statuses = ctx.schema.kinds.identification.fields.status.values || [];
  const sel = (name, label, options) => {
    const el = h("select", { id: `qf-${name}`, "data-filter": name, onchange: () => { where[name] = el.value; guard(() => load(false)); } },
      options.map(([v, text]) => h("option", { value: v, selected: where[name] === v }, text)));
    return h("div", {}, h("label", { for: `qf-${name}` }, label), el);
  };
  const filters = h("div", { class: "filters queue-filters" },
    sel("team", "Team", [["", "All teams"], ...teams.map((t) => [t.id, t.name])]),
    h("div", {}, h("label", { for: "qf-region" }, "Region"),
      h("input", { id: "qf-region", type: "text", list: "qf-regions", value: where.region, autocomplete: "off", placeholder: "All regions",
        onchange: (ev) => { where.region = ev.target.value.trim(); guard(() => load(false)); } }),
      h("datalist", { id: "qf-regions" }, regions.map((r) => h("option", { value: r })))),
    sel("status", "Status", [["", "Any status"], ...statuses.map((s) => [s, words(s)])]));
  let next = "";

  async function load(append) {
    const q = new URLSearchParams({ limit: "50" });
    if (filter) q.set("reason", filter);
    for (const [k, v] of Object.entries(where)) if (v) q.set(k, v);
    if (append && next) q.set("after", next);
    const page = await api.get("/v1/review/queue?" + q);
    if (!append) list.replaceChildren();
    for (const item of page.items) {
      seen.set(item.id, item);
      list.appendChild(itemRow(item));
    }
    next = page.next || "";
    more.hidden = !next;
    summary.textContent = page.total === 0
      ? (filter ? "No record waits for this reason." : "Nothing waits for a decision. Well done.")
      : `${page.total} record${page.total === 1 ? "" : "s"} wait${page.total === 1 ? "s" : ""} for a decision.`;
    renderChips(page.by_reason);
  }

  function renderChips(byReason) {
    const chip = (code, label, n) => h("button", {
      type: "button", class: "chip" + (filter === code ? " active" : ""), "aria-pressed": String(filter === code),
      onclick: () => { filter = code; guard(() => load(false)); },
    }, n === undefined ? label : `${label} (${n})`);
    replace(chips, chip("", "All"), reasonOrder.filter((c) => byReason[c]).map((c) => chip(c, reasonLabels[c], byReason[c])));
  }

  more.addEventListener("click", () => guard(() => load(true)));
  await load(false);
  return h("section", { class: "view-queue" }, heading, filters, summary, chips,
    h("p", { class: "muted small" }, NOT_REVIEWED_RULE, " ", h("a", { href: "#/records" }, "Every record, reviewed or not, is under Records.")),
    list, more);
}
