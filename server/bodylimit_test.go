package server_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sendHead sends a request's headers announcing a 15 MB body, then only
// its first kilobyte, and returns the status the server answers with
// (0 if it waits for the rest of the body instead).
func sendHead(t *testing.T, h *harness, method, path, token string) int {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: fieldsync\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, path, 15<<20)
	if token != "" {
		head += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := conn.Write([]byte(head + "\r\n" + `{"x":"` + strings.Repeat("a", 1024))); err != nil {
		t.Fatal(err)
	}
	// A bound for a server that waits for the rest of the body (the
	// failure this test is about), not a measurement.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBigBodyRefusedBeforeReading: a route that takes no big body, and a
// push without a valid token, answer a 15 MB body with 413 from its
// headers, before the client has sent it; a push with a valid token is
// still read.
func TestBigBodyRefusedBeforeReading(t *testing.T) {
	h := startServer(t)
	fw := newDeployment(t, h).clients["fw"]
	for _, tt := range []struct{ method, path, token string }{
		{http.MethodPost, "/v1/auth/login", ""},
		{http.MethodPost, "/v1/auth/refresh", ""},
		{http.MethodPost, "/v1/admin/users", "forged"},
		{http.MethodPost, "/v1/admin/teams", fw.token},
		{http.MethodPost, "/v1/review/links", fw.token},
		{http.MethodPost, "/v1/sync/push", ""},
		{http.MethodPost, "/v1/sync/push", "not.a.token"},
		{http.MethodGet, "/v1/records", fw.token},
	} {
		if got := sendHead(t, h, tt.method, tt.path, tt.token); got != http.StatusRequestEntityTooLarge {
			t.Errorf("%s %s (token %.10q) with 15 MB announced: status %d, want 413 before the body is sent", tt.method, tt.path, tt.token, got)
		}
	}
	// Bodies under the small limit still work, and a push with a valid
	// token may be larger than the small limit.
	if status, body := h.do(http.MethodPost, "/v1/auth/login", "", `{"username":"fw","password":"`+strings.Repeat("x", 2000)+`"}`); status != http.StatusUnauthorized {
		t.Errorf("login with a 2 kB body: %d %s, want 401", status, body)
	}
	big := `{"ops":[` + strings.Repeat(`{"id":"x"},`, 20000) + `{"id":"x"}]}`
	if status, body := fw.do(http.MethodPost, "/v1/sync/push", big); errorCode(t, body) == "body_too_large" {
		t.Errorf("push of %d bytes with a valid token: %d %.100s, want it read", len(big), status, body)
	}
	// An expired but authentic token is told to refresh, not cut off
	// (the device would retry the same push forever).
	h.advance(16 * time.Minute)
	if status, body := fw.do(http.MethodPost, "/v1/sync/push", big); status != http.StatusUnauthorized || errorCode(t, body) != "token_expired" {
		t.Errorf("push of %d bytes with an expired token: %d %.100s, want 401 token_expired", len(big), status, body)
	}
}
