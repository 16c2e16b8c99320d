package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// loginAttempt is one POST /v1/auth/login with its answer.
type loginAttempt struct {
	status     int
	retryAfter string
	body       []byte
}

// loginFrom sends req over hc (nil: the harness's client) with an
// X-Forwarded-For header when xff is not "".
func loginFrom(t *testing.T, h *harness, hc *http.Client, xff string, req api.LoginRequest) loginAttempt {
	t.Helper()
	if hc == nil {
		hc = h.http
	}
	data, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.NewRequest(http.MethodPost, h.base+"/v1/auth/login", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/json")
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := hc.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return loginAttempt{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: body}
}

// attackUntilThrottled sends wrong passwords for username, moving the
// server clock past each wait, until it is told to wait a minute or more
// (so the checks that follow have time to run); it returns that answer.
func attackUntilThrottled(t *testing.T, h *harness, xff func(i int) string, username string) loginAttempt {
	t.Helper()
	for i := range 40 {
		a := loginFrom(t, h, nil, xff(i), api.LoginRequest{Username: username, Password: "not the password " + strconv.Itoa(i)})
		switch a.status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			secs, err := strconv.Atoi(a.retryAfter)
			if err != nil {
				t.Fatalf("attempt %d: Retry-After %q: %v", i, a.retryAfter, err)
			}
			if secs >= 60 {
				return a
			}
			h.advance(time.Duration(secs) * time.Second)
		default:
			t.Fatalf("attempt %d: %d %s", i, a.status, a.body)
		}
	}
	t.Fatalf("40 wrong passwords for %s were never made to wait a minute", username)
	return loginAttempt{}
}

// fromLoopback returns a client whose connections come from addr (any
// 127/8 address reaches the test server on Linux).
func fromLoopback(addr string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}, Timeout: 10 * time.Second}
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func noXFF(int) string { return "" }

func TestLoginFailuresOverManyUsernamesDoNotLockOthersOut(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north"}, map[string]userSpec{
		"fw1": {role: model.RoleFieldWorker, teams: []string{"north"}},
		"fw2": {role: model.RoleFieldWorker, teams: []string{"north"}},
		"fw5": {role: model.RoleFieldWorker, teams: []string{"north"}},
	})
	_ = w
	for i, name := range []string{"fw1", "fw2", "nobody", "fw1", "ghost"} {
		a := loginFrom(t, h, nil, "", api.LoginRequest{Username: name, Password: "wrong password " + strconv.Itoa(i)})
		if a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d (%s): %d %s", i+1, name, a.status, a.body)
		}
	}
	if a := loginFrom(t, h, nil, "", api.LoginRequest{Username: "fw5", Password: userPassword}); a.status != http.StatusOK {
		t.Fatalf("a fifth user after 5 failures over 4 usernames from the same address: %d %s, want 200", a.status, a.body)
	}
}

func TestThrottledLoginDoesNotRevealTheUsername(t *testing.T) {
	h := startServer(t)
	newWorld(h, nil, map[string]userSpec{"amira": {role: model.RoleAuditor}})
	real := attackUntilThrottled(t, h, noXFF, "amira")
	ghost := attackUntilThrottled(t, h, noXFF, "no-such-user")
	// The same answer but for the number of seconds (the requests take a
	// moment of the server's clock).
	digits := regexp.MustCompile(`[0-9]+`)
	if !bytes.Equal(digits.ReplaceAll(real.body, nil), digits.ReplaceAll(ghost.body, nil)) {
		t.Fatalf("existing user: %s; unknown user: %s; want the same", real.body, ghost.body)
	}
	if got := errorCode(t, real.body); got != string(model.CodeRateLimited) {
		t.Fatalf("code %s, want rate_limited", got)
	}
}

func TestAttackedUserLogsInFromAnotherAddress(t *testing.T) {
	h := startServer(t)
	newWorld(h, nil, map[string]userSpec{"amira": {role: model.RoleAuditor}})
	attackUntilThrottled(t, h, noXFF, "amira") // from 127.0.0.1
	if a := loginFrom(t, h, nil, "", api.LoginRequest{Username: "amira", Password: userPassword}); a.status != http.StatusTooManyRequests {
		t.Fatalf("the attacked address itself: %d, want 429", a.status)
	}
	if a := loginFrom(t, h, fromLoopback("127.0.0.2"), "", api.LoginRequest{Username: "amira", Password: userPassword}); a.status != http.StatusOK {
		t.Fatalf("from another address: %d %s, want 200", a.status, a.body)
	}
}

func TestLoginWithDeviceRefreshTokenIsNotThrottledByOthers(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north"}, map[string]userSpec{
		"amira": {role: model.RoleFieldWorker, teams: []string{"north"}},
		"other": {role: model.RoleFieldWorker, teams: []string{"north"}},
	})
	tablet, other := w.clients["amira"], w.clients["other"]
	attackUntilThrottled(t, h, noXFF, "amira") // the same address as the tablet
	tests := []struct {
		name string
		req  api.LoginRequest
		want int
	}{
		{"device id alone proves nothing", api.LoginRequest{DeviceID: tablet.device}, http.StatusTooManyRequests},
		{"another user's token proves nothing", api.LoginRequest{DeviceID: other.device, RefreshToken: other.refresh}, http.StatusTooManyRequests},
		{"a token of another device proves nothing", api.LoginRequest{DeviceID: tablet.device, RefreshToken: other.refresh}, http.StatusTooManyRequests},
		{"a made-up token proves nothing", api.LoginRequest{DeviceID: tablet.device, RefreshToken: madeUp(tablet.refresh)}, http.StatusTooManyRequests},
		{"the device's refresh token", api.LoginRequest{DeviceID: tablet.device, RefreshToken: tablet.refresh}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Username, tt.req.Password = "amira", userPassword
			if a := loginFrom(t, h, nil, "", tt.req); a.status != tt.want {
				t.Fatalf("%d %s, want %d", a.status, a.body, tt.want)
			}
		})
	}
	// The proof is not consumed: the tablet's refresh token still works.
	if status, body := h.do(http.MethodPost, "/v1/auth/refresh", "", api.RefreshRequest{RefreshToken: tablet.refresh}); status != http.StatusOK {
		t.Fatalf("refresh after a proven login: %d %s", status, body)
	}
}

// madeUp returns token with one character in its middle changed.
func madeUp(token string) string {
	b := []byte(token)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestLoginDelaysGrow(t *testing.T) {
	h := startServerEnv(t, map[string]string{"FIELDSYNC_LOGIN_FAILURES": "1"})
	newWorld(h, nil, map[string]userSpec{"amira": {role: model.RoleAuditor}})
	// One failure is free, then the delay doubles from 1s: 1, 2, 4, 8, 16.
	// The server's clock is frozen and moves only by advance, so a probe
	// right after a failure sees exactly the delay, however long the
	// requests take.
	h.freeze()
	for failure := 1; failure <= 6; failure++ {
		if a := loginFrom(t, h, nil, "", api.LoginRequest{Username: "amira", Password: "wrong password"}); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", failure, a.status, a.body)
		}
		if failure == 1 {
			continue
		}
		want := 1 << (failure - 2)
		if want >= 4 {
			a := loginFrom(t, h, nil, "", api.LoginRequest{Username: "amira", Password: userPassword})
			if a.status != http.StatusTooManyRequests {
				t.Fatalf("right after failure %d: %d %s, want 429", failure, a.status, a.body)
			}
			got, err := strconv.Atoi(a.retryAfter)
			if err != nil {
				t.Fatalf("Retry-After %q: %v", a.retryAfter, err)
			}
			if got != want {
				t.Fatalf("after failure %d: Retry-After %d, want %d", failure, got, want)
			}
		}
		h.advance(time.Duration(want) * time.Second)
	}
	if a := loginFrom(t, h, nil, "", api.LoginRequest{Username: "amira", Password: userPassword}); a.status != http.StatusOK {
		t.Fatalf("after the last delay: %d %s", a.status, a.body)
	}
}

// auditIPs returns the audit entries' action, object and IP.
func auditIPs(t *testing.T, auditor *client) []string {
	t.Helper()
	var page struct {
		Entries []struct {
			Action string `json:"action"`
			Object string `json:"object"`
			IP     string `json:"ip"`
			Detail string `json:"detail"`
		} `json:"entries"`
	}
	mustUnmarshal(t, auditor.mustDo(http.StatusOK, http.MethodGet, "/v1/audit?limit=1000", nil), &page)
	var out []string
	for _, e := range page.Entries {
		out = append(out, fmt.Sprintf("%s %s %s %s", e.Action, e.Object, e.IP, e.Detail))
	}
	return out
}

func TestForwardedForIsIgnoredWithoutTrustedProxies(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, nil, map[string]userSpec{"amira": {role: model.RoleAuditor}, "auditor": {role: model.RoleAuditor}})
	attackUntilThrottled(t, h, func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) }, "amira")
	if a := loginFrom(t, h, nil, "198.51.100.2", api.LoginRequest{Username: "amira", Password: userPassword}); a.status != http.StatusTooManyRequests {
		t.Fatalf("a new X-Forwarded-For from the same peer: %d %s, want 429 (the header is not believed)", a.status, a.body)
	}
	for _, e := range auditIPs(t, w.clients["auditor"]) {
		if bytes.Contains([]byte(e), []byte("203.0.113.")) {
			t.Fatalf("audit entry %q holds an address from an untrusted X-Forwarded-For", e)
		}
	}
}

func TestForwardedForGivesRightmostUntrustedHopBehindTrustedProxies(t *testing.T) {
	h := startServerEnv(t, map[string]string{"FIELDSYNC_TRUSTED_PROXIES": "127.0.0.0/8"})
	w := newWorld(h, nil, map[string]userSpec{"amira": {role: model.RoleAuditor}, "auditor": {role: model.RoleAuditor}})
	// The attacker at 203.0.113.1 writes a new leftmost address each time:
	// only the hop the proxy appended counts, so it is still throttled.
	spoofed := func(i int) string { return fmt.Sprintf("198.51.100.%d, 203.0.113.1", i+1) }
	attackUntilThrottled(t, h, spoofed, "amira")
	if a := loginFrom(t, h, nil, "203.0.113.1", api.LoginRequest{Username: "amira", Password: userPassword}); a.status != http.StatusTooManyRequests {
		t.Fatalf("the attacker's address: %d, want 429", a.status)
	}
	// The user elsewhere, behind two proxies of the trusted network.
	if a := loginFrom(t, h, nil, "203.0.113.1, 192.0.2.50, 127.0.0.9", api.LoginRequest{Username: "amira", Password: userPassword}); a.status != http.StatusOK {
		t.Fatalf("the user at another address: %d %s, want 200", a.status, a.body)
	}
	want := map[string]bool{
		"login_failed amira 203.0.113.1 invalid_credentials": false,
		"login_throttled amira 203.0.113.1 delay 1s":         false,
		"login_throttled amira 203.0.113.1 delay 1m4s":       false,
		"login_refused amira 203.0.113.1 user and client":    false,
		"login  192.0.2.50 ":                                 false,
	}
	for _, e := range auditIPs(t, w.clients["auditor"]) {
		if _, ok := want[e]; ok {
			want[e] = true
		}
	}
	for e, seen := range want {
		if !seen {
			t.Errorf("no audit entry %q", e)
		}
	}
}

func TestLoginAddressCeilingSparesProvenDevices(t *testing.T) {
	h := startServerEnv(t, map[string]string{"FIELDSYNC_LOGIN_IP_FAILURES": "3"})
	w := newWorld(h, []string{"north"}, map[string]userSpec{
		"amira": {role: model.RoleFieldWorker, teams: []string{"north"}},
		"bo":    {role: model.RoleFieldWorker, teams: []string{"north"}},
	})
	for i, name := range []string{"x1", "x2", "x3"} { // spraying usernames
		if a := loginFrom(t, h, nil, "", api.LoginRequest{Username: name, Password: "wrong password"}); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d %s", i+1, a.status, a.body)
		}
	}
	a := loginFrom(t, h, nil, "", api.LoginRequest{Username: "bo", Password: userPassword})
	if a.status != http.StatusTooManyRequests || a.retryAfter == "" {
		t.Fatalf("a login after the address's ceiling: %d Retry-After %q %s, want 429 with Retry-After", a.status, a.retryAfter, a.body)
	}
	tablet := w.clients["amira"]
	proven := api.LoginRequest{Username: "amira", Password: userPassword, DeviceID: tablet.device, RefreshToken: tablet.refresh}
	if a := loginFrom(t, h, nil, "", proven); a.status != http.StatusOK {
		t.Fatalf("a proven device after the address's ceiling: %d %s, want 200", a.status, a.body)
	}
}
