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

// The writer is two goroutines forming a pipeline of depth one:
//
//   - the processor (writer) gathers queued requests into a group, decides
//     and applies their ops on top of the previous chunk's state, and
//     builds the chunk's badger transaction;
//   - the committer commits chunks strictly in order (each commit is one
//     fsync) and answers a group's requests once its last chunk committed.
//
// So the processor works on chunk N+1 while badger writes chunk N. The
// channel between them is unbuffered: the processor hands chunk N over
// only once the committer took it, that is once chunk N-1 committed.
//
// Badger makes a transaction opened while a commit is in flight wait for
// that commit, so the processor opens the read and write transactions of
// chunk N+1 before handing chunk N over. At that moment chunk N-2 has
// committed, chunk N-1 may or may not have (the committer may not have
// started it): chunk N+1 therefore reads badger as of that moment,
// overlaid with chunk N-1 and chunk N (its parent and grandparent, kept
// until then), overlaid with its own work. A chunk's view is thus always
// complete, and chunks are committed in the order they were built.
//
// When a commit fails, every chunk built on top of it is discarded, its
// requests get an error, and the processor starts again from what badger
// holds.

// request is one Commit call waiting for the writer.
type request struct {
	ops     []protocol.Pending
	decide  protocol.Decide
	results []protocol.Result
	done    chan error
	// prep is what the caller prepared of each op (prepare.go).
	prep []preparedOp
	// erase, when set, makes the request a retention erasure
	// (retention.go), carried out alone.
	erase *eraseReq
}

// batch is the requests gathered into one group commit.
type batch struct {
	reqs  []*request
	items []item
	// replied is set once the requests were answered (guarded by
	// DB.pipeMu).
	replied bool
}

// item is one op of a batch, with the request it came from.
type item struct {
	req    *request
	index  int
	result protocol.Result
}

// chunk is a built transaction on its way to the committer.
type chunk struct {
	batch *batch
	// last marks the batch's last chunk: its commit answers the batch.
	last bool
	// txn is nil when the chunk writes nothing.
	txn   *badger.Txn
	epoch uint64
	// seq is the last sequence number the chunk assigned.
	seq uint64
	// erased lists the ops whose data keys the commit destroys.
	erased []string
}

// writerState is the processor's own state.
type writerState struct {
	// parent is the last chunk handed to the committer (nil after a
	// failure): the overlay the next chunk reads through.
	parent *group
	// seq and records are the counters after parent (or badger's).
	seq, records uint64
	// epoch is the pipeline epoch the parent belongs to.
	epoch uint64
	// handed is the last seq of the chunks handed to the committer in
	// this epoch (0: none).
	handed uint64
	// rtx and wtx, when set, were opened before parent was handed over:
	// badger makes a transaction opened while a commit is in flight wait
	// for that commit, so the next chunk's transactions are opened first.
	rtx, wtx *badger.Txn
	// visible is a seq rtx surely shows: the last one committed before
	// rtx was opened.
	visible uint64
	// cache holds the records of the chunks built, committed or not
	// (recstate.go).
	cache *recordCache
}

// open opens the transactions of the next chunk.
func (w *writerState) open(db *DB) {
	w.visible = db.committed.Load()
	w.rtx, w.wtx = db.bdb.NewTransaction(false), db.bdb.NewTransaction(true)
}

// txns returns the transactions for the next chunk and the seq its reads
// surely show, opening them when none were opened ahead.
func (w *writerState) txns(db *DB) (rtx, wtx *badger.Txn, visible uint64) {
	if w.rtx == nil || w.wtx == nil {
		w.drop()
		w.open(db)
	}
	rtx, wtx = w.rtx, w.wtx
	w.rtx, w.wtx = nil, nil
	return rtx, wtx, w.visible
}

// drop discards the transactions opened ahead, so that an idle writer
// holds no snapshot.
func (w *writerState) drop() {
	if w.rtx != nil {
		w.rtx.Discard()
		w.rtx = nil
	}
	if w.wtx != nil {
		w.wtx.Discard()
		w.wtx = nil
	}
}

// errAborted answers the requests of chunks built on top of a failed
// commit.
var errAborted = errors.New("commit ops: an earlier commit failed; nothing of this request was applied")

// Commit hands ops to the single writer, which decides, applies, indexes
// and sequences them together with the ops of concurrent calls (group
// commit), makes them durable and only then returns one result per op.
// ctx bounds only the wait to enter the writer's queue: once the writer
// gathered the request it is processed and answered whatever ctx does, so
// that an error here always means nothing of this call was acknowledged.
// decide runs on the writer goroutine and must not block; it may be called
// again for the same op when a group has to be split (every call sees the
// state the op is then applied to; only the last call's result counts). An
// op decide changes is stored as changed. After Close, Commit returns
// CodeUnavailable.
func (db *DB) Commit(ctx context.Context, ops []protocol.Pending, decide protocol.Decide) ([]protocol.Result, error) {
	if len(ops) == 0 {
		return []protocol.Result{}, nil
	}
	req := &request{ops: ops, decide: decide, results: make([]protocol.Result, len(ops)), done: make(chan error, 1)}
	db.prepare(req)
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
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit ops: %w", err)
	}
	select {
	case db.reqs <- req:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("commit ops: %w", ctx.Err())
	}
}

// writer is the processor. It takes one request, gathers whatever else is
// queued (up to GroupMaxOps ops) and processes them as one group, until
// Close closes the queue and it is empty; then it lets the committer
// finish.
func (db *DB) writer() {
	defer close(db.writerDone)
	go db.committer()
	w := &writerState{seq: db.seq, records: db.records, cache: newRecordCache(db.opt.RecordCacheBytes)}
	defer func() {
		w.drop()
		close(db.commits)
		<-db.committerDone
	}()
	var carry *request
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case r, ok := <-db.reqs:
				if !ok {
					return
				}
				first = r
			default:
				w.drop()
				r, ok := <-db.reqs
				if !ok {
					return
				}
				first = r
			}
		}
		if first.erase != nil {
			db.eraseInWriter(w, first)
			continue
		}
		reqs := []*request{first}
		n := len(first.ops)
	gather:
		for n < db.opt.GroupMaxOps {
			select {
			case r, ok := <-db.reqs:
				if !ok {
					break gather
				}
				if r.erase != nil || n+len(r.ops) > db.opt.GroupMaxOps {
					carry = r
					break gather
				}
				reqs = append(reqs, r)
				n += len(r.ops)
			default:
				break gather
			}
		}
		b := &batch{reqs: reqs, items: make([]item, 0, n)}
		for _, r := range reqs {
			for i := range r.ops {
				b.items = append(b.items, item{req: r, index: i})
			}
		}
		db.process(w, b)
	}
}

// process decides and applies every op of b in order and hands the
// resulting transactions to the committer. It tries the whole batch as one
// transaction; when badger finds it too big, it builds smaller chunks of
// whole ops, each a consistent transaction of its own.
func (db *DB) process(w *writerState, b *batch) {
	size := len(b.items)
	for pos := 0; pos < len(b.items); {
		if db.resync(w) && pos > 0 {
			// An earlier chunk of b failed; b was answered.
			return
		}
		n := min(size, len(b.items)-pos)
		g, txn, err := db.build(w, b.items[pos:pos+n])
		if err != nil {
			// The cache may hold changes of the chunk that was not built.
			db.settle(w)
		}
		if errors.Is(err, errTooBig) && n > 1 {
			size = n / 2
			db.log.Debug("group commit split", "ops", n, "chunk", size)
			continue
		}
		if err != nil {
			db.log.Error("group commit failed; every request of the group gets the error", "ops", len(b.items), "requests", len(b.reqs), "err", err)
			db.reply(b, err)
			return
		}
		if w.parent != nil {
			// Chunks from g on read through g and w.parent only: their
			// transactions, opened from now on, hold everything below.
			w.parent.parent = nil
		}
		w.parent, w.seq, w.records, w.handed = g, g.seq, g.records, g.seq
		for _, id := range g.applied {
			db.filter.add(id)
		}
		w.cache.trim(g.visible)
		// Opened now, these wait for the chunk in flight (if any), not for
		// this one.
		w.open(db)
		db.commits <- &chunk{batch: b, last: pos+n == len(b.items), txn: txn, epoch: w.epoch, seq: g.seq, erased: g.erased}
		pos += n
	}
}

// resync notices a failed commit: it drops the overlay and reloads the
// counters from badger (which the committer no longer changes: every
// chunk built on top of the failure is discarded). It reports whether it
// did.
func (db *DB) resync(w *writerState) bool {
	db.pipeMu.Lock()
	epoch := db.epoch
	db.pipeMu.Unlock()
	if epoch == w.epoch {
		return false
	}
	w.epoch, w.parent, w.handed = epoch, nil, 0
	w.drop()
	w.cache.clear()
	seq, records, err := db.loadCounters()
	if err != nil {
		// Never reuse a sequence number a reader might have seen.
		db.log.Error("reload counters after a failed commit", "err", err)
		w.seq += 1 << 32
		return true
	}
	w.seq, w.records = seq, records
	return true
}

// settle brings the writer back to a state badger holds, after a chunk
// that was not built: it waits until every chunk handed to the committer
// is committed (or a commit failed, which resync then notices), drops the
// overlay and the transactions opened ahead, and empties the record
// cache, which may hold changes of the chunk.
func (db *DB) settle(w *writerState) {
	db.pipeMu.Lock()
	for db.committed.Load() < w.handed && db.epoch == w.epoch {
		db.pipeCond.Wait()
	}
	db.pipeMu.Unlock()
	w.parent = nil
	w.drop()
	w.cache.clear()
}

// errTooBig reports that a chunk does not fit one badger transaction.
var errTooBig = errors.New("group does not fit one transaction")

// build decides and applies items on top of the processor's view and
// builds their transaction (nil when there is nothing to write). It
// returns errTooBig when badger refuses the transaction as too big.
func (db *DB) build(w *writerState, items []item) (g *group, txn *badger.Txn, err error) {
	rtx, wtx, visible := w.txns(db)
	defer rtx.Discard()
	defer func() {
		if err != nil || txn == nil {
			wtx.Discard()
		}
	}()
	g = newGroup(db, rtx, w, len(items))
	g.visible = visible
	defer func() {
		if p := recover(); p != nil {
			// The value is not logged: it may hold record content.
			db.log.Error("panic in the writer", "panic_type", fmt.Sprintf("%T", p), "stack", string(debug.Stack()))
			g, txn, err = nil, nil, fmt.Errorf("apply ops: panic of type %T", p)
		}
	}()
	for i := range items {
		it := &items[i]
		p := it.req.ops[it.index] // a copy: a smaller chunk decides afresh
		d := it.req.decide(g, &p)
		res := d.Result
		g.prepared(it, &p)
		if g.err != nil {
			return nil, nil, g.err
		}
		if res.Status == protocol.StatusApplied {
			if known := g.known(p.Op.ID); known != nil {
				res = protocol.Result{ID: p.Op.ID, Status: protocol.StatusDuplicate, HLC: known.op.HLC.String()}
			} else if err := g.apply(&p, &d.Effects); err != nil {
				var me *model.Error
				if !errors.As(err, &me) {
					return nil, nil, err
				}
				res = protocol.Result{ID: p.Op.ID, Status: protocol.StatusRejected, Code: me.Code, Message: me.Message}
			}
		}
		it.result = res
	}
	if err := g.finish(); err != nil {
		return nil, nil, err
	}
	if len(g.writes) == 0 {
		return g, nil, nil
	}
	if err := fill(wtx, g.writes); err != nil {
		return nil, nil, err
	}
	g.writes = nil
	return g, wtx, nil
}

// fill puts writes into txn.
func fill(txn *badger.Txn, writes []write) error {
	for _, w := range writes {
		var err error
		if w.del {
			err = txn.Delete(w.key)
		} else {
			err = txn.SetEntry(badger.NewEntry(w.key, w.val))
		}
		if errors.Is(err, badger.ErrTxnTooBig) {
			return errTooBig
		}
		if err != nil {
			return fmt.Errorf("write ops: %w", err)
		}
	}
	return nil
}

// committer commits chunks in order and answers their requests.
func (db *DB) committer() {
	defer close(db.committerDone)
	for c := range db.commits {
		db.pipeMu.Lock()
		stale := c.epoch != db.epoch
		db.pipeMu.Unlock()
		if stale {
			if c.txn != nil {
				c.txn.Discard()
			}
			db.reply(c.batch, errAborted)
			continue
		}
		if c.txn != nil {
			// The chunk's new data keys are on disk before its ops.
			err := db.keys.sync()
			if err == nil {
				err = db.commitTxn(c.txn)
			} else {
				c.txn.Discard()
			}
			if err != nil {
				err = fmt.Errorf("commit ops: %w", err)
				db.log.Error("group commit failed; every request of the group gets the error", "requests", len(c.batch.reqs), "err", err)
				db.pipeMu.Lock()
				db.epoch++
				db.pipeCond.Broadcast()
				db.pipeMu.Unlock()
				db.reply(c.batch, err)
				continue
			}
		}
		db.pipeMu.Lock()
		db.committed.Store(c.seq)
		db.pipeCond.Broadcast()
		db.pipeMu.Unlock()
		db.filterSeq = c.seq
		if err := db.keys.destroy(c.erased); err != nil {
			// The values are erased from every answer; Open destroys
			// the keys left.
			db.log.Error("erasure could not destroy data keys; the next open retries", "err", err)
		}
		if c.last {
			db.reply(c.batch, nil)
		}
	}
}

// reply answers every request of b once: with their results, or with err.
func (db *DB) reply(b *batch, err error) {
	db.pipeMu.Lock()
	done := b.replied
	b.replied = true
	db.pipeMu.Unlock()
	if done {
		return
	}
	if err == nil {
		for _, it := range b.items {
			it.req.results[it.index] = it.result
		}
	}
	for _, r := range b.reqs {
		r.done <- err
	}
}
