package fieldsync

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// pull fetches pages from the stored cursor until the server has no more,
// applying each page (ops, drops, cursor) in one transaction while the
// next page is already being fetched. It returns the number of ops
// received. A fresh replica with Options.Bootstrap first loads a snapshot
// (bootstrap) and pulls from its cursor. On 410 resync_required (or a cursor the server does not know)
// it starts again from an empty cursor; the outbox is untouched.
func (c *Client) pull(ctx context.Context) (int, error) {
	received, resynced := 0, false
	c.writeMu.Lock()
	cursor := c.cursor
	c.writeMu.Unlock()
	if cursor == "" && c.opt.Bootstrap {
		n, pullCursor, err := c.bootstrap(ctx)
		received += n
		if err != nil {
			return received, err
		}
		cursor = pullCursor
	}
	ctx, cancel := context.WithCancel(ctx)
	next := c.prefetch(ctx, cursor)
	defer func() {
		// A fetch still running may refresh the session in the store:
		// it must end before the caller lets the store close.
		cancel()
		if next != nil {
			<-next
		}
	}()
	for {
		f := <-next
		next = nil
		if code := apiCode(f.err); (code == model.CodeResyncRequired || code == model.CodeInvalidCursor) && cursor != "" && !resynced {
			c.log.Warn("pull cursor refused; pulling everything again", "code", code)
			if err := c.startResync(); err != nil {
				return received, err
			}
			resynced, cursor = true, ""
			next = c.prefetch(ctx, cursor)
			continue
		}
		if f.err != nil {
			return received, fmt.Errorf("pull: %w", f.err)
		}
		p := f.page
		if p.More {
			next = c.prefetch(ctx, p.Cursor)
		}
		if err := c.applyPage(p.Ops, p.Enc, dropsOf(p.Drop, p.Erased), p.Cursor, p.More, p.Server, true); err != nil {
			return received, err
		}
		received += len(p.Ops) + len(p.Drop)
		c.pulled.Add(int64(len(p.Ops) + len(p.Drop)))
		cursor = p.Cursor
		if !p.More {
			return received, c.syncStore()
		}
	}
}

// page is one decoded pull page; Enc holds each op's canonical JSON,
// encoded while the previous page is being applied.
type page struct {
	Ops    []crdt.Op
	Enc    [][]byte
	Cursor string
	More   bool
	Drop   []string
	// Erased is the subset of Drop that retention erased.
	Erased []string
	Server hlc.Timestamp
}

type fetched struct {
	page *page
	err  error
}

// prefetch fetches the page after cursor in the background.
func (c *Client) prefetch(ctx context.Context, cursor string) <-chan fetched {
	ch := make(chan fetched, 1)
	go func() {
		p, err := c.fetchPage(ctx, cursor)
		ch <- fetched{p, err}
	}()
	return ch
}

// fetchPage fetches and decodes the page after cursor, its size adapted
// to the link (pageSizer).
func (c *Client) fetchPage(ctx context.Context, cursor string) (*page, error) {
	limit := c.pullSize.next()
	path := "/v1/sync/pull?limit=" + strconv.Itoa(limit)
	if cursor != "" {
		path += "&cursor=" + url.QueryEscape(cursor)
	}
	var body []byte
	start := c.opt.Now()
	if err := c.call(ctx, http.MethodGet, path, nil, &body, true); err != nil {
		if isCut(err) {
			c.pullSize.cut()
		}
		return nil, err
	}
	took := c.opt.Now().Sub(start)
	p, err := c.decodePage(body)
	if err != nil {
		return nil, err
	}
	c.pullSize.observe(limit, len(p.Ops)+len(p.Drop), took)
	p.Enc = make([][]byte, len(p.Ops))
	for i := range p.Ops {
		p.Enc[i] = p.Ops[i].AppendJSON(nil)
	}
	return p, nil
}

// pageJSON is a pull page decoded in one pass, ops included.
type pageJSON struct {
	Ops       []opJSON `json:"ops"`
	Cursor    string   `json:"cursor"`
	More      bool     `json:"more"`
	Drop      []string `json:"drop"`
	Erased    []string `json:"erased"`
	ServerHLC string   `json:"server_hlc"`
}

// decodePage decodes a page. The fast path trusts the server's canonical
// op form and checks ids and shape; a page it refuses is decoded op by op
// with crdt.DecodeOp, and an op that does not decode is logged and
// skipped: this version of the SDK cannot merge it.
func (c *Client) decodePage(body []byte) (*page, error) {
	var pj pageJSON
	if err := json.Unmarshal(body, &pj); err == nil {
		p := &page{Ops: make([]crdt.Op, 0, len(pj.Ops)), Cursor: pj.Cursor, More: pj.More, Drop: pj.Drop, Erased: pj.Erased}
		p.Server, _ = hlc.Parse(pj.ServerHLC)
		ok := true
		for i := range pj.Ops {
			op, valid := pj.Ops[i].op()
			if !valid {
				ok = false
				break
			}
			p.Ops = append(p.Ops, op)
		}
		if ok {
			return p, nil
		}
	}
	var raw api.PullResponse
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, &transportError{fmt.Errorf("decode pull page: %w", err)}
	}
	p := &page{Ops: make([]crdt.Op, 0, len(raw.Ops)), Cursor: raw.Cursor, More: raw.More, Drop: raw.Drop, Erased: raw.Erased}
	p.Server, _ = hlc.Parse(raw.ServerHLC)
	for _, r := range raw.Ops {
		op, err := crdt.DecodeOp(r)
		if err != nil {
			c.log.Error("pulled op does not decode; skipped", "code", model.ErrorCode(err))
			continue
		}
		p.Ops = append(p.Ops, op)
	}
	return p, nil
}

// op returns the op with the checks DecodeOp makes that the fast path
// needs: canonical ids, known action, non-empty names, a sorted base, and
// a canonical value.
func (s *opJSON) op() (crdt.Op, bool) {
	if !model.ValidID(s.ID) || !model.ValidID(s.Record) || !model.ValidID(s.Device) || s.User != "" && !model.ValidID(s.User) ||
		s.Kind == "" || s.Field == "" || len(s.Value) == 0 || len(s.Base) > crdt.MaxBase {
		return crdt.Op{}, false
	}
	switch s.Action {
	case model.ActionSet, model.ActionAdd, model.ActionRemove, model.ActionAppend, model.ActionRedact:
	default:
		return crdt.Op{}, false
	}
	for i, b := range s.Base {
		if !model.ValidID(b) || i > 0 && s.Base[i-1] >= b {
			return crdt.Op{}, false
		}
	}
	op := s.toOp()
	if bytes.IndexByte(op.Value, '\\') >= 0 {
		// The page escapes characters (as encoding/json escapes '<', '>'
		// and '&') that the canonical form writes as they are: bring the
		// value back to canonical form, or the device's state would differ
		// from the server's.
		v, err := crdt.NewOp(op, op.Value)
		if err != nil {
			return crdt.Op{}, false
		}
		op = v
	}
	return op, true
}

// applyPage applies ops, then (when final) drops, the cursor and the end
// of a resync, in one transaction; a page too large for one transaction is
// applied in parts, the cursor with the last (applying an op twice changes
// nothing, so a crash between parts is harmless).
func (c *Client) applyPage(ops []crdt.Op, enc [][]byte, drop []dropped, cursor string, more bool, server hlc.Timestamp, final bool) error {
	err := c.updateLazy(func(t *tx) error { return c.applyPageTx(t, ops, enc, drop, cursor, more, server, final) })
	if tooBig(err) && len(ops) > 1 {
		c.log.Debug("page too large for one transaction; applying it in halves", "ops", len(ops))
		half := len(ops) / 2
		if err := c.applyPage(ops[:half], enc[:half], nil, "", true, server, false); err != nil {
			return err
		}
		return c.applyPage(ops[half:], enc[half:], drop, cursor, more, server, final)
	}
	if err != nil {
		return fmt.Errorf("apply pulled page: %w", err)
	}
	return nil
}

func (c *Client) applyPageTx(t *tx, ops []crdt.Op, enc [][]byte, drop []dropped, cursor string, more bool, server hlc.Timestamp, final bool) error {
	var newest hlc.Timestamp
	for i := range ops {
		op := &ops[i]
		newest = max(newest, op.HLC)
		if err := c.receive(t, op, enc[i]); err != nil {
			return err
		}
	}
	_, _ = c.clock.Update(newest) // the receive rule: later writes sort after what was seen
	_, _ = c.clock.Update(server)
	if !final {
		return nil
	}
	for _, d := range drop {
		if err := c.dropRecord(t, d.id, d.erased); err != nil {
			return err
		}
	}
	if err := t.set([]byte(keyCursor), []byte(cursor)); err != nil {
		return err
	}
	if !more && c.resyncing {
		if err := c.endResync(t); err != nil {
			return err
		}
	}
	t.after = append(t.after, func() { c.cursor = cursor })
	return nil
}

// receive stores and merges one pulled op. An op known already is skipped
// unless the server's copy differs (re-stamped, attributed, redacted):
// then the local copy is replaced and the record rebuilt. An own op still
// in the outbox has evidently reached the server and leaves it.
func (c *Client) receive(t *tx, op *crdt.Op, enc []byte) error {
	if op.Device == c.device {
		if seq, queued, err := inOutbox(t, op.ID); err != nil {
			return err
		} else if queued {
			if err := dequeue(t, seq, op.ID); err != nil {
				return err
			}
		}
	}
	if c.resyncing {
		if err := t.del(resyncKey(op.Record)); err != nil {
			return err
		}
	}
	// A record this page created holds no other ops yet: skip the lookup.
	known := false
	if !t.fresh[op.Record] {
		stored, err := t.get(opKey(op.Record, op.Field, op.ID))
		if err != nil {
			return err
		}
		if bytes.Equal(stored, enc) {
			return nil
		}
		known = stored != nil
	}
	if err := t.set(opKey(op.Record, op.Field, op.ID), enc); err != nil {
		return err
	}
	if op.Action == model.ActionRedact {
		if err := eraseTarget(t, op); err != nil {
			return err
		}
		if err := t.redactBase(op); err != nil {
			return err
		}
	}
	if known || t.stale[op.Record] {
		t.stale[op.Record] = true
		return nil
	}
	r, exists, err := t.record(op.Record)
	if err != nil {
		return err
	}
	if !exists {
		r = t.create(op.Record, op.Kind)
		t.fresh[op.Record] = true
		t.touch(op.Record)
	}
	changed, err := r.Apply(c.schema, op)
	if err != nil {
		c.log.Warn("pulled op not merged", "op", op.ID, "record", op.Record, "code", model.ErrorCode(err))
		return nil
	}
	if changed {
		t.merged(op.Record, enc)
	}
	return nil
}

// dropped is a record a pull page tells the device to delete, and
// whether retention erased it.
type dropped struct {
	id     string
	erased bool
}

// dropsOf pairs a page's drop list with its erased subset.
func dropsOf(drop, erased []string) []dropped {
	out := make([]dropped, len(drop))
	for i, id := range drop {
		out[i] = dropped{id: id, erased: slices.Contains(erased, id)}
	}
	return out
}

// dropRecord deletes a record the device lost access to, with all its
// ops; its unsent ops go to the quarantine as forbidden, for the user to
// see what did not reach the server. A record retention erased leaves
// nothing behind: its unsent ops are deleted too (the server refuses
// them, record_erased). Either is acknowledged at the end of the sync.
func (c *Client) dropRecord(t *tx, id string, erased bool) error {
	queued, err := outboxOf(t, id)
	if err != nil {
		return err
	}
	for _, p := range queued {
		if erased {
			if err := dequeue(t, p.seq, p.op.ID); err != nil {
				return err
			}
			continue
		}
		if err := c.quarantine(t, p, model.CodeForbidden, "You no longer have access to this record; this change was not sent."); err != nil {
			return err
		}
	}
	if erased {
		c.log.Info("record dropped: erased by retention", "record", id, "unsent_deleted", len(queued))
	} else {
		c.log.Info("record dropped: access lost", "record", id, "unsent", len(queued))
	}
	if err := t.set([]byte(prefixDropped+id), nil); err != nil {
		return err
	}
	return t.deleteRecord(id)
}
