//go:build browser

package browser

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/server/demo"
)

// TestConsoleSessions: a browser keeps its device across logins (a
// reload logs out, says why on screen, and the next login is the same
// device, named after the person and the browser); logging out revokes
// it, forgets it, and the next login registers a new one. No token is
// ever in the browser's storage.
func TestConsoleSessions(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newBrowser(t, chromium)
	sup := login(t, base, "supervisor", demo.Password)
	consoles := func() (active, revoked []api.Device) {
		var list struct{ Devices []api.Device }
		sup.do(http.MethodGet, "/v1/admin/devices", nil, &list)
		for _, d := range list.Devices {
			if d.Username == "supervisor" && d.Name == "supervisor · Chrome on Linux (console)" {
				if d.State == "active" {
					active = append(active, d)
				} else {
					revoked = append(revoked, d)
				}
			}
		}
		return active, revoked
	}
	device := func() string { return b.eval(`import("/console/api.js").then((a) => a.current().deviceId)`) }

	b.logIn(base, "supervisor", demo.Password, "#queue-list .queue-item")
	first := device()
	if active, _ := consoles(); len(active) != 1 || active[0].ID != first {
		t.Fatalf("after one login the console devices are %+v, want one named after the person and browser, %s", active, first)
	}
	if got := b.eval(`JSON.stringify(localStorage)`); !containsOnlyDevice(got, first) {
		t.Errorf("the browser's storage holds %s; want the device id and nothing else", got)
	}

	// A reload logs out and says why; the next login is the same device.
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.waitText("#message", "Reloading the page logged you out")
	b.shot("login-after-reload")
	b.logIn(base, "supervisor", demo.Password, "#queue-list .queue-item")
	if again := device(); again != first {
		t.Errorf("after a reload the console logged in as device %s, want %s again", again, first)
	}
	if active, _ := consoles(); len(active) != 1 {
		t.Errorf("after a reload and a login there are %d active console devices, want 1", len(active))
	}

	// Logging out revokes and forgets the device; the next login is a new one.
	b.do("log out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
	b.waitText("#message", "You are logged out.")
	if got := b.eval(`String(localStorage.length)`); got != "0" {
		t.Errorf("after logout the browser keeps %s storage items", got)
	}
	if active, revoked := consoles(); len(active) != 0 || len(revoked) != 1 {
		t.Errorf("after logout: %d active and %d revoked console devices, want 0 and 1", len(active), len(revoked))
	}
	b.logIn(base, "supervisor", demo.Password, "#queue-list .queue-item")
	if next := device(); next == first {
		t.Error("after logout the console logged in as the revoked device")
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

// containsOnlyDevice reports whether a JSON dump of localStorage holds one
// item whose value names id and no token-like text.
func containsOnlyDevice(dump, id string) bool {
	var items map[string]string
	if json.Unmarshal([]byte(dump), &items) != nil || len(items) != 1 {
		return false
	}
	for _, v := range items {
		return strings.Contains(v, id) && !strings.Contains(v, "eyJ") && len(v) < 200
	}
	return false
}
