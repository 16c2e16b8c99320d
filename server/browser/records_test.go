//go:build browser

package browser

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/server/demo"
)

// logIn opens the console and logs in; ready is a selector that shows
// when the first page is loaded.
func (b *browser) logIn(base, username, password, ready string) {
	b.t.Helper()
	b.do("log in as "+username,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#username"), username),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-button")),
		chromedp.WaitVisible(chromedp.CSS(ready)))
}

// click clicks the element sel from inside the page once it is shown and
// enabled, after emptying the message line as do does. One evaluation
// finds and clicks it, so a table the console redraws between a lookup
// and a click (chromedp's Click resolves a node id first) cannot make the
// click miss: "Could not find node with given id".
func (b *browser) click(what, sel string) {
	b.t.Helper()
	b.do(what)
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el || el.disabled || el.offsetParent === null) return false; el.click(); return true; })()`, sel)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		clicked, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
		if err == nil && clicked {
			return
		}
		if time.Now().After(deadline) {
			b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
			b.t.Fatalf("%s: %s never shown and enabled (%v; page errors: %v)", what, sel, err, b.errors())
		}
	}
}

// waitJS waits until the JavaScript condition js holds.
func (b *browser) waitJS(what, js string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v (page errors: %v)", what, err, b.errors())
	}
}

// reload runs actions that make the view in sel load again and waits
// until it has (its data-loads counter moved on).
func (b *browser) reload(what, sel string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	before := b.eval(fmt.Sprintf(`document.querySelector(%q).dataset.loads || ""`, sel))
	b.do(what, actions...)
	b.waitJS(what+" loaded", fmt.Sprintf(`(document.querySelector(%q) || {dataset: {}}).dataset.loads !== %q`, sel, before))
}

// wideJS names what reaches past the page's visible width (a page that
// scrolls sideways), outside elements that scroll on their own; empty:
// nothing does.
const wideJS = `(() => {
	const w = document.documentElement.clientWidth;
	const out = [];
	const walk = (el) => {
		for (const c of el.children) {
			const r = c.getBoundingClientRect();
			if (r.width > 0 && r.right > w + 1) out.push(c.tagName.toLowerCase() + (c.id ? "#" + c.id : "") + " to " + Math.round(r.right) + "px of " + w);
			else if (getComputedStyle(c).overflowX === "visible") walk(c);
		}
	};
	walk(document.body);
	return out.slice(0, 5).join("; ");
})()`

// TestConsoleRecords: the records view lists every identification the
// supervisor may read (reviewed or not) in a dense table of 50 rows with
// the API's count, pages, sorts, searches by code, filters (never
// reviewed, team, encounter dates) and opens a record, whose back link
// returns to the records. The queue shows the API's filters and says what
// "not reviewed yet" means.
func TestConsoleRecords(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newBrowser(t, chromium)
	sup := login(t, base, "supervisor", demo.Password)
	var all api.RecordList
	sup.do(http.MethodGet, "/v1/records?sort=code&limit=1000", nil, &all)
	total := *all.Total
	if total <= 50 {
		t.Fatalf("the demo has %d identifications; the paging test needs more than 50", total)
	}

	b.do("viewport", chromedp.EmulateViewport(1366, 768))
	b.logIn(base, "supervisor", demo.Password, "#queue-list .queue-item")
	// The queue: the API's filters and the meaning of "not reviewed yet".
	for _, sel := range []string{"#qf-team", "#qf-region", "#qf-status"} {
		if b.eval(fmt.Sprintf(`String(!!document.querySelector(%q))`, sel)) != "true" {
			t.Errorf("the queue has no filter %s", sel)
		}
	}
	b.waitText(".view-queue", "“Not reviewed yet” means no supervisor has marked the record reviewed")
	if strings.Contains(b.text(".view-queue"), "New record") {
		t.Error(`the queue still calls a reason "New record"`)
	}
	north := ""
	var teams struct{ Teams []struct{ ID, Name string } }
	sup.do(http.MethodGet, "/v1/admin/teams", nil, &teams)
	for _, tm := range teams.Teams {
		if tm.Name == "Mobile team North" {
			north = tm.ID
		}
	}
	var northQueue api.QueuePage
	sup.do(http.MethodGet, "/v1/review/queue?team="+north, nil, &northQueue)
	b.do("filter the queue by team", chromedp.SetValue(chromedp.CSS("#qf-team"), north),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#qf-team").dispatchEvent(new Event("change"))`))
	b.waitText(".view-queue", fmt.Sprintf("%d records wait", northQueue.Total))
	b.shot("queue-filters")

	// The records view: 50 rows, the count, page 1 of n.
	pages := (total + 49) / 50
	b.do("records", chromedp.Click(chromedp.CSS(`#nav a[data-view="records"]`)), chromedp.WaitVisible(chromedp.CSS("#records-table tbody tr[data-record]")))
	b.waitText("#records-count", fmt.Sprintf("of %d", total))
	if n := b.eval(`String(document.querySelectorAll("#records-table tbody tr[data-record]").length)`); n != "50" {
		t.Errorf("the records view shows %s rows, want 50", n)
	}
	b.waitText("#page-of", fmt.Sprintf("Page 1 of %d", pages))
	b.shot("records")

	// Sort by code: the first row is the API's first.
	b.do("sort by code", chromedp.Click(chromedp.CSS(`button.sort[data-sort="code"]`)))
	b.waitText("#records-count", "sorted by code")
	first := all.Records[0].Code
	if got := b.text("#records-table tbody tr:first-child td:first-child a"); got != first {
		t.Errorf("sorted by code, the first row is %q, want %q", got, first)
	}
	b.do("sort by code, descending", chromedp.Click(chromedp.CSS(`button.sort[data-sort="code"]`)))
	b.waitText("#records-count", "(descending)")
	if got := b.text("#records-table tbody tr:first-child td:first-child a"); got != all.Records[len(all.Records)-1].Code {
		t.Errorf("sorted by code descending, the first row is %q, want %q", got, all.Records[len(all.Records)-1].Code)
	}
	b.do("sort by code again", chromedp.Click(chromedp.CSS(`button.sort[data-sort="code"]`)))
	b.waitText("#records-count", "sorted by code.")

	// The next page starts with the 51st record; the last page has the rest.
	b.do("next page", chromedp.Click(chromedp.CSS(`button[data-page="next"]`)))
	b.waitText("#page-of", "Page 2 of")
	if got := b.text("#records-table tbody tr:first-child td:first-child a"); got != all.Records[50].Code {
		t.Errorf("page 2 starts with %q, want %q", got, all.Records[50].Code)
	}
	b.do("last page", chromedp.Click(chromedp.CSS(`button[data-page="last"]`)))
	b.waitText("#page-of", fmt.Sprintf("Page %d of %d", pages, pages))
	if n := b.eval(`String(document.querySelectorAll("#records-table tbody tr[data-record]").length)`); n != strconv.Itoa(total-(pages-1)*50) {
		t.Errorf("the last page shows %s rows, want %d", n, total-(pages-1)*50)
	}

	// Search by a code: reviewed or not, the record is found.
	target := all.Records[7]
	var reviewed api.RecordList
	sup.do(http.MethodGet, "/v1/records?review_status=reviewed&sort=code&limit=1", nil, &reviewed)
	if len(reviewed.Records) > 0 {
		target = reviewed.Records[0]
	}
	b.reload("search a code", ".view-records", chromedp.SendKeys(chromedp.CSS("#rf-code"), target.Code), chromedp.Click(chromedp.CSS("#rf-apply")))
	b.waitText("#page-of", "Page 1 of")
	b.waitJS("one match", fmt.Sprintf(`!!document.querySelector('#records-table tr[data-record=%q]')`, target.ID))
	b.shot("records-search")

	// Filters: never reviewed, one team, an encounter date range.
	var want api.RecordList
	sup.do(http.MethodGet, "/v1/records?review_status=none&team="+north+"&encountered_from=2026-07-01&encountered_to=2026-09-30&limit=1", nil, &want)
	b.reload("clear the filters", ".view-records", chromedp.Click(chromedp.CSS("#rf-clear")))
	b.waitText("#page-of", fmt.Sprintf("of %d", pages))
	b.reload("set filters", ".view-records",
		chromedp.SetValue(chromedp.CSS("#rf-review"), "none"),
		chromedp.SetValue(chromedp.CSS("#rf-team"), north),
		chromedp.SendKeys(chromedp.CSS("#rf-from"), "2026-07-01"),
		chromedp.SendKeys(chromedp.CSS("#rf-to"), "2026-09-30"),
		chromedp.Click(chromedp.CSS("#rf-apply")))
	b.waitText("#records-count", fmt.Sprintf("of %d", *want.Total))
	if strings.Contains(b.text("#records-table tbody"), "Reviewed") || strings.Contains(b.text("#records-table tbody"), "Mobile team South") {
		t.Error("the filtered records show a reviewed record or another team's")
	}
	b.shot("records-filtered")
	// A bad date is told in plain words, and nothing is asked of the server.
	b.do("bad date", chromedp.SetValue(chromedp.CSS("#rf-from"), "03/12/2026"), chromedp.Click(chromedp.CSS("#rf-apply")))
	b.waitText("#error", "as YYYY-MM-DD")

	// Open a record; its back link returns to the records.
	b.reload("fix the date", ".view-records", chromedp.SetValue(chromedp.CSS("#rf-from"), "2026-07-01"), chromedp.Click(chromedp.CSS("#rf-apply")))
	b.waitText("#records-count", fmt.Sprintf("of %d", *want.Total))
	b.do("open a record", chromedp.Click(chromedp.CSS("#records-table tbody tr:first-child a.record-link")),
		chromedp.WaitVisible(chromedp.CSS(".view-record")))
	b.waitText(".view-record", "Back to the records")
	b.do("back", chromedp.Click(chromedp.CSS(`a[href="#/records"]`)), chromedp.WaitVisible(chromedp.CSS("#records-table")))
	if got := b.eval(`document.querySelector("#rf-review").value`); got != "none" {
		t.Errorf("back on the records, the review filter is %q; want it kept", got)
	}

	// A portrait tablet: no sideways scrolling of the page.
	b.do("portrait", chromedp.EmulateViewport(800, 1280))
	b.waitJS("laid out", `window.innerWidth === 800`)
	b.shot("records-portrait")
	if w := b.eval(wideJS); w != "" {
		t.Errorf("on an 800px tablet the records view scrolls sideways: %s", w)
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
