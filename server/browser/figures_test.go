//go:build browser

package browser

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fieldsync/fieldsync/server/demo"
)

// overflowJS lists, for every card of the page, the elements whose box
// reaches outside the card (a clipped column, a hidden Count column), as
// "card title: element (px outside)". Empty: everything fits.
const overflowJS = `(() => {
	const out = [];
	for (const card of document.querySelectorAll("#app-view .card")) {
		const box = card.getBoundingClientRect();
		const title = (card.querySelector("h2, figcaption, summary") || card).textContent.trim().slice(0, 50);
		if (card.scrollWidth > card.clientWidth + 1) out.push(title + ": scrolls sideways (" + card.scrollWidth + " in " + card.clientWidth + ")");
		for (const el of card.querySelectorAll("*")) {
			const r = el.getBoundingClientRect();
			if (r.width === 0 && r.height === 0) continue;
			const over = Math.max(r.right - box.right, box.left - r.left);
			if (over > 1) { out.push(title + ": " + el.tagName.toLowerCase() + " " + (el.textContent || "").trim().slice(0, 20) + " (" + Math.round(over) + "px outside)"); break; }
			if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== "visible") { out.push(title + ": " + el.tagName.toLowerCase() + " hides " + (el.scrollWidth - el.clientWidth) + "px"); break; }
		}
	}
	return out.join("\n");
})()`

// TestConsoleFiguresFit: at 1366×768 and at 800×1280, no card of the
// figures page has content wider than the card, folded or unfolded (the
// sex × age table, the indicator table and its Count column); a folded
// card is short; indicator rows show the catalogue's labels, not raw
// keys; suppressed counts are shown empty, as the rules say, never as
// the word "suppressed".
func TestConsoleFiguresFit(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newBrowser(t, chromium)
	b.logIn(base, "supervisor", demo.Password, "#queue-list .queue-item")
	for _, size := range [][2]int64{{1366, 768}, {800, 1280}} {
		name := fmt.Sprintf("%dx%d", size[0], size[1])
		b.do("figures at "+name, chromedp.EmulateViewport(size[0], size[1]), chromedp.Navigate(base+"/#/figures"),
			chromedp.WaitVisible(chromedp.CSS("svg.chart")))
		b.waitJS("the viewport", fmt.Sprintf("window.innerWidth === %d", size[0]))
		b.shot("figures-folded-" + name)
		if got := b.eval(overflowJS); got != "" {
			t.Errorf("at %s, folded, content wider than its card:\n%s", name, got)
		}
		folded := b.eval(`(() => { const out = []; for (const d of document.querySelectorAll("#app-view details.card:not([open])")) {
			const hd = d.querySelector("summary").getBoundingClientRect().height;
			if (d.getBoundingClientRect().height > hd + 60) out.push(d.querySelector("summary").textContent.trim() + " " + Math.round(d.getBoundingClientRect().height) + "px"); }
			return out.join(", "); })()`)
		if folded != "" {
			t.Errorf("at %s, folded cards are tall and empty: %s", name, folded)
		}
		b.do("unfold", chromedp.Evaluate[chromedp.Void](`for (const d of document.querySelectorAll("#app-view details")) d.open = true`))
		b.shot("figures-unfolded-" + name)
		if got := b.eval(overflowJS); got != "" {
			t.Errorf("at %s, unfolded, content wider than its card:\n%s", name, got)
		}
	}
	tables := b.eval(`[...document.querySelectorAll("#app-view table.figures")].map((t) => t.innerText).join("\n")`)
	if strings.Contains(tables, "suppressed") {
		t.Error(`a figures table prints "suppressed"; the rules say suppressed counts are shown empty`)
	}
	if strings.Contains(b.eval(`[...document.querySelectorAll("#app-view svg.chart")].map((s) => s.textContent).join(" ")`), "suppressed") {
		t.Error(`a chart prints "suppressed"; the rules say suppressed counts are shown empty`)
	}
	indicators := b.eval(`[...document.querySelectorAll('table[data-table="indicators"] tbody th, table[data-table="indicators"] tbody td:first-child')].map((c) => c.textContent).join("\n")`)
	if indicators == "" || strings.Contains(indicators, "_") {
		t.Errorf("the indicator rows show raw keys, not the catalogue's labels:\n%.300s", indicators)
	}
	if !strings.Contains(indicators, "Deceived about pay or earnings") {
		t.Errorf("the indicator rows lack the catalogue's label of deceived_wages:\n%.300s", indicators)
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
