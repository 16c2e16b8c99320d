package store

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

var _ protocol.Tx = (*group)(nil)

// write is one key the writer sets (or deletes).
type write struct {
	key, val []byte
	del      bool
}

// opState is an op stored by the chunk, or a stored op the chunk read.
// op holds the op's value even when redacted is set, for ops of the chunk.
type opState struct {
	op        crdt.Op
	seq       uint64
	redacted  bool
	deviceHLC hlc.Timestamp
}

// opSeq locates one op of a record: its f/ seq and the seq of its entry
// in the record's bucket (0: not indexed).
type opSeq struct{ fseq, bseq uint64 }

// recState is a record the chunk read or wrote.
type recState struct {
	rec     *crdt.Record
	creator string
	// bucket is the bucket the record's ops are indexed under.
	bucket string
	// ops are all the record's ops, by ascending f/ seq.
	ops   []opSeq
	dirty bool
	// scope caches the record's scope while scopeOK and scopeGen equals
	// the group's hostGen.
	scope    access.Scope
	scopeOK  bool
	scopeGen uint64
}

// scopeOf returns rs's scope now.
func (g *group) scopeOf(rs *recState) access.Scope {
	if !rs.scopeOK || rs.scopeGen != g.hostGen {
		rs.scope, rs.scopeOK, rs.scopeGen = access.ScopeOf(rs.rec, rs.creator, g.hostFn), true, g.hostGen
	}
	return rs.scope
}

// group is the writer's view while it processes one chunk of a group
// commit: badger's state as of rtx, overlaid with the chunks rtx may not
// hold yet (parent, and its parent: see writer.go), overlaid with
// everything this chunk applied so far. It implements protocol.Tx and
// collects the chunk's writes. A group never modifies the maps or records
// of the chunks below it: it copies what it changes.
type group struct {
	db      *DB
	rtx     *badger.Txn
	parent  *group
	seq     uint64
	records uint64
	now     time.Time
	ops     map[string]*opState
	// recs holds records read or written; nil marks a record known absent.
	recs  map[string]*recState
	dirty []*recState
	// hosts caches week -> host team, changes of this chunk included.
	hosts  map[string]string
	writes []write
	// arena holds the small keys and values of writes.
	arena []byte
	// err is the first read error, which aborts the chunk: decide sees
	// it only as an error and would otherwise turn it into a rejection.
	err    error
	hostFn func(week string) string
	// hostGen counts host team changes, which make cached scopes stale.
	hostGen uint64

	// feed is the f/ value the caller prepared for op feedID, the op
	// being applied.
	feed   []byte
	feedID string
	// applied lists the ids of the ops the chunk applied.
	applied []string
}

func newGroup(db *DB, rtx *badger.Txn, w *writerState, n int) *group {
	g := &group{
		writes:  make([]write, 0, 3*n+16),
		applied: make([]string, 0, n),
		db:      db,
		rtx:     rtx,
		parent:  w.parent,
		seq:     w.seq,
		records: w.records,
		now:     db.opt.Now(),
		ops:     make(map[string]*opState, n),
		recs:    map[string]*recState{},
		hosts:   map[string]string{},
	}
	g.hostFn = func(week string) string {
		t, _ := g.HostTeam(week)
		return t
	}
	return g
}

func (g *group) fail(err error) error {
	if g.err == nil {
		g.err = err
	}
	return err
}

func (g *group) next() uint64 {
	g.seq++
	return g.seq
}

func (g *group) set(k, v []byte) { g.writes = append(g.writes, write{key: k, val: v}) }

// carve returns an empty slice of capacity n from the chunk's arena, which
// saves the writer an allocation per key. Badger keeps the slices until
// the transaction is done; the arena is never reused.
func (g *group) carve(n int) []byte {
	if cap(g.arena)-len(g.arena) < n {
		g.arena = make([]byte, 0, max(64<<10, n))
	}
	l := len(g.arena)
	g.arena = g.arena[:l+n]
	return g.arena[l : l : l+n]
}

func (g *group) del(k []byte) { g.writes = append(g.writes, write{key: k, del: true}) }

// Op implements protocol.Tx.
func (g *group) Op(id string) (crdt.Op, bool, bool, error) {
	st, err := g.op(id)
	if err != nil || st == nil {
		return crdt.Op{}, false, false, err
	}
	if st.redacted {
		return st.op.Redacted(), true, true, nil
	}
	return st.op, false, true, nil
}

// known returns the op with id if this chunk or a chunk in flight stored
// or read it.
func (g *group) known(id string) *opState {
	for x := g; x != nil; x = x.parent {
		if st, ok := x.ops[id]; ok {
			return st
		}
	}
	return nil
}

// op returns the op with id from the chunks or from badger (nil when
// unknown). An op of a chunk below must not be modified.
func (g *group) op(id string) (*opState, error) {
	if st := g.known(id); st != nil {
		return st, nil
	}
	if !g.db.filter.mayHave(id) {
		return nil, nil
	}
	v, err := getValue(g.rtx, key(prefixOp, id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, g.fail(fmt.Errorf("read op %s: %w", id, err))
	}
	var m opMeta
	if err := m.unmarshal(v); err != nil {
		return nil, g.fail(fmt.Errorf("read op %s: %w", id, err))
	}
	fv, err := getValue(g.rtx, feedKey(m.seq))
	if err != nil {
		return nil, g.fail(fmt.Errorf("read op %s at seq %d: %w", id, m.seq, err))
	}
	_, js, err := splitFeedValue(fv)
	if err != nil {
		return nil, g.fail(fmt.Errorf("read op %s: %w", id, err))
	}
	op, err := crdt.DecodeOp(js)
	if err != nil {
		return nil, g.fail(fmt.Errorf("decode op %s: %w", id, err))
	}
	st := &opState{op: op, seq: m.seq, redacted: m.redacted, deviceHLC: m.deviceHLC}
	g.ops[id] = st
	return st, nil
}

// Record implements protocol.Tx. The record returned must not be
// modified.
func (g *group) Record(id string) (*protocol.RecordState, bool, error) {
	rs, err := g.record(id)
	if err != nil || rs == nil {
		return nil, false, err
	}
	return &protocol.RecordState{Record: rs.rec, Scope: g.scopeOf(rs)}, true, nil
}

// record returns the record with id from the chunk, a copy of the one of
// a chunk below, or from badger (nil when absent).
func (g *group) record(id string) (*recState, error) {
	if rs, ok := g.recs[id]; ok {
		return rs, nil
	}
	for x := g.parent; x != nil; x = x.parent {
		if prs, ok := x.recs[id]; ok {
			var rs *recState
			if prs != nil {
				rs = &recState{rec: prs.rec.Clone(), creator: prs.creator, bucket: prs.bucket, ops: slices.Clone(prs.ops)}
			}
			g.recs[id] = rs
			return rs, nil
		}
	}
	rec, creator, ops, err := readRecord(g.rtx, id, true)
	if errors.Is(err, badger.ErrKeyNotFound) {
		g.recs[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, g.fail(err)
	}
	rs := &recState{rec: rec, creator: creator, ops: ops}
	rs.bucket = g.scopeOf(rs).Bucket()
	g.recs[id] = rs
	return rs, nil
}

// HostTeam implements protocol.Tx.
func (g *group) HostTeam(week string) (string, error) {
	if t, ok := g.hosts[week]; ok {
		return t, nil
	}
	for x := g.parent; x != nil; x = x.parent {
		if t, ok := x.hosts[week]; ok {
			return t, nil
		}
	}
	v, err := getValue(g.rtx, key(prefixWeekHost, week))
	if errors.Is(err, badger.ErrKeyNotFound) {
		g.hosts[week] = ""
		return "", nil
	}
	if err != nil {
		return "", g.fail(fmt.Errorf("read host team of %s: %w", week, err))
	}
	g.hosts[week] = string(v)
	return string(v), nil
}

// apply stores one op decide accepted: it sequences the op, merges it into
// its record, indexes it, erases the value it redacts, and follows the
// record into another bucket or an action week to another host team. An
// *model.Error means the op cannot be applied (nothing changed); any other
// error aborts the chunk.
func (g *group) apply(p *protocol.Pending) error {
	op := p.Op
	rs, err := g.record(op.Record)
	if err != nil {
		return err
	}
	created := rs == nil
	if created {
		rs = &recState{rec: crdt.NewRecord(op.Record, op.Kind), creator: op.User}
	}
	if _, err := rs.rec.Apply(g.db.schema, &op); err != nil {
		return err
	}
	if created {
		g.recs[op.Record] = rs
		g.records++
	}
	st := &opState{op: op, seq: g.next(), deviceHLC: p.DeviceHLC}
	if op.Action == model.ActionAppend {
		// A redact received earlier erases the entry on arrival.
		st.redacted = entryRedacted(rs.rec.Entries(op.Field), &op)
	}
	g.ops[op.ID] = st
	g.applied = append(g.applied, op.ID)
	if g.feedID == op.ID && !st.redacted {
		g.putOp(st, g.feed)
	} else {
		g.putOp(st, nil)
	}
	if op.Action == model.ActionRedact && len(op.Base) == 1 {
		if err := g.redact(&op); err != nil {
			return err
		}
	}
	// Only a new record or a write to a field that scopes it moves it.
	b := rs.bucket
	if k := g.db.schema.Kinds[op.Kind]; created || k == nil || op.Field == k.Scope || op.Field == model.FieldHostTeam {
		rs.scopeOK = false
		scope := g.scopeOf(rs)
		b = scope.Bucket()
		if op.Kind == model.KindActionWeek {
			g.host(op.Record, scope.HostTeam)
		}
	}
	g.index(rs, b, st.seq)
	if !rs.dirty {
		rs.dirty = true
		g.dirty = append(g.dirty, rs)
	}
	return g.err
}

// entryRedacted reports whether op's entry in a log is redacted.
func entryRedacted(entries []crdt.Entry, op *crdt.Op) bool {
	i, ok := slices.BinarySearchFunc(entries, op, func(e crdt.Entry, op *crdt.Op) int {
		if c := cmp.Compare(e.HLC, op.HLC); c != 0 {
			return c
		}
		if c := strings.Compare(e.Device, op.Device); c != 0 {
			return c
		}
		return strings.Compare(e.Op, op.ID)
	})
	return ok && entries[i].Redacted
}

// putOp writes an op's meta and its global feed entry (feed, when not
// nil, is the entry's value, made ahead).
func (g *group) putOp(st *opState, feed []byte) {
	m := opMeta{seq: st.seq, redacted: st.redacted, deviceHLC: st.deviceHLC}
	g.set(opKeyTo(g.carve(len(prefixOp)+len(st.op.ID)), st.op.ID), m.appendTo(g.carve(opMetaLen)))
	fk := feedKeyTo(g.carve(len(prefixFeed)+8), st.seq)
	if feed != nil {
		g.set(fk, feed)
		return
	}
	op := &st.op
	if st.redacted {
		r := st.op.Redacted()
		op = &r
	}
	v := make([]byte, 0, idLen+256+len(op.Value))
	g.set(fk, op.AppendJSON(append(v, op.Record...)))
}

// redact erases the value of the append op a redact names, where it is
// stored, when it is an entry of the same record and log.
func (g *group) redact(op *crdt.Op) error {
	t, err := g.op(op.Base[0])
	if err != nil {
		return err
	}
	if t == nil || t.redacted || t.op.Record != op.Record || t.op.Field != op.Field || t.op.Action != model.ActionAppend {
		return nil
	}
	if own, ok := g.ops[t.op.ID]; !ok || own != t {
		c := *t // a chunk below holds it: copy before changing
		t = &c
		g.ops[t.op.ID] = t
	}
	t.redacted = true
	g.putOp(t, nil)
	return nil
}

// index adds the op stored at seq to the feed of bucket b, the record's
// bucket once the op is applied. When the record changes bucket, its
// entries leave the old bucket (which gets a drop marker) and every
// earlier op is indexed again in the new one under a new seq.
func (g *group) index(rs *recState, b string, seq uint64) {
	id := rs.rec.ID
	if b != rs.bucket {
		if rs.bucket != "" {
			for _, o := range rs.ops {
				if o.bseq != 0 {
					g.del(bucketKey(rs.bucket, o.bseq))
				}
			}
			g.set(bucketKey(rs.bucket, g.next()), dropMarker(id))
		}
		for i := range rs.ops {
			o := &rs.ops[i]
			prev := o.bseq
			o.bseq = 0
			if b != "" {
				o.bseq = g.next()
				g.set(bucketKey(b, o.bseq), movedValue(o.fseq, prev, rs.bucket))
			}
		}
		rs.bucket = b
	}
	o := opSeq{fseq: seq}
	if b != "" {
		o.bseq = seq
		g.set(bucketKeyTo(g.carve(bucketKeyLen(b)), b, seq), nil)
	}
	rs.ops = append(rs.ops, o)
}

// host records that action week is now hosted by team.
func (g *group) host(week, team string) {
	old, err := g.HostTeam(week)
	if err != nil || old == team {
		return
	}
	if old != "" {
		g.del(key2(prefixHosted, old, week))
	}
	if team != "" {
		g.set(key2(prefixHosted, team, week), []byte{})
		g.set(key(prefixWeekHost, week), []byte(team))
	} else {
		g.del(key(prefixWeekHost, week))
	}
	g.hosts[week] = team
	g.hostGen++
}

// finish writes the state and summary of every record the chunk changed,
// once, and the counters.
func (g *group) finish() error {
	for _, rs := range g.dirty {
		snap, err := rs.rec.MarshalBinary()
		if err != nil {
			return fmt.Errorf("encode record %s: %w", rs.rec.ID, err)
		}
		g.set(key(prefixRecord, rs.rec.ID), recordValue(rs.creator, rs.ops, snap))
		sum := summarize(rs.rec, g.scopeOf(rs), g.now)
		js, err := json.Marshal(&sum)
		if err != nil {
			return fmt.Errorf("encode summary of %s: %w", rs.rec.ID, err)
		}
		g.set(key(prefixSummary, rs.rec.ID), js)
	}
	if len(g.writes) > 0 {
		g.set([]byte(keySeq), uint64Value(g.seq))
		g.set([]byte(keyRecords), uint64Value(g.records))
	}
	return g.err
}

// readRecord reads record id's state (when withState), creator and ops;
// badger.ErrKeyNotFound when absent.
func readRecord(txn *badger.Txn, id string, withState bool) (*crdt.Record, string, []opSeq, error) {
	item, err := txn.Get(key(prefixRecord, id))
	if err != nil {
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil, "", nil, err
		}
		return nil, "", nil, fmt.Errorf("read record %s: %w", id, err)
	}
	var rec *crdt.Record
	var creator string
	var ops []opSeq
	err = item.Value(func(v []byte) error {
		c, o, snap, err := splitRecordValue(v)
		if err != nil {
			return err
		}
		creator, ops = c, o
		if !withState {
			return nil
		}
		rec = &crdt.Record{}
		return rec.UnmarshalBinary(snap)
	})
	if err != nil {
		return nil, "", nil, fmt.Errorf("decode record %s: %w", id, err)
	}
	return rec, creator, ops, nil
}
