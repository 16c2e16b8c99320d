package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAppServed: the field app is public static files at /app/ with the
// console's strict policy (plus its manifest and service worker), the
// page no-store and never Clear-Site-Data (the app's offline data live in
// the origin's storage), the files no-cache with their types, and nothing
// else under /app/.
func TestAppServed(t *testing.T) {
	t.Parallel()
	h := startServer(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(h.base + "/app")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/app/" {
		t.Errorf("GET /app: %d to %q, want 301 to /app/", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = h.http.Get(h.base + "/app/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /app/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for hdr, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'", "Cache-Control": "no-store",
		"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
	} {
		if got := resp.Header.Get(hdr); !strings.Contains(got, want) {
			t.Errorf("GET /app/ %s = %q, want it to contain %q", hdr, got, want)
		}
	}
	for _, want := range []string{"manifest-src 'self'", "worker-src 'self'", "connect-src 'self'", "img-src 'self' data: blob:", "script-src 'self';", "default-src 'none'"} {
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), want) {
			t.Errorf("GET /app/ CSP lacks %s", want)
		}
	}
	if got := resp.Header.Get("Clear-Site-Data"); got != "" {
		t.Errorf("GET /app/ says Clear-Site-Data %q: it would erase changes not yet sent", got)
	}
	types := map[string]string{"app.js": "text/javascript", "sw.js": "text/javascript", "style.css": "text/css",
		"manifest.webmanifest": "application/manifest+json", "icon.svg": "image/svg+xml"}
	for f, typ := range types {
		req, _ := http.NewRequest(http.MethodGet, h.base+"/app/"+f, nil)
		resp, err := h.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), typ) || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET /app/%s: %d %q %q, want 200 %s no-cache", f, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), typ)
		}
		if resp.Header.Get("Clear-Site-Data") != "" {
			t.Errorf("GET /app/%s says Clear-Site-Data", f)
		}
	}
	// The page's code never builds HTML from strings nor evaluates text.
	status, body := h.do(http.MethodGet, "/app/app.js", "", nil)
	if status != 200 {
		t.Fatalf("GET /app/app.js: %d", status)
	}
	for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(string(body), banned) {
			t.Errorf("app.js uses %s", banned)
		}
	}
	for _, bad := range []string{"/app/..%2fapp.go", "/app/nope.js", "/app/.hidden.js", "/app/index.html", "/app/index", "/app/src%2fmain.ts"} {
		if status, _ := h.do(http.MethodGet, bad, "", nil); status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, status)
		}
	}
}
