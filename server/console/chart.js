// Bar charts as inline SVG, drawn from a figures table. Suppressed cells
// are drawn as an empty dashed bar with no number (the rules say "shown
// empty"); nothing is ever estimated for them.
import { svg, words } from "./dom.js";

/**
 * barChart(table) returns an <svg> with one horizontal bar per cell.
 * Labels come from the cell keys, values from the counts.
 */
export function barChart(table, { label = (c) => words(c.key.join(" / ")), title } = {}) {
  const cells = table.cells;
  const max = Math.max(1, ...cells.map((c) => c.count || 0));
  const rowH = 28, labelW = 170, barW = 300, valueW = 90;
  const width = labelW + barW + valueW, height = cells.length * rowH + 8;
  const chart = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img",
    class: "chart", "aria-label": title || table.title,
  });
  chart.appendChild(svg("title", {}, title || table.title));
  cells.forEach((c, i) => {
    const y = 4 + i * rowH;
    chart.appendChild(svg("text", { x: labelW - 8, y: y + rowH / 2 + 4, "text-anchor": "end", class: "chart-label" }, label(c)));
    if (c.suppressed) {
      chart.appendChild(svg("rect", { x: labelW, y: y + 4, width: barW * 0.15, height: rowH - 10, class: "bar-suppressed" },
        svg("title", {}, "Hidden (a small number that could identify a person)")));
      return;
    }
    const w = Math.max(c.count > 0 ? 2 : 0, Math.round((c.count / max) * barW));
    chart.appendChild(svg("rect", { x: labelW, y: y + 4, width: w, height: rowH - 10, class: "bar" }));
    chart.appendChild(svg("text", { x: labelW + w + 6, y: y + rowH / 2 + 4, class: "chart-value" }, String(c.count)));
  });
  return chart;
}
