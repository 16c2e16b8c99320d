package protocol

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// SnapshotStore is what a Store implements to serve compacted bootstrap
// (a device's first sync from record states instead of every op). A Store
// that does not implement it answers snapshot requests not_found.
type SnapshotStore interface {
	// Snapshot returns up to limit records with an id above after, in id
	// order, indexed in one of buckets (any record when all), each with
	// its full state, scope now and bucket, all read in one consistent
	// read together with the greatest committed sequence (Seq): every
	// state holds exactly the ops committed up to Seq. Last is the last
	// id read (after when none), More whether records follow.
	Snapshot(ctx context.Context, buckets []string, all bool, after string, limit int) (SnapshotPage, error)
}

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
	seq, after, err := s.parseSnapshotCursor(ctx, cursor, view)
	if err != nil {
		return SnapshotResult{}, err
	}
	page, err := store.Snapshot(ctx, buckets, all, after, s.clampSnapshot(limit))
	if err != nil {
		return SnapshotResult{}, fmt.Errorf("snapshot: %w", err)
	}
	if cursor == "" {
		seq = page.Seq
	}
	codec, err := s.cursors()
	if err != nil {
		return SnapshotResult{}, err
	}
	res := SnapshotResult{Cursor: codec.encodeSnapshot(seq, view, page.Last), PullCursor: codec.encode(seq, view), More: page.More,
		Records: make([]SnapshotRecord, 0, len(page.Records))}
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

// parseSnapshotCursor returns the sequence and last record id a snapshot
// cursor stands for (0 and "" for the empty cursor), with the errors of
// parseCursor.
func (s *Service) parseSnapshotCursor(ctx context.Context, cursor string, view uint32) (uint64, string, error) {
	if cursor == "" {
		return 0, "", nil
	}
	codec, err := s.cursors()
	if err != nil {
		return 0, "", err
	}
	seq, v, after, ok := codec.decodeSnapshot(cursor)
	if !ok {
		return 0, "", model.Errorf(model.CodeInvalidCursor, "The snapshot cursor is not one this server issued; start the snapshot with an empty cursor.")
	}
	if v != view {
		return 0, "", model.Errorf(model.CodeResyncRequired, "Your access changed since this snapshot began; start it again with an empty cursor.")
	}
	last, err := s.Store.LastSeq(ctx)
	if err != nil {
		return 0, "", fmt.Errorf("snapshot: %w", err)
	}
	if seq > last {
		return 0, "", model.Errorf(model.CodeResyncRequired, "The server no longer holds the changes this snapshot stands for; start it again with an empty cursor.")
	}
	return seq, after, nil
}

// snapshotVersion is the first byte of a sealed snapshot cursor's
// plaintext: version, sequence, view, then the last record id read (at
// most model's id length, so every snapshot cursor is short).
const snapshotVersion = 3

// encodeSnapshot seals a snapshot cursor.
func (c *cursorCodec) encodeSnapshot(seq uint64, view uint32, after string) string {
	plain := make([]byte, 0, cursorPlain+len(after))
	plain = append(plain, snapshotVersion)
	plain = binary.BigEndian.AppendUint64(plain, seq)
	plain = binary.BigEndian.AppendUint32(plain, view)
	plain = append(plain, after...)
	return c.seal(plain)
}

// decodeSnapshot opens a snapshot cursor this codec sealed.
func (c *cursorCodec) decodeSnapshot(cursor string) (seq uint64, view uint32, after string, ok bool) {
	plain, ok := c.open(cursor)
	if !ok || len(plain) < cursorPlain || plain[0] != snapshotVersion {
		return 0, 0, "", false
	}
	return binary.BigEndian.Uint64(plain[1:9]), binary.BigEndian.Uint32(plain[9:13]), string(plain[13:]), true
}
