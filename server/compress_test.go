package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// rawExchange sends body with the given request headers over a client
// that does not decode answers itself, and returns the status, the
// answer's Content-Encoding and its bytes as sent.
func rawExchange(t *testing.T, h *harness, method, path, token string, body []byte, headers map[string]string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, h.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	raw := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableCompression: true}}
	resp, err := raw.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Encoding"), data
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(data, nil)
}

func unpack(t *testing.T, coding string, data []byte) []byte {
	t.Helper()
	switch coding {
	case "":
		return data
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case "zstd":
		dec, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		out, err := dec.DecodeAll(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatalf("unexpected Content-Encoding %q", coding)
	return nil
}

// notesPush is a push body creating a record with n distinct notes.
func notesPush(c *client, teamID string, n int) []byte {
	id := uuid.Must(uuid.NewV7()).String()
	ops := c.newIdentification(id, teamID)
	for i := range n {
		ops = append(ops, c.op(id, model.KindIdentification, "notes", "append", map[string]any{"text": fmt.Sprintf("Visit %d: met near the station, %s.", i, uuid.NewString())}))
	}
	body, err := json.Marshal(api.PushRequest{Ops: ops})
	if err != nil {
		panic(err)
	}
	return body
}

// TestCompressionBothWays: a push sent gzip- or zstd-compressed is
// applied as if sent plain; a pull answer is compressed with the coding
// the device accepts, and decodes to exactly the plain answer.
func TestCompressionBothWays(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north"}, map[string]userSpec{"fw": {role: model.RoleFieldWorker, teams: []string{"north"}}})
	fw := w.clients["fw"]
	for _, coding := range []string{"gzip", "zstd"} {
		plain := notesPush(fw, w.teams["north"], 20)
		packed := gzipBytes(t, plain)
		if coding == "zstd" {
			packed = zstdBytes(t, plain)
		}
		status, _, answer := rawExchange(t, h, http.MethodPost, "/v1/sync/push", fw.token, packed, map[string]string{"Content-Encoding": coding})
		if status != http.StatusOK {
			t.Fatalf("%s push = %d %s, want 200", coding, status, answer)
		}
		var res api.PushResponse
		mustUnmarshal(t, unpack(t, "", answer), &res)
		for _, r := range res.Results {
			if r.Status != "applied" {
				t.Fatalf("%s push: op %s %s (%s), want applied", coding, r.ID, r.Status, r.Message)
			}
		}
	}
	_, plainEnc, plain := rawExchange(t, h, http.MethodGet, "/v1/sync/pull?limit=1000", fw.token, nil, nil)
	if plainEnc != "" {
		t.Fatalf("pull without Accept-Encoding came with Content-Encoding %q", plainEnc)
	}
	var page api.PullResponse
	mustUnmarshal(t, plain, &page)
	if len(page.Ops) != 42 {
		t.Fatalf("pull returned %d ops, want the 42 pushed", len(page.Ops))
	}
	for _, accept := range []string{"gzip", "zstd", "gzip, deflate, br, zstd"} {
		status, coding, data := rawExchange(t, h, http.MethodGet, "/v1/sync/pull?limit=1000", fw.token, nil, map[string]string{"Accept-Encoding": accept})
		if status != http.StatusOK || coding == "" {
			t.Fatalf("pull accepting %q = %d with Content-Encoding %q, want 200 compressed", accept, status, coding)
		}
		if len(data)*2 > len(plain) {
			t.Errorf("pull accepting %q: %d bytes on the wire for a %d-byte answer", accept, len(data), len(plain))
		}
		var got api.PullResponse
		mustUnmarshal(t, unpack(t, coding, data), &got)
		if g, _ := json.Marshal(got.Ops); !bytes.Equal(g, mustMarshal(t, page.Ops)) {
			t.Fatalf("pull accepting %q decodes to other ops than the plain pull", accept)
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLoginAndRefreshNeverCompressed: even with the threshold at one
// byte, login and refresh answers (tokens) go out uncompressed, while an
// answer of a compressing route does not (the control).
func TestLoginAndRefreshNeverCompressed(t *testing.T) {
	h := startServerEnv(t, map[string]string{"FIELDSYNC_COMPRESS_MIN": "1"})
	accept := map[string]string{"Accept-Encoding": "gzip, zstd"}
	status, coding, body := rawExchange(t, h, http.MethodPost, "/v1/auth/login", "", mustMarshal(t, api.LoginRequest{Username: "admin", Password: adminPassword}), accept)
	if status != http.StatusOK || coding != "" {
		t.Fatalf("login = %d with Content-Encoding %q, want 200 uncompressed", status, coding)
	}
	var tr api.TokenResponse
	mustUnmarshal(t, body, &tr)
	status, coding, _ = rawExchange(t, h, http.MethodPost, "/v1/auth/refresh", "", mustMarshal(t, api.RefreshRequest{RefreshToken: tr.RefreshToken}), accept)
	if status != http.StatusOK || coding != "" {
		t.Fatalf("refresh = %d with Content-Encoding %q, want 200 uncompressed", status, coding)
	}
	status, coding, _ = rawExchange(t, h, http.MethodGet, "/v1/schema", tr.AccessToken, nil, accept)
	if status != http.StatusOK || coding == "" {
		t.Fatalf("schema = %d with Content-Encoding %q, want 200 compressed (the control)", status, coding)
	}
}

// TestRequestCodingsRefused: a body in a coding the server does not
// speak, in two codings, or not decoding as its coding says, is refused
// with 400 invalid_request, never read as JSON.
func TestRequestCodingsRefused(t *testing.T) {
	h := startServer(t)
	login := mustMarshal(t, api.LoginRequest{Username: "admin", Password: adminPassword})
	cases := []struct {
		name, coding string
		body         []byte
	}{
		{"unknown coding", "compress", login},
		{"two codings", "gzip, gzip", gzipBytes(t, gzipBytes(t, login))},
		{"corrupt gzip", "gzip", []byte("not gzip at all")},
		{"corrupt zstd", "zstd", []byte("not zstd at all")},
	}
	for _, tc := range cases {
		status, _, body := rawExchange(t, h, http.MethodPost, "/v1/auth/login", "", tc.body, map[string]string{"Content-Encoding": tc.coding})
		if status != http.StatusBadRequest || errorCode(t, body) != "invalid_request" {
			t.Errorf("%s: login = %d %s, want 400 invalid_request", tc.name, status, body)
		}
	}
	status, _, body := rawExchange(t, h, http.MethodPost, "/v1/auth/login", "", login, map[string]string{"Content-Encoding": "identity"})
	if status != http.StatusOK {
		t.Errorf("identity login = %d %s, want 200", status, body)
	}
}

// TestZstdBodyBounded: a small zstd body that expands past the body limit
// is refused with 413 body_too_large without being expanded in memory.
func TestZstdBodyBounded(t *testing.T) {
	h := startServer(t)
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(zw, zeros{}, 256<<20); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	bomb := buf.Bytes()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	status, _, body := rawExchange(t, h, http.MethodPost, "/v1/auth/login", "", bomb, map[string]string{"Content-Encoding": "zstd"})
	runtime.ReadMemStats(&after)
	if status != http.StatusRequestEntityTooLarge || errorCode(t, body) != "body_too_large" {
		t.Fatalf("zstd bomb = %d %s, want 413 body_too_large", status, body)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("a %d-byte zstd body made the server allocate %d MiB", len(bomb), grew>>20)
	}
}
