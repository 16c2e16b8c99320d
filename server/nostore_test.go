package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server"
)

// TestNoStoreOnEveryRoute: every route of the route table answers with
// Cache-Control: no-store, whatever the status (only the console's static
// files may be cached), and so do unknown routes and refused requests.
func TestNoStoreOnEveryRoute(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	sup, auditor := d.clients["sup"], d.clients["auditor"]
	victim := h.login("fw", userPassword, "")
	bodies := map[string]any{
		"POST /v1/auth/login":         api.LoginRequest{Username: "fw", Password: userPassword, DeviceID: d.clients["fw"].device},
		"POST /v1/auth/refresh":       api.RefreshRequest{RefreshToken: d.clients["tl"].refresh},
		"POST /v1/admin/teams":        api.CreateTeamRequest{Name: "west", Region: "west region"},
		"POST /v1/admin/users":        api.CreateUserRequest{Username: "new.user", Password: userPassword, Role: model.RoleFieldWorker, Teams: []string{d.teams["north"]}},
		"POST /v1/sync/push":          map[string]any{"ops": []any{}},
		"POST /v1/review/links":       map[string]any{},
		"POST /v1/devices/:id/revoke": nil,
	}
	n := 0
	for _, r := range server.RouteTable() {
		key := r[0] + " " + r[1]
		path := strings.NewReplacer(":file", "app.js").Replace(r[1])
		switch r[1] {
		case "/v1/records/:id":
			path = strings.Replace(path, ":id", d.northRec, 1)
		case "/v1/devices/:id/revoke":
			path = strings.Replace(path, ":id", victim.device, 1)
		}
		token := sup.token
		switch {
		case strings.HasPrefix(r[1], "/v1/admin/"), r[1] == "/v1/devices/:id/revoke":
			token = d.admin.token
		case r[1] == "/v1/audit":
			token = auditor.token
		}
		resp := request(t, h, r[0], path, token, bodies[key])
		got := resp.Header.Get("Cache-Control")
		resp.Body.Close()
		n++
		if r[1] == "/console/:file" || r[1] == "/app/:file" {
			continue // static, public files
		}
		if got != "no-store" {
			t.Errorf("%s: %d with Cache-Control %q, want no-store", key, resp.StatusCode, got)
		}
	}
	if n < 20 {
		t.Fatalf("checked %d routes; the route table has more", n)
	}
	for _, tt := range []struct{ method, path, token string }{
		{http.MethodGet, "/no/such/route", ""},
		{http.MethodGet, "/v1/records", ""},           // no token
		{http.MethodGet, "/v1/audit", sup.token},      // wrong role
		{http.MethodPost, "/v1/sync/push", sup.token}, // no body
	} {
		resp := request(t, h, tt.method, tt.path, tt.token, nil)
		resp.Body.Close()
		if got := resp.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s %s: %d with Cache-Control %q, want no-store", tt.method, tt.path, resp.StatusCode, got)
		}
	}
}

// request sends one request and returns the response with its body
// unread (an event stream's included).
func request(t *testing.T, h *harness, method, path, token string, body any) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}
