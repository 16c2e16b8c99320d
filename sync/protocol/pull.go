package protocol

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// PullResult is one page of a pull.
type PullResult struct {
	// Ops holds each op's served JSON.
	Ops    [][]byte
	Cursor string
	More   bool
	Drop   []string
	// Erased holds the records of Drop that retention erased.
	Erased    []string
	ServerHLC hlc.Timestamp
	// IdentificationOps counts the ops of identification records in Ops,
	// and IdentificationRecords the distinct records they belong to: what
	// the read audit of a supervisor's page records (never ids or content).
	IdentificationOps, IdentificationRecords int
}

// Pull returns the next page of ops p may read after cursor. limit is
// clamped to 1..Limits.MaxPull (0 means the default).
func (s *Service) Pull(ctx context.Context, p *access.Principal, cursor string, limit int) (PullResult, error) {
	buckets, all, err := s.feeds(ctx, p)
	if err != nil {
		return PullResult{}, err
	}
	view := viewHash(buckets, all)
	after, err := s.parseCursor(ctx, cursor, view)
	if err != nil {
		return PullResult{}, err
	}
	codec, err := s.cursors()
	if err != nil {
		return PullResult{}, err
	}
	page, err := s.Store.Feed(ctx, buckets, all, after, s.clamp(limit))
	if err != nil {
		return PullResult{}, fmt.Errorf("pull: %w", err)
	}
	res := PullResult{Cursor: codec.encode(page.Last, view), More: page.More, Drop: []string{}, Ops: make([][]byte, 0, len(page.Entries))}
	dropped, identifications := map[string]bool{}, map[string]bool{}
	for _, e := range page.Entries {
		readable := access.CanRead(p, e.Scope)
		switch {
		case e.Drop:
			if !readable && !dropped[e.Record] {
				dropped[e.Record] = true
				res.Drop = append(res.Drop, e.Record)
				if e.Erased {
					res.Erased = append(res.Erased, e.Record)
				}
			}
		case readable && (all || e.Bucket == e.Scope.Bucket()) && !servedBefore(e, buckets, after):
			res.Ops = append(res.Ops, e.JSON)
			if e.Scope.Kind == model.KindIdentification {
				res.IdentificationOps++
				identifications[e.Record] = true
			}
		}
	}
	res.IdentificationRecords = len(identifications)
	res.ServerHLC = s.Clock.Now()
	return res, nil
}

// feeds resolves the feeds p reads: its buckets, or all of them. Pull and
// Changed both read through it, so a device is woken for exactly the ops
// it would be served.
func (s *Service) feeds(ctx context.Context, p *access.Principal) (buckets []string, all bool, err error) {
	if !p.Syncs() {
		return nil, false, model.Errorf(model.CodeForbidden, "Your role (%s) does not sync records.", p.Role)
	}
	hosted, err := s.Store.HostedWeeks(ctx, p.Teams)
	if err != nil {
		return nil, false, fmt.Errorf("resolve feeds: %w", err)
	}
	buckets, all = access.Buckets(p, hosted)
	return buckets, all, nil
}

// LastSeq returns the greatest committed sequence: where a watch for
// changes (Changed) starts.
func (s *Service) LastSeq(ctx context.Context) (uint64, error) {
	seq, err := s.Store.LastSeq(ctx)
	if err != nil {
		return 0, fmt.Errorf("read last sequence: %w", err)
	}
	return seq, nil
}

// Changed reports whether any feed p reads (resolved as Pull resolves it)
// holds entries after since, and the sequence to watch from next. It
// reveals nothing but that bit: the event stream wakes the device, which
// then pulls.
func (s *Service) Changed(ctx context.Context, p *access.Principal, since uint64) (next uint64, changed bool, err error) {
	buckets, all, err := s.feeds(ctx, p)
	if err != nil {
		return since, false, err
	}
	page, err := s.Store.Feed(ctx, buckets, all, since, 1)
	if err != nil {
		return since, false, fmt.Errorf("look for changes: %w", err)
	}
	if len(page.Entries) == 0 {
		return since, false, nil
	}
	last, err := s.LastSeq(ctx)
	return last, err == nil, err
}

// servedBefore reports whether a re-indexed entry's op was already served
// to this cursor from the bucket its record moved out of. The MovedFrom and
// PrevSeq != 0 tests are defensive (equivalent mutants): the Store sets both
// or neither, and "" is never a bucket read.
func servedBefore(e FeedEntry, buckets []string, after uint64) bool {
	return e.MovedFrom != "" && e.PrevSeq != 0 && e.PrevSeq <= after && slices.Contains(buckets, e.MovedFrom)
}

func (s *Service) clamp(limit int) int {
	switch {
	case limit <= 0:
		return s.Limits.DefaultPull
	case limit > s.Limits.MaxPull: // >= is equivalent: MaxPull either way
		return s.Limits.MaxPull
	}
	return limit
}

// viewHash names the set of feeds a device reads; a cursor is only valid
// for the view it was issued for, because a device that gains a feed must
// receive its earlier ops too.
func viewHash(buckets []string, all bool) uint32 {
	h := fnv.New32a()
	if all {
		h.Write([]byte("*"))
	}
	for _, b := range buckets {
		h.Write([]byte(b))
		h.Write([]byte{0})
	}
	return h.Sum32()
}

// parseCursor returns the sequence a cursor stands for: invalid_cursor when
// it is not one this server issued; resync_required when the device's view
// changed or the store no longer holds what the cursor names (a restore
// from an older backup).
func (s *Service) parseCursor(ctx context.Context, cursor string, view uint32) (uint64, error) {
	if cursor == "" {
		return 0, nil
	}
	codec, err := s.cursors()
	if err != nil {
		return 0, err
	}
	seq, v, ok := codec.decode(cursor)
	if !ok {
		return 0, model.Errorf(model.CodeInvalidCursor, "The cursor is not one this server issued; start a pull with an empty cursor.")
	}
	if v != view {
		return 0, model.Errorf(model.CodeResyncRequired, "Your access changed since this cursor was issued; pull again from the beginning.")
	}
	last, err := s.Store.LastSeq(ctx)
	if err != nil {
		return 0, fmt.Errorf("pull: %w", err)
	}
	if seq > last {
		return 0, model.Errorf(model.CodeResyncRequired, "The server no longer holds the changes this cursor names; pull again from the beginning.")
	}
	return seq, nil
}

// cursors returns the service's cursor codec, made on first use from
// CursorKey.
func (s *Service) cursors() (*cursorCodec, error) {
	s.codecOnce.Do(func() { s.codec, s.codecErr = newCursorCodec(s.CursorKey) })
	return s.codec, s.codecErr
}
