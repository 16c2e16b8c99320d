// The audit log (auditors): the whole hash chain read from GET /v1/audit
// and verified in this browser as server/audit.Verify does (numbers run
// 1, 2, 3…; each prev is the hash of the entry before; each hash is the
// SHA-256 of the entry's JSON as Go writes it, with hash empty), then
// shown newest first with filters. The head's number and hash are shown so
// they can be compared with a copy kept outside the server.
import * as api from "./api.js";
import { h, replace, isoTime, when, words, dateInput } from "./dom.js";
import { guard } from "./app.js";

const PAGE = 50;
const ZERO = "0".repeat(64);

/** A string as Go's encoding/json writes it (it also escapes < > & U+2028 U+2029). */
export function goString(s) {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

/** The bytes an entry's hash covers: its JSON in Go's field order, hash empty. */
export function canonical(e) {
  let out = `{"seq":${e.seq},"time":${goString(e.time)}`;
  for (const k of ["actor", "role", "device", "ip"]) if (e[k]) out += `,"${k}":${goString(e[k])}`;
  out += `,"action":${goString(e.action)}`;
  for (const k of ["object", "detail"]) if (e[k]) out += `,"${k}":${goString(e[k])}`;
  return out + `,"prev":${goString(e.prev)},"hash":""}`;
}

async function sha256(text) {
  const sum = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(sum, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Verifies a chain from its first entry; returns the problems (empty: it holds). */
export async function verify(entries) {
  const problems = [];
  let prev = ZERO, want = 1;
  for (const e of entries) {
    if (e.seq !== want) problems.push({ seq: e.seq, reason: `expected entry ${want} here: entries are missing or out of order` });
    if (e.prev !== prev) problems.push({ seq: e.seq, reason: "prev does not match the hash of the entry before: an entry was removed, inserted or reordered" });
    if (await sha256(canonical(e)) !== e.hash) problems.push({ seq: e.seq, reason: "hash does not match the content: the entry was altered" });
    prev = e.hash;
    want = e.seq + 1;
  }
  return problems;
}

const state = { action: "", actor: "", object: "", from: "", to: "", page: 0 };

export async function auditView() {
  const status = h("div", { class: "card chain", id: "chain-status", role: "status" }, h("p", { class: "muted" }, "Reading the chain…"));
  const entries = [];
  for (let after = 0; ;) {
    const { entries: page } = await api.get(`/v1/audit?after=${after}&limit=1000`);
    if (!page.length) break;
    entries.push(...page);
    after = page[page.length - 1].seq;
    if (page.length < 1000) break;
  }
  const problems = await verify(entries);
  const head = entries[entries.length - 1];
  replace(status,
    h("h2", {}, problems.length ? "The chain does NOT verify" : "The chain verifies"),
    problems.length
      ? h("ul", { class: "problems" }, problems.slice(0, 20).map((p) => h("li", {}, `Entry ${p.seq}: ${p.reason}.`)))
      : h("p", { class: "ok", "data-verified": "true" }, `All ${entries.length} entries verified in this browser: numbered without gaps, each linked to the one before, none altered.`),
    head ? h("p", { class: "small" }, "Head: entry ", h("strong", {}, String(head.seq)), ", hash ", h("code", { class: "id", id: "head-hash" }, head.hash),
      ". Compare it with a copy kept outside the server: removing the newest entries is visible only that way.") : null);
  status.classList.toggle("bad", problems.length > 0);

  const actions = [...new Set(entries.map((e) => e.action))].sort();
  const action = h("select", { id: "af-action" }, h("option", { value: "" }, "Any action"), actions.map((a) => h("option", { value: a, selected: a === state.action }, words(a))));
  const actor = h("input", { id: "af-actor", type: "search", value: state.actor, autocomplete: "off", placeholder: "id or role" });
  const object = h("input", { id: "af-object", type: "search", value: state.object, autocomplete: "off" });
  const from = dateInput("af-from", state.from, "the first day");
  const to = dateInput("af-to", state.to, "the last day");
  const apply = h("button", { type: "submit", id: "af-apply" }, "Filter");
  const form = h("form", { class: "filters", novalidate: true },
    h("div", {}, h("label", { for: "af-action" }, "Action"), action),
    h("div", {}, h("label", { for: "af-actor" }, "Actor"), actor),
    h("div", {}, h("label", { for: "af-object" }, "Object contains"), object),
    h("div", {}, h("label", { for: "af-from" }, "From"), from.el),
    h("div", {}, h("label", { for: "af-to" }, "To"), to.el),
    h("div", { class: "filter-actions" }, apply));
  const count = h("p", { class: "muted", id: "audit-count" });
  const tbody = h("tbody", {});
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const root = h("section", { class: "view-audit" }, h("h1", {}, "Audit log"), status, form, count,
    h("div", { class: "scroll" }, h("table", { class: "dense audit", id: "audit-table" },
      h("thead", {}, h("tr", {}, ["#", "When", "Action", "Actor", "Role", "Object", "Detail", "Address"].map((t) => h("th", { scope: "col" }, t)))),
      tbody)), pager);

  function render() {
    const day = (e) => isoTime(e.time).slice(0, 10);
    const shown = entries.filter((e) => (!state.action || e.action === state.action)
      && (!state.actor || (e.actor || "").includes(state.actor) || (e.role || "") === state.actor)
      && (!state.object || (e.object || "").includes(state.object))
      && (!state.from || day(e) >= state.from) && (!state.to || day(e) <= state.to)).reverse();
    const pages = Math.max(1, Math.ceil(shown.length / PAGE));
    state.page = Math.min(state.page, pages - 1);
    const rows = shown.slice(state.page * PAGE, (state.page + 1) * PAGE);
    replace(tbody, rows.map((e) => h("tr", { "data-seq": String(e.seq) },
      h("td", { class: "num" }, String(e.seq)), h("td", {}, when(e.time)), h("td", {}, words(e.action)),
      h("td", { class: "id" }, e.actor || ""), h("td", {}, e.role ? words(e.role) : ""), h("td", { class: "id" }, e.object || ""),
      h("td", {}, e.detail || ""), h("td", {}, e.ip || ""))));
    count.textContent = `${shown.length} of ${entries.length} entries, newest first.`;
    const go = (p) => () => { state.page = p; render(); };
    replace(pager,
      h("button", { type: "button", class: "secondary", disabled: state.page === 0, onclick: go(state.page - 1), "data-page": "prev" }, "‹ Newer"),
      h("span", { class: "page-of" }, `Page ${state.page + 1} of ${pages}`),
      h("button", { type: "button", class: "secondary", disabled: state.page + 1 >= pages, onclick: go(state.page + 1), "data-page": "next" }, "Older ›"));
    root.dataset.loads = String(Number(root.dataset.loads || 0) + 1);
  }
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    guard(() => {
      Object.assign(state, { action: action.value, actor: actor.value.trim(), object: object.value.trim(), from: from.read(), to: to.read(), page: 0 });
      render();
    });
  });
  render();
  return root;
}
