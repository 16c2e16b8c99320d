package protocol_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// fakeStore is protocol.Store in memory, a second store built from the
// Store contract alone (DESIGN §9): one writer (Commit holds the lock)
// that decides each op against a view holding every op applied before it,
// a global feed and per-bucket feeds sharing one sequence, and the
// effects decide returns carried out with no rule of its own: a drop
// marker in a record's old bucket when it moves (its earlier ops
// re-indexed in the new bucket under new sequences), erasure of stored
// append ops, and action weeks' host teams. It injects faults on demand:
// a failing Commit (commitErr) or any one failing call (faults).
type fakeStore struct {
	schema *model.Schema

	mu      sync.Mutex
	seq     uint64
	ops     map[string]*fakeOp
	feed    map[uint64]*fakeFeedEntry // global feed by seq
	order   []uint64                  // global feed seqs, ascending
	buckets map[string][]fakeBucketEntry
	recs    map[string]*fakeRecord
	hosts   map[string]string // action week -> host team
	// erased holds the scopes of records retention erased.
	erased map[string]access.Scope

	// keepStale leaves a moved record's entries in its old bucket, as a
	// store that never deletes index entries would; Pull must still serve
	// each op only from the record's current bucket.
	keepStale bool
	// commitErr, when set, makes Commit fail with nothing applied: before
	// deciding any op, or with failLate after deciding every op (as a
	// store whose disk write fails after the writer ran).
	commitErr error
	failLate  bool
	// faults, when set, names every call to the store and its Tx and
	// fails one of them.
	faults *faults
	// commits counts Commit calls; feedLimits records each Feed's limit.
	commits    int
	feedLimits []int
}

type fakeOp struct {
	op        crdt.Op
	seq       uint64
	redacted  bool
	deviceHLC hlc.Timestamp
}

type fakeFeedEntry struct {
	record string
	json   []byte
}

// fakeBucketEntry is an op (fseq: its global feed entry) or a drop marker.
type fakeBucketEntry struct {
	seq, fseq uint64
	record    string
	drop      bool
	// movedFrom and prevSeq: where a re-indexed op was indexed before.
	movedFrom string
	prevSeq   uint64
}

type fakeRecord struct {
	rec *crdt.Record
	// scope is the record's scope as the last op's effects gave it.
	scope  access.Scope
	bucket string
	fseqs  []uint64 // the record's ops, by global seq
	bseqs  []uint64 // each op's seq in the record's current bucket
}

var (
	_ protocol.Store = (*fakeStore)(nil)
	_ protocol.Tx    = fakeTx{}
)

// errFault is the failure faults inject.
var errFault = errors.New("injected store fault")

// faults fails the failAt-th call (counting from 1; 0 fails none) to a
// fakeStore or its Tx with errFault. calls names every call made, in
// order, with the op being decided for Tx calls.
type faults struct {
	failAt int

	mu      sync.Mutex // apart from the store's: Tx calls come under its lock
	calls   []string
	current string // id of the op being decided
}

// fail records a call and returns errFault if it is the failAt-th; it
// does nothing without faults.
func (s *fakeStore) fail(name string) error {
	f := s.faults
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.current != "" {
		name += "@" + f.current
	}
	f.calls = append(f.calls, name)
	if len(f.calls) == f.failAt {
		return fmt.Errorf("%s: %w", name, errFault)
	}
	return nil
}

// deciding names the op being decided (none: "") in the calls recorded.
func (s *fakeStore) deciding(id string) {
	if f := s.faults; f != nil {
		f.mu.Lock()
		f.current = id
		f.mu.Unlock()
	}
}

func newFakeStore(schema *model.Schema) *fakeStore {
	return &fakeStore{
		schema:  schema,
		ops:     map[string]*fakeOp{},
		feed:    map[uint64]*fakeFeedEntry{},
		buckets: map[string][]fakeBucketEntry{},
		recs:    map[string]*fakeRecord{},
		hosts:   map[string]string{},
		erased:  map[string]access.Scope{},
	}
}

// Commit implements protocol.Store.
func (s *fakeStore) Commit(ctx context.Context, ops []protocol.Pending, decide protocol.Decide) ([]protocol.Result, error) {
	if err := s.fail("Commit"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits++
	tx := fakeTx{s}
	if s.commitErr != nil {
		for i := 0; s.failLate && i < len(ops); i++ {
			decide(tx, &ops[i])
		}
		return nil, s.commitErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	results := make([]protocol.Result, len(ops))
	for i := range ops {
		p := ops[i] // decide may change its copy
		s.deciding(p.Op.ID)
		d := decide(tx, &p)
		s.deciding("")
		res := d.Result
		if res.Status == protocol.StatusApplied {
			if known, ok := s.ops[p.Op.ID]; ok {
				res = protocol.Result{ID: p.Op.ID, Status: protocol.StatusDuplicate, HLC: known.op.HLC.String()}
			} else if err := s.apply(&p, &d.Effects); err != nil {
				var me *model.Error
				if !errors.As(err, &me) {
					return nil, err
				}
				res = protocol.Result{ID: p.Op.ID, Status: protocol.StatusRejected, Code: me.Code, Message: me.Message}
			}
		}
		results[i] = res
	}
	return results, nil
}

func (s *fakeStore) next() uint64 {
	s.seq++
	return s.seq
}

func (s *fakeStore) hostTeam(week string) string { return s.hosts[week] }

// scopeOf returns r's scope now: as stored, with its action week's host
// team as it is now.
func (s *fakeStore) scopeOf(r *fakeRecord) access.Scope {
	scope := r.scope
	if scope.ActionWeek != "" {
		scope.HostTeam = s.hosts[scope.ActionWeek]
	}
	return scope
}

// apply stores an op decide accepted with its effects (the lock is held).
func (s *fakeStore) apply(p *protocol.Pending, e *protocol.Effects) error {
	op := p.Op
	r, ok := s.recs[op.Record]
	created := !ok
	if created {
		r = &fakeRecord{rec: crdt.NewRecord(op.Record, op.Kind)}
	}
	if _, err := r.rec.Apply(s.schema, &op); err != nil {
		return err
	}
	if created {
		s.recs[op.Record] = r
	}
	r.scope = e.Scope
	st := &fakeOp{op: op, seq: s.next(), deviceHLC: p.DeviceHLC, redacted: e.Erased}
	s.ops[op.ID] = st
	s.putFeed(st)
	if t, ok := s.ops[e.Erase]; ok {
		t.redacted = true
		s.putFeed(t)
	}
	if e.HostWeek != "" {
		if e.HostTeam == "" {
			delete(s.hosts, e.HostWeek)
		} else {
			s.hosts[e.HostWeek] = e.HostTeam
		}
	}
	s.index(r, e.Bucket, st.seq)
	return nil
}

// putFeed writes (or rewrites) an op's global feed entry: its served JSON.
func (s *fakeStore) putFeed(st *fakeOp) {
	op := st.op
	if st.redacted {
		op = op.Redacted()
	}
	if _, ok := s.feed[st.seq]; !ok {
		s.order = append(s.order, st.seq)
	}
	s.feed[st.seq] = &fakeFeedEntry{record: op.Record, json: op.AppendJSON(nil)}
}

// index adds the op at seq to bucket b, the record's bucket after the op.
// When the record changes bucket, its old bucket gets a drop marker (and
// loses the record's entries unless keepStale) and its earlier ops are
// indexed again in b under new sequences.
func (s *fakeStore) index(r *fakeRecord, b string, seq uint64) {
	id := r.rec.ID
	if b != r.bucket {
		if r.bucket != "" {
			if !s.keepStale {
				s.buckets[r.bucket] = slices.DeleteFunc(s.buckets[r.bucket], func(e fakeBucketEntry) bool { return e.record == id })
			}
			s.buckets[r.bucket] = append(s.buckets[r.bucket], fakeBucketEntry{seq: s.next(), record: id, drop: true})
		}
		for i, fseq := range r.fseqs {
			prev := r.bseqs[i]
			r.bseqs[i] = 0
			if b != "" {
				r.bseqs[i] = s.next()
				s.buckets[b] = append(s.buckets[b], fakeBucketEntry{seq: r.bseqs[i], fseq: fseq, record: id, movedFrom: r.bucket, prevSeq: prev})
			}
		}
		r.bucket = b
	}
	var bseq uint64
	if b != "" {
		bseq = seq
		s.buckets[b] = append(s.buckets[b], fakeBucketEntry{seq: seq, fseq: seq, record: id})
	}
	r.fseqs = append(r.fseqs, seq)
	r.bseqs = append(r.bseqs, bseq)
}

// Feed implements protocol.Store.
func (s *fakeStore) Feed(ctx context.Context, buckets []string, all bool, after uint64, limit int) (protocol.FeedPage, error) {
	if err := s.fail("Feed"); err != nil {
		return protocol.FeedPage{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.feedLimits = append(s.feedLimits, limit)
	if limit <= 0 {
		return protocol.FeedPage{}, fmt.Errorf("fake feed: limit %d", limit)
	}
	var entries []protocol.FeedEntry
	if all {
		for _, seq := range s.order {
			if seq > after {
				f := s.feed[seq]
				entries = append(entries, protocol.FeedEntry{Seq: seq, Record: f.record, JSON: slices.Clone(f.json)})
			}
		}
	} else {
		for _, b := range slices.Compact(slices.Sorted(slices.Values(buckets))) {
			for _, e := range s.buckets[b] {
				if e.seq <= after {
					continue
				}
				fe := protocol.FeedEntry{Seq: e.seq, Bucket: b, Record: e.record, Drop: e.drop, MovedFrom: e.movedFrom, PrevSeq: e.prevSeq}
				if !e.drop {
					fe.JSON = slices.Clone(s.feed[e.fseq].json)
				}
				entries = append(entries, fe)
			}
		}
		slices.SortFunc(entries, func(a, b protocol.FeedEntry) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	page := protocol.FeedPage{Last: after}
	if len(entries) > limit {
		entries, page.More = entries[:limit], true
	}
	for i := range entries {
		entries[i].Scope = s.scopeOf(s.recs[entries[i].Record])
		page.Last = entries[i].Seq
	}
	page.Entries = entries
	return page, nil
}

// HostedWeeks implements protocol.Store.
func (s *fakeStore) HostedWeeks(ctx context.Context, teams []string) ([]string, error) {
	if err := s.fail("HostedWeeks"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var weeks []string
	for w, team := range s.hosts {
		if slices.Contains(teams, team) {
			weeks = append(weeks, w)
		}
	}
	slices.Sort(weeks)
	return weeks, nil
}

// LastSeq implements protocol.Store.
func (s *fakeStore) LastSeq(ctx context.Context) (uint64, error) {
	if err := s.fail("LastSeq"); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq, nil
}

// stored returns the stored op with id.
func (s *fakeStore) stored(id string) (fakeOp, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.ops[id]
	if !ok {
		return fakeOp{}, false
	}
	return *st, true
}

// record returns a copy of record id's state and its scope.
func (s *fakeStore) record(id string) (*crdt.Record, access.Scope, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[id]
	if !ok {
		return nil, access.Scope{}, false
	}
	return r.rec.Clone(), s.scopeOf(r), true
}

// fakeTx is the writer's view: the store itself, under the writer's lock.
type fakeTx struct{ s *fakeStore }

// Op implements protocol.Tx.
func (tx fakeTx) Op(id string) (crdt.Op, bool, bool, error) {
	if err := tx.s.fail("Op"); err != nil {
		return crdt.Op{}, false, false, err
	}
	st, ok := tx.s.ops[id]
	if !ok {
		return crdt.Op{}, false, false, nil
	}
	if st.redacted {
		return st.op.Redacted(), true, true, nil
	}
	return st.op, false, true, nil
}

// Record implements protocol.Tx.
func (tx fakeTx) Record(id string) (*protocol.RecordState, bool, error) {
	if err := tx.s.fail("Record"); err != nil {
		return nil, false, err
	}
	r, ok := tx.s.recs[id]
	if !ok {
		return nil, false, nil
	}
	return &protocol.RecordState{Record: r.rec, Scope: tx.s.scopeOf(r)}, true, nil
}

// HostTeam implements protocol.Tx.
func (tx fakeTx) HostTeam(week string) (string, error) {
	if err := tx.s.fail("HostTeam"); err != nil {
		return "", err
	}
	return tx.s.hosts[week], nil
}

// Erased implements protocol.Tx.
func (tx fakeTx) Erased(id string) (access.Scope, bool, error) {
	if err := tx.s.fail("Erased"); err != nil {
		return access.Scope{}, false, err
	}
	s, ok := tx.s.erased[id]
	return s, ok, nil
}

// ---------------------------------------------------------------------
// The world the push and pull tests run in.

// uid returns a canonical lowercase UUID numbered n.
func uid(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

var (
	teamA = uid(1)
	teamB = uid(2)
	week1 = uid(11) // hosted by team A once created
	week2 = uid(12) // hosted by team B once created

	// now is the server's wall clock in every test.
	now = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
)

// Principals: one device each.
var (
	fwA     = &access.Principal{User: uid(21), Device: uid(41), Role: model.RoleFieldWorker, Teams: []string{teamA}}
	fwA2    = &access.Principal{User: uid(31), Device: uid(51), Role: model.RoleFieldWorker, Teams: []string{teamA}}
	fwB     = &access.Principal{User: uid(22), Device: uid(42), Role: model.RoleFieldWorker, Teams: []string{teamB}}
	fwAB    = &access.Principal{User: uid(32), Device: uid(52), Role: model.RoleFieldWorker, Teams: []string{teamA, teamB}}
	leadA   = &access.Principal{User: uid(23), Device: uid(43), Role: model.RoleTeamLead, Teams: []string{teamA}}
	supA    = &access.Principal{User: uid(24), Device: uid(44), Role: model.RoleSupervisor, Teams: []string{teamA}}
	supAB   = &access.Principal{User: uid(34), Device: uid(54), Role: model.RoleSupervisor, Teams: []string{teamA, teamB}}
	supNat  = &access.Principal{User: uid(25), Device: uid(45), Role: model.RoleSupervisor}
	visitW1 = &access.Principal{User: uid(26), Device: uid(46), Role: model.RoleVisitor, ActionWeek: week1, ValidUntil: now.Add(72 * time.Hour), WeekHostTeam: teamA}
	visitW2 = &access.Principal{User: uid(36), Device: uid(56), Role: model.RoleVisitor, ActionWeek: week2, ValidUntil: now.Add(72 * time.Hour), WeekHostTeam: teamB}
	auditor = &access.Principal{User: uid(27), Device: uid(47), Role: model.RoleAuditor}
	admin   = &access.Principal{User: uid(28), Device: uid(48), Role: model.RoleAdmin}
)

// world is a Service over a fakeStore with a fixed clock.
type world struct {
	t     *testing.T
	store *fakeStore
	svc   *protocol.Service
	n     int // last generated id number
	tick  int // stamps handed out
	// applied lists the ids of every op a push applied, in order.
	applied []string
}

func newWorld(t *testing.T) *world {
	return newWorldWith(t, protocol.DefaultLimits)
}

func newWorldWith(t *testing.T, limits protocol.Limits) *world {
	t.Helper()
	schema := model.DefaultSchema()
	wall := func() time.Time { return now }
	store := newFakeStore(schema)
	return &world{
		t:     t,
		store: store,
		svc:   &protocol.Service{Schema: schema, Store: store, Clock: hlc.NewClock(wall, 0), Now: wall, Limits: limits, CursorKey: []byte("test cursor key")},
		n:     100000,
	}
}

// id returns a fresh id.
func (w *world) id() string {
	w.n++
	return uid(w.n)
}

// stamp returns a fresh stamp an hour in the past.
func (w *world) stamp() hlc.Timestamp {
	w.tick++
	return hlc.New(now.Add(-time.Hour).UnixMilli(), uint16(w.tick))
}

// op is an op under construction, as a device sends it.
type op map[string]any

// newOp returns a set op of p's device with a fresh id and stamp.
func (w *world) newOp(p *access.Principal, record, kind, field string, action model.Action, value any) op {
	o := op{"id": w.id(), "record": record, "kind": kind, "field": field, "action": string(action),
		"hlc": w.stamp().String(), "device": p.Device, "base": []string{}}
	if value != nil {
		o["value"] = value
	}
	return o
}

func (w *world) set(p *access.Principal, record, kind, field string, value any) op {
	return w.newOp(p, record, kind, field, model.ActionSet, value)
}

// with returns a copy of o with key set to v.
func (o op) with(key string, v any) op {
	c := op{}
	for k, x := range o {
		c[k] = x
	}
	c[key] = v
	return c
}

// without returns a copy of o without key.
func (o op) without(key string) op {
	c := op{}
	for k, x := range o {
		if k != key {
			c[k] = x
		}
	}
	return c
}

func (o op) id() string { return o["id"].(string) }

func (o op) raw() json.RawMessage {
	b, err := json.Marshal(map[string]any(o))
	if err != nil {
		panic(err)
	}
	return b
}

// push pushes raw ops for p and fails the test on a whole-request error.
func (w *world) push(p *access.Principal, ops ...any) protocol.PushResult {
	w.t.Helper()
	raws := make([]json.RawMessage, len(ops))
	for i, o := range ops {
		switch o := o.(type) {
		case op:
			raws[i] = o.raw()
		case json.RawMessage:
			raws[i] = o
		case string:
			raws[i] = json.RawMessage(o)
		default:
			w.t.Fatalf("push: cannot send %T", o)
		}
	}
	res, err := w.svc.Push(context.Background(), p, raws)
	if err != nil {
		w.t.Fatalf("push: %v", err)
	}
	if len(res.Results) != len(ops) {
		w.t.Fatalf("push of %d ops: %d results", len(ops), len(res.Results))
	}
	for _, r := range res.Results {
		if r.Status == protocol.StatusApplied {
			w.applied = append(w.applied, r.ID)
		}
	}
	return res
}

// mustApply pushes ops for p and fails the test unless every one applied.
func (w *world) mustApply(p *access.Principal, ops ...any) protocol.PushResult {
	w.t.Helper()
	res := w.push(p, ops...)
	for i, r := range res.Results {
		if r.Status != protocol.StatusApplied {
			w.t.Fatalf("op %d: %+v, want applied", i, r)
		}
	}
	return res
}

// identification creates an identification of team by p and returns its
// id and the team op's id.
func (w *world) identification(p *access.Principal, team string) (record, teamOp string) {
	w.t.Helper()
	record = w.id()
	o := w.set(p, record, model.KindIdentification, model.FieldTeam, team)
	w.mustApply(p, o)
	return record, o.id()
}

// actionWeek creates action week id hosted by team (by the national
// supervisor) and returns the host_team op's id.
func (w *world) actionWeek(id, team string) string {
	w.t.Helper()
	o := w.set(supNat, id, model.KindActionWeek, model.FieldHostTeam, team)
	w.mustApply(supNat, o, w.set(supNat, id, model.KindActionWeek, "name", "Week "+id[len(id)-2:]))
	return o.id()
}

// siteVisit creates a site visit of week by p and returns its id and the
// action_week op's id.
func (w *world) siteVisit(p *access.Principal, wk string) (record, weekOp string) {
	w.t.Helper()
	record = w.id()
	o := w.set(p, record, model.KindSiteVisit, model.FieldActionWeek, wk)
	w.mustApply(p, o, w.set(p, record, model.KindSiteVisit, "town", "Fier"))
	return record, o.id()
}

// pull pulls one page for p.
func (w *world) pull(p *access.Principal, cursor string, limit int) (protocol.PullResult, error) {
	return w.svc.Pull(context.Background(), p, cursor, limit)
}

// pulled is what a device holds after pulling to the end.
type pulled struct {
	ops    []crdt.Op // in order of arrival
	drop   []string
	cursor string
	pages  int
}

func (pl *pulled) ids() []string {
	ids := make([]string, len(pl.ops))
	for i := range pl.ops {
		ids[i] = pl.ops[i].ID
	}
	return ids
}

// pullAll pulls for p from cursor with limit until no more follow.
func (w *world) pullAll(p *access.Principal, cursor string, limit int) *pulled {
	w.t.Helper()
	pl := &pulled{cursor: cursor}
	for {
		res, err := w.pull(p, pl.cursor, limit)
		if err != nil {
			w.t.Fatalf("pull page %d: %v", pl.pages+1, err)
		}
		pl.pages++
		for _, js := range res.Ops {
			o, err := crdt.DecodeOp(js)
			if err != nil {
				w.t.Fatalf("pulled op %s: %v", js, err)
			}
			pl.ops = append(pl.ops, o)
		}
		pl.drop = append(pl.drop, res.Drop...)
		if res.Cursor == "" {
			w.t.Fatalf("pull page %d: empty cursor", pl.pages)
		}
		pl.cursor = res.Cursor
		if !res.More {
			return pl
		}
		if pl.pages > 10000 {
			w.t.Fatal("pull never ends")
		}
	}
}
