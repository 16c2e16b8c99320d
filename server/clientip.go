package server

import (
	"bytes"
	"net/netip"

	"github.com/gofiber/fiber/v2"
)

// clientIPKey is the c.Locals key of the request's client address.
const clientIPKey = "fieldsync.client"

// resolveClient records the request's client address (see clientAddr) for
// clientIP and the login throttle, once per request.
func (s *Server) resolveClient(c *fiber.Ctx) error {
	c.Locals(clientIPKey, clientAddr(peerAddr(c), c.Request().Header.PeekAll(fiber.HeaderXForwardedFor), s.cfg.TrustedProxies))
	return c.Next()
}

// clientIP returns the request's client address as text: what the audit
// log and a device's last-seen address record.
func clientIP(c *fiber.Ctx) string {
	return clientOf(c).String()
}

// clientOf returns the request's client address.
func clientOf(c *fiber.Ctx) netip.Addr {
	if a, ok := c.Locals(clientIPKey).(netip.Addr); ok {
		return a
	}
	return peerAddr(c)
}

// peerAddr is the address of the connection's other end.
func peerAddr(c *fiber.Ctx) netip.Addr {
	a, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	return a.Unmap()
}

// clientAddr returns the client of a request from peer carrying the
// X-Forwarded-For header lines xff. Unless peer is a trusted proxy the
// header is ignored (anyone can send it) and the client is peer. Behind
// trusted proxies each proxy appends the address it received from, so
// the header is read from the right: trusted hops are skipped and the
// first untrusted address is the client; everything left of it was
// written by the client and is never believed. Fiber's own ProxyHeader
// takes the leftmost value, which the client chooses, so it is not used.
// A hop that is not an address ends the walk at the last trusted one; a
// header of trusted hops only gives its leftmost.
func clientAddr(peer netip.Addr, xff [][]byte, trusted []netip.Prefix) netip.Addr {
	if !isTrusted(peer, trusted) {
		return peer
	}
	client := peer
	for i := len(xff) - 1; i >= 0; i-- {
		hops := bytes.Split(xff[i], []byte(","))
		for j := len(hops) - 1; j >= 0; j-- {
			a, ok := parseHop(hops[j])
			if !ok {
				return client
			}
			client = a
			if !isTrusted(a, trusted) {
				return a
			}
		}
	}
	return client
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(b []byte) (netip.Addr, bool) {
	s := string(bytes.TrimSpace(b))
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// isTrusted reports whether a is in one of the trusted prefixes.
func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addressKey is the login throttle's name for a client address: an IPv4
// address itself, an IPv6 address its /64 (what one subscriber is given,
// so rotating addresses within it gains nothing).
func addressKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "net:" + p.String()
	}
	return "ip:" + a.String()
}
