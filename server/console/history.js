// A record's history that explains concurrency (DESIGN §3): every op with
// people's and teams' names and the catalogue's labels; register writes
// made concurrently (neither op's base reaches the other: neither writer
// saw the other's value) grouped; and, per register, which value is shown
// now and why (the sibling greatest by hlc, device, op id), or which later
// write settled the group. Pure functions of the record's history first,
// then the DOM.
import { h, hlcTime, show, words } from "./dom.js";
import { ctx, userName, deviceName } from "./app.js";

/** The catalogue's label of an indicator code (the code when unknown). */
export function indicatorLabel(code) {
  const cat = ctx.schema && ctx.schema.indicator_catalogue;
  const found = cat && cat.indicators.find((i) => i.code === code);
  return found ? found.label : code;
}

/** A field's value as a supervisor reads it: names for teams, labels for codes. */
export function valueText(field, v) {
  if (v === null || v === undefined) return "—";
  if (field === "team" && typeof v === "string") {
    const t = ctx.teams.get(v);
    return t ? t.name : "a team you cannot see";
  }
  if (field === "indicators" && typeof v === "string") return indicatorLabel(v);
  const decl = ctx.schema && ctx.schema.kinds.identification.fields[field];
  if (decl && decl.values && decl.values.length && typeof v === "string") return words(v);
  if (v && typeof v === "object" && typeof v.text === "string") return v.text;
  return show(v);
}

/** Compares two ops as the register orders siblings: by hlc, device, id. */
export function siblingOrder(a, b) {
  return a.hlc.localeCompare(b.hlc) || a.device.localeCompare(b.device) || a.id.localeCompare(b.id);
}

/**
 * explain(ops, isRegister) groups the register set ops of a history.
 * It returns, per register field with more than one write, {field,
 * groups, siblings, shown}: groups are the sets of ops written
 * concurrently (connected by "neither saw the other"), each with the op
 * that settled it (the first later op whose base reaches all of them)
 * or none; siblings are the ops no other op's base names (the field's
 * current values); shown is the greatest sibling.
 */
export function explain(ops, isRegister) {
  const byID = new Map(ops.map((o) => [o.id, o]));
  const memo = new Map();
  const ancestors = (o) => {
    if (memo.has(o.id)) return memo.get(o.id);
    const out = new Set();
    memo.set(o.id, out);
    for (const b of o.base || []) {
      out.add(b);
      const p = byID.get(b);
      if (p) for (const x of ancestors(p)) out.add(x);
    }
    return out;
  };
  const byField = new Map();
  for (const o of ops) {
    if (o.action !== "set" || !isRegister(o.field)) continue;
    if (!byField.has(o.field)) byField.set(o.field, []);
    byField.get(o.field).push(o);
  }
  const out = [];
  for (const [field, writes] of byField) {
    writes.sort(siblingOrder);
    const saw = (a, b) => ancestors(a).has(b.id);
    // Union the writes that did not see each other.
    const parent = new Map(writes.map((w) => [w.id, w.id]));
    const find = (x) => (parent.get(x) === x ? x : find(parent.get(x)));
    for (let i = 0; i < writes.length; i++) {
      for (let j = i + 1; j < writes.length; j++) {
        if (!saw(writes[i], writes[j]) && !saw(writes[j], writes[i])) parent.set(find(writes[i].id), find(writes[j].id));
      }
    }
    const sets = new Map();
    for (const w of writes) {
      const r = find(w.id);
      if (!sets.has(r)) sets.set(r, []);
      sets.get(r).push(w);
    }
    const groups = [...sets.values()].filter((g) => g.length > 1).map((g) => ({
      ops: g,
      settledBy: writes.find((w) => g.every((x) => saw(w, x))) || null,
    }));
    const named = new Set(writes.flatMap((w) => w.base || []));
    const siblings = writes.filter((w) => !named.has(w.id));
    out.push({ field, writes, groups, siblings, shown: siblings[siblings.length - 1] || null });
  }
  return out;
}

function who(o) {
  return `${userName(o.user)} (${deviceName(o.device)})`;
}

/** The sentence that says which value is shown now and why. */
function shownWhy(field, x) {
  if (!x.shown) return "";
  const v = valueText(field, x.shown.value);
  if (x.siblings.length === 1) return `Shown now: ${v} — the only current value (${who(x.shown)}, ${hlcTime(x.shown.hlc)}).`;
  return `Shown now: ${v} — of the ${x.siblings.length} values kept, it has the latest time stamp ` +
    `(hlc, then device and op id break ties). The others stay until someone decides.`;
}

function groupCard(field, g, x, n) {
  const current = new Set(x.siblings.map((s) => s.id));
  return h("div", { class: "concurrent", "data-field": field, "data-group": String(n) },
    h("h3", {}, `${words(field)}: ${g.ops.length} writes made without seeing each other`),
    h("ul", {}, g.ops.map((o) => h("li", { "data-op": o.id },
      h("strong", {}, valueText(field, o.value)), ` — ${who(o)}, ${hlcTime(o.hlc)}`,
      x.shown && o.id === x.shown.id ? h("span", { class: "badge badge-shown" }, "shown now")
        : current.has(o.id) ? h("span", { class: "badge badge-conflict" }, "kept, in conflict") : null))),
    g.settledBy
      ? h("p", { class: "small" }, `Settled by ${who(g.settledBy)} at ${hlcTime(g.settledBy.hlc)}, who saw them all and set ${valueText(field, g.settledBy.value)}.`)
      : h("p", { class: "small" }, shownWhy(field, x)));
}

/** The history card of a record (rec.history: its ops). */
export function historyCard(rec, fields) {
  const ops = [...(rec.history || [])].sort(siblingOrder);
  const isRegister = (f) => (fields[f] ? fields[f].class === "register" : f === "deleted");
  const explained = explain(ops, isRegister);
  const groupOf = new Map();
  const cards = [];
  for (const x of explained) {
    x.groups.forEach((g) => {
      cards.push(groupCard(x.field, g, x, cards.length + 1));
      for (const o of g.ops) groupOf.set(o.id, cards.length);
    });
  }
  // "shown now" marks a register's current value where it had several writes.
  const shownIDs = new Set(explained.filter((x) => x.shown && x.writes.length > 1).map((x) => x.shown.id));
  const change = (o) => {
    if (o.action === "redact") return "erased an entry";
    if (o.action === "append") return o.value === null ? "added an entry (since erased)" : `added: ${valueText(o.field, o.value)}`;
    if (o.action === "add") return `added ${valueText(o.field, o.value)}`;
    if (o.action === "remove") return `removed ${valueText(o.field, o.value)}`;
    const replaced = (o.base || []).map((b) => ops.find((p) => p.id === b)).filter(Boolean);
    const was = replaced.length ? ` (replacing ${replaced.map((p) => valueText(o.field, p.value)).join(" and ")})` : "";
    return `set ${valueText(o.field, o.value)}${was}`;
  };
  const rows = [...ops].reverse().map((o) => h("tr", { "data-op": o.id, class: groupOf.has(o.id) ? "in-group" : null },
    h("td", { class: "time" }, hlcTime(o.hlc)),
    h("td", {}, words(o.field)),
    h("td", {}, change(o),
      groupOf.has(o.id) ? h("span", { class: "badge badge-conflict", title: "Written without seeing another write of this field" }, ` concurrent ${groupOf.get(o.id)}`) : null,
      shownIDs.has(o.id) ? h("span", { class: "badge badge-shown" }, "shown now") : null),
    h("td", {}, userName(o.user)), h("td", {}, deviceName(o.device))));
  return h("details", { class: "card history", open: cards.length > 0 },
    h("summary", {}, `History (${ops.length} changes${cards.length ? `, ${cards.length} concurrent` : ""})`),
    cards.length
      ? h("div", { class: "concurrency" },
        h("p", { class: "muted small" }, "Writes made without seeing each other (on tablets offline at the same time) are all kept; the latest by time stamp is shown until someone decides with a write that has seen them all."),
        cards)
      : h("p", { class: "muted small" }, "Every change was made after seeing the one before it: nothing was written concurrently."),
    h("div", { class: "scroll" }, h("table", { class: "ops" },
      h("thead", {}, h("tr", {}, ["When", "Field", "Change", "By", "Device"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows))));
}
