package protocol

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// SnapshotStore is what a Store implements to serve compacted bootstrap
// (a device's first sync from record states instead of every op). A Store
// that does not implement it answers snapshot requests not_found.
type SnapshotStore interface {
	// Snapshot returns up to q.Limit records with an id above q.After, in
	// id order, indexed in one of q.Buckets (any record when q.All) and
	// selected by q.Cases (below), each with its full state, scope now
	// and bucket, all read in one consistent read together with the
	// greatest committed sequence (Seq): every state holds exactly the
	// ops committed up to Seq. Last is the last id read (q.After when
	// none), More whether records follow.
	Snapshot(ctx context.Context, q SnapshotQuery) (SnapshotPage, error)
}

// SnapshotQuery selects the records of one snapshot page.
type SnapshotQuery struct {
	Buckets []string
	All     bool
	After   string
	Limit   int
	// Cases, when set, names the open cases, which a snapshot serves
	// before the rest. With OnlyCases the page holds only the records
	// Cases matches; without, it leaves out the records Cases matches
	// whose every op has a sequence at or below Unchanged (the open-cases
	// pages of the same snapshot served them, unchanged since).
	Cases     *CaseFilter
	OnlyCases bool
	Unchanged uint64
}

// CaseFilter describes the open cases as data the store evaluates on a
// record's labels and update time (its summary), with no rule of its own:
// records of Kind whose Status label is one of Statuses, not deleted, and
// updated at or after Since.
type CaseFilter struct {
	Kind     string
	Statuses []string
	Since    time.Time
}

// Match reports whether a record of kind, with status label status,
// deleted or not and last updated at updated, is an open case.
func (f *CaseFilter) Match(kind, status string, deleted bool, updated time.Time) bool {
	return kind == f.Kind && !deleted && slices.Contains(f.Statuses, status) && !updated.Before(f.Since)
}

// OpenStatuses are the statuses of an open case: the identification is
// still being worked on (DOMAIN: potential and presumed victims).
var OpenStatuses = []string{"potential", "presumed"}

// SnapshotRecord is one record of a snapshot page as the store read it.
type SnapshotRecord struct {
	Record *crdt.Record
	Scope  access.Scope
	// Bucket is the feed the record's ops are indexed in.
	Bucket string
}

// SnapshotPage is what SnapshotStore.Snapshot returns.
type SnapshotPage struct {
	Records []SnapshotRecord
	Seq     uint64
	Last    string
	More    bool
}

// SnapshotResult is one page of a snapshot for a device.
type SnapshotResult struct {
	// Records are the states the device may read (crdt snapshots, whose
	// erased values are null).
	Records []SnapshotRecord
	// Cursor asks for the next page; PullCursor is where the device pulls
	// ops from once the last page is in (the same on every page).
	Cursor, PullCursor string
	More               bool
	ServerHLC          hlc.Timestamp
	// OpenCasesDone is set once every open case the device may read is
	// in, this page included: from then on the device is usable while
	// the rest fills in (always with the last page).
	OpenCasesDone bool
	// IdentificationRecords counts the identification records of the
	// page, for the read audit of a supervisor's page.
	IdentificationRecords int
}

// Snapshot returns the next page of the snapshot p may read after cursor
// ("": the first page). Its records are those a pull from an empty
// cursor would serve ops of, under the pull's access rules: a record p
// may not read is never in a page. The first page fixes the sequence S
// the snapshot stands for; every page holds states as of S or later, and
// the device then pulls from PullCursor (S): ops it already holds through
// a state are duplicates the merge ignores, so the device ends as one that
// pulled every op.
//
// Open cases first (Limits.OpenCases > 0): the pages first hold the open
// cases (identifications whose status is open, not deleted, updated
// within Limits.OpenCases of the first page), then every other record.
// The rest leaves out an open case only when none of its ops came after
// S: its state then did not change since S, so it matched the open-cases
// pages too (the cut-off time is fixed in the cursor) and was served
// there. A record that changed since S is served again (merging a state
// twice changes nothing), never lost.
func (s *Service) Snapshot(ctx context.Context, p *access.Principal, cursor string, limit int) (SnapshotResult, error) {
	store, ok := s.Store.(SnapshotStore)
	if !ok {
		return SnapshotResult{}, model.Errorf(model.CodeNotFound, "This server does not serve snapshots; pull from an empty cursor.")
	}
	buckets, all, err := s.feeds(ctx, p)
	if err != nil {
		return SnapshotResult{}, err
	}
	view := viewHash(buckets, all)
	pos, err := s.parseSnapshotCursor(ctx, cursor, view)
	if err != nil {
		return SnapshotResult{}, err
	}
	q := s.snapshotQuery(&pos, buckets, all, limit)
	page, err := store.Snapshot(ctx, q)
	if err != nil {
		return SnapshotResult{}, fmt.Errorf("snapshot: %w", err)
	}
	if cursor == "" {
		pos.seq = page.Seq
	}
	codec, err := s.cursors()
	if err != nil {
		return SnapshotResult{}, err
	}
	next := pos
	next.after = page.Last
	res := SnapshotResult{More: page.More, Records: make([]SnapshotRecord, 0, len(page.Records))}
	switch {
	case pos.phase == phaseOpenCases && !page.More:
		next.phase, next.after, res.More, res.OpenCasesDone = phaseRest, "", true, true
	case pos.phase != phaseOpenCases:
		res.OpenCasesDone = pos.phase == phaseRest || !page.More
	}
	res.Cursor, res.PullCursor = codec.encodeSnapshot(next, view), codec.encode(pos.seq, view)
	for _, r := range page.Records {
		if !access.CanRead(p, r.Scope) || !all && r.Bucket != r.Scope.Bucket() {
			continue
		}
		res.Records = append(res.Records, r)
		if r.Scope.Kind == model.KindIdentification {
			res.IdentificationRecords++
		}
	}
	res.ServerHLC = s.Clock.Now()
	return res, nil
}

// snapshotQuery is the store query of the page at pos.
func (s *Service) snapshotQuery(pos *snapshotPos, buckets []string, all bool, limit int) SnapshotQuery {
	q := SnapshotQuery{Buckets: buckets, All: all, After: pos.after, Limit: s.clampSnapshot(limit)}
	if pos.phase != phaseAll {
		q.Cases = &CaseFilter{Kind: model.KindIdentification, Statuses: OpenStatuses, Since: time.Unix(pos.since, 0)}
		q.OnlyCases, q.Unchanged = pos.phase == phaseOpenCases, pos.seq
	}
	return q
}

// clampSnapshot clamps a snapshot page's size: records weigh more than
// ops, so a page holds at most a tenth of MaxPull records.
func (s *Service) clampSnapshot(limit int) int {
	most := max(s.Limits.MaxPull/10, 1)
	switch {
	case limit <= 0:
		return min(max(s.Limits.DefaultPull/10, 1), most)
	case limit > most:
		return most
	}
	return limit
}

// Phases of a snapshot.
const (
	// phaseAll: every record in id order (open cases first is off).
	phaseAll byte = iota
	// phaseOpenCases: the open cases, in id order.
	phaseOpenCases
	// phaseRest: every record but the open cases served unchanged.
	phaseRest
)

// snapshotPos is where a snapshot stands: the sequence it stands for, its
// phase, the cut-off of its open cases (unix seconds) and the last record
// id read in the phase.
type snapshotPos struct {
	seq   uint64
	phase byte
	since int64
	after string
}

// parseSnapshotCursor returns the position a snapshot cursor stands for
// (the first page's for the empty cursor), with the errors of parseCursor.
func (s *Service) parseSnapshotCursor(ctx context.Context, cursor string, view uint32) (snapshotPos, error) {
	if cursor == "" {
		if s.Limits.OpenCases <= 0 {
			return snapshotPos{phase: phaseAll}, nil
		}
		return snapshotPos{phase: phaseOpenCases, since: s.Now().Add(-s.Limits.OpenCases).Unix()}, nil
	}
	codec, err := s.cursors()
	if err != nil {
		return snapshotPos{}, err
	}
	pos, v, ok := codec.decodeSnapshot(cursor)
	if !ok {
		return snapshotPos{}, model.Errorf(model.CodeInvalidCursor, "The snapshot cursor is not one this server issued; start the snapshot with an empty cursor.")
	}
	if v != view {
		return snapshotPos{}, model.Errorf(model.CodeResyncRequired, "Your access changed since this snapshot began; start it again with an empty cursor.")
	}
	last, err := s.Store.LastSeq(ctx)
	if err != nil {
		return snapshotPos{}, fmt.Errorf("snapshot: %w", err)
	}
	if pos.seq > last {
		return snapshotPos{}, model.Errorf(model.CodeResyncRequired, "The server no longer holds the changes this snapshot stands for; start it again with an empty cursor.")
	}
	return pos, nil
}

// Versions of a sealed snapshot cursor's plaintext (its first byte).
// Version 3: sequence, view, then the last record id read (every record
// in id order). Version 4: sequence, view, phase, open-cases cut-off
// (8 bytes), then the last record id read. Ids are at most model's id
// length, so every snapshot cursor is short.
const (
	snapshotVersion3 = 3
	snapshotVersion  = 4
)

// snapshotPlain is a version-4 plaintext's length before the record id.
const snapshotPlain = cursorPlain + 1 + 8

// encodeSnapshot seals a snapshot cursor.
func (c *cursorCodec) encodeSnapshot(pos snapshotPos, view uint32) string {
	plain := make([]byte, 0, snapshotPlain+len(pos.after))
	plain = append(plain, snapshotVersion)
	plain = binary.BigEndian.AppendUint64(plain, pos.seq)
	plain = binary.BigEndian.AppendUint32(plain, view)
	plain = append(plain, pos.phase)
	plain = binary.BigEndian.AppendUint64(plain, uint64(pos.since))
	plain = append(plain, pos.after...)
	return c.seal(plain)
}

// decodeSnapshot opens a snapshot cursor this codec sealed (version 4, or
// version 3 as issued before open cases first: the whole snapshot in id
// order).
func (c *cursorCodec) decodeSnapshot(cursor string) (pos snapshotPos, view uint32, ok bool) {
	plain, ok := c.open(cursor)
	if !ok || len(plain) < cursorPlain {
		return snapshotPos{}, 0, false
	}
	pos.seq, view = binary.BigEndian.Uint64(plain[1:9]), binary.BigEndian.Uint32(plain[9:13])
	switch {
	case plain[0] == snapshotVersion3:
		pos.phase, pos.after = phaseAll, string(plain[13:])
	case plain[0] == snapshotVersion && len(plain) >= snapshotPlain && plain[13] <= phaseRest:
		pos.phase, pos.since, pos.after = plain[13], int64(binary.BigEndian.Uint64(plain[14:22])), string(plain[22:])
	default:
		return snapshotPos{}, 0, false
	}
	return pos, view, true
}
