package protocol

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// Limits bound what one request may ask.
type Limits struct {
	// MaxOps is the most ops one push may carry.
	MaxOps int
	// DefaultPull and MaxPull are the default and largest pull page.
	DefaultPull int
	MaxPull     int
	// MaxSkew is how far ahead of the server's clock an op may be stamped
	// before the server re-stamps it.
	MaxSkew time.Duration
	// OpenCases is how recently an open case must have been updated to
	// be served before the rest of a snapshot (0: no open cases first;
	// the snapshot is in record id order).
	OpenCases time.Duration
}

// DefaultLimits are the limits of DESIGN §5.
var DefaultLimits = Limits{MaxOps: 1000, DefaultPull: 1000, MaxPull: 5000, MaxSkew: 5 * time.Minute, OpenCases: 90 * 24 * time.Hour}

// Service applies the protocol rules over a Store.
type Service struct {
	Schema *model.Schema
	Store  Store
	Clock  *hlc.Clock
	// Now is the server's wall clock.
	Now    func() time.Time
	Limits Limits
	// CursorKey is the secret pull cursors are sealed with; it must stay
	// the same across restarts for cursors to stay valid (empty: a random
	// key for this process).
	CursorKey []byte

	codecOnce sync.Once
	codec     *cursorCodec
	codecErr  error
}

// PushResult is the outcome of a push.
type PushResult struct {
	Results   []Result
	ServerHLC hlc.Timestamp
	// Applied holds the applied ops (with the server's stamp and user),
	// for the audit log.
	Applied []crdt.Op
}

// Push checks and applies the ops of one push for p, in order. Whole-request
// problems are returned as errors (*model.Error, nothing applied); each op's
// own problems are its rejected result.
func (s *Service) Push(ctx context.Context, p *access.Principal, raw []json.RawMessage) (PushResult, error) {
	return s.push(ctx, p, len(raw), func(i int) (crdt.Op, Result, bool) {
		op, err := crdt.DecodeOp(raw[i])
		if err != nil {
			return crdt.Op{}, rejected(idOf(raw[i]), err), false
		}
		return op, Result{}, true
	})
}

// PushOps is Push for ops trusted code built with crdt.NewOp (demo
// seeding, tools): every check and decision of Push, without a round
// trip through JSON. The ops are not modified.
func (s *Service) PushOps(ctx context.Context, p *access.Principal, ops []crdt.Op) (PushResult, error) {
	return s.push(ctx, p, len(ops), func(i int) (crdt.Op, Result, bool) { return ops[i], Result{}, true })
}

// push checks n ops, the i-th given by op, and commits those that pass.
func (s *Service) push(ctx context.Context, p *access.Principal, n int, op func(i int) (crdt.Op, Result, bool)) (PushResult, error) {
	if n > s.Limits.MaxOps {
		return PushResult{}, model.Errorf(model.CodeTooManyOps, "A push may carry at most %d ops; this one has %d. Split it into smaller batches.", s.Limits.MaxOps, n)
	}
	if !p.Syncs() {
		return PushResult{}, model.Errorf(model.CodeForbidden, "Your role (%s) does not sync records.", p.Role)
	}
	results := make([]Result, n)
	var appliedOps []crdt.Op
	pending := make([]Pending, 0, n)
	index := make([]int, 0, n)
	for i := range n {
		o, res, ok := op(i)
		if ok {
			var pd Pending
			pd, res, ok = s.prepare(p, o)
			if ok {
				pending = append(pending, pd)
				index = append(index, i)
				continue
			}
		}
		results[i] = res
	}
	if len(pending) > 0 {
		committed, err := s.Store.Commit(ctx, pending, func(tx Tx, pd *Pending) Decision { return s.decide(tx, p, pd) })
		if err != nil {
			return PushResult{}, fmt.Errorf("commit push: %w", err)
		}
		for j, res := range committed {
			results[index[j]] = res
			if res.Status == StatusApplied {
				appliedOps = append(appliedOps, pending[j].Op)
			}
		}
	}
	return PushResult{Results: results, ServerHLC: s.Clock.Now(), Applied: appliedOps}, nil
}

// prepare validates and stamps one decoded op outside the writer.
func (s *Service) prepare(p *access.Principal, op crdt.Op) (Pending, Result, bool) {
	if err := crdt.Validate(s.Schema, &op); err != nil {
		return Pending{}, rejected(op.ID, err), false
	}
	if op.Device != p.Device {
		return Pending{}, rejected(op.ID, model.Errorf(model.CodeForbidden, "A device pushes only the ops it wrote; this op names device %s.", op.Device)), false
	}
	op.User = p.User
	pd := Pending{Op: op}
	if s.tooFarAhead(op.HLC) {
		pd.DeviceHLC = op.HLC
		pd.Op.HLC = s.Clock.Now()
	} else {
		_, _ = s.Clock.Update(op.HLC) // cannot drift: tooFarAhead checked it
	}
	return pd, Result{}, true
}

func (s *Service) tooFarAhead(t hlc.Timestamp) bool {
	return t.Millis() > s.Now().Add(s.Limits.MaxSkew).UnixMilli()
}

// idOf recovers an op's id for its result when the op did not decode.
func idOf(raw json.RawMessage) string {
	var v struct {
		ID any `json:"id"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	id, _ := v.ID.(string)
	return id
}

// decide runs inside the store's single writer: it checks the op and
// decides every effect of storing it.
func (s *Service) decide(tx Tx, p *access.Principal, pd *Pending) Decision {
	op := &pd.Op
	stored, redacted, known, err := tx.Op(op.ID)
	if err != nil {
		return reject(op.ID, err)
	}
	if known {
		if !crdt.SameContent(&stored, op, redacted) {
			return reject(op.ID, model.Errorf(model.CodeIDConflict, "Another op with id %s, different content, is already stored.", op.ID))
		}
		return Decision{Result: duplicate(op.ID, stored.HLC)}
	}
	if err := checkErased(tx, p, op.Record); err != nil {
		return reject(op.ID, err)
	}
	st, err := record(tx, op.Record)
	if err != nil {
		return reject(op.ID, err)
	}
	if st != nil && !access.CanWrite(p, st.Scope) {
		// Before any other check: nothing may reveal a record the caller
		// cannot read.
		return reject(op.ID, model.Errorf(model.CodeForbidden, "You may not write this record."))
	}
	rtx := &readTx{Tx: tx}
	w, err := rtx.check(s.write(rtx, st, op))
	if err != nil {
		return reject(op.ID, err)
	}
	if err := access.CheckWrite(s.Schema, p, w); err != nil {
		return reject(op.ID, err)
	}
	if err := checkWeekReference(tx, op, w.After); err != nil {
		return reject(op.ID, err)
	}
	if err := s.checkSize(st, op); err != nil {
		return reject(op.ID, err)
	}
	eff, err := s.effects(tx, st, op, w)
	if err != nil {
		return reject(op.ID, err)
	}
	return Decision{Result: applied(op.ID, op.HLC), Effects: eff}
}

// record returns record id's state from tx, nil when it does not exist.
func record(tx Tx, id string) (*RecordState, error) {
	st, exists, err := tx.Record(id)
	// || vs && is equivalent (mutant): a Tx returns a nil state when the record does not exist, and never exists with an error.
	if err != nil || !exists {
		return nil, err
	}
	return st, nil
}

// checkErased refuses an op on a record retention erased: it is
// rejected record_erased, a final answer, rather than acknowledged,
// because the op is not stored (applied and duplicate promise that it
// is), and a device that does not know the code keeps the op aside for
// its user instead of losing it silently; a device that knows it deletes
// the op and its copy of the record, as the pull's drop tells it to. A
// caller who could not write the record gets forbidden, as for a record
// that exists: the answer reveals nothing it could not read.
func checkErased(tx Tx, p *access.Principal, record string) error {
	scope, erased, err := tx.Erased(record)
	switch {
	case err != nil:
		return err
	case !erased:
		return nil
	case p != nil && !access.CanWrite(p, scope):
		return model.Errorf(model.CodeForbidden, "You may not write this record.")
	}
	return model.Errorf(model.CodeRecordErased, "Record %s was erased under the retention rules; no op can bring it back. Delete its local copy.", record)
}

func reject(id string, err error) Decision { return Decision{Result: rejected(id, err)} }

// Plan returns the effects of storing op as tx stands, with none of the
// access rules: for trusted writers (seeding, tools, tests) that decide
// on their own whether an op is applied. It fails when the op cannot be
// applied to its record at all.
func (s *Service) Plan(tx Tx, op *crdt.Op) (Effects, error) {
	if err := checkErased(tx, nil, op.Record); err != nil {
		return Effects{}, err
	}
	st, err := record(tx, op.Record)
	if err != nil {
		return Effects{}, err
	}
	rtx := &readTx{Tx: tx}
	w, err := rtx.check(s.write(rtx, st, op))
	if err != nil {
		return Effects{}, err
	}
	return s.effects(tx, st, op, w)
}

// effects decides what storing op does besides storing it: where its
// record is indexed, the host team an action week gets, the value a
// redaction erases and whether the op arrives erased. st is op's record
// (nil when new) and w the write the access check saw.
func (s *Service) effects(tx Tx, st *RecordState, op *crdt.Op, w access.Write) (Effects, error) {
	e := Effects{Scope: w.After, Bucket: w.After.Bucket(), Summary: SummaryFields}
	// st == nil only spends a read (equivalent mutant): a week not yet stored has no host team, and only a host_team op changes one.
	if op.Kind == model.KindActionWeek && (st == nil || s.movesScope(op)) {
		old, err := tx.HostTeam(op.Record)
		if err != nil {
			return Effects{}, err
		}
		if old != w.After.HostTeam {
			e.HostWeek, e.HostTeam = op.Record, w.After.HostTeam
		}
	}
	switch op.Action {
	case model.ActionAppend:
		e.Erased = st != nil && st.Record.RedactionPending(op.Field, op.ID)
	case model.ActionRedact:
		if len(op.Base) != 1 {
			break
		}
		t, redacted, ok, err := tx.Op(op.Base[0])
		if err != nil {
			return Effects{}, err
		}
		if ok && !redacted && t.Record == op.Record && t.Field == op.Field && t.Action == model.ActionAppend {
			e.Erase = t.ID
		}
	}
	return e, nil
}

// checkSize refuses an op that would grow its record past the schema's
// record limits (crdt.CheckLimits), after the access check so that only
// a caller who may write the record learns it is full. The record's size
// is kept with its state, so the check costs nothing per op of history.
func (s *Service) checkSize(st *RecordState, op *crdt.Op) error {
	rec := crdt.NewRecord(op.Record, op.Kind)
	if st != nil {
		rec = st.Record
	}
	return crdt.CheckLimits(s.Schema, rec, op)
}

// checkWeekReference refuses an identification's action_week naming a
// week not hosted by the identification's team: every reader of a record
// reads its state, and an id of a record a reader may not read would
// confirm that record exists (DESIGN §6). The refusal is the same whether
// the week does not exist or is hosted elsewhere.
func checkWeekReference(tx Tx, op *crdt.Op, after access.Scope) error {
	if op.Kind != model.KindIdentification || op.Field != model.FieldActionWeek || crdt.IsNull(op.Value) {
		return nil
	}
	var week string
	if json.Unmarshal(op.Value, &week) != nil {
		return model.Errorf(model.CodeInvalidValue, "The value of %q must be a UUID in canonical lowercase form.", op.Field)
	}
	host, err := tx.HostTeam(week)
	if err != nil {
		return err
	}
	if host == "" || host != after.Team {
		return model.Errorf(model.CodeInvalidValue, "An identification's %q names an action week hosted by the identification's team.", op.Field)
	}
	return nil
}

// write describes op for the access check (st is its record, nil when
// new; the caller checked that it may be written): the record's scope
// before and after it, the scope its own value names (when it moves the record), its
// shown values and its registers' siblings.
func (s *Service) write(tx Tx, st *RecordState, op *crdt.Op) (access.Write, error) {
	hostTeam := func(week string) string { t, _ := tx.HostTeam(week); return t }
	exists := st != nil
	w := access.Write{Op: op, Exists: exists}
	rec := crdt.NewRecord(op.Record, op.Kind)
	creator := op.User
	if exists {
		if st.Record.Kind != op.Kind {
			return w, model.Errorf(model.CodeKindMismatch, "Record %s is not a %s; an op writes to a record as the kind it was created with.", op.Record, op.Kind)
		}
		w.Before, w.Shown, w.Siblings, creator = st.Scope, st.Record.Value, st.Record.Siblings, st.Scope.Creator
		if !s.movesScope(op) {
			w.After = st.Scope
			return w, nil
		}
		rec = st.Record.Clone()
	}
	if _, err := rec.Apply(s.Schema, op); err != nil {
		return w, err
	}
	w.After = access.ScopeOf(rec, creator, hostTeam)
	if !exists && w.After.Bucket() == "" {
		return w, model.Errorf(model.CodeUnknownRecord, "Record %s is not known to the server; its first op must set its %s.", op.Record, s.Schema.Kinds[op.Kind].Scope)
	}
	if s.movesScope(op) {
		named := crdt.NewRecord(op.Record, op.Kind)
		if _, err := named.Apply(s.Schema, op); err != nil {
			return w, err
		}
		scope := access.ScopeOf(named, creator, hostTeam)
		w.Named = &scope
	}
	return w, nil
}

// movesScope reports whether op writes a field that decides where its
// record lives: the kind's scope field (an identification's team, a site
// visit's action week) or an action week's host_team. Such an op needs
// the right to write both where the record is and where the op puts it.
func (s *Service) movesScope(op *crdt.Op) bool {
	return op.Field == s.Schema.Kinds[op.Kind].Scope || op.Kind == model.KindActionWeek && op.Field == model.FieldHostTeam
}
