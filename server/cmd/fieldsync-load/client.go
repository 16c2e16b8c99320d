package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// loopbackURL turns -addr (host:port or http://host:port) into the base
// URL, refusing anything but the loopback interface: this tool loads the
// machine it runs on and nothing else.
func loopbackURL(addr string) (string, error) {
	hostport := addr
	if u, err := url.Parse(addr); err == nil && u.Scheme != "" && u.Host != "" {
		if u.Scheme != "http" {
			return "", fmt.Errorf("-addr %q: only plain http on the loopback interface is supported", addr)
		}
		hostport = u.Host
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("-addr %q is not host:port", addr)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("-addr %q: the load generator targets the loopback interface only (127.0.0.1)", addr)
	}
	return "http://" + net.JoinHostPort(ip.String(), port), nil
}

// wire counts the bytes that cross the client's TCP connections, HTTP
// headers included, in both directions.
type wire struct {
	in, out atomic.Int64
}

func (w *wire) snapshot() (in, out int64) { return w.in.Load(), w.out.Load() }

type countingConn struct {
	net.Conn
	w *wire
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.in.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.out.Add(int64(n))
	return n, err
}

// client talks to one fieldsync server over keep-alive connections.
type client struct {
	base string
	http *http.Client
	wire *wire
	// retries counts requests re-sent after 429 rate_limited.
	retries atomic.Int64
	// coding is the content coding of push bodies (encoded when the
	// pushes are planned) and asked of answers; "" for none.
	coding string
}

// newClient returns a client of base; compress is -compress. The
// transport never compresses or decodes by itself (Go's would ask for
// gzip unasked), so the bytes counted are those the run chose.
func newClient(base string, conns int, compress string) *client {
	w := &wire{}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countingConn{Conn: c, w: w}, nil
		},
		MaxIdleConns:        conns + 8,
		MaxIdleConnsPerHost: conns + 8,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	coding := compress
	if coding == "off" {
		coding = ""
	}
	return &client{base: base, http: &http.Client{Transport: tr, Timeout: 5 * time.Minute}, wire: w, coding: coding}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// session is one logged-in device.
type session struct {
	mu      sync.Mutex
	access  string
	refresh string
	device  string
	user    api.User
}

func (s *session) token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.access
}

// apiError is an error response.
type apiError struct {
	status int
	code   model.Code
	body   string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.status, e.code, e.body)
}

func newAPIError(status int, body []byte) *apiError {
	var eb api.ErrorBody
	_ = json.Unmarshal(body, &eb)
	const max = 300
	if len(body) > max {
		body = append(body[:max:max], "..."...)
	}
	return &apiError{status: status, code: eb.Error.Code, body: string(body)}
}

// exchange is the outcome of one request that got an answer.
type exchange struct {
	status int
	body   []byte
	// elapsed is the last attempt's time from sending to the end of the
	// response body (earlier attempts answered 429 are not in it).
	elapsed time.Duration
}

// do sends a request and reads the whole answer. A 429 is retried after
// Retry-After or a growing pause; a 401 token_expired refreshes s once.
// Any other status is returned as it came.
func (c *client) do(ctx context.Context, method, path string, s *session, body []byte) (exchange, error) {
	refreshed := false
	pause := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		token := ""
		if s != nil {
			token = s.token()
		}
		ex, err := c.once(ctx, method, path, token, body)
		if err != nil {
			return ex.exchange, err
		}
		switch {
		case ex.status == http.StatusTooManyRequests && attempt < 40:
			c.retries.Add(1)
			wait := pause
			if ra, err := strconv.Atoi(ex.retryAfter); err == nil && ra > 0 {
				wait = time.Duration(ra) * time.Second
			}
			pause = min(2*pause, 5*time.Second)
			select {
			case <-ctx.Done():
				return ex.exchange, ctx.Err()
			case <-time.After(wait):
			}
			continue
		case ex.status == http.StatusUnauthorized && s != nil && !refreshed && s.refresh != "" &&
			newAPIError(ex.status, ex.body).code == model.CodeTokenExpired:
			refreshed = true
			if err := c.refreshSession(ctx, s); err != nil {
				return ex.exchange, err
			}
			continue
		}
		return ex.exchange, nil
	}
}

type answer struct {
	exchange
	retryAfter string
}

func (c *client) once(ctx context.Context, method, path, token string, body []byte) (answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.coding != "" {
		req.Header.Set("Accept-Encoding", c.coding)
		if path == "/v1/sync/push" {
			req.Header.Set("Content-Encoding", c.coding)
		}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: read the response: %w", method, path, err)
	}
	if data, err = decode(resp.Header.Get("Content-Encoding"), data); err != nil {
		return answer{}, fmt.Errorf("%s %s: decode the response: %w", method, path, err)
	}
	return answer{exchange: exchange{status: resp.StatusCode, body: data, elapsed: time.Since(start)}, retryAfter: resp.Header.Get("Retry-After")}, nil
}

// call sends v as JSON (nil: no body), expects want and decodes the answer
// into out (nil: ignore it).
func (c *client) call(ctx context.Context, method, path string, s *session, v any, want int, out any) error {
	var body []byte
	if v != nil {
		var err error
		if body, err = json.Marshal(v); err != nil {
			return err
		}
	}
	ex, err := c.do(ctx, method, path, s, body)
	if err != nil {
		return err
	}
	if ex.status != want {
		return fmt.Errorf("%s %s: %w", method, path, newAPIError(ex.status, ex.body))
	}
	if out != nil {
		if err := json.Unmarshal(ex.body, out); err != nil {
			return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
		}
	}
	return nil
}

// login logs username in on a new device.
func (c *client) login(ctx context.Context, username, password, deviceName string) (*session, error) {
	var tr api.TokenResponse
	req := api.LoginRequest{Username: username, Password: password, DeviceName: deviceName}
	if err := c.call(ctx, http.MethodPost, "/v1/auth/login", nil, req, http.StatusOK, &tr); err != nil {
		return nil, fmt.Errorf("log in as %s: %w", username, err)
	}
	return &session{access: tr.AccessToken, refresh: tr.RefreshToken, device: tr.DeviceID, user: tr.User}, nil
}

func (c *client) refreshSession(ctx context.Context, s *session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var tr api.TokenResponse
	if err := c.call(ctx, http.MethodPost, "/v1/auth/refresh", nil, api.RefreshRequest{RefreshToken: s.refresh}, http.StatusOK, &tr); err != nil {
		return fmt.Errorf("refresh the session of %s: %w", s.user.Username, err)
	}
	if tr.AccessToken == "" {
		return errors.New("refresh returned no access token")
	}
	s.access, s.refresh = tr.AccessToken, tr.RefreshToken
	return nil
}

// zstdCodec encodes push bodies and decodes answers (EncodeAll and
// DecodeAll are safe for concurrent use).
var (
	zstdEncoder, _ = zstd.NewWriter(nil)
	zstdDecoder, _ = zstd.NewReader(nil)
)

// encode returns body in coding ("" for as is).
func encode(coding string, body []byte) []byte {
	switch coding {
	case "zstd":
		return zstdEncoder.EncodeAll(body, nil)
	case "gzip":
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body) // writes to memory do not fail
		_ = zw.Close()
		return buf.Bytes()
	}
	return body
}

// decode returns an answer's body decoded by its Content-Encoding.
func decode(coding string, data []byte) ([]byte, error) {
	switch coding {
	case "":
		return data, nil
	case "zstd":
		return zstdDecoder.DecodeAll(data, nil)
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(zr)
	}
	return nil, fmt.Errorf("unexpected Content-Encoding %q", coding)
}
