package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// TestNamesAreBounded: device names, usernames, passwords and team names
// are length-capped (400 invalid_request, or 413 when the body is over the
// small body limit), and nothing refused is stored.
func TestNamesAreBounded(t *testing.T) {
	h := startServer(t)
	admin := h.login("admin", adminPassword, "")
	login := func(username, password, deviceName string) any {
		return api.LoginRequest{Username: username, Password: password, DeviceName: deviceName}
	}
	long := strings.Repeat("é", 1000)
	for _, tt := range []struct {
		name   string
		path   string
		token  string
		body   any
		status int
	}{
		{"device_name of 1000 characters", "/v1/auth/login", "", login("admin", adminPassword, long), http.StatusBadRequest},
		{"device_name with a line break", "/v1/auth/login", "", login("admin", adminPassword, "tablet\nadmin"), http.StatusBadRequest},
		{"username of 1000 characters", "/v1/auth/login", "", login(long, adminPassword, ""), http.StatusBadRequest},
		{"password of 20,000 characters", "/v1/auth/login", "", login("admin", strings.Repeat("ab", 10000), ""), http.StatusBadRequest},
		{"team name of 1000 characters", "/v1/admin/teams", admin.token, api.CreateTeamRequest{Name: long}, http.StatusBadRequest},
		{"team region of 1000 characters", "/v1/admin/teams", admin.token, api.CreateTeamRequest{Name: "t", Region: long}, http.StatusBadRequest},
		{"username of 65 characters", "/v1/admin/users", admin.token, api.CreateUserRequest{Username: strings.Repeat("u", 65), Password: userPassword, Role: model.RoleAuditor, Teams: []string{}}, http.StatusBadRequest},
		{"password of 2000 characters", "/v1/admin/users", admin.token, api.CreateUserRequest{Username: "u", Password: strings.Repeat("ab", 1000), Role: model.RoleAuditor, Teams: []string{}}, http.StatusBadRequest},
	} {
		status, body := h.do(http.MethodPost, tt.path, tt.token, tt.body)
		if status != tt.status {
			t.Errorf("%s: %d %.120s, want %d", tt.name, status, body, tt.status)
			continue
		}
		want := "invalid_request"
		if status == http.StatusRequestEntityTooLarge {
			want = "body_too_large"
		}
		if got := errorCode(t, body); got != want {
			t.Errorf("%s: code %s, want %s", tt.name, got, want)
		}
		if strings.Contains(string(body), "éé") || strings.Contains(string(body), "xxxx") {
			t.Errorf("%s: the answer repeats the value: %.120s", tt.name, body)
		}
	}
	// A 4 MB device name is refused from the headers: 413, or the
	// connection closed before the client finished sending it.
	big, err := json.Marshal(login("admin", adminPassword, strings.Repeat("x", 4<<20)))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Post(h.base+"/v1/auth/login", "application/json", bytes.NewReader(big)); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("device_name of 4 MB: %d, want 413", resp.StatusCode)
		}
	}
	var devices struct {
		Devices []api.Device `json:"devices"`
	}
	mustUnmarshal(t, admin.mustDo(http.StatusOK, http.MethodGet, "/v1/admin/devices", nil), &devices)
	if len(devices.Devices) != 1 {
		t.Errorf("%d devices registered, want only the admin's first", len(devices.Devices))
	}
	// A name within the caps is accepted.
	if status, body := h.do(http.MethodPost, "/v1/auth/login", "", login("admin", adminPassword, "Tablet 7 (north)")); status != http.StatusOK {
		t.Errorf("ordinary device name: %d %s", status, body)
	}
}
