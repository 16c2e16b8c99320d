// Monitoring figures: the tables of GET /v1/stats with their suppression,
// charts, and the CSV exports.
import * as api from "./api.js";
import { h, words } from "./dom.js";
import { barChart } from "./chart.js";
import { busy, ctx, ui } from "./app.js";

/** What an empty (suppressed) cell means, on hover and for screen readers. */
const HIDDEN = "Hidden (a small number that could identify a person)";

function countText(c) {
  if (!c) return "";
  // The rules say a suppressed count is "shown empty": an empty cell,
  // explained on hover and to screen readers.
  if (c.suppressed) return h("span", { class: "suppressed", title: HIDDEN, "aria-label": HIDDEN, role: "img" });
  if (c.rounded) return h("span", { title: "Rounded to the nearest 5 because a cell is suppressed" }, `about ${c.count}`);
  return String(c.count);
}

const bucketLabels = {
  same_day: "Same day", "1_7_days": "1–7 days", "8_30_days": "8–30 days", "31_90_days": "31–90 days",
  over_90_days: "Over 90 days", no_referral: "No referral yet", no_encounter_date: "No encounter date",
};

/** The catalogue's label of an indicator code (the code itself when the catalogue lacks it). */
function indicatorLabel(code) {
  const cat = ctx.schema && ctx.schema.indicator_catalogue;
  const found = cat && cat.indicators.find((i) => i.code === code);
  return found ? found.label : code;
}

function label(table, key) {
  if (table.name === "time_to_referral") return bucketLabels[key] || words(key);
  if (table.name === "indicators") return indicatorLabel(key);
  if (table.name === "citizenship" || table.name === "month" || table.name === "region") return key;
  return words(key);
}

function oneDim(t) {
  return h("table", { class: "figures", "data-table": t.name },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, words(t.dimensions[0])), h("th", { scope: "col", class: "num" }, "Count"))),
    h("tbody", {}, t.cells.map((c) => h("tr", {}, h("td", {}, label(t, c.key[0])), h("td", { class: "num" }, countText(c))))),
    h("tfoot", {}, h("tr", {}, h("th", { scope: "row" }, t.multi ? "Records with any" : "Total"), h("td", { class: "num" }, countText(t.total)))));
}

function twoDim(t) {
  const rows = [...new Set(t.cells.map((c) => c.key[0]))];
  const cols = [...new Set(t.cells.map((c) => c.key[1]))];
  const at = new Map(t.cells.map((c) => [c.key.join("\u0000"), c]));
  return h("table", { class: "figures", "data-table": t.name },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, h("span", { class: "corner" }, `${words(t.dimensions[0])} \\ ${words(t.dimensions[1])}`)), cols.map((c) => h("th", { scope: "col", class: "num" }, words(c))))),
    h("tbody", {}, rows.map((r) => h("tr", {}, h("th", { scope: "row" }, words(r)),
      cols.map((c) => h("td", { class: "num" }, countText(at.get(r + "\u0000" + c))))))),
    h("tfoot", {}, h("tr", {}, h("th", { scope: "row" }, "Total"), h("td", { class: "num", colspan: cols.length }, countText(t.total)))));
}

/** Downloads what path answers (CSV) as a file, from memory. */
async function download(path, name) {
  const blob = await api.call("GET", path, undefined, true);
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export async function figuresView() {
  const st = await api.get("/v1/stats");
  const byName = new Map(st.tables.map((t) => [t.name, t]));
  const today = new Date().toISOString().slice(0, 10);
  const csv = h("button", { type: "button", "data-action": "stats-csv" }, "Download the figures (CSV)");
  csv.addEventListener("click", busy(csv, () => download("/v1/export/stats", `fieldsync-figures-${today}.csv`)));
  const records = h("button", { type: "button", class: "secondary", "data-action": "records-csv" }, "Export records (CSV, audited)");
  records.addEventListener("click", busy(records, async () => {
    await download("/v1/export/records", `fieldsync-records-${today}.csv`);
    ui.message("The records were exported; each one is written to the audit log.");
  }));
  const charts = ["status", "month"].filter((n) => byName.has(n)).map((n) => {
    const t = byName.get(n);
    return h("figure", { class: "card chart-card", "data-chart": n }, h("figcaption", {}, t.title), barChart(t, { label: (c) => label(t, c.key[0]) }));
  });
  return h("section", { class: "view-figures" },
    h("h1", {}, "Monitoring figures"),
    h("p", {}, h("strong", {}, "Identifications counted: "), countText(st.identifications),
      h("span", { class: "muted" }, ` · ${st.scope === "national" ? "national" : "your jurisdiction"} · counts from 1 to ${st.threshold - 1} are hidden: their cells are empty and their bars dashed`)),
    h("div", { class: "inline" }, csv, records),
    h("details", { class: "rules" }, h("summary", {}, "How the figures are counted and protected"), h("ul", {}, st.rules.map((r) => h("li", {}, r)))),
    h("div", { class: "charts" }, charts),
    h("div", { class: "tables" }, st.tables.map((t) => {
      if (t.name === "indicators") {
        t = { ...t, cells: [...t.cells].sort((a, b) => indicatorLabel(a.key[0]).localeCompare(indicatorLabel(b.key[0]))) };
      }
      const body = [
        t.multi ? h("p", { class: "muted small" }, "A record can count in several rows.") : null,
        t.dimensions.length === 2 ? twoDim(t) : oneDim(t),
      ];
      // Long tables (indicators) fold away, across the whole width.
      if (t.cells.length > 15) {
        return h("details", { class: "card table-card wide", "data-name": t.name },
          h("summary", {}, h("h2", {}, `${t.title} (${t.cells.length} rows)`)), body);
      }
      return h("div", { class: "card table-card", "data-name": t.name }, h("h2", {}, t.title), body);
    })));
}
