package server

import (
	"bufio"
	"context"
	"fmt"
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

// keepAlive is how often an idle event stream sends a comment, so proxies
// and the client notice a dead connection.
const keepAlive = 25 * time.Second

// events handles GET /v1/sync/events: a server-sent event stream that
// sends "event: changes" whenever ops the device may read were committed
// after the stream opened. The device then pulls.
// No record content ever goes through the stream.
func (s *Server) events(c *fiber.Ctx) error {
	p := principal(c)
	since, err := s.db.LastSeq(c.UserContext())
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		s.streamEvents(w, p, since)
	})
	return nil
}

func (s *Server) streamEvents(w *bufio.Writer, p *access.Principal, since uint64) {
	ctx := context.Background()
	if !writeEvent(w, ": connected\n\n") {
		return
	}
	for {
		wake := s.changes.wait()
		select {
		case <-s.shutdown:
			writeEvent(w, "event: shutdown\ndata: {}\n\n")
			return
		case <-time.After(keepAlive):
			if !writeEvent(w, ": keep-alive\n\n") {
				return
			}
		case <-wake:
			next, changed, err := s.changedFor(ctx, p, since)
			if err != nil {
				return
			}
			since = next
			if changed && !writeEvent(w, fmt.Sprintf("event: changes\ndata: {\"seq\":%d}\n\n", next)) {
				return
			}
		}
	}
}

// changedFor reports whether any feed p reads holds entries after since,
// and the sequence to watch from next.
func (s *Server) changedFor(ctx context.Context, p *access.Principal, since uint64) (uint64, bool, error) {
	hosted, err := s.db.HostedWeeks(ctx, p.Teams)
	if err != nil {
		return since, false, err
	}
	buckets, all := access.Buckets(p, hosted)
	page, err := s.db.Feed(ctx, buckets, all, since, 1)
	if err != nil || len(page.Entries) == 0 {
		return since, false, err
	}
	last, err := s.db.LastSeq(ctx)
	return last, true, err
}

// writeEvent writes and flushes; false means the client is gone.
func writeEvent(w *bufio.Writer, event string) bool {
	if _, err := w.WriteString(event); err != nil {
		return false
	}
	return w.Flush() == nil
}
