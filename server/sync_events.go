package server

import (
	"bufio"
	"context"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fieldsync/fieldsync/sync/access"
)

// notifier wakes every waiter when something was committed. Waiters take
// the current channel and wait for it to close; notify closes it and makes
// a new one, so wake-ups coalesce and nothing blocks the pusher.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func newNotifier() *notifier { return &notifier{ch: make(chan struct{})} }

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	close(n.ch)
	n.ch = make(chan struct{})
}

// events handles GET /v1/sync/events: a server-sent event stream that
// sends "event: changes" (with an empty data object: nothing global, no
// sequence) whenever ops the device may read were committed after the
// stream opened. The device then pulls. No record content ever goes
// through the stream.
//
// The stream authenticates its token again on every wake-up, on every
// tick (Config.StreamCheck, also its keep-alive) and when asked (a revoke),
// and ends as soon as that fails: revoked device, disabled account, ended
// grant, expired token. The client reconnects with a fresh token and is
// told why if it may not.
func (s *Server) events(c *fiber.Ctx) error {
	p := principal(c)
	token := strings.Clone(bearerToken(c))
	since, err := s.sync.LastSeq(c.UserContext())
	if err != nil {
		return err
	}
	st, err := s.streams.open(p.User, p.Device)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer s.streams.close(st)
		s.streamEvents(w, st, token, p, since)
	})
	return nil
}

func (s *Server) streamEvents(w *bufio.Writer, st *stream, token string, p *access.Principal, since uint64) {
	ctx := context.Background()
	tick := time.NewTicker(s.cfg.StreamCheck)
	defer tick.Stop()
	if !writeEvent(w, ": connected\n\n") {
		return
	}
	for {
		wake := s.changes.wait()
		select {
		case <-s.shutdown:
			writeEvent(w, "event: shutdown\ndata: {}\n\n")
			return
		case <-st.ended:
			return
		case <-st.recheck:
			if p = s.reauthenticate(ctx, token); p == nil {
				return
			}
		case <-tick.C:
			if p = s.reauthenticate(ctx, token); p == nil || !writeEvent(w, ": keep-alive\n\n") {
				return
			}
		case <-wake:
			if p = s.reauthenticate(ctx, token); p == nil {
				return
			}
			next, changed, err := s.sync.Changed(ctx, p, since)
			if err != nil {
				return
			}
			since = next
			if changed && !writeEvent(w, "event: changes\ndata: {}\n\n") {
				return
			}
		}
	}
}

// reauthenticate checks a stream's token again, as every request's is
// checked; nil means the stream must end.
func (s *Server) reauthenticate(ctx context.Context, token string) *access.Principal {
	p, err := s.principalOf(ctx, token)
	if err != nil {
		return nil
	}
	return p
}

// writeEvent writes and flushes; false means the client is gone.
func writeEvent(w *bufio.Writer, event string) bool {
	if _, err := w.WriteString(event); err != nil {
		return false
	}
	return w.Flush() == nil
}
