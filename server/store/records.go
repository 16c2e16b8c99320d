package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// DefaultListLimit is the page size of ListRecords when the filter sets
// none.
const DefaultListLimit = 100

// Summary is what record lists show of a record. It is stored with the
// record (rs/) and never holds record content beyond the listed fields.
type Summary struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Team is an identification's team.
	Team string `json:"team,omitempty"`
	// ActionWeek is a site visit's action week, or an action week's own id.
	ActionWeek string `json:"action_week,omitempty"`
	// HostTeam is the host team of ActionWeek, as it is at the time of the
	// read.
	HostTeam     string   `json:"host_team,omitempty"`
	Status       string   `json:"status,omitempty"`
	Region       string   `json:"region,omitempty"`
	ReviewStatus string   `json:"review_status,omitempty"`
	Conflicts    []string `json:"conflicts,omitempty"`
	Deleted      bool     `json:"deleted"`
	// HLC is the greatest hlc of the record's ops.
	HLC string `json:"hlc"`
	// UpdatedAt is the server's wall time when an op was last applied to
	// the record.
	UpdatedAt time.Time `json:"updated_at"`
	// Creator is the user whose op created the record at the server.
	Creator string `json:"creator"`
}

// Scope returns the access scope the summary describes.
func (s *Summary) Scope() access.Scope {
	return access.Scope{Kind: s.Kind, Team: s.Team, ActionWeek: s.ActionWeek, HostTeam: s.HostTeam, Creator: s.Creator}
}

// summarize builds the summary of rec in scope, updated at now, with the
// labels protocol names (the store has no rule of its own for them).
func summarize(rec *crdt.Record, scope access.Scope, now time.Time, l protocol.Labels) Summary {
	return Summary{
		ID:           rec.ID,
		Kind:         rec.Kind,
		Team:         scope.Team,
		ActionWeek:   scope.ActionWeek,
		HostTeam:     scope.HostTeam,
		Status:       l.Status,
		Region:       l.Region,
		ReviewStatus: l.ReviewStatus,
		Conflicts:    rec.Conflicts(),
		Deleted:      rec.Deleted(),
		HLC:          rec.HLC.String(),
		UpdatedAt:    now.UTC(),
		Creator:      scope.Creator,
	}
}

// ListFilter selects and pages the records ListRecords returns. Empty
// fields select everything.
type ListFilter struct {
	Kind   string
	Status string
	// Team matches an identification's team, or the host team of an
	// action week or site visit.
	Team         string
	Region       string
	ReviewStatus string
	// HasConflicts, when set, selects records with (true) or without
	// (false) conflicting register values.
	HasConflicts *bool
	// UpdatedSince selects records updated at or after it (zero: all).
	UpdatedSince time.Time
	// Visible decides which records the caller may see (nil: all).
	Visible func(access.Scope) bool
	// After is the cursor ListRecords returned for the previous page ("":
	// the first page).
	After string
	// Limit is the page size (0: DefaultListLimit).
	Limit int
}

func (f *ListFilter) match(s *Summary) bool {
	switch {
	case f.Kind != "" && s.Kind != f.Kind,
		f.Status != "" && s.Status != f.Status,
		f.Team != "" && s.Team != f.Team && !(s.Team == "" && s.HostTeam == f.Team),
		f.Region != "" && s.Region != f.Region,
		f.ReviewStatus != "" && s.ReviewStatus != f.ReviewStatus,
		f.HasConflicts != nil && (len(s.Conflicts) > 0) != *f.HasConflicts,
		!f.UpdatedSince.IsZero() && s.UpdatedAt.Before(f.UpdatedSince):
		return false
	}
	return f.Visible == nil || f.Visible(s.Scope())
}

// ListRecords returns one page of the summaries f selects, ordered by
// record id, and the cursor of the next page ("" after the last).
func (db *DB) ListRecords(ctx context.Context, f ListFilter) ([]Summary, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	out := []Summary{}
	next := ""
	err := db.view(ctx, func(txn *badger.Txn) error {
		sr := newScopeReader(txn)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefixSummary), PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		n := 0
		for it.Seek(key(prefixSummary, f.After)); it.Valid(); it.Next() {
			if n++; n%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			id := string(it.Item().Key()[len(prefixSummary):])
			if id == f.After {
				continue
			}
			s, err := sr.decodeSummary(db.keys, id, it.Item())
			if errors.Is(err, errRecordKeyGone) {
				continue
			}
			if err != nil {
				return err
			}
			if !f.match(&s) {
				continue
			}
			if len(out) == limit {
				next = out[len(out)-1].ID
				return nil
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list records: %w", err)
	}
	return out, next, nil
}

// Record returns record id's state and its scope now; CodeNotFound when
// the store holds no such record.
func (db *DB) Record(ctx context.Context, id string) (*protocol.RecordState, error) {
	var st *protocol.RecordState
	err := db.view(ctx, func(txn *badger.Txn) error {
		rs, err := loadRecord(txn, db.schema, db.keys, id)
		if err != nil {
			return err
		}
		scope := rs.scope
		if scope.ActionWeek != "" {
			if scope.HostTeam, err = newScopeReader(txn).hostTeam(scope.ActionWeek); err != nil {
				return err
			}
		}
		st = &protocol.RecordState{Record: rs.rec, Scope: scope}
		return nil
	})
	if errors.Is(err, badger.ErrKeyNotFound) || errors.Is(err, errRecordKeyGone) {
		// A record whose key is gone was erased by retention (this store
		// was restored from a backup older than the erasure).
		return nil, notFound("There is no record %s.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read record: %w", err)
	}
	return st, nil
}

// History returns every op of record id, sorted by (hlc, device, id),
// redacted values null; CodeNotFound when the store holds no such record.
func (db *DB) History(ctx context.Context, id string) ([]crdt.Op, error) {
	var ops []crdt.Op
	err := db.view(ctx, func(txn *badger.Txn) error {
		if _, err := txn.Get(key(prefixRecord, id)); err != nil {
			return err
		}
		seqs, err := readOpList(txn, id)
		if err != nil {
			return err
		}
		ops = make([]crdt.Op, 0, len(seqs))
		for _, s := range seqs {
			v, err := getValue(txn, feedKey(s.fseq))
			if err != nil {
				return fmt.Errorf("read op at seq %d: %w", s.fseq, err)
			}
			_, js, err := splitFeedValue(db.keys, v)
			if err != nil {
				return err
			}
			op, err := crdt.DecodeStored(js)
			if err != nil {
				return fmt.Errorf("decode op at seq %d: %w", s.fseq, err)
			}
			ops = append(ops, op)
		}
		return nil
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, notFound("There is no record %s.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	crdt.SortOps(ops)
	return ops, nil
}

// RecordCount returns the number of records stored (deleted ones
// included).
func (db *DB) RecordCount(ctx context.Context) (int, error) {
	var n uint64
	err := db.view(ctx, func(txn *badger.Txn) error {
		var err error
		n, err = getUint(txn, keyRecords)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("count records: %w", err)
	}
	return int(n), nil
}

// scopeReader reads records' scopes within one read transaction, caching
// scopes and host teams.
type scopeReader struct {
	txn    *badger.Txn
	scopes map[string]access.Scope
	hosts  map[string]string
}

func newScopeReader(txn *badger.Txn) *scopeReader {
	return &scopeReader{txn: txn, scopes: map[string]access.Scope{}, hosts: map[string]string{}}
}

// hostTeam returns week's host team ("" when unknown).
func (sr *scopeReader) hostTeam(week string) (string, error) {
	if t, ok := sr.hosts[week]; ok {
		return t, nil
	}
	v, err := getValue(sr.txn, key(prefixWeekHost, week))
	if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		return "", fmt.Errorf("read host team of %s: %w", week, err)
	}
	sr.hosts[week] = string(v)
	return string(v), nil
}

// scope returns record's scope now (the zero Scope, which nobody may
// read, when the record has no summary).
func (sr *scopeReader) scope(record string) (access.Scope, error) {
	if s, ok := sr.scopes[record]; ok {
		return s, nil
	}
	item, err := sr.txn.Get(key(prefixSummary, record))
	if errors.Is(err, badger.ErrKeyNotFound) {
		sr.scopes[record] = access.Scope{}
		return access.Scope{}, nil
	}
	if err != nil {
		return access.Scope{}, fmt.Errorf("read summary of %s: %w", record, err)
	}
	var s access.Scope
	err = item.Value(func(v []byte) error {
		s, err = decodeSummaryScope(record, v)
		return err
	})
	if err != nil {
		return access.Scope{}, err
	}
	if s.ActionWeek != "" {
		if s.HostTeam, err = sr.hostTeam(s.ActionWeek); err != nil {
			return access.Scope{}, err
		}
	}
	sr.scopes[record] = s
	return s, nil
}

// decodeSummary decodes the rs/ item of record id, its labels opened
// with ks, and resolves its host team as it is now. A record whose key
// is gone (erased by retention; this store restored from an older
// backup) is errRecordKeyGone.
func (sr *scopeReader) decodeSummary(ks *dataKeys, id string, item *badger.Item) (Summary, error) {
	var s Summary
	err := item.Value(func(v []byte) error {
		var err error
		s, err = decodeSummaryValue(ks, id, v)
		return err
	})
	if err != nil {
		return Summary{}, err
	}
	if s.ActionWeek != "" {
		t, err := sr.hostTeam(s.ActionWeek)
		if err != nil {
			return Summary{}, err
		}
		s.HostTeam = t
	}
	return s, nil
}

// cmpErr returns the first non-nil of a and b.
func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
