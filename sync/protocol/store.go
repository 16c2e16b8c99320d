// Package protocol holds the push and pull rules of the wire protocol
// (DESIGN §5) independent of HTTP and JSON wire types: per-op results,
// duplicate and id-conflict detection, the scope rule for a record's first
// op, clock-skew re-stamping, access checks on every op pushed and pulled,
// the record limits of the schema (record_too_large, checked after access),
// opaque cursors and pages, and every effect of storing an op (Effects:
// the feed its record is indexed in, host-team changes, the values a
// redaction erases, redact before append, the fields that label a record
// in its summary). It declares the Store it needs, which carries the
// effects out and holds no rule of its own. Push takes a device's raw
// JSON; PushOps takes ops trusted code built with crdt.NewOp, with the
// same checks and decisions.
//
// Invariants: every op of a push gets exactly one result, in order; an op
// is applied only if its result says applied, and a push returns only after
// the store made every applied op durable; every op of a pull is checked
// against the caller's access at the time of the pull.
package protocol

import (
	"context"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// Store is the storage the protocol needs. server/store implements it on
// badger; a replicated log could implement it too (DESIGN §9).
type Store interface {
	// Commit hands ops to the store's single writer. For each op, in
	// order, the writer calls decide with a view that includes every op
	// applied before it (of this call and of other calls gathered into
	// the same group commit); it applies, indexes and sequences the ops
	// decide accepts, makes them durable, and only then returns one
	// Result per op. The writer may call decide again for the same op
	// (when it splits or rebuilds a group): each call gets a fresh copy
	// of the op as it was handed in and sees the state it would then be
	// applied to, and only the last call's result counts. An error means
	// nothing of this call was acknowledged.
	Commit(ctx context.Context, ops []Pending, decide Decide) ([]Result, error)
	// Feed returns up to limit feed entries with sequence > after from the
	// given buckets (or from the global feed when all), in sequence order,
	// the last sequence it read, and whether more entries follow. When a
	// record moves to another bucket, its entries leave the old bucket
	// (which gets a drop marker) and are indexed again in the new one with
	// MovedFrom and PrevSeq set.
	Feed(ctx context.Context, buckets []string, all bool, after uint64, limit int) (FeedPage, error)
	// HostedWeeks returns the ids of the action weeks hosted by teams.
	HostedWeeks(ctx context.Context, teams []string) ([]string, error)
	// LastSeq returns the greatest committed sequence number.
	LastSeq(ctx context.Context) (uint64, error)
}

// Pending is an op on its way to the writer.
type Pending struct {
	Op crdt.Op
	// DeviceHLC is the stamp the device gave the op, kept for audit when
	// the server re-stamped it (zero otherwise).
	DeviceHLC hlc.Timestamp
}

// Tx is the writer's view of the store while it decides one op.
type Tx interface {
	// Op returns the stored op with id, whether its value was redacted,
	// and whether it exists.
	Op(id string) (op crdt.Op, redacted bool, ok bool, err error)
	// Record returns the record's state and scope, if the record exists.
	// The result is the writer's own state, shared with what it applies
	// next: the caller must not modify it (nor keep it past the call).
	Record(id string) (*RecordState, bool, error)
	// HostTeam returns an action week's host team ("" when unknown).
	HostTeam(week string) (string, error)
	// Erased returns the scope record id had when retention erased it
	// (its host team as it is now), and whether it was erased: no op may
	// bring an erased record back.
	Erased(id string) (access.Scope, bool, error)
}

// RecordState is a stored record: its merged state and its scope.
type RecordState struct {
	Record *crdt.Record
	Scope  access.Scope
}

// Decide returns the decision for one op; when its status is applied the
// store applies the op (with any change decide made to *p) and carries out
// the decision's effects, with no rule of its own. It runs on the store's
// single writer, so it must not block, and it may be called again for the
// same op (see Store.Commit): it must depend only on tx and *p, with no
// effect but its decision and *p.
type Decide func(tx Tx, p *Pending) Decision

// Decision is decide's verdict on one op: its result and, when applied,
// what storing it does.
type Decision struct {
	Result  Result
	Effects Effects
}

// Effects are what storing one applied op changes besides storing the op
// and merging it into its record's state (crdt.Record.Apply), all decided
// by protocol: the store carries them out without a rule of its own.
type Effects struct {
	// Scope is the record's scope once the op is applied. The store keeps
	// its Kind, Team, ActionWeek and Creator with the record, and answers
	// HostTeam from the host teams it keeps (HostWeek below).
	Scope access.Scope
	// Bucket is the feed the record's ops are indexed in once the op is
	// applied. When it is not the record's bucket, the record moves: its
	// entries leave the old bucket, which gets a drop marker, and are
	// indexed again in Bucket ("": in none).
	Bucket string
	// HostWeek, when set, is an action week whose host team becomes
	// HostTeam ("": none).
	HostWeek, HostTeam string
	// Erase is the id of a stored op whose value this op erases: a
	// redaction of an entry of the same record and log ("": none).
	Erase string
	// Erased is set when the op is to be stored with its value erased: a
	// redaction of it arrived first (redact before append).
	Erased bool
	// Summary names the fields whose values label the record in its
	// summary (record listings show and filter on them); the store reads
	// them from the record's state once its chunk's ops are applied
	// (zero: no labels). It is SummaryFields for every op protocol
	// decides.
	Summary LabelFields
}

// LabelFields names the fields whose string values label a record.
type LabelFields struct {
	Status, Region, ReviewStatus string
}

// SummaryFields are the label fields of every record: status, region and
// review status.
var SummaryFields = LabelFields{Status: model.FieldStatus, Region: model.FieldRegion, ReviewStatus: model.FieldReviewStatus}

// Labels are the values of a record's label fields.
type Labels struct {
	Status, Region, ReviewStatus string
}

// Of returns rec's labels: the string values of the fields f names (""
// when unnamed, unset or not a string).
func (f LabelFields) Of(rec *crdt.Record) Labels {
	get := func(field string) string {
		if field == "" {
			return ""
		}
		return crdt.String(rec.Value(field))
	}
	return Labels{Status: get(f.Status), Region: get(f.Region), ReviewStatus: get(f.ReviewStatus)}
}

// FeedEntry is one entry of a feed: an op (JSON holds its served form), or,
// when Drop is set, the notice that the record left Bucket.
type FeedEntry struct {
	Seq    uint64
	Bucket string
	Record string
	JSON   []byte
	Drop   bool
	// Erased is set on a drop marker written by a retention erasure.
	Erased bool
	// MovedFrom and PrevSeq are set on an op indexed again after its
	// record moved into Bucket: the bucket it came from and its sequence
	// there, so a reader of both buckets who read it there is not served
	// it twice.
	MovedFrom string
	PrevSeq   uint64
	// Scope is the record's scope now (at the time of the read).
	Scope access.Scope
}

// FeedPage is what Store.Feed returns.
type FeedPage struct {
	Entries []FeedEntry
	// Last is the greatest sequence read (after when nothing was read).
	Last uint64
	More bool
}
