package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/server"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// adminPassword is the first admin's password in every test server.
const adminPassword = "correct horse battery staple"

// harness is a real fieldsync server on 127.0.0.1 over a badger directory
// in t.TempDir(), talked to over HTTP.
type harness struct {
	t    testing.TB
	dir  string
	m    *server.Main
	base string
	http *http.Client
	env  map[string]string
	// skew is added to the server's wall clock (advance moves it).
	skew atomic.Int64
	// frozen, when set (freeze), is the clock's base instead of the wall
	// clock: the server's time then moves only by advance.
	frozen atomic.Pointer[time.Time]
}

// freeze stops the server's clock at the current time; from then on only
// advance moves it (tests of delays that must not depend on how long a
// request takes on a loaded machine).
func (h *harness) freeze() {
	now := time.Now()
	h.frozen.Store(&now)
}

// advance moves the server's clock forward by d.
func (h *harness) advance(d time.Duration) { h.skew.Add(int64(d)) }

func (h *harness) now() time.Time {
	base := time.Now()
	if f := h.frozen.Load(); f != nil {
		base = *f
	}
	return base.Add(time.Duration(h.skew.Load()))
}

func startServer(t testing.TB) *harness {
	t.Helper()
	return startServerEnv(t, nil)
}

// startServerEnv starts a server with env overriding testEnv.
func startServerEnv(t testing.TB, env map[string]string) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), http: &http.Client{Timeout: 60 * time.Second}, env: env}
	h.start()
	t.Cleanup(func() { h.stop() })
	return h
}

func (h *harness) start() {
	h.t.Helper()
	m := server.NewMain()
	m.Stdout = io.Discard
	m.Now = h.now
	env := testEnv()
	for k, v := range h.env {
		env[k] = v
	}
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--data", h.dir}, func(k string) string { return env[k] }); err != nil {
		h.t.Fatal(err)
	}
	if os.Getenv("FIELDSYNC_TEST_LOGS") == "" {
		m.Log = discardLogger()
	}
	if err := m.Run(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.m = m
	h.base = "http://" + m.Addr()
}

func (h *harness) stop() {
	if h.m != nil {
		if err := h.m.Close(); err != nil {
			h.t.Errorf("close server: %v", err)
		}
		h.m = nil
	}
}

// restart closes the server gracefully and starts it again on the same
// directory (and a new port).
func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	h.start()
}

// testEnv is the environment of every test server: loopback tests log in
// many users from one IP, faster than the production login limits allow.
func testEnv() map[string]string {
	return map[string]string{"FIELDSYNC_ADMIN_PASSWORD": adminPassword, "FIELDSYNC_LOG_LEVEL": "error",
		"FIELDSYNC_USER_RATE": "10000", "FIELDSYNC_USER_BURST": "10000"}
}

// client is one device of one user.
type client struct {
	h       *harness
	token   string
	refresh string
	device  string
	user    api.User
	clock   *hlc.Clock
}

// login logs in username on a new device (or on device when not "").
func (h *harness) login(username, password, device string) *client {
	h.t.Helper()
	c, status, body := h.tryLogin(username, password, device)
	if status != http.StatusOK {
		h.t.Fatalf("login %s: %d %s", username, status, body)
	}
	return c
}

func (h *harness) tryLogin(username, password, device string) (*client, int, []byte) {
	req := api.LoginRequest{Username: username, Password: password, DeviceID: device}
	status, body := h.do(http.MethodPost, "/v1/auth/login", "", req)
	if status != http.StatusOK {
		return nil, status, body
	}
	var tr api.TokenResponse
	mustUnmarshal(h.t, body, &tr)
	return &client{h: h, token: tr.AccessToken, refresh: tr.RefreshToken, device: tr.DeviceID, user: tr.User, clock: hlc.NewClock(time.Now, 0)}, status, body
}

// do sends body (a []byte is sent as is, anything else as JSON) and returns
// the status and response body.
func (h *harness) do(method, path, token string, body any) (int, []byte) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, data
}

func (c *client) do(method, path string, body any) (int, []byte) {
	c.h.t.Helper()
	return c.h.do(method, path, c.token, body)
}

// mustDo fails the test unless the status is want.
func (c *client) mustDo(want int, method, path string, body any) []byte {
	c.h.t.Helper()
	status, data := c.do(method, path, body)
	if status != want {
		c.h.t.Fatalf("%s %s = %d %s, want %d", method, path, status, data, want)
	}
	return data
}

// op builds one op of this device as JSON.
func (c *client) op(record, kind, field, action string, value any, base ...string) json.RawMessage {
	if base == nil {
		base = []string{}
	}
	b, err := json.Marshal(map[string]any{"id": uuid.Must(uuid.NewV7()).String(), "record": record, "kind": kind,
		"field": field, "action": action, "value": value, "base": base, "hlc": c.clock.Now().String(), "device": c.device})
	if err != nil {
		c.h.t.Fatal(err)
	}
	return b
}

func (c *client) push(ops ...json.RawMessage) api.PushResponse {
	c.h.t.Helper()
	var res api.PushResponse
	mustUnmarshal(c.h.t, c.mustDo(http.StatusOK, http.MethodPost, "/v1/sync/push", api.PushRequest{Ops: ops}), &res)
	if len(res.Results) != len(ops) {
		c.h.t.Fatalf("push of %d ops returned %d results", len(ops), len(res.Results))
	}
	return res
}

// pushApplied pushes and fails unless every op was applied.
func (c *client) pushApplied(ops ...json.RawMessage) api.PushResponse {
	c.h.t.Helper()
	res := c.push(ops...)
	for _, r := range res.Results {
		if r.Status != "applied" {
			c.h.t.Fatalf("op %s: %s %s %s", r.ID, r.Status, r.Code, r.Message)
		}
	}
	return res
}

// pullAll pages from cursor until more is false.
func (c *client) pullAll(cursor string, limit int) ([]json.RawMessage, []string, string) {
	c.h.t.Helper()
	var ops []json.RawMessage
	var drop []string
	for {
		page := getJSON[api.PullResponse](c, fmt.Sprintf("/v1/sync/pull?cursor=%s&limit=%d", cursor, limit))
		ops = append(ops, page.Ops...)
		drop = append(drop, page.Drop...)
		cursor = page.Cursor
		if !page.More {
			return ops, drop, cursor
		}
	}
}

// getJSON GETs path as c, fails the test unless the status is 200, and
// decodes the body.
func getJSON[T any](c *client, path string) T {
	c.h.t.Helper()
	var v T
	mustUnmarshal(c.h.t, c.mustDo(http.StatusOK, http.MethodGet, path, nil), &v)
	return v
}

func mustUnmarshal(t testing.TB, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

// errorCode returns the code of an error body.
func errorCode(t testing.TB, data []byte) string {
	t.Helper()
	var e api.ErrorBody
	mustUnmarshal(t, data, &e)
	return string(e.Error.Code)
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }
