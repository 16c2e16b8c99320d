// The review queue: records waiting for a supervisor's decision, oldest
// first, filterable by reason.
import * as api from "./api.js";
import { h, replace, hlcTime } from "./dom.js";
import { guard } from "./app.js";

export const reasonLabels = {
  new: "New record",
  conflict: "Conflicting values",
  formal_status: "Awaits a formal status",
  child_presumed: "Presumed child",
  cross_border_referral: "Cross-border referral",
  visitor_note: "Note from a visiting delegation",
};

const order = ["conflict", "new", "formal_status", "child_presumed", "cross_border_referral", "visitor_note"];

let filter = ""; // kept while the console is open

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
      h("span", { class: "queue-since muted small" }, "waiting since " + hlcTime(item.since)),
    ));
}

export async function queueView() {
  const list = h("ul", { class: "queue", id: "queue-list" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show more");
  const heading = h("h1", {}, "Review queue");
  const summary = h("p", { class: "muted" });
  const chips = h("div", { class: "chips", role: "group", "aria-label": "Filter by reason" });
  let next = "";

  async function load(append) {
    const q = new URLSearchParams({ limit: "50" });
    if (filter) q.set("reason", filter);
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
    replace(chips, chip("", "All"), order.filter((c) => byReason[c]).map((c) => chip(c, reasonLabels[c], byReason[c])));
  }

  more.addEventListener("click", () => guard(() => load(true)));
  await load(false);
  return h("section", { class: "view-queue" }, heading, summary, chips, list, more);
}
