package fieldsync

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
)

// streamIdle is how long the event stream may stay silent (the server
// sends a keep-alive every 25 s) before the connection counts as dead.
const streamIdle = 75 * time.Second

// listen keeps the live event stream open and pokes Run on every
// "changes" event and on every (re)connection (to catch up on what was
// missed). It returns nil when ctx ends or the stream cannot be used by
// this user, and an error only when the error is Run's too: a wipe or an
// ended session.
func (c *Client) listen(ctx context.Context) error {
	failures := 0
	for {
		err := c.stream(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case isWipe(err), errors.Is(err, ErrLoginRequired):
			return err
		case err != nil && !isTransient(err):
			c.log.Warn("live updates unavailable", "err", err)
			return nil
		case err == nil:
			failures = 0
		}
		if werr := c.opt.Backoff.wait(ctx, failures, err); werr != nil {
			return nil
		}
		failures++
	}
}

// stream reads one connection of GET /v1/sync/events until it ends.
func (c *Client) stream(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := c.send(ctx, http.MethodGet, "/v1/sync/events", nil, true)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	c.wake()
	idle := time.AfterFunc(streamIdle, cancel)
	defer idle.Stop()
	sc := bufio.NewScanner(resp.Body)
	event := ""
	for sc.Scan() {
		idle.Reset(streamIdle)
		line := sc.Text()
		switch {
		case line == "":
			switch event {
			case "changes":
				c.wake()
			case "shutdown":
				return nil
			}
			event = ""
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		}
	}
	if err := sc.Err(); err != nil {
		return &transportError{err}
	}
	return &transportError{errors.New("event stream ended")}
}
