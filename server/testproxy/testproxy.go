// Package testproxy is a broken network for tests: a proxy on 127.0.0.1
// in front of a server that forwards, counts what it forwards, and cuts
// connections or requests as the test says. One Proxy type serves at two
// layers: StartTCP forwards connections byte by byte and cuts them by
// byte budgets (a request dies mid-body, a response mid-way); StartHTTP
// forwards requests, can answer some itself (a test page), and cuts a
// request before the server sees it or its answer half-way.
//
// It lives outside an internal/ directory because the server's tests
// (server/...) and the Go SDK's (clients/go/e2e) both use it, and the
// module has no common directory for an internal package; instead only
// tests may import it, which TestTestProxyOnlyInTests (model) enforces.
package testproxy

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy is a running proxy; its counters may be read at any time.
type Proxy struct {
	// URL is the proxy's base URL (http://127.0.0.1:port).
	URL string
	// Cutting turns the HTTP fates on (a TCP proxy always cuts).
	Cutting atomic.Bool

	// Conns counts accepted TCP connections; Up the bytes forwarded
	// towards the server over TCP; Forwarded the HTTP answers passed on.
	Conns, Up, Forwarded atomic.Int64
	// CutRequests counts TCP connections cut on their way to the server
	// and HTTP requests cut before it; CutResponses those cut on their
	// way back.
	CutRequests, CutResponses atomic.Int64

	target string
	tcp    TCP
	http   HTTP
	client *http.Client

	ln   net.Listener
	mu   sync.Mutex
	open map[net.Conn]bool // guarded by mu
	wg   sync.WaitGroup
}

// ---------------------------------------------------------------------
// TCP.

// TCP configures a proxy that forwards connections byte by byte.
type TCP struct {
	// Conn returns, for each new connection (once the server's side is
	// open), the budgets of its bytes towards the server and back; a nil
	// Budget, or a nil Conn, never cuts.
	Conn func() (up, down Budget)
	// Delay, when set, is slept before each chunk is forwarded.
	Delay func() time.Duration
	// Chunk is the most bytes read and forwarded at once (default 32 KiB).
	Chunk int
}

// A Budget decides, for n bytes read on one way of a connection, how many
// of them to forward (at least one) and whether to cut the connection
// after them.
type Budget interface {
	Take(n int) (send int, cut bool)
}

// Bytes is the budget of one way of one connection: it is cut once n
// bytes went through.
func Bytes(n int) Budget { return &bytesBudget{left: n} }

type bytesBudget struct{ left int }

func (b *bytesBudget) Take(n int) (int, bool) {
	if n >= b.left {
		return b.left, true
	}
	b.left -= n
	return n, false
}

// Every is a budget shared by every connection given it: each time the
// bytes through it, all connections together, cross a multiple of n,
// the connection carrying them is cut.
func Every(n int64) Budget { return &everyBudget{every: n, next: n} }

type everyBudget struct {
	every int64
	mu    sync.Mutex
	sent  int64 // bytes through so far
	next  int64 // the count at which the next cut happens
}

func (b *everyBudget) Take(n int) (int, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	send, cut := int64(n), false
	if b.sent+send >= b.next {
		send, cut = b.next-b.sent, true
		b.next += b.every
	}
	b.sent += send
	return int(send), cut
}

// StartTCP starts a proxy to target (host:port) that forwards each
// connection byte by byte and cuts it as o's budgets say. It stops, with
// every connection it holds, when the test ends.
func StartTCP(t testing.TB, target string, o TCP) *Proxy {
	t.Helper()
	if o.Chunk <= 0 {
		o.Chunk = 32 << 10
	}
	p := &Proxy{target: target, tcp: o, open: map[net.Conn]bool{}}
	p.listen(t)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = p.ln.Close()
		p.mu.Lock()
		for c := range p.open {
			_ = c.Close() // idle keep-alive connections end with the test
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *Proxy) listen(t testing.TB) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.ln, p.URL = ln, "http://"+ln.Addr().String()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.Conns.Add(1)
		p.mu.Lock()
		p.open[conn] = true
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(conn)
		}()
	}
}

func (p *Proxy) handle(client net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.open, client)
		p.mu.Unlock()
		client.Close()
	}()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	var up, down Budget
	if p.tcp.Conn != nil {
		up, down = p.tcp.Conn()
	}
	done := make(chan struct{}, 2)
	go func() {
		p.pipe(server, client, up, &p.Up, &p.CutRequests)
		done <- struct{}{}
	}()
	go func() {
		p.pipe(client, server, down, nil, &p.CutResponses)
		done <- struct{}{}
	}()
	<-done // either way ending (or cut) ends the connection
	client.Close()
	server.Close()
	<-done
}

// pipe copies src to dst, adding the bytes sent to sent if set, until b
// cuts (counted in cuts, before the last bytes go) or src ends.
func (p *Proxy) pipe(dst, src net.Conn, b Budget, sent, cuts *atomic.Int64) {
	buf := make([]byte, p.tcp.Chunk)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.tcp.Delay != nil {
				time.Sleep(p.tcp.Delay())
			}
			send, cut := n, false
			if b != nil {
				send, cut = b.Take(n)
			}
			if sent != nil {
				sent.Add(int64(send))
			}
			if cut {
				cuts.Add(1)
			}
			if _, werr := dst.Write(buf[:send]); werr != nil || cut {
				return
			}
		}
		if err != nil {
			return // EOF or a closed peer: the connection ends cleanly
		}
	}
}

// ---------------------------------------------------------------------
// HTTP.

// HTTP configures a proxy that forwards requests.
type HTTP struct {
	// Local, when set, answers the requests it reports true for itself
	// (after their fate: a request cut before the server is not seen).
	Local func(w http.ResponseWriter, r *http.Request) bool
	// Fate, while Cutting, decides each request's fate; nil forwards all.
	Fate func(r *http.Request) Fate
}

// Fate is what becomes of a request while the proxy is cutting.
type Fate int

// The fates of a request.
const (
	// Forward passes the request on and its answer back.
	Forward Fate = iota
	// CutRequest closes the connection before the server sees the
	// request.
	CutRequest
	// CutResponse passes the request on, then sends half of the answer
	// back and closes the connection: the server applied it, the client
	// never hears.
	CutResponse
)

// StartHTTP starts a proxy to target (a base URL) that forwards requests
// (their Accept-Encoding and the answer's bytes unchanged; a streamed
// text/event-stream answer as it comes) and, while Cutting, gives each its
// fate. It stops when the test ends.
func StartHTTP(t testing.TB, target string, o HTTP) *Proxy {
	t.Helper()
	p := &Proxy{target: target, http: o,
		client: &http.Client{Transport: &http.Transport{DisableCompression: true}}}
	p.listen(t)
	srv := &http.Server{Handler: p}
	go func() { _ = srv.Serve(p.ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		p.client.CloseIdleConnections()
	})
	return p
}

// ServeHTTP implements http.Handler for a proxy started by StartHTTP.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fate := Forward
	if p.Cutting.Load() && p.http.Fate != nil {
		fate = p.http.Fate(r)
	}
	if fate == CutRequest {
		p.CutRequests.Add(1)
		panic(http.ErrAbortHandler) // the server never sees the request
	}
	if p.http.Local != nil && p.http.Local(w, r) {
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	out.ContentLength = r.ContentLength
	resp, err := p.client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		p.stream(w, resp) // the live stream (GET /v1/sync/events) never ends: pass it on as it comes
		return
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	p.Forwarded.Add(1)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	if fate == CutResponse {
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		p.CutResponses.Add(1)
		panic(http.ErrAbortHandler) // the server applied it; the client never hears
	}
	_, _ = w.Write(body)
}

// stream copies a streamed answer to w, flushing each read, until either
// side ends it.
func (p *Proxy) stream(w http.ResponseWriter, resp *http.Response) {
	p.Forwarded.Add(1)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}
