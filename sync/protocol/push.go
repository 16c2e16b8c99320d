package protocol

import (
	"context"
	"encoding/json"
	"fmt"
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
}

// DefaultLimits are the limits of DESIGN §5.
var DefaultLimits = Limits{MaxOps: 1000, DefaultPull: 1000, MaxPull: 5000, MaxSkew: 5 * time.Minute}

// Service applies the protocol rules over a Store.
type Service struct {
	Schema *model.Schema
	Store  Store
	Clock  *hlc.Clock
	// Now is the server's wall clock.
	Now    func() time.Time
	Limits Limits
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
	if len(raw) > s.Limits.MaxOps {
		return PushResult{}, model.Errorf(model.CodeTooManyOps, "A push may carry at most %d ops; this one has %d. Split it into smaller batches.", s.Limits.MaxOps, len(raw))
	}
	if !p.Syncs() {
		return PushResult{}, model.Errorf(model.CodeForbidden, "Your role (%s) does not sync records.", p.Role)
	}
	results := make([]Result, len(raw))
	var appliedOps []crdt.Op
	pending := make([]Pending, 0, len(raw))
	index := make([]int, 0, len(raw))
	for i, r := range raw {
		pd, res, ok := s.prepare(p, r)
		if !ok {
			results[i] = res
			continue
		}
		pending = append(pending, pd)
		index = append(index, i)
	}
	if len(pending) > 0 {
		committed, err := s.Store.Commit(ctx, pending, func(tx Tx, pd *Pending) Result { return s.decide(tx, p, pd) })
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

// prepare decodes, validates and stamps one op outside the writer.
func (s *Service) prepare(p *access.Principal, raw json.RawMessage) (Pending, Result, bool) {
	op, err := crdt.DecodeOp(raw)
	if err != nil {
		return Pending{}, rejected(idOf(raw), err), false
	}
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

// decide runs inside the store's single writer.
func (s *Service) decide(tx Tx, p *access.Principal, pd *Pending) Result {
	op := &pd.Op
	stored, redacted, known, err := tx.Op(op.ID)
	if err != nil {
		return rejected(op.ID, err)
	}
	if known {
		if !crdt.SameContent(&stored, op, redacted) {
			return rejected(op.ID, model.Errorf(model.CodeIDConflict, "Another op with id %s, different content, is already stored.", op.ID))
		}
		return duplicate(op.ID, stored.HLC)
	}
	rtx := &readTx{Tx: tx}
	w, err := rtx.check(s.write(rtx, p, op))
	if err != nil {
		return rejected(op.ID, err)
	}
	if err := access.CheckWrite(s.Schema, p, w); err != nil {
		return rejected(op.ID, err)
	}
	return applied(op.ID, op.HLC)
}

// write describes op for the access check: the record's scope before and
// after it, and its shown values.
func (s *Service) write(tx Tx, p *access.Principal, op *crdt.Op) (access.Write, error) {
	hostTeam := func(week string) string { t, _ := tx.HostTeam(week); return t }
	st, exists, err := tx.Record(op.Record)
	if err != nil {
		return access.Write{}, err
	}
	w := access.Write{Op: op, Exists: exists}
	rec := crdt.NewRecord(op.Record, op.Kind)
	creator := op.User
	if exists {
		if !access.CanWrite(p, st.Scope) {
			// Before the kind check: nothing may reveal a record the
			// caller cannot read.
			return w, model.Errorf(model.CodeForbidden, "You may not write this record.")
		}
		if st.Record.Kind != op.Kind {
			return w, model.Errorf(model.CodeKindMismatch, "Record %s is a %s; this op writes to it as a %s.", op.Record, st.Record.Kind, op.Kind)
		}
		w.Before, w.Shown, creator = st.Scope, st.Record.Value, st.Scope.Creator
		if op.Field != s.Schema.Kinds[op.Kind].Scope && op.Field != model.FieldHostTeam {
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
	return w, nil
}
