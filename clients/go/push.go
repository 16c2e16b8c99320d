package fieldsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// push uploads the files queued by Attach (so that no entry reaches the
// server before its file), then sends the outbox in batches until it is
// empty. It returns the
// number of ops answered; an error leaves everything unanswered in the
// outbox for the next attempt.
func (c *Client) push(ctx context.Context) (int, error) {
	if err := c.uploadQueued(ctx); err != nil {
		return 0, err
	}
	maxOps, answered := c.opt.PushBatch, 0
	for {
		batch, err := c.outboxBatch(maxOps, c.opt.PushBytes)
		if err != nil || len(batch) == 0 {
			return answered, err
		}
		var res api.PushResponse
		err = c.call(ctx, http.MethodPost, "/v1/sync/push", pushBody(batch), &res, true)
		switch {
		case err == nil:
		case wholeRequestRefused(err) && len(batch) > 1:
			// Something in the batch makes the whole request unacceptable
			// (too large for this server, one op nested too deep): halve
			// until the culprit travels alone.
			maxOps = max(1, len(batch)/2)
			c.log.Warn("push refused as a whole; retrying with smaller batches", "code", apiCode(err), "batch", maxOps)
			continue
		case wholeRequestRefused(err):
			var ae *APIError
			errors.As(err, &ae)
			if err := c.update(func(t *tx) error { return c.quarantine(t, batch[0], ae.Code, ae.Message) }); err != nil {
				return answered, err
			}
			answered++
			continue
		default:
			return answered, fmt.Errorf("push %d ops: %w", len(batch), err)
		}
		n, err := c.applyResults(batch, res)
		answered += n
		if err != nil {
			return answered, err
		}
		if n == 0 {
			return answered, fmt.Errorf("push %d ops: %w", len(batch), &transportError{fmt.Errorf("the server answered none of them")})
		}
	}
}

// pushBody is {"ops":[...]} from the stored op JSON, without re-encoding.
func pushBody(batch []pending) []byte {
	size := 16
	for _, p := range batch {
		size += len(p.raw) + 1
	}
	var b bytes.Buffer
	b.Grow(size)
	b.WriteString(`{"ops":[`)
	for i, p := range batch {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(p.raw)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// wholeRequestRefused reports a 4xx that refuses a push as a whole for
// something in its ops (not for who sent it): bisecting the batch finds
// the op responsible.
func wholeRequestRefused(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Code {
	case model.CodeBodyTooLarge, model.CodeTooManyOps, model.CodeTooDeep, model.CodeInvalidJSON:
		return true
	}
	return false
}

// applyResults applies a push's per-op results in one transaction: applied
// and duplicate ops leave the outbox and take the server's stamp and user;
// rejected ones move to the quarantine. It returns how many were answered.
func (c *Client) applyResults(batch []pending, res api.PushResponse) (int, error) {
	byID := make(map[string]protocol.Result, len(res.Results))
	for _, r := range res.Results {
		byID[r.ID] = r
	}
	user, _ := c.user()
	answered, accepted := 0, 0
	err := c.update(func(t *tx) error {
		answered, accepted = 0, 0
		if ts, err := hlc.Parse(res.ServerHLC); err == nil {
			_, _ = c.clock.Update(ts) // a drifting server clock is not the device's problem
		}
		for _, p := range batch {
			r, ok := byID[p.op.ID]
			if !ok {
				continue
			}
			if _, queued, err := inOutbox(t, p.op.ID); err != nil || !queued {
				if err != nil {
					return err
				}
				continue
			}
			answered++
			switch r.Status {
			case protocol.StatusApplied, protocol.StatusDuplicate:
				accepted++
				if err := dequeue(t, p.seq, p.op.ID); err != nil {
					return err
				}
				changed, err := stamp(t, p, r.HLC, user.ID)
				if err != nil {
					return err
				}
				if changed {
					t.stale[p.op.Record] = true
				}
			case protocol.StatusRejected:
				if r.Code == model.CodeRecordErased {
					if err := c.erased(t, p); err != nil {
						return err
					}
					break
				}
				fallthrough
			default:
				code := r.Code
				if code == "" {
					code = model.CodeInternal
				}
				if err := c.quarantine(t, p, code, r.Message); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("apply push results: %w", err)
	}
	c.pushed.Add(int64(accepted))
	if answered < len(batch) {
		c.log.Warn("push answered only part of the batch", "sent", len(batch), "answered", answered)
	}
	return answered, nil
}

// erased handles an op rejected record_erased: retention erased its
// record at the server, which nothing can bring back. The op leaves the
// outbox (not for the quarantine: the record must not outlive its
// erasure on the device either), the record is deleted as a pull's drop
// would delete it, and its deletion is acknowledged at the end of the
// sync. The record's other queued ops get the same answer when sent.
func (c *Client) erased(t *tx, p pending) error {
	if err := dequeue(t, p.seq, p.op.ID); err != nil {
		return err
	}
	c.log.Info("record erased at the server by retention; deleted here", "record", p.op.Record)
	if err := t.set([]byte(prefixDropped+p.op.Record), nil); err != nil {
		return err
	}
	return t.deleteRecord(p.op.Record)
}

// stamp gives the local copy of an acknowledged op the hlc the server
// stored (re-stamped when the device clock ran ahead) and the user the
// server set, and reports whether the record must be rebuilt.
func stamp(t *tx, p pending, stored, user string) (bool, error) {
	op, ok, err := t.getOp(p.op.Record, p.op.Field, p.op.ID)
	if err != nil || !ok {
		return false, err
	}
	changed := false
	if ts, err := hlc.Parse(stored); err == nil && ts != op.HLC {
		op.HLC, changed = ts, true
	}
	if user != "" && op.User != user {
		op.User, changed = user, true
	}
	if !changed {
		return false, nil
	}
	return true, t.putOp(&op)
}
