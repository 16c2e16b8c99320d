package protocol_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// snapStore is the fakeStore with protocol.SnapshotStore: the records
// indexed in the buckets asked for (every record when all), in id order.
// leak makes it return every record whatever was asked, and staleBucket
// reports a record under another bucket than its own (a store whose index
// lags), so that Snapshot's own access filter is what the test sees.
type snapStore struct {
	*fakeStore
	leak        bool
	staleBucket map[string]string // record -> bucket reported
	limits      []int
	err         error
}

var _ protocol.SnapshotStore = (*snapStore)(nil)

func (s *snapStore) Snapshot(ctx context.Context, q protocol.SnapshotQuery) (protocol.SnapshotPage, error) {
	buckets, all, after, limit := q.Buckets, q.All, q.After, q.Limit
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits = append(s.limits, limit)
	if s.err != nil {
		return protocol.SnapshotPage{}, s.err
	}
	if q.Cases != nil {
		return protocol.SnapshotPage{}, errors.New("snapStore: open cases first is not modelled (Limits.OpenCases is 0 in these tests)")
	}
	page := protocol.SnapshotPage{Seq: s.seq, Last: after}
	for _, id := range slices.Sorted(func(yield func(string) bool) {
		for id := range s.recs {
			if !yield(id) {
				return
			}
		}
	}) {
		r := s.recs[id]
		bucket := r.bucket
		if b, ok := s.staleBucket[id]; ok {
			bucket = b
		}
		if id <= after || !s.leak && !all && !slices.Contains(buckets, bucket) {
			continue
		}
		if len(page.Records) == limit {
			page.More = true
			break
		}
		page.Records = append(page.Records, protocol.SnapshotRecord{Record: r.rec.Clone(), Scope: s.scopeOf(r), Bucket: bucket})
		page.Last = id
	}
	return page, nil
}

func newSnapWorld(t *testing.T) (*world, *snapStore) {
	w := newWorldWith(t, protocol.Limits{MaxOps: 100, DefaultPull: 30, MaxPull: 50})
	s := &snapStore{fakeStore: w.store, staleBucket: map[string]string{}}
	w.svc.Store = s
	return w, s
}

// snapshotAll reads every page of p's snapshot with limit, checking that
// every page names the same pull cursor.
func snapshotAll(t *testing.T, w *world, p *access.Principal, limit int) (ids []string, pullCursor string, identifications int) {
	t.Helper()
	cursor := ""
	for page := 1; ; page++ {
		res, err := w.svc.Snapshot(t.Context(), p, cursor, limit)
		if err != nil {
			t.Fatalf("page %d: %v", page, err)
		}
		if page > 1 && res.PullCursor != pullCursor {
			t.Errorf("page %d: the pull cursor changed", page)
		}
		if res.ServerHLC.IsZero() {
			t.Errorf("page %d: no server HLC", page)
		}
		pullCursor = res.PullCursor
		for _, r := range res.Records {
			ids = append(ids, r.Record.ID)
		}
		identifications += res.IdentificationRecords
		if !res.More {
			return ids, pullCursor, identifications
		}
		cursor = res.Cursor
		if page > 100 {
			t.Fatal("the snapshot never ends")
		}
	}
}

// TestSnapshotServesWhatPullWould: a snapshot holds exactly the records p
// may read, in id order, over pages of any size; its pull cursor then
// serves only what was committed after the snapshot began, and the read
// audit counts identifications only.
func TestSnapshotServesWhatPullWould(t *testing.T) {
	for _, leak := range []bool{false, true} {
		w, s := newSnapWorld(t)
		s.leak = leak
		a1, _ := w.identification(fwA, teamA)
		a2, _ := w.identification(fwA, teamA)
		w.identification(fwB, teamB)
		w.actionWeek(week1, teamA)
		visit, _ := w.siteVisit(fwA, week1)
		want := slices.Sorted(slices.Values([]string{a1, a2, week1, visit}))
		for _, limit := range []int{0, 1, 3} {
			ids, pullCursor, idents := snapshotAll(t, w, fwA, limit)
			if !slices.Equal(ids, want) {
				t.Errorf("leak %v, limit %d: records %v, want %v", leak, limit, ids, want)
			}
			if got, want := idents, 2; got != want {
				t.Errorf("leak %v, limit %d: %d identification records, want %d", leak, limit, got, want)
			}
			if got := w.pullAll(fwA, pullCursor, 0).ids(); len(got) != 0 {
				t.Errorf("leak %v, limit %d: the pull cursor serves %v again", leak, limit, got)
			}
		}
		code := w.set(fwA, a1, ident, "code", "X-9")
		w.mustApply(fwA, code)
		_, pullCursor, _ := snapshotAll(t, w, fwA, 0)
		w.mustApply(fwA, w.set(fwA, a2, ident, "code", "X-10"))
		if got := w.pullAll(fwA, pullCursor, 0).ids(); len(got) != 1 {
			t.Errorf("leak %v: after the snapshot, pulled %v, want the one later op", leak, got)
		}
	}
}

// TestSnapshotNationalReadsAll: a national supervisor's snapshot reads
// every record (the store is asked for all), whatever bucket it is in.
func TestSnapshotNationalReadsAll(t *testing.T) {
	w, _ := newSnapWorld(t)
	a, _ := w.identification(fwA, teamA)
	b, _ := w.identification(fwB, teamB)
	ids, _, idents := snapshotAll(t, w, supNat, 0)
	if want := slices.Sorted(slices.Values([]string{a, b})); !slices.Equal(ids, want) {
		t.Errorf("records %v, want %v", ids, want)
	}
	if idents != 2 {
		t.Errorf("%d identification records, want 2", idents)
	}
}

// TestSnapshotSkipsStaleBucket: a record the store reports under a
// bucket that is no longer its own is left out (it is served from its
// own bucket), even to a reader of both buckets.
func TestSnapshotSkipsStaleBucket(t *testing.T) {
	w, s := newSnapWorld(t)
	a, _ := w.identification(fwAB, teamA)
	b, _ := w.identification(fwAB, teamB)
	s.staleBucket[b] = access.TeamBucket(teamA)
	ids, _, _ := snapshotAll(t, w, fwAB, 0)
	if want := []string{a}; !slices.Equal(ids, want) {
		t.Errorf("records %v, want %v", ids, want)
	}
}

// TestSnapshotLimitClamp: a snapshot page is a tenth of a pull page: 0
// means a tenth of the default, more than a tenth of the maximum that
// tenth, never less than one record.
func TestSnapshotLimitClamp(t *testing.T) {
	tests := []struct {
		name                 string
		defaultPull, maxPull int
		limit, want          int
	}{
		{"default", 30, 50, 0, 3},
		{"negative is the default", 30, 50, -1, 3},
		{"one", 30, 50, 1, 1},
		{"at the maximum", 30, 50, 5, 5},
		{"over the maximum", 30, 50, 6, 5},
		{"default above the maximum", 90, 50, 0, 5},
		{"tiny limits give one record", 3, 5, 0, 1},
		{"tiny maximum caps at one", 3, 5, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, s := newSnapWorld(t)
			w.svc.Limits.DefaultPull, w.svc.Limits.MaxPull = tt.defaultPull, tt.maxPull
			if _, err := w.svc.Snapshot(t.Context(), fwA, "", tt.limit); err != nil {
				t.Fatal(err)
			}
			if got := s.limits[len(s.limits)-1]; got != tt.want {
				t.Errorf("store asked for %d records, want %d", got, tt.want)
			}
		})
	}
}

// TestSnapshotRefusals: a store without snapshots, a role that does not
// sync, a cursor not issued, a cursor of another view or past the
// store's end, and a store failure each get their own answer.
func TestSnapshotRefusals(t *testing.T) {
	w, s := newSnapWorld(t)
	w.identification(fwA, teamA)
	w.identification(fwA, teamA)
	first, err := w.svc.Snapshot(t.Context(), fwA, "", 1)
	if err != nil || !first.More {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	empty, _ := newSnapWorld(t) // same cursor key, nothing stored
	plain := newWorld(t)

	tests := []struct {
		name   string
		svc    *protocol.Service
		p      *access.Principal
		cursor string
		want   model.Code
	}{
		{"store without snapshots", plain.svc, fwA, "", model.CodeNotFound},
		{"role that does not sync", w.svc, auditor, "", model.CodeForbidden},
		{"cursor not issued", w.svc, fwA, "AAAA", model.CodeInvalidCursor},
		{"pull cursor", w.svc, fwA, first.PullCursor, model.CodeInvalidCursor},
		{"cursor of another view", w.svc, fwB, first.Cursor, model.CodeResyncRequired},
		{"cursor past the store's end", empty.svc, fwA, first.Cursor, model.CodeResyncRequired},
		{"next page", w.svc, fwA, first.Cursor, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.svc.Snapshot(t.Context(), tt.p, tt.cursor, 1)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var me *model.Error
			if !errors.As(err, &me) || me.Code != tt.want {
				t.Fatalf("err = %v, want code %s", err, tt.want)
			}
		})
	}

	s.err = errors.New("disk on fire")
	_, err = w.svc.Snapshot(t.Context(), fwA, "", 1)
	var me *model.Error
	if err == nil || errors.As(err, &me) || !strings.HasPrefix(err.Error(), "snapshot: ") {
		t.Errorf("store failure: err = %v, want an internal error wrapped as snapshot", err)
	}
}

// TestSnapshotPagesKeepTheirSequence: later pages keep the sequence of
// the first, so the pull cursor of every page is the same position even
// when ops are committed between pages.
func TestSnapshotPagesKeepTheirSequence(t *testing.T) {
	w, _ := newSnapWorld(t)
	a, _ := w.identification(fwA, teamA)
	w.identification(fwA, teamA)
	first, err := w.svc.Snapshot(t.Context(), fwA, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	w.mustApply(fwA, w.set(fwA, a, ident, "code", "X-1"))
	second, err := w.svc.Snapshot(t.Context(), fwA, first.Cursor, 1)
	if err != nil {
		t.Fatal(err)
	}
	if second.PullCursor != first.PullCursor {
		t.Error("the second page names another pull cursor")
	}
	if got := w.pullAll(fwA, second.PullCursor, 0).ids(); len(got) != 1 {
		t.Errorf("pulled %v after the snapshot, want the one op committed during it", got)
	}
}
