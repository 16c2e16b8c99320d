//go:build browser

package browser

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/server"
	"github.com/fieldsync/fieldsync/server/demo"
)

// startDemoRetention starts the demo with a retention rule for withdrawn
// identifications and a wall clock the returned function moves on.
func startDemoRetention(t *testing.T) (base string, advance func(time.Duration)) {
	t.Helper()
	var skew atomic.Int64
	env := map[string]string{"FIELDSYNC_ADMIN_PASSWORD": adminPassword, "FIELDSYNC_RETENTION": "identification:withdrawn=1d"}
	m := startMain(t, env, "--demo", func(m *server.Main) {
		m.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	return "http://" + m.Addr(), func(d time.Duration) { skew.Add(int64(d)) }
}

// TestConsolePendingPurges (issue 12 item 3): after a retention erasure,
// an administrator's devices screen shows the field worker's tablet,
// which has not synced since, as still holding erased records; the
// tablet acknowledges, and the screen shows none.
func TestConsolePendingPurges(t *testing.T) {
	chromium := requireBrowser(t)
	base, advance := startDemoRetention(t)
	// A tablet of worker.north, registered before the erasure.
	worker := &apiClient{t: t, base: base}
	var tr api.TokenResponse
	worker.do(http.MethodPost, "/v1/auth/login", api.LoginRequest{Username: "worker.north", Password: demo.Password}, &tr)
	device := tr.DeviceID
	advance(48 * time.Hour)
	admin := login(t, base, "admin", adminPassword)
	var run api.RetentionPlan
	admin.do(http.MethodPost, "/v1/admin/retention/run", nil, &run)
	if len(run.Records) == 0 {
		t.Fatal("the demo has no withdrawn identification to erase")
	}
	b := newBrowser(t, chromium)
	b.logIn(base, "admin", adminPassword, "#users-table")
	cell := fmt.Sprintf(`.view-devices tr[data-device=%q] td.purges`, device)
	b.do("devices", chromedp.Click(chromedp.CSS(`#nav a[data-view="devices"]`)), chromedp.WaitVisible(chromedp.CSS(cell)))
	var purges api.PurgeList
	admin.do(http.MethodGet, "/v1/admin/purges", nil, &purges)
	pending := 0
	for _, p := range purges.Purges {
		for _, d := range p.Pending {
			if d.Device == device {
				pending++
			}
		}
	}
	if got, want := b.text(cell), fmt.Sprintf("%d erased record", pending); pending == 0 || !strings.Contains(got, want) {
		t.Errorf("the tablet's purge cell: %q, want %q", got, want)
	}
	b.shot("devices-purges")
	worker.do(http.MethodPost, "/v1/auth/login", api.LoginRequest{Username: "worker.north", Password: demo.Password, DeviceID: device}, &tr)
	worker.token = tr.AccessToken
	ids := make([]string, len(run.Records))
	for i, r := range run.Records {
		ids[i] = r.ID
	}
	var ack api.PurgeAckResponse
	worker.do(http.MethodPost, "/v1/sync/purges", api.PurgeAckRequest{Records: ids}, &ack)
	b.do("accounts", chromedp.Click(chromedp.CSS(`#nav a[data-view="accounts"]`)), chromedp.WaitVisible(chromedp.CSS("#users-table")))
	b.do("devices again", chromedp.Click(chromedp.CSS(`#nav a[data-view="devices"]`)), chromedp.WaitVisible(chromedp.CSS(cell)))
	if got := b.text(cell); got != "none" {
		t.Errorf("the tablet's purge cell after its acknowledgement: %q, want none", got)
	}
}
