//go:build browser

package browser

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/server/demo"
)

var uuidText = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestConsoleHistory: a record's history names people, devices and teams
// (no raw ids) and uses the catalogue's labels; register writes made
// concurrently are grouped from their base, with which value is shown
// now and why, and, once decided, who settled them. The grouping rule is
// also checked on its own with made-up ops.
func TestConsoleHistory(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newBrowser(t, chromium)
	b.logIn(base, "supervisor", demo.Password, "#queue-list .queue-item")

	// The rule: a and b did not see each other; c saw both (settles them);
	// d saw only a, so it is concurrent with b, and b and d stay siblings.
	got := b.eval(`(async () => {
		const hs = await import("/console/history.js");
		const op = (id, hlc, base) => ({ id, hlc, base, device: "d", field: "status", action: "set", value: id });
		const reg = () => true;
		const one = hs.explain([op("a", "01", []), op("b", "02", []), op("c", "03", ["a", "b"])], reg)[0];
		const two = hs.explain([op("a", "01", []), op("b", "02", []), op("d", "03", ["a"])], reg)[0];
		const ids = (xs) => xs.map((x) => x.id).join("");
		return [one.groups.map((g) => ids(g.ops) + ">" + (g.settledBy ? g.settledBy.id : "-")).join(" "), ids(one.siblings), one.shown.id,
			two.groups.map((g) => ids(g.ops) + ">" + (g.settledBy ? g.settledBy.id : "-")).join(" "), ids(two.siblings), two.shown.id].join(",");
	})()`)
	if want := "ab>c,c,c,abd>-,bd,d"; got != want {
		t.Errorf("explain: %s, want %s", got, want)
	}

	sup := login(t, base, "supervisor", demo.Password)
	var queue api.QueuePage
	sup.do(http.MethodGet, "/v1/review/queue?reason=conflict&limit=500", nil, &queue)
	rec := ""
	for _, it := range queue.Items {
		for _, f := range it.Conflicts {
			if f == "status" && rec == "" {
				rec = it.ID
			}
		}
	}
	if rec == "" {
		t.Fatal("the demo has no status conflict")
	}
	b.do("open the record", chromedp.Navigate(base+"/#/record/"+rec), chromedp.WaitVisible(chromedp.CSS(`.history .concurrent[data-field="status"]`)))
	group := b.text(`.history .concurrent[data-field="status"]`)
	if !strings.Contains(group, "writes made without seeing each other") || !strings.Contains(group, "latest time stamp") {
		t.Errorf("the status group does not explain itself: %q", group)
	}
	if n := b.eval(`String(document.querySelectorAll('.history .concurrent[data-field="status"] li').length)`); n == "0" || n == "1" {
		t.Errorf("the status group lists %s writes, want 2 or more", n)
	}
	if n := b.eval(`String(document.querySelectorAll('.history .concurrent[data-field="status"] .badge-shown').length)`); n != "1" {
		t.Errorf("the status group marks %s values as shown now, want 1", n)
	}
	history := b.text(".history")
	if ids := uuidText.FindAllString(history, 3); len(ids) > 0 {
		t.Errorf("the history shows raw ids: %v", ids)
	}
	if !strings.Contains(history, "Mobile team North") && !strings.Contains(history, "Mobile team South") {
		t.Error("the history does not name the record's team")
	}
	fields := b.text("table.fields")
	if strings.Contains(fields, "_") {
		t.Errorf("the fields show raw keys: %.300s", fields)
	}
	b.shot("record-history")

	// Decide: the group says who settled it.
	b.do("set the status", chromedp.SetValue(chromedp.CSS("#decide-status"), "presumed"), chromedp.Click(chromedp.CSS(`[data-action="set-status"]`)))
	b.waitText("#message", "Saved")
	b.waitText(`.history .concurrent[data-field="status"]`, "Settled by supervisor")
	b.shot("record-history-settled")
	// On a portrait tablet every card of the record page fits.
	b.do("portrait", chromedp.EmulateViewport(800, 1280))
	b.waitJS("the viewport", "window.innerWidth === 800")
	if got := b.eval(overflowJS); got != "" {
		t.Errorf("at 800x1280 the record page has content wider than its card:\n%s", got)
	}
	b.shot("record-history-portrait")
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
