package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"runtime"
	"testing"
)

// TestCompressedBodyBounded: a small gzip body that expands past the body
// limit is refused with 413 body_too_large without being expanded in
// memory, on a public route (no token needed to send it).
func TestCompressedBodyBounded(t *testing.T) {
	h := startServer(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	// 60 MiB of zeros gzip to under the login route's 64 KiB body limit,
	// so the body is read and only its decoding can refuse it (a body
	// over the limit is refused from its headers, before it is read).
	if _, err := io.CopyN(zw, zeros{}, 60<<20); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if gz.Len() >= 64<<10 {
		t.Fatalf("the gzip bomb is %d bytes, want it under the 64 KiB body limit", gz.Len())
	}
	req, err := http.NewRequest(http.MethodPost, h.base+"/v1/auth/login", bytes.NewReader(gz.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || errorCode(t, body) != "body_too_large" {
		t.Fatalf("gzip bomb = %d %s, want 413 body_too_large", resp.StatusCode, body)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("a %d-byte gzip body made the server allocate %d MiB", gz.Len(), grew>>20)
	}

	// A compressed body within the limit is still decoded and served.
	gz.Reset()
	zw.Reset(&gz)
	if _, err := zw.Write([]byte(`{"username":"admin","password":"wrong password"}`)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err = http.NewRequest(http.MethodPost, h.base+"/v1/auth/login", bytes.NewReader(gz.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err = h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || errorCode(t, body) != "invalid_credentials" {
		t.Fatalf("gzip login = %d %s, want 401 invalid_credentials", resp.StatusCode, body)
	}
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
