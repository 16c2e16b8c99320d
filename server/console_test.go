package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestConsoleServed: the console is public static files with a strict
// policy, and never touches browser storage.
func TestConsoleServed(t *testing.T) {
	t.Parallel()
	h := startServer(t)
	req, _ := http.NewRequest(http.MethodGet, h.base+"/", nil)
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for hdr, want := range map[string]string{
		"Content-Security-Policy": "script-src 'self'", "Clear-Site-Data": `"cache"`, "Cache-Control": "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if !strings.Contains(resp.Header.Get(hdr), want) {
			t.Errorf("GET / %s = %q, want it to contain %q", hdr, resp.Header.Get(hdr), want)
		}
	}
	// The page logging out lands on clears the browser's storage too.
	req, _ = http.NewRequest(http.MethodGet, h.base+"/?out=logout", nil)
	if resp, err = h.http.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Clear-Site-Data"); !strings.Contains(got, `"storage"`) {
		t.Errorf("GET /?out=logout Clear-Site-Data = %q, want it to clear storage", got)
	}
	// Only device.js may use localStorage (for the device id, never a token).
	for _, f := range []string{"app.js", "api.js", "dom.js", "queue.js", "record.js", "records.js", "history.js", "figures.js", "devices.js", "chart.js", "device.js", "accounts.js", "audit.js", "style.css"} {
		status, body := h.do(http.MethodGet, "/console/"+f, "", nil)
		if status != 200 {
			t.Errorf("GET /console/%s: %d", f, status)
			continue
		}
		for _, banned := range []string{"localStorage", "sessionStorage", "indexedDB", "document.cookie", "innerHTML", "eval("} {
			if strings.Contains(string(body), banned) && !(f == "device.js" && banned == "localStorage") {
				t.Errorf("console/%s uses %s", f, banned)
			}
		}
	}
	for _, bad := range []string{"/console/..%2fserver.go", "/console/nope.js", "/console/.hidden.js", "/console/index"} {
		if status, _ := h.do(http.MethodGet, bad, "", nil); status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, status)
		}
	}
}
