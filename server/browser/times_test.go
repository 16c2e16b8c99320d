//go:build browser

package browser

import (
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/server/demo"
)

var isoSecond = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$`)

// TestConsoleTimesAndStatus: times are ISO and to the second (two values
// written seconds apart never read the same), dates are typed and shown
// as YYYY-MM-DD whatever the browser's language, lists show relative
// times with the exact time on hover, and the record page has exactly
// one control that sets the status, which resolves a status conflict.
func TestConsoleTimesAndStatus(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newBrowser(t, chromium)
	b.logIn(base, "supervisor", demo.Password, "#queue-list .queue-item")

	// The helpers, with an injected now.
	got := b.eval(`(async () => {
		const d = await import("/console/dom.js");
		const now = Date.UTC(2026, 11, 3, 12, 0, 0);
		const out = [d.relative(now - 2 * 3600e3, now), d.relative(now - 5 * 60e3, now), d.relative(now - 3 * 86400e3, now), d.relative(now - 10e3, now)];
		const di = d.dateInput("x");
		for (const v of ["2026-11-03", "2026-02-30", "03/12/2026", ""]) {
			di.el.value = v;
			try { out.push(di.read() || "empty"); } catch (e) { out.push("refused"); }
		}
		return out.join(",");
	})()`)
	if want := "2 h ago,5 min ago,3 days ago,just now,2026-11-03,refused,refused,empty"; got != want {
		t.Errorf("relative times and date input: %s, want %s", got, want)
	}

	// The queue: relative times, the exact ISO time to the second on hover.
	title := b.eval(`document.querySelector("#queue-list .queue-since time").title`)
	if !isoSecond.MatchString(title) {
		t.Errorf("the queue's waiting time has the title %q, want an ISO time to the second", title)
	}
	if rel := b.text("#queue-list .queue-since time"); !regexp.MustCompile(`ago$|^just now$`).MatchString(rel) {
		t.Errorf("the queue's waiting time reads %q, want a relative time", rel)
	}

	// A record with a status conflict: the only status control is in the
	// conflict's card; the times of its values are ISO, to the second.
	sup := login(t, base, "supervisor", demo.Password)
	var queue api.QueuePage
	sup.do(http.MethodGet, "/v1/review/queue?reason=conflict&limit=500", nil, &queue)
	statusRec := ""
	for _, it := range queue.Items {
		for _, f := range it.Conflicts {
			if f == "status" && statusRec == "" {
				statusRec = it.ID
			}
		}
	}
	if statusRec == "" {
		t.Fatal("the demo has no status conflict")
	}
	b.do("open the status conflict", chromedp.Navigate(base+"/#/record/"+statusRec),
		chromedp.WaitVisible(chromedp.CSS(`.conflict[data-field="status"] .sibling`)))
	b.waitText("#status-in-conflict", "set another status there")
	if n := b.eval(`String(document.querySelectorAll('[data-action="set-status"], .conflict[data-field="status"] [data-action="write-new"]').length)`); n != "1" {
		t.Errorf("the record page has %s controls that set the status, want 1", n)
	}
	if in := b.eval(`String(!!document.querySelector('.conflict[data-field="status"] [data-action="set-status"]'))`); in != "true" {
		t.Error("while the status is in conflict, its control is not in the conflict's card")
	}
	for _, at := range []string{"1", "2"} {
		v := b.eval(fmt.Sprintf(`document.querySelector('.conflict[data-field="status"] .sibling:nth-child(%s) dl.meta dd:nth-of-type(3)').textContent`, at))
		if !isoSecond.MatchString(v) {
			t.Errorf("a conflicting value was written at %q, want an ISO time to the second", v)
		}
	}
	if v := b.eval(`document.querySelector("#ref-date").type + " " + document.querySelector("#ref-date").value`); !regexp.MustCompile(`^text \d{4}-\d{2}-\d{2}$`).MatchString(v) {
		t.Errorf("the referral date input is %q, want a text input holding an ISO date", v)
	}
	b.shot("record-status-conflict")
	b.do("set another status", chromedp.SetValue(chromedp.CSS("#decide-status"), "withdrawn"),
		chromedp.Click(chromedp.CSS(`[data-action="set-status"]`)))
	b.waitText("#message", "Saved")
	if st := sup.field(statusRec, "status"); len(st.Conflicts) != 0 || string(st.Value) != `"withdrawn"` {
		t.Errorf("after setting the status the server holds %s with %d conflicts", st.Value, len(st.Conflicts))
	}
	// Resolved: the one control is back in the Decisions card.
	b.do("status decided", chromedp.WaitVisible(chromedp.CSS(`.decisions [data-action="set-status"]`)))
	if n := b.eval(`String(document.querySelectorAll('[data-action="set-status"]').length)`); n != "1" {
		t.Errorf("after the decision the page has %s status controls, want 1", n)
	}

	// Devices: last use relative, exact on hover.
	b.do("devices", chromedp.Click(chromedp.CSS(`#nav a[data-view="devices"]`)), chromedp.WaitVisible(chromedp.CSS("table.devices time")))
	if title := b.eval(`document.querySelector("table.devices time").title`); !isoSecond.MatchString(title) {
		t.Errorf("a device's last use has the title %q, want an ISO time to the second", title)
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
