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
		"Content-Security-Policy": "script-src 'self'", "Clear-Site-Data": `"storage"`, "Cache-Control": "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if !strings.Contains(resp.Header.Get(hdr), want) {
			t.Errorf("GET / %s = %q, want it to contain %q", hdr, resp.Header.Get(hdr), want)
		}
	}
	for _, f := range []string{"app.js", "api.js", "dom.js", "queue.js", "record.js", "figures.js", "devices.js", "chart.js", "style.css"} {
		status, body := h.do(http.MethodGet, "/console/"+f, "", nil)
		if status != 200 {
			t.Errorf("GET /console/%s: %d", f, status)
			continue
		}
		for _, banned := range []string{"localStorage", "sessionStorage", "indexedDB", "document.cookie", "innerHTML", "eval("} {
			if strings.Contains(string(body), banned) {
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
