package e2e

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chaosProxy is a TCP proxy on 127.0.0.1 in front of the server that
// breaks every connection sooner or later: each connection may carry a
// random number of bytes towards the server and back before the proxy
// cuts it, so requests die mid-request (the server never sees them whole)
// and mid-response (the server applied them, the device never hears), and
// every chunk is delayed a little.
type chaosProxy struct {
	ln     net.Listener
	target string
	// maxUp and maxDown bound the bytes a connection carries each way
	// (small: the SDK compresses pushes and the server pulls, so a
	// 100-op push is a few KiB on the wire).
	maxUp, maxDown int
	maxDelay       time.Duration

	mu  sync.Mutex
	rng *rand.Rand

	open map[net.Conn]bool // guarded by mu

	cutRequests  atomic.Int64
	cutResponses atomic.Int64
	conns        atomic.Int64
	wg           sync.WaitGroup
}

func startProxy(t testing.TB, target string, seed uint64) *chaosProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &chaosProxy{ln: ln, target: target, maxUp: 16 << 10, maxDown: 64 << 10, maxDelay: 2 * time.Millisecond,
		rng: rand.New(rand.NewPCG(seed, 99)), open: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for c := range p.open {
			_ = c.Close() // idle keep-alive connections end with the test
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// URL is the proxy's base URL.
func (p *chaosProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *chaosProxy) intn(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.IntN(n)
}

func (p *chaosProxy) serve() {
	defer p.wg.Done()
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
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

func (p *chaosProxy) handle(client net.Conn) {
	defer func() {
		p.mu.Lock()
		delete(p.open, client)
		p.mu.Unlock()
		client.Close()
	}()
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer upstream.Close()
	up, down := 256+p.intn(p.maxUp), 256+p.intn(p.maxDown)
	done := make(chan struct{}, 2)
	go func() {
		if p.pipe(upstream, client, up) {
			p.cutRequests.Add(1)
		}
		done <- struct{}{}
	}()
	go func() {
		if p.pipe(client, upstream, down) {
			p.cutResponses.Add(1)
		}
		done <- struct{}{}
	}()
	<-done // either direction ending (or cut) ends the connection
	client.Close()
	upstream.Close()
	<-done
}

// pipe copies src to dst until budget bytes went through (then it cuts
// and reports true) or src ends.
func (p *chaosProxy) pipe(dst, src net.Conn, budget int) bool {
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if d := p.maxDelay; d > 0 {
				time.Sleep(time.Duration(p.intn(int(d))))
			}
			if n >= budget {
				_, _ = dst.Write(buf[:budget])
				return true
			}
			budget -= n
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return false
			}
		}
		if err != nil {
			return false // EOF or a closed peer: the connection ends cleanly
		}
	}
}
