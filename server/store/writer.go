package store

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// request is one Commit call waiting for the writer.
type request struct {
	ops     []protocol.Pending
	decide  protocol.Decide
	results []protocol.Result
	done    chan error
}

// item is one op of a group, with the request it came from.
type item struct {
	req    *request
	index  int
	result protocol.Result
}

// Commit hands ops to the single writer, which decides, applies, indexes
// and sequences them together with the ops of concurrent calls (group
// commit), makes them durable and only then returns one result per op.
// ctx bounds only the wait to enter the writer's queue: once the writer
// gathered the request it is processed and answered whatever ctx does, so
// that an error here always means nothing of this call was acknowledged.
// decide runs on the writer goroutine and must not block; it may be called
// again for the same op when a group has to be split (every call sees the
// state the op is then applied to; only the last call's result counts).
// After Close, Commit returns CodeUnavailable.
func (db *DB) Commit(ctx context.Context, ops []protocol.Pending, decide protocol.Decide) ([]protocol.Result, error) {
	if len(ops) == 0 {
		return []protocol.Result{}, nil
	}
	req := &request{ops: ops, decide: decide, results: make([]protocol.Result, len(ops)), done: make(chan error, 1)}
	if err := db.enqueue(ctx, req); err != nil {
		return nil, err
	}
	if err := <-req.done; err != nil {
		return nil, err
	}
	return req.results, nil
}

func (db *DB) enqueue(ctx context.Context, req *request) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.closed {
		return unavailable()
	}
	select {
	case db.reqs <- req:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("commit ops: %w", ctx.Err())
	}
}

// writer is the single goroutine that sequences and writes ops. It takes
// one request, gathers whatever else is queued (up to GroupMaxOps ops) and
// commits them as one group, until Close closes the queue and it is empty.
func (db *DB) writer() {
	defer close(db.writerDone)
	var carry *request
	for {
		first := carry
		carry = nil
		if first == nil {
			r, ok := <-db.reqs
			if !ok {
				return
			}
			first = r
		}
		batch := []*request{first}
		n := len(first.ops)
	gather:
		for n < db.opt.GroupMaxOps {
			select {
			case r, ok := <-db.reqs:
				if !ok {
					break gather
				}
				if n+len(r.ops) > db.opt.GroupMaxOps {
					carry = r
					break gather
				}
				batch = append(batch, r)
				n += len(r.ops)
			default:
				break gather
			}
		}
		db.commitGroup(batch)
	}
}

// errTooBig reports that a chunk does not fit one badger transaction.
var errTooBig = errors.New("group does not fit one transaction")

// commitGroup processes every op of batch in order and answers every
// request. It tries the whole group as one transaction; when badger finds
// it too big, it commits it in smaller chunks of whole ops, each a
// consistent transaction of its own.
func (db *DB) commitGroup(batch []*request) {
	var items []item
	for _, r := range batch {
		for i := range r.ops {
			items = append(items, item{req: r, index: i})
		}
	}
	size := len(items)
	for pos := 0; pos < len(items); {
		n := min(size, len(items)-pos)
		err := db.commitChunk(items[pos : pos+n])
		if errors.Is(err, errTooBig) && n > 1 {
			size = n / 2
			db.log.Debug("group commit split", "ops", n, "chunk", size)
			continue
		}
		if err != nil {
			db.log.Error("group commit failed; every request of the group gets the error", "ops", len(items), "requests", len(batch), "err", err)
			db.restoreCounters()
			for _, r := range batch {
				r.done <- err
			}
			return
		}
		pos += n
	}
	for _, it := range items {
		it.req.results[it.index] = it.result
	}
	for _, r := range batch {
		r.done <- nil
	}
}

// restoreCounters resets the in-memory counters to what badger holds
// after a failed commit. Badger may have made a failed transaction
// visible; reading the counters back never reuses a sequence number a
// reader could have seen. When even that read fails, the counters move
// past anything the failed chunk could have used.
func (db *DB) restoreCounters() {
	seq, records, err := db.loadCounters()
	if err != nil {
		db.log.Error("reload counters after a failed commit", "err", err)
		db.seq += 1 << 32
		return
	}
	db.seq, db.records = max(seq, db.seq), max(records, db.records)
}

// commitChunk decides and applies items on top of badger's committed
// state, writes the result in one transaction and commits it. It returns
// errTooBig, before anything was committed, when the transaction would be
// too big. It updates the in-memory counters only once committed.
func (db *DB) commitChunk(items []item) (err error) {
	rtx := db.bdb.NewTransaction(false)
	defer rtx.Discard()
	g := newGroup(db, rtx)
	defer func() {
		if p := recover(); p != nil {
			db.log.Error("panic in the writer", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("apply ops: panic: %v", p)
		}
	}()
	for i := range items {
		it := &items[i]
		p := it.req.ops[it.index] // a copy: a retried chunk decides afresh
		res := it.req.decide(g, &p)
		if g.err != nil {
			return g.err
		}
		if res.Status == protocol.StatusApplied {
			if known, ok := g.ops[p.Op.ID]; ok {
				res = protocol.Result{ID: p.Op.ID, Status: protocol.StatusDuplicate, HLC: known.op.HLC.String()}
			} else if err := g.apply(&p); err != nil {
				var me *model.Error
				if !errors.As(err, &me) {
					return err
				}
				res = protocol.Result{ID: p.Op.ID, Status: protocol.StatusRejected, Code: me.Code, Message: me.Message}
			}
		}
		it.result = res
	}
	if err := g.finish(); err != nil {
		return err
	}
	if err := db.write(g.writes); err != nil {
		return err
	}
	db.seq, db.records = g.seq, g.records
	return nil
}

// write commits writes in one transaction (none when there are none).
func (db *DB) write(writes []write) error {
	if len(writes) == 0 {
		return nil
	}
	wtx := db.bdb.NewTransaction(true)
	defer wtx.Discard()
	for _, w := range writes {
		var err error
		if w.del {
			err = wtx.Delete(w.key)
		} else {
			err = wtx.SetEntry(badger.NewEntry(w.key, w.val))
		}
		if errors.Is(err, badger.ErrTxnTooBig) {
			return errTooBig
		}
		if err != nil {
			return fmt.Errorf("write ops: %w", err)
		}
	}
	if err := wtx.Commit(); err != nil {
		return fmt.Errorf("commit ops: %w", err)
	}
	return nil
}
