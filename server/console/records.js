// Records: every identification the supervisor may read, reviewed or
// not, in a dense sortable table: search by code, filters (team, region,
// status, review, queue reason, encounter dates), real pages with counts.
// It reads GET /v1/records as a search (code, sort, offset...): the server
// filters, sorts and counts, so a page is the same whatever the browser
// holds. Filters live in this module's memory while the console is open.
import * as api from "./api.js";
import { h, replace, when, words, dateInput } from "./dom.js";
import { ctx, guard } from "./app.js";
import { reasonLabels, reasonOrder, NOT_REVIEWED_RULE } from "./queue.js";

/** Rows per page: dense, as ODK Central and PocketBase show. */
export const PAGE = 50;

const columns = [
  { key: "code", label: "Code" },
  { key: "team", label: "Team" },
  { key: "region", label: "Region" },
  { key: "status", label: "Status" },
  { key: "review_status", label: "Review" },
  { key: "encounter_date", label: "Encountered" },
  { key: "updated", label: "Updated" },
  { key: null, label: "In the queue for" },
];

// Reason labels short enough for a table cell (the full one on hover).
const shortReasons = {
  conflict: "Conflict", formal_status: "Formal status", child_presumed: "Child",
  cross_border_referral: "Cross-border", visitor_note: "Visitor note",
};

// The view's state, kept while the console is open.
const state = { code: "", team: "", region: "", status: "", review: "", reason: "", from: "", to: "", sort: "-updated", page: 0 };
const regions = new Set();

/** The query of a state: the API's search parameters. */
export function query(s, page = PAGE) {
  const q = new URLSearchParams({ sort: s.sort, limit: String(page), offset: String(s.page * page), kind: "identification" });
  if (s.code) q.set("code", s.code);
  if (s.team) q.set("team", s.team);
  if (s.region) q.set("region", s.region);
  if (s.status) q.set("status", s.status);
  if (s.review) q.set("review_status", s.review);
  if (s.reason) q.set("reason", s.reason);
  if (s.from) q.set("encountered_from", s.from);
  if (s.to) q.set("encountered_to", s.to);
  return q;
}

/** A review_status as a supervisor reads it; empty is "not reviewed yet". */
export function reviewLabel(v) {
  return v ? words(v) : "Not reviewed yet";
}

function select(id, label, options, value) {
  return [
    h("label", { for: id }, label),
    h("select", { id }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))),
  ];
}

export async function recordsView() {
  for (const t of ctx.teams.values()) if (t.region) regions.add(t.region);
  const teams = [...ctx.teams.values()].sort((a, b) => a.name.localeCompare(b.name));
  const statuses = (ctx.schema.kinds.identification.fields.status.values || []);
  const code = h("input", { id: "rf-code", type: "search", value: state.code, autocomplete: "off", spellcheck: "false", placeholder: "e.g. N-2026" });
  const from = dateInput("rf-from", state.from, "the first encounter date");
  const to = dateInput("rf-to", state.to, "the last encounter date");
  const regionList = h("datalist", { id: "rf-regions" }, [...regions].sort().map((r) => h("option", { value: r })));
  const region = h("input", { id: "rf-region", type: "text", list: "rf-regions", value: state.region, autocomplete: "off" });
  const form = h("form", { class: "filters", id: "records-filters", novalidate: true },
    h("div", {}, h("label", { for: "rf-code" }, "Code contains"), code),
    h("div", {}, select("rf-team", "Team", [["", "All teams"], ...teams.map((t) => [t.id, t.name])], state.team)),
    h("div", {}, h("label", { for: "rf-region" }, "Region"), region, regionList),
    h("div", {}, select("rf-status", "Status", [["", "Any status"], ...statuses.map((s) => [s, words(s)])], state.status)),
    h("div", {}, select("rf-review", "Review", [["", "Any"], ["none", "Not reviewed yet"], ["pending", "Pending"], ["reviewed", "Reviewed"], ["needs_info", "Needs info"]], state.review)),
    h("div", {}, select("rf-reason", "In the queue for", [["", "Any or none"], ...reasonOrder.map((r) => [r, reasonLabels[r]])], state.reason)),
    h("div", {}, h("label", { for: "rf-from" }, "Encountered from"), from.el),
    h("div", {}, h("label", { for: "rf-to" }, "Encountered to"), to.el),
    h("div", { class: "filter-actions" },
      h("button", { type: "submit", id: "rf-apply" }, "Search"),
      h("button", { type: "button", class: "secondary", id: "rf-clear" }, "Clear")));
  const summary = h("p", { class: "muted", id: "records-count", role: "status" });
  const tbody = h("tbody", {});
  const head = h("tr", {});
  const table = h("table", { class: "records dense", id: "records-table" }, h("thead", {}, head), tbody);
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const root = h("section", { class: "view-records" },
    h("h1", {}, "Records"),
    h("p", { class: "muted small" }, "Every identification in your jurisdiction, reviewed or not. ", NOT_REVIEWED_RULE),
    form, summary, h("div", { class: "scroll" }, table), pager);

  function readForm() {
    state.code = code.value.trim();
    state.team = form.querySelector("#rf-team").value;
    state.region = region.value.trim();
    state.status = form.querySelector("#rf-status").value;
    state.review = form.querySelector("#rf-review").value;
    state.reason = form.querySelector("#rf-reason").value;
    state.from = from.read();
    state.to = to.read();
    if (state.from && state.to && state.from > state.to) throw new Error("The first encounter date is after the last one.");
  }

  function renderHead() {
    const [key, desc] = state.sort.startsWith("-") ? [state.sort.slice(1), true] : [state.sort, false];
    replace(head, columns.map((c) => {
      if (!c.key) return h("th", { scope: "col" }, c.label);
      const active = c.key === key;
      const sort = active ? (desc ? "descending" : "ascending") : "none";
      return h("th", { scope: "col", "aria-sort": sort },
        h("button", {
          type: "button", class: "sort", "data-sort": c.key,
          title: `Sort by ${c.label.toLowerCase()}`,
          onclick: () => {
            state.sort = active && !desc ? "-" + c.key : c.key;
            state.page = 0;
            guard(load);
          },
        }, c.label, h("span", { class: "arrow", "aria-hidden": "true" }, active ? (desc ? " ▼" : " ▲") : "")));
    }));
  }

  function row(r) {
    if (r.region) regions.add(r.region); // offered in the region filter from now on
    return h("tr", { "data-record": r.id, class: r.deleted ? "deleted" : null },
      h("td", {}, h("a", { href: `#/record/${r.id}`, class: "record-link" }, r.code || "(no code)"),
        r.deleted ? h("span", { class: "badge" }, "deleted") : null),
      h("td", {}, r.team_name || ""),
      h("td", {}, r.region || ""),
      h("td", {}, r.status ? words(r.status) : ""),
      h("td", { class: r.review_status ? "" : "muted" }, reviewLabel(r.review_status)),
      h("td", { class: "date" }, r.encounter_date || ""),
      h("td", {}, when(r.updated_at)),
      // "new" is the Review column's "Not reviewed yet": not repeated here.
      h("td", { class: "reasons" }, (r.reasons || []).filter((c) => c !== "new").map((c) => h("span", { class: `badge badge-${c}`, title: reasonLabels[c] || c }, shortReasons[c] || c)),
        r.conflicts.length && !(r.reasons || []).includes("conflict") ? h("span", { class: "badge badge-conflict" }, "Conflict") : null));
  }

  function renderPager(total) {
    const pages = Math.max(1, Math.ceil(total / PAGE));
    const go = (p) => () => { state.page = p; guard(load); };
    const button = (label, p, disabled, attrs = {}) => h("button", { type: "button", class: "secondary", disabled, onclick: go(p), ...attrs }, label);
    replace(pager,
      button("« First", 0, state.page === 0, { "data-page": "first" }),
      button("‹ Previous", state.page - 1, state.page === 0, { "data-page": "prev" }),
      h("span", { class: "page-of", id: "page-of" }, `Page ${state.page + 1} of ${pages}`),
      button("Next ›", state.page + 1, state.page + 1 >= pages, { "data-page": "next" }),
      button("Last »", pages - 1, state.page + 1 >= pages, { "data-page": "last" }));
  }

  async function load() {
    const r = await api.get("/v1/records?" + query(state));
    const total = r.total || 0;
    if (state.page > 0 && r.records.length === 0 && total > 0) {
      state.page = Math.floor((total - 1) / PAGE);
      return load();
    }
    renderHead();
    replace(tbody, r.records.length ? r.records.map(row)
      : h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, "No record matches these filters.")));
    const first = state.page * PAGE + 1;
    summary.textContent = total === 0 ? "No record matches."
      : `Records ${first}–${first + r.records.length - 1} of ${total}, sorted by ${columns.find((c) => state.sort.replace("-", "") === c.key).label.toLowerCase()}${state.sort.startsWith("-") ? " (descending)" : ""}.`;
    renderPager(total);
    root.dataset.total = String(total);
    root.dataset.loads = String(Number(root.dataset.loads || 0) + 1); // tests wait for it
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(() => { readForm(); state.page = 0; return load(); });
  });
  form.querySelector("#rf-clear").addEventListener("click", () => {
    Object.assign(state, { code: "", team: "", region: "", status: "", review: "", reason: "", from: "", to: "", page: 0 });
    for (const el of form.querySelectorAll("input, select")) el.value = "";
    guard(load);
  });
  await load();
  return root;
}
