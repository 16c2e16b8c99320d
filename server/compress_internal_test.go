package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// wantCompressed is, per route, whether its answers may be compressed.
// Every route must be listed: a new route is classified on purpose.
var wantCompressed = map[string]bool{
	"GET /healthz":                            false,
	"GET /readyz":                             false,
	"POST /v1/auth/login":                     false, // tokens next to attacker-influenced bytes
	"POST /v1/auth/refresh":                   false, // same
	"GET /v1/schema":                          true,
	"POST /v1/sync/push":                      true,
	"GET /v1/sync/pull":                       true,
	"GET /v1/sync/snapshot":                   true,
	"GET /v1/sync/events":                     false, // flushed event by event
	"GET /v1/records":                         true,
	"GET /v1/records/:id":                     true,
	"GET /v1/records/:id/attachments/:digest": false, // photos and audio are compressed already
	"POST /v1/uploads":                        false,
	"HEAD /v1/uploads/:id":                    false,
	"PATCH /v1/uploads/:id":                   false,
	"POST /v1/uploads/:id/complete":           false,
	"GET /v1/audit":                           true,
	"POST /v1/admin/teams":                    false,
	"GET /v1/admin/teams":                     true,
	"POST /v1/admin/users":                    false,
	"GET /v1/admin/users":                     true,
	"POST /v1/admin/users/:id/disable":        false,
	"POST /v1/admin/users/:id/enable":         false,
	"POST /v1/admin/users/:id/password":       false,
	"GET /v1/admin/devices":                   true,
	"POST /v1/devices/:id/revoke":             false,
	"POST /v1/sync/purges":                    false, // a count
	"PUT /v1/records/:id/hold":                false,
	"DELETE /v1/records/:id/hold":             false,
	"GET /v1/admin/retention":                 false, // ids and rules, small
	"POST /v1/admin/retention/run":            false,
	"GET /v1/admin/purges":                    false,
	"GET /v1/review/queue":                    true,
	"GET /v1/review/duplicates":               true,
	"POST /v1/review/links":                   false,
	"GET /v1/review/links":                    true,
	"GET /v1/stats":                           true,
	"GET /v1/export/stats":                    true,
	"GET /v1/export/records":                  true,
	"GET /":                                   false,
	"GET /console/:file":                      false,
	"GET /app/":                               false,
	"GET /app/:file":                          false,
}

// bigJSON is an answer well over the compression threshold that
// compresses well.
var bigJSON = `{"ops":[` + strings.TrimSuffix(strings.Repeat(`{"field":"notes","value":"a note"},`, 200), ",") + `]}`

// TestCompressionPerRoute: each route compresses a large answer for a
// client that accepts gzip or zstd exactly when the table says so; login
// and refresh never do.
func TestCompressionPerRoute(t *testing.T) {
	s := &Server{cfg: Config{CompressMin: DefaultCompressMin}, metrics: newMetrics()}
	app := fiber.New()
	routes := s.routes()
	for i, r := range routes {
		app.Add(r.method, fmt.Sprintf("/t%d", i), s.compressAnswer(r), func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
			return c.SendString(bigJSON)
		})
	}
	for i, r := range routes {
		key := r.method + " " + r.path
		want, ok := wantCompressed[key]
		if !ok {
			t.Errorf("%s is not in wantCompressed: decide whether its answers may be compressed", key)
			continue
		}
		for _, accept := range []string{"gzip", "zstd", "gzip, deflate, br, zstd"} {
			req := httptest.NewRequest(r.method, fmt.Sprintf("/t%d", i), nil)
			req.Header.Set("Accept-Encoding", accept)
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			got := resp.Header.Get("Content-Encoding")
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if (got != "") != want {
				t.Errorf("%s with Accept-Encoding %q: Content-Encoding %q, want compressed %v", key, accept, got, want)
				continue
			}
			if want {
				if plain := decodeAnswer(t, got, body); plain != bigJSON {
					t.Errorf("%s: the %s answer decodes to %d bytes, want the %d sent", key, got, len(plain), len(bigJSON))
				}
			}
		}
	}
	for key := range compressedRoutes {
		if !wantCompressed[key] {
			t.Errorf("compressedRoutes lists %s, which the table says must not compress", key)
		}
	}
}

// TestCompressionThresholdAndNegotiation: small answers, clients that
// accept no coding and compression turned off all get the answer as is;
// the coding follows the client's preferences.
func TestCompressionThresholdAndNegotiation(t *testing.T) {
	pull := route{method: fiber.MethodGet, path: "/v1/sync/pull"}
	cases := []struct {
		name, accept, body string
		min                int
		want               string
	}{
		{"gzip", "gzip", bigJSON, DefaultCompressMin, "gzip"},
		{"zstd preferred on a tie", "gzip, zstd", bigJSON, DefaultCompressMin, "zstd"},
		{"gzip ranked higher", "zstd;q=0.5, gzip", bigJSON, DefaultCompressMin, "gzip"},
		{"zstd refused", "zstd;q=0, gzip;q=0.1", bigJSON, DefaultCompressMin, "gzip"},
		{"star", "*", bigJSON, DefaultCompressMin, "zstd"},
		{"star but not zstd", "*, zstd;q=0", bigJSON, DefaultCompressMin, "gzip"},
		{"star refused", "*;q=0", bigJSON, DefaultCompressMin, ""},
		{"no Accept-Encoding", "", bigJSON, DefaultCompressMin, ""},
		{"identity only", "identity", bigJSON, DefaultCompressMin, ""},
		{"br only", "br, deflate", bigJSON, DefaultCompressMin, ""},
		{"under the threshold", "gzip, zstd", `{"ops":[],"more":false}`, DefaultCompressMin, ""},
		{"compression off", "gzip, zstd", bigJSON, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{cfg: Config{CompressMin: tc.min}}
			app := fiber.New()
			app.Get("/", s.compressAnswer(pull), func(c *fiber.Ctx) error { return c.SendString(tc.body) })
			req := httptest.NewRequest(fiber.MethodGet, "/", nil)
			if tc.accept != "" {
				req.Header.Set("Accept-Encoding", tc.accept)
			}
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if got := resp.Header.Get("Content-Encoding"); got != tc.want {
				t.Fatalf("Content-Encoding = %q, want %q", got, tc.want)
			}
			if got := decodeAnswer(t, tc.want, body); got != tc.body {
				t.Fatalf("answer decodes to %q, want %q", got, tc.body)
			}
			if tc.min > 0 && !strings.Contains(resp.Header.Get("Vary"), "Accept-Encoding") {
				t.Fatalf("Vary = %q, want Accept-Encoding", resp.Header.Get("Vary"))
			}
		})
	}
}

// TestCompressionOfStreamedAnswer: an answer written through
// SetBodyStreamWriter (as a pull that streams stored bytes would be) is
// gzipped as it is written.
func TestCompressionOfStreamedAnswer(t *testing.T) {
	s := &Server{cfg: Config{CompressMin: DefaultCompressMin}}
	app := fiber.New()
	app.Get("/", s.compressAnswer(route{method: fiber.MethodGet, path: "/v1/sync/pull"}), func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
			_, _ = w.WriteString(bigJSON)
		})
		return nil
	})
	req := httptest.NewRequest(fiber.MethodGet, "/", nil)
	req.Header.Set("Accept-Encoding", "zstd, gzip")
	resp, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", got)
	}
	if got := decodeAnswer(t, "gzip", body); got != bigJSON {
		t.Fatalf("streamed answer decodes to %d bytes, want %d", len(got), len(bigJSON))
	}
}

// decodeAnswer decodes body by its Content-Encoding.
func decodeAnswer(t *testing.T, coding string, body []byte) string {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	switch coding {
	case "":
		return string(body)
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unexpected coding %q", coding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s answer: %v", coding, err)
	}
	return string(out)
}
