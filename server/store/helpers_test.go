package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// newID returns a random canonical lowercase UUID.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// hlcCounter makes every test op's hlc distinct and increasing.
var hlcCounter atomic.Uint64

// author builds valid ops of one device and user.
type author struct {
	device, user string
}

func newAuthor() author { return author{device: newID(), user: newID()} }

// op builds a decoded and validated op; value is raw JSON ("" = absent).
func (a author) op(t testing.TB, record, kind, field string, action model.Action, value string, base ...string) protocol.Pending {
	t.Helper()
	m := map[string]any{
		"id": newID(), "record": record, "kind": kind, "field": field, "action": string(action),
		"hlc": hlc.New(1_700_000_000_000+int64(hlcCounter.Add(1)), 0).String(), "device": a.device, "user": a.user,
	}
	if value != "" {
		m["value"] = json.RawMessage(value)
	}
	if len(base) > 0 {
		m["base"] = base
	}
	js, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	op, err := crdt.DecodeOp(js)
	if err != nil {
		t.Fatalf("DecodeOp(%s): %v", js, err)
	}
	if err := crdt.Validate(model.DefaultSchema(), &op); err != nil {
		t.Fatalf("Validate(%s): %v", js, err)
	}
	return protocol.Pending{Op: op}
}

func quote(s string) string { return strconv.Quote(s) }

// identification returns the ops creating an identification of team with
// a status and a note.
func (a author) identification(t testing.TB, record, team string) []protocol.Pending {
	const k = model.KindIdentification
	return []protocol.Pending{
		a.op(t, record, k, model.FieldTeam, model.ActionSet, quote(team)),
		a.op(t, record, k, model.FieldStatus, model.ActionSet, `"potential"`),
		a.op(t, record, k, "notes", model.ActionAppend, `{"text":"met at the bus station"}`),
	}
}

// planner decides the effects of the ops tests apply (no access rules).
var planner = &protocol.Service{Schema: model.DefaultSchema()}

// decideAll applies every op whose id is not known yet, with the effects
// protocol decides for it.
func decideAll(tx protocol.Tx, p *protocol.Pending) protocol.Decision {
	stored, _, ok, err := tx.Op(p.Op.ID)
	switch {
	case err != nil:
		return protocol.Decision{Result: protocol.Result{ID: p.Op.ID, Status: protocol.StatusRejected, Code: model.CodeInternal, Message: err.Error()}}
	case ok:
		return protocol.Decision{Result: protocol.Result{ID: p.Op.ID, Status: protocol.StatusDuplicate, HLC: stored.HLC.String()}}
	}
	eff, err := planner.Plan(tx, &p.Op)
	if err != nil {
		return protocol.Decision{Result: protocol.Result{ID: p.Op.ID, Status: protocol.StatusRejected, Code: model.ErrorCode(err), Message: err.Error()}}
	}
	return protocol.Decision{Result: protocol.Result{ID: p.Op.ID, Status: protocol.StatusApplied, HLC: p.Op.HLC.String()}, Effects: eff}
}

// openTest opens a store in a fresh directory, closed at the end of the
// test.
func openTest(t testing.TB, opt Options) *DB {
	t.Helper()
	return openAt(t, t.TempDir(), opt)
}

func openAt(t testing.TB, dir string, opt Options) *DB {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	db, err := Open(dir, opt)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// testWriter sends log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// commit commits ops with decideAll and fails the test on error.
func commit(t testing.TB, db *DB, ops ...protocol.Pending) []protocol.Result {
	t.Helper()
	res, err := db.Commit(context.Background(), ops, decideAll)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if len(res) != len(ops) {
		t.Fatalf("Commit returned %d results for %d ops", len(res), len(ops))
	}
	return res
}

// mustApplied fails unless every result is applied.
func mustApplied(t testing.TB, res []protocol.Result) {
	t.Helper()
	for i, r := range res {
		if r.Status != protocol.StatusApplied {
			t.Fatalf("result %d = %+v, want applied", i, r)
		}
	}
}

// feedAll reads the whole feed (global when buckets is nil) page by page.
func feedAll(t testing.TB, db *DB, buckets []string, after uint64, limit int) []protocol.FeedEntry {
	t.Helper()
	var out []protocol.FeedEntry
	for {
		page, err := db.Feed(context.Background(), buckets, buckets == nil, after, limit)
		if err != nil {
			t.Fatalf("Feed: %v", err)
		}
		out = append(out, page.Entries...)
		if len(page.Entries) > 0 && page.Last != page.Entries[len(page.Entries)-1].Seq {
			t.Fatalf("page.Last = %d, last entry %d", page.Last, page.Entries[len(page.Entries)-1].Seq)
		}
		after = page.Last
		if !page.More {
			return out
		}
	}
}

// opJSON is the JSON the feed serves for op.
func opJSON(op crdt.Op) string { return string(op.AppendJSON(nil)) }

// entryIDs returns the op ids of a feed's op entries, and the records of
// its drop markers.
func entryIDs(t testing.TB, entries []protocol.FeedEntry) (ops, drops []string) {
	t.Helper()
	for _, e := range entries {
		if e.Drop {
			drops = append(drops, e.Record)
			continue
		}
		op, err := crdt.DecodeOp(e.JSON)
		if err != nil {
			t.Fatalf("feed entry %d: %v", e.Seq, err)
		}
		ops = append(ops, op.ID)
	}
	return ops, drops
}

// logCapture is a slog handler that keeps the messages logged.
type logCapture struct {
	mu   sync.Mutex
	msgs []string
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }

func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, r.Message)
	return nil
}

func (c *logCapture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *logCapture) WithGroup(string) slog.Handler      { return c }

func (c *logCapture) count(msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs {
		if m == msg {
			n++
		}
	}
	return n
}
