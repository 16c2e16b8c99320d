package protocol

import (
	"context"
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// PullResult is one page of a pull.
type PullResult struct {
	// Ops holds each op's served JSON.
	Ops       [][]byte
	Cursor    string
	More      bool
	Drop      []string
	ServerHLC hlc.Timestamp
}

// Pull returns the next page of ops p may read after cursor. limit is
// clamped to 1..Limits.MaxPull (0 means the default).
func (s *Service) Pull(ctx context.Context, p *access.Principal, cursor string, limit int) (PullResult, error) {
	if !p.Syncs() {
		return PullResult{}, model.Errorf(model.CodeForbidden, "Your role (%s) does not sync records.", p.Role)
	}
	hosted, err := s.Store.HostedWeeks(ctx, p.Teams)
	if err != nil {
		return PullResult{}, fmt.Errorf("pull: %w", err)
	}
	buckets, all := access.Buckets(p, hosted)
	view := viewHash(buckets, all)
	after, err := s.parseCursor(ctx, cursor, view)
	if err != nil {
		return PullResult{}, err
	}
	page, err := s.Store.Feed(ctx, buckets, all, after, s.clamp(limit))
	if err != nil {
		return PullResult{}, fmt.Errorf("pull: %w", err)
	}
	res := PullResult{Cursor: encodeCursor(page.Last, view), More: page.More, Drop: []string{}, Ops: make([][]byte, 0, len(page.Entries))}
	dropped := map[string]bool{}
	for _, e := range page.Entries {
		readable := access.CanRead(p, e.Scope)
		switch {
		case e.Drop:
			if !readable && !dropped[e.Record] {
				dropped[e.Record] = true
				res.Drop = append(res.Drop, e.Record)
			}
		case readable && (all || e.Bucket == e.Scope.Bucket()) && !servedBefore(e, buckets, after):
			res.Ops = append(res.Ops, e.JSON)
		}
	}
	res.ServerHLC = s.Clock.Now()
	return res, nil
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

const cursorVersion = "c1"

// encodeCursor makes the opaque cursor: a version, the last sequence read
// and the view it was read under.
func encodeCursor(seq uint64, view uint32) string {
	raw := cursorVersion + "." + strconv.FormatUint(seq, 36) + "." + strconv.FormatUint(uint64(view), 36)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// parseCursor returns the sequence a cursor stands for: invalid_cursor when
// it does not parse; resync_required when the device's view changed or the
// store no longer holds what the cursor names (a restore from an older
// backup).
func (s *Service) parseCursor(ctx context.Context, cursor string, view uint32) (uint64, error) {
	if cursor == "" {
		return 0, nil
	}
	seq, v, ok := decodeCursor(cursor)
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

func decodeCursor(cursor string) (seq uint64, view uint32, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, 0, false
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 3 || parts[0] != cursorVersion {
		return 0, 0, false
	}
	seq, err1 := strconv.ParseUint(parts[1], 36, 64)
	v, err2 := strconv.ParseUint(parts[2], 36, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return seq, uint32(v), true
}
