// Package e2e proves the Go device SDK against a real fieldsync server:
// convergence through a network that cuts and delays connections, kill -9
// of the device process, skewed clocks, token expiry, lost access and
// revocation. Every test starts its own server on 127.0.0.1:0 over a
// t.TempDir() store.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server"
)

const (
	adminPassword = "correct horse battery staple"
	userPassword  = "a long enough password"
)

func logger() *slog.Logger {
	if os.Getenv("FIELDSYNC_TEST_LOGS") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// clock is a wall clock that runs with real time plus an offset the test
// moves.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }
func offsetClock(d time.Duration) *clock { c := &clock{}; c.Advance(d); return c }

// testServer is a real fieldsync server in this process.
type testServer struct {
	t     testing.TB
	dir   string
	m     *server.Main
	URL   string
	clock *clock
	http  *http.Client
	admin string // admin access token
	teams map[string]string
}

// startServer starts a server whose wall clock is clk (real time when nil).
func startServer(t testing.TB, clk *clock) *testServer {
	t.Helper()
	return startServerEnv(t, clk, nil)
}

// startServerEnv is startServer with more environment variables.
func startServerEnv(t testing.TB, clk *clock, more map[string]string) *testServer {
	t.Helper()
	if clk == nil {
		clk = &clock{}
	}
	s := &testServer{t: t, dir: t.TempDir(), clock: clk, http: &http.Client{Timeout: time.Minute}, teams: map[string]string{}}
	m := server.NewMain()
	m.Stdout = io.Discard
	env := map[string]string{"FIELDSYNC_ADMIN_PASSWORD": adminPassword, "FIELDSYNC_LOG_LEVEL": "error",
		"FIELDSYNC_USER_RATE": "10000", "FIELDSYNC_USER_BURST": "10000"}
	for k, v := range more {
		env[k] = v
	}
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "", "--data", s.dir}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	m.Log = logger()
	m.Now = clk.Now
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.m, s.URL = m, "http://"+m.Addr()
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	s.admin = s.login("admin", adminPassword).AccessToken
	return s
}

// do sends a JSON request and returns the status and body.
func (s *testServer) do(method, path, token string, body any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, data
}

func (s *testServer) mustDo(want int, method, path, token string, body any) []byte {
	s.t.Helper()
	status, data := s.do(method, path, token, body)
	if status != want {
		s.t.Fatalf("%s %s = %d %s, want %d", method, path, status, data, want)
	}
	return data
}

// login logs in over HTTP on a new device (for supervisors' reads).
func (s *testServer) login(username, password string) api.TokenResponse {
	s.t.Helper()
	var tr api.TokenResponse
	mustUnmarshal(s.t, s.mustDo(http.StatusOK, http.MethodPost, "/v1/auth/login", "", api.LoginRequest{Username: username, Password: password}), &tr)
	return tr
}

func (s *testServer) team(name string) string {
	s.t.Helper()
	if id, ok := s.teams[name]; ok {
		return id
	}
	var t model.Team
	mustUnmarshal(s.t, s.mustDo(http.StatusCreated, http.MethodPost, "/v1/admin/teams", s.admin, api.CreateTeamRequest{Name: name, Region: name}), &t)
	s.teams[name] = t.ID
	return t.ID
}

// user creates a user of role in the named teams.
func (s *testServer) user(name string, role model.Role, teams ...string) {
	s.t.Helper()
	req := api.CreateUserRequest{Username: name, Password: userPassword, Role: role, Teams: []string{}}
	for _, t := range teams {
		req.Teams = append(req.Teams, s.team(t))
	}
	s.mustDo(http.StatusCreated, http.MethodPost, "/v1/admin/users", s.admin, req)
}

// record returns GET /v1/records/{id} (with ?history=true when history)
// as token's user.
func (s *testServer) record(token, id string, history bool) []byte {
	s.t.Helper()
	path := "/v1/records/" + id
	if history {
		path += "?history=true"
	}
	return s.mustDo(http.StatusOK, http.MethodGet, path, token, nil)
}

func mustUnmarshal(t testing.TB, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

// device opens a replica in a new directory, pointed at url, and logs
// username in.
func device(t testing.TB, url, username string, mod ...func(*fieldsync.Options)) *fieldsync.Client {
	t.Helper()
	return deviceIn(t, t.TempDir(), url, username, mod...)
}

func deviceIn(t testing.TB, dir, url, username string, mod ...func(*fieldsync.Options)) *fieldsync.Client {
	t.Helper()
	c := openDevice(t, dir, url, mod...)
	if _, err := c.Login(context.Background(), username, userPassword); err != nil {
		t.Fatalf("log in %s: %v", username, err)
	}
	return c
}

func openDevice(t testing.TB, dir, url string, mod ...func(*fieldsync.Options)) *fieldsync.Client {
	t.Helper()
	opt := fieldsync.Options{ServerURL: url, DeviceName: "e2e", Logger: logger(),
		Backoff: fieldsync.Backoff{Base: time.Millisecond, Max: 20 * time.Millisecond}}
	for _, m := range mod {
		m(&opt)
	}
	c, err := fieldsync.Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close device: %v", err)
		}
	})
	return c
}

func syncOK(t testing.TB, c *fieldsync.Client) {
	t.Helper()
	if err := c.Sync(context.Background()); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// sameAsServer fails unless the device's record (state and history) is
// byte-identical to what the server serves token's user.
func sameAsServer(t testing.TB, s *testServer, token string, c *fieldsync.Client, id string) {
	t.Helper()
	ctx := context.Background()
	for _, history := range []bool{false, true} {
		got := must[[]byte](t)(c.RecordJSON(ctx, id, history))
		want := s.record(token, id, history)
		if !bytes.Equal(got, want) {
			t.Fatalf("record %s (history %v) differs:\ndevice %s\nserver %s", id, history, got, want)
		}
	}
	r := must[*fieldsync.Record](t)(c.Record(ctx, id))
	if !bytes.Equal(r.Canonical(), s.record(token, id, false)) {
		t.Fatalf("record %s: Record().Canonical() differs from the server", id)
	}
}
