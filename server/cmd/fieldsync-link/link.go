package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// link is a device's connection to the server as the figures see it: it
// counts the bytes that cross the device's TCP connections (HTTP headers
// included, both ways), the requests and the connections, cuts answers
// every cutEvery bytes received, and computes the time a link of
// bitsPerSec with round trips of rtt would take for what crossed it: one
// round trip per connection opened (TCP handshake) and per request, plus
// the bytes at the link's rate. Nothing sleeps: the time is computed from
// bytes and round trips, so it does not depend on the machine's load
// (bitsPerSec 0: a clean loopback, no computed time).
type link struct {
	bitsPerSec float64
	rtt        time.Duration
	cutEvery   int64

	mu        sync.Mutex
	in, out   int64 // bytes received and sent by the device
	requests  int
	dials     int
	cuts      int
	resent    int64 // bytes of answers cut short (their pages came again)
	sinceCut  int64
	simulated time.Duration
}

// now returns the link's computed time since start.
func (l *link) elapsed() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.simulated
}

// bytes returns the bytes received and sent so far.
func (l *link) bytes() (in, out int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.in, l.out
}

// charge adds the computed time of n bytes and rounds round trips.
func (l *link) charge(n int64, rounds int) {
	if l.bitsPerSec <= 0 {
		return
	}
	l.simulated += time.Duration(rounds)*l.rtt + time.Duration(float64(n)*8/l.bitsPerSec*float64(time.Second))
}

// transport returns the device's HTTP transport over the link.
func (l *link) transport() http.RoundTripper {
	d := &net.Dialer{Timeout: 10 * time.Second}
	base := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			l.mu.Lock()
			l.dials++
			l.charge(0, 1)
			l.mu.Unlock()
			return &linkConn{Conn: c, l: l}, nil
		},
		DisableCompression:  true, // the SDK asks for and decodes compressed answers itself
		MaxIdleConnsPerHost: 2,
	}
	return &linkTransport{base: base, l: l}
}

// linkConn counts a connection's bytes.
type linkConn struct {
	net.Conn
	l *link
}

func (c *linkConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.mu.Lock()
	c.l.in += int64(n)
	c.l.mu.Unlock()
	return n, err
}

func (c *linkConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.l.mu.Lock()
	c.l.out += int64(n)
	c.l.mu.Unlock()
	return n, err
}

// linkTransport charges each exchange's bytes and round trip once its
// answer is read (the device sends one request at a time while it
// syncs), and cuts answers.
type linkTransport struct {
	base http.RoundTripper
	l    *link
}

func (t *linkTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	in0, out0 := t.l.bytes()
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		t.l.settle(in0, out0, 0)
		return nil, err
	}
	resp.Body = &linkBody{ReadCloser: resp.Body, l: t.l, in0: in0, out0: out0}
	return resp, nil
}

// errCut is what the device reads when the link cuts an answer.
var errCut = errors.New("the simulated link cut the connection")

// linkBody is an answer on its way: it cuts it once the link has carried
// cutEvery bytes since the last cut, and charges the exchange when it
// ends.
type linkBody struct {
	io.ReadCloser
	l          *link
	in0, out0  int64
	read       int64
	done, dead bool
}

func (b *linkBody) Read(p []byte) (int, error) {
	if b.dead {
		return 0, errCut
	}
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	b.l.mu.Lock()
	b.l.sinceCut += int64(n)
	cut := b.l.cutEvery > 0 && b.l.sinceCut >= b.l.cutEvery && err == nil
	if cut {
		b.l.sinceCut, b.l.cuts, b.l.resent = 0, b.l.cuts+1, b.l.resent+b.read
	}
	b.l.mu.Unlock()
	if cut {
		b.dead = true
		b.ReadCloser.Close() // the connection is gone; the device fetches the page again
		b.finish()
		return n, errCut
	}
	if err != nil {
		b.finish()
	}
	return n, err
}

func (b *linkBody) Close() error {
	err := b.ReadCloser.Close()
	b.finish()
	return err
}

// finish charges the exchange once.
func (b *linkBody) finish() {
	if b.done {
		return
	}
	b.done = true
	b.l.settle(b.in0, b.out0, 1)
}

// settle charges the bytes that crossed since in0, out0 and one round
// trip per exchange.
func (l *link) settle(in0, out0 int64, exchanges int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests += exchanges
	l.charge(l.in-in0+l.out-out0, exchanges)
}
