package store

import (
	"crypto/cipher"
	"errors"
	"fmt"
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

// group is the writer's view while it processes one chunk of a group
// commit: badger's state as of rtx, overlaid with the ops of the chunks
// rtx may not hold yet (parent, and its parent: see writer.go) and with
// the writer's record cache, which holds every record those chunks wrote,
// overlaid with everything this chunk applied so far. It implements
// protocol.Tx and collects the chunk's writes. A group never modifies the
// op maps of the chunks below it: it copies what it changes. It changes
// cached records in place; the writer drops the cache when a chunk is not
// committed.
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
	hosts map[string]string
	// tombs caches the tombstones read (nil: the record is not erased).
	// Only an erasure writes them, and it runs alone in the writer after
	// dropping the overlay, so a cached answer holds for the chunks above.
	tombs  map[string]*Tombstone
	writes []write
	// arena holds the small keys and values of writes.
	arena []byte
	// err is the first read error, which aborts the chunk: decide sees
	// it only as an error and would otherwise turn it into a rejection.
	err error
	// cache is the writer's record cache; visible is a seq rtx surely
	// shows.
	cache   *recordCache
	visible uint64

	// prep is what the caller prepared for op prepID, the op being
	// applied (prepare.go).
	prep   preparedOp
	prepID string
	// applied lists the ids of the ops the chunk applied.
	applied []string
	// summary names the label fields of the records the chunk changed,
	// as the effects of its ops name them (protocol.SummaryFields).
	summary protocol.LabelFields
	// erased lists the ops whose data keys are destroyed once the chunk
	// commits (datakeys.go).
	erased []string
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
		tombs:   map[string]*Tombstone{},
		cache:   w.cache,
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
	if err != nil || st == nil || g.db.erasing[st.op.Record] {
		// An op an erasure is still deleting is gone (retention.go).
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
	_, js, keyGone, err := openFeedValue(g.db.keys, fv)
	if err != nil {
		return nil, g.fail(fmt.Errorf("read op %s: %w", id, err))
	}
	op, err := crdt.DecodeStored(js)
	if err != nil {
		return nil, g.fail(fmt.Errorf("decode op %s: %w", id, err))
	}
	// A value whose data key is gone is erased (a store restored from a
	// backup older than the erasure).
	st := &opState{op: op, seq: m.seq, redacted: m.redacted || keyGone, deviceHLC: m.deviceHLC}
	g.ops[id] = st
	return st, nil
}

// scopeOf returns rs's scope now: as its last op's effects gave it, with
// its action week's host team as it is now.
func (g *group) scopeOf(rs *recState) access.Scope {
	s := rs.scope
	if s.ActionWeek != "" {
		s.HostTeam, _ = g.HostTeam(s.ActionWeek)
	}
	return s
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

// record returns the record with id from the chunk, the writer's cache,
// or badger (nil when absent).
func (g *group) record(id string) (*recState, error) {
	if rs, ok := g.recs[id]; ok {
		return rs, nil
	}
	if rs := g.cache.get(id); rs != nil {
		g.recs[id] = rs
		return rs, nil
	}
	rs, err := loadRecord(g.rtx, g.db.schema, g.db.keys, id)
	if errors.Is(err, badger.ErrKeyNotFound) {
		g.recs[id] = nil
		return nil, nil
	}
	if errors.Is(err, errRecordKeyGone) {
		// Erased by retention; this store was restored from an older
		// backup. Only this op is refused, never the chunk.
		return nil, model.Errorf(model.CodeRecordErased, "Record %s was erased under the retention rules; no op can bring it back. Delete its local copy.", id)
	}
	if err != nil {
		return nil, g.fail(err)
	}
	g.recs[id] = rs
	g.cache.put(rs)
	return rs, nil
}

// Erased implements protocol.Tx: the tombstone of a record retention
// erased (retention.go; an erasure runs alone in the writer, so badger's
// view is complete). A record's tombstone is read once per chunk and the
// chunks built on it, not once per op.
func (g *group) Erased(id string) (access.Scope, bool, error) {
	t, err := g.tombstone(id)
	if err != nil || t == nil {
		return access.Scope{}, false, err
	}
	s := t.Scope()
	if s.ActionWeek != "" {
		s.HostTeam, _ = g.HostTeam(s.ActionWeek)
	}
	return s, true, nil
}

// tombstone returns record id's tombstone (nil when it was not erased).
func (g *group) tombstone(id string) (*Tombstone, error) {
	for x := g; x != nil; x = x.parent {
		if t, ok := x.tombs[id]; ok {
			return t, nil
		}
	}
	t, ok, err := readTombstone(g.rtx, id)
	if err != nil {
		return nil, g.fail(err)
	}
	var tp *Tombstone
	if ok {
		tp = &t
	}
	g.tombs[id] = tp
	return tp, nil
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

// apply stores one op decide accepted, with the effects decide decided:
// it sequences the op, merges it into its record, lists and indexes it,
// erases the value it erases, moves the record to the bucket the effects
// name, and changes the host team they name. An *model.Error means the
// op cannot be applied (nothing changed); any other error aborts the
// chunk.
func (g *group) apply(p *protocol.Pending, e *protocol.Effects) error {
	op := p.Op
	rs, err := g.record(op.Record)
	if err != nil {
		return err
	}
	created := rs == nil
	if created {
		rs = &recState{rec: crdt.NewRecord(op.Record, op.Kind), ops: []opSeq{}, compact: true}
	}
	if _, err := rs.rec.Apply(g.db.schema, &op); err != nil {
		return err
	}
	if created {
		g.recs[op.Record] = rs
		g.cache.put(rs)
		g.records++
	}
	scope := e.Scope
	scope.HostTeam = "" // read from w/ when needed
	if scope != rs.scope {
		rs.scope, rs.compact = scope, true // the head holds the scope
	}
	g.summary = e.Summary
	st := &opState{op: op, seq: g.next(), deviceHLC: p.DeviceHLC, redacted: e.Erased}
	g.ops[op.ID] = st
	g.applied = append(g.applied, op.ID)
	var prep *preparedOp
	if g.prepID == op.ID && !st.redacted {
		prep = &g.prep
	}
	n, err := g.putOp(st, prep, rs)
	if err != nil {
		return err
	}
	rs.tailBytes += n
	if e.Erase != "" {
		if err := g.erase(e.Erase); err != nil {
			return err
		}
	}
	if e.HostWeek != "" {
		g.host(e.HostWeek, e.HostTeam)
	}
	g.index(rs, e.Bucket, st.seq)
	g.touch(rs)
	return g.err
}

// touch marks rs as changed by the chunk.
func (g *group) touch(rs *recState) {
	if !rs.dirty {
		rs.dirty = true
		g.dirty = append(g.dirty, rs)
	}
}

// putOp writes an op's meta and its global feed entry (prep, when not
// nil, is the entry prepared ahead: prepare.go). The value of an append
// not erased is sealed with a new data key of its own (datakeys.go), any
// other op's with its record's key (rs: the record, when the op is not
// erased). It returns the length of the op's served JSON.
func (g *group) putOp(st *opState, prep *preparedOp, rs *recState) (int, error) {
	m := opMeta{seq: st.seq, redacted: st.redacted, deviceHLC: st.deviceHLC}
	g.set(opKeyTo(g.carve(len(prefixOp)+len(st.op.ID)), st.op.ID), m.appendTo(g.carve(opMetaLen)))
	fk := feedKeyTo(g.carve(len(prefixFeed)+8), st.seq)
	sealed := !st.redacted && g.db.keys != nil
	if prep == nil {
		op := &st.op
		if st.redacted {
			r := st.op.Redacted()
			op = &r
		}
		full := op.AppendJSON(append(make([]byte, 0, idLen+256+len(op.Value)), op.Record...))
		prep = &preparedOp{feed: full, n: len(full) - idLen}
		if sealed {
			mark := byte(recordSealMark)
			if op.Action == model.ActionAppend {
				mark = sealMark
			}
			r := op.Redacted()
			red := r.AppendJSON(make([]byte, 0, 320))
			prep.feed, prep.mid = sealedHead(mark, op.Record, op.ID, full[idLen:], red)
		}
	}
	if !sealed {
		g.set(fk, prep.feed)
		return prep.n, nil
	}
	// An append's value has a key of its own (a redaction destroys it);
	// every other op's value is sealed with its record's key (retention
	// destroys it).
	var aead cipher.AEAD
	var err error
	if st.op.Action == model.ActionAppend {
		aead, err = g.db.keys.create(st.op.ID)
	} else {
		aead, err = g.recordKey(rs)
	}
	if err != nil {
		return 0, g.fail(err)
	}
	g.set(fk, seal(aead, st.op.ID, prep.feed, prep.mid))
	return prep.n, nil
}

// recordKey returns the data key of rs's record, made once per record
// state the writer holds (create returns the key the record has).
func (g *group) recordKey(rs *recState) (cipher.AEAD, error) {
	if rs.key == nil {
		k, err := g.db.keys.create(recordKeyID(rs.rec.ID))
		if err != nil {
			return nil, err
		}
		rs.key = k
	}
	return rs.key, nil
}

// erase erases the value of stored op id, and has its record compacted
// so that its newest snapshot does not hold the value.
func (g *group) erase(id string) error {
	t, err := g.op(id)
	if err != nil || t == nil || t.redacted {
		return err
	}
	if own, ok := g.ops[id]; !ok || own != t {
		c := *t // a chunk below holds it: copy before changing
		t = &c
		g.ops[id] = t
	}
	t.redacted = true
	if _, err := g.putOp(t, nil, nil); err != nil {
		return err
	}
	g.erased = append(g.erased, id)
	rs, err := g.record(t.op.Record)
	if err != nil || rs == nil {
		return err
	}
	rs.compact = true
	g.touch(rs)
	return nil
}

// index lists the op stored at seq in its record and adds it to the feed
// of bucket b, the record's bucket once the op is applied. When the
// record changes bucket, its entries leave the old bucket (which gets a
// drop marker), every earlier op is indexed again in the new one under a
// new seq, and the record is compacted (its head names its bucket).
func (g *group) index(rs *recState, b string, seq uint64) {
	id := rs.rec.ID
	if b != rs.bucket {
		rs.compact = true
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
		rs.bucket, rs.listed = b, 0
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
}

// finish writes the summary of every record the chunk changed, once, its
// head when it needs compaction, and the counters.
func (g *group) finish() error {
	for _, rs := range g.dirty {
		if rs.needsCompaction() {
			h, err := rs.headOf(g.db.keys)
			if err != nil {
				return err
			}
			g.set(key(prefixRecord, rs.rec.ID), headValue(&h))
			rs.snapSeq, rs.snapLen, rs.tailBytes, rs.compact = h.snapSeq, len(h.snapshot), 0, false
		}
		rs.writeOpList(g.set)
		sum := summarize(rs.rec, g.scopeOf(rs), g.now, g.summary.Of(rs.rec))
		js, err := g.summaryValue(&sum)
		if err != nil {
			return err
		}
		g.set(key(prefixSummary, rs.rec.ID), js)
		rs.dirty, rs.written = false, g.seq
		g.cache.put(rs)
	}
	if len(g.writes) > 0 {
		g.set([]byte(keySeq), uint64Value(g.seq))
		g.set([]byte(keyRecords), uint64Value(g.records))
	}
	return g.err
}

// summaryValue returns the rs/ value of sum, its labels sealed with its
// record's data key (summary.go).
func (g *group) summaryValue(sum *Summary) ([]byte, error) {
	if g.db.keys == nil {
		return encodeSummary(nil, sum)
	}
	aead := g.db.keys.summaryAEAD(sum.ID)
	if aead == nil { // a record of appends only so far
		if _, err := g.db.keys.create(recordKeyID(sum.ID)); err != nil {
			return nil, g.fail(err)
		}
		aead = g.db.keys.summaryAEAD(sum.ID)
	}
	return encodeSummary(aead, sum)
}
