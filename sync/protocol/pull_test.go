package protocol_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/access"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// populate fills w with records of both teams and both weeks, written by
// the roles that may write them, and returns the ids of records by name.
func populate(w *world) map[string]string {
	w.t.Helper()
	recs := map[string]string{}
	w.actionWeek(week1, teamA)
	w.actionWeek(week2, teamB)
	for i := range 3 {
		rec, _ := w.identification(fwA, teamA)
		recs[fmt.Sprintf("A%d", i)] = rec
		w.mustApply(fwA,
			w.set(fwA, rec, ident, "code", fmt.Sprintf("A-%d", i)),
			w.newOp(fwA, rec, ident, "notes", model.ActionAppend, map[string]string{"text": "note"}),
			w.newOp(fwA, rec, ident, "indicators", model.ActionAdd, "debt_bondage"),
		)
	}
	for i := range 2 {
		rec, _ := w.identification(fwB, teamB)
		recs[fmt.Sprintf("B%d", i)] = rec
		w.mustApply(fwB, w.set(fwB, rec, ident, "code", fmt.Sprintf("B-%d", i)))
	}
	vis, _ := w.identification(visitW1, teamA)
	recs["visitor's"] = vis
	w.mustApply(visitW1, w.set(visitW1, vis, ident, "code", "V-1"))
	recs["sv W1"], _ = w.siteVisit(visitW1, week1)
	recs["sv W1 by fw"], _ = w.siteVisit(fwA, week1)
	recs["sv W2"], _ = w.siteVisit(visitW2, week2)
	w.mustApply(supA, w.set(supA, recs["A0"], ident, "status", "identified"), w.set(supA, recs["A1"], ident, "review_status", "reviewed"))
	return recs
}

// readable returns the ids of the applied ops of records p may read now.
func (w *world) readable(p *access.Principal) []string {
	w.t.Helper()
	var ids []string
	for _, id := range w.applied {
		st, ok := w.store.stored(id)
		if !ok {
			w.t.Fatalf("applied op %s not stored", id)
		}
		if _, scope, _ := w.store.record(st.op.Record); access.CanRead(p, scope) {
			ids = append(ids, id)
		}
	}
	return ids
}

// checkOnce fails unless got holds each id of want exactly once and
// nothing else.
func checkOnce(t *testing.T, name string, got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("%s: op %s pulled %d times", name, id, n)
		}
		if !slices.Contains(want, id) {
			t.Errorf("%s: op %s pulled but not readable", name, id)
		}
	}
	for _, id := range want {
		if seen[id] == 0 {
			t.Errorf("%s: op %s never pulled", name, id)
		}
	}
}

var syncing = map[string]*access.Principal{
	"fw A": fwA, "fw B": fwB, "fw A+B": fwAB, "lead A": leadA, "sup A": supA, "sup A+B": supAB,
	"national supervisor": supNat, "visitor W1": visitW1, "visitor W2": visitW2,
}

// TestPullPagesCoverEveryOpOnce: whatever the page size, a device pulling
// to the end receives every op its user may read, exactly once.
func TestPullPagesCoverEveryOpOnce(t *testing.T) {
	w := newWorld(t)
	populate(w)
	for name, p := range syncing {
		want := w.readable(p)
		if len(want) == 0 {
			t.Fatalf("%s may read nothing; the world is too small", name)
		}
		for _, limit := range []int{0, 1, 2, 3, 7, 1000} {
			pl := w.pullAll(p, "", limit)
			checkOnce(t, fmt.Sprintf("%s, limit %d", name, limit), pl.ids(), want)
			if len(pl.drop) != 0 {
				t.Errorf("%s, limit %d: drop %v without any loss", name, limit, pl.drop)
			}
			if limit == 1 && pl.pages < len(want) {
				t.Errorf("%s, limit 1: %d pages for %d ops", name, pl.pages, len(want))
			}
		}
	}
}

// TestPullInterleavedWithPushes: ops committed between pages are pulled
// too, each once.
func TestPullInterleavedWithPushes(t *testing.T) {
	w := newWorld(t)
	recs := populate(w)
	for name, p := range syncing {
		cursor, got := "", []string{}
		for round := range 4 {
			res, err := w.pull(p, cursor, 3)
			if err != nil {
				t.Fatalf("%s round %d: %v", name, round, err)
			}
			for _, js := range res.Ops {
				got = append(got, opID(t, js))
			}
			cursor = res.Cursor
			// New writes everywhere, between pages.
			w.mustApply(fwA, w.set(fwA, recs["A2"], ident, "region", fmt.Sprintf("r%d", round)))
			w.mustApply(fwB, w.set(fwB, recs["B1"], ident, "region", fmt.Sprintf("r%d", round)))
			w.mustApply(visitW1, w.set(visitW1, recs["sv W1"], visit, "summary", fmt.Sprintf("s%d", round)))
			w.mustApply(visitW2, w.set(visitW2, recs["sv W2"], visit, "summary", fmt.Sprintf("s%d", round)))
		}
		pl := w.pullAll(p, cursor, 3)
		checkOnce(t, name, append(got, pl.ids()...), w.readable(p))
	}
}

func opID(t *testing.T, js []byte) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatalf("pulled op %s: %v", js, err)
	}
	return v.ID
}

// TestPullFiltersUnreadable: a pull never carries an op of a record its
// user may not read.
func TestPullFiltersUnreadable(t *testing.T) {
	w := newWorld(t)
	recs := populate(w)
	tests := []struct {
		name  string
		p     *access.Principal
		reads []string
	}{
		{"fw A", fwA, []string{"A0", "A1", "A2", "visitor's", "sv W1", "sv W1 by fw", week1}},
		{"fw B", fwB, []string{"B0", "B1", "sv W2", week2}},
		{"sup A", supA, []string{"A0", "A1", "A2", "visitor's", "sv W1", "sv W1 by fw", week1}},
		{"national supervisor", supNat, []string{"A0", "A1", "A2", "B0", "B1", "visitor's", "sv W1", "sv W1 by fw", "sv W2", week1, week2}},
		// Write without read: the visitor never gets back the
		// identification they created.
		{"visitor W1", visitW1, []string{"sv W1", "sv W1 by fw", week1}},
		{"visitor W2", visitW2, []string{"sv W2", week2}},
	}
	for _, tt := range tests {
		var want []string
		for _, r := range tt.reads {
			if id, ok := recs[r]; ok {
				want = append(want, id)
			} else {
				want = append(want, r)
			}
		}
		slices.Sort(want)
		var got []string
		for _, o := range w.pullAll(tt.p, "", 4).ops {
			got = append(got, o.Record)
		}
		slices.Sort(got)
		got = slices.Compact(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s pulled ops of records %v, want %v", tt.name, got, want)
		}
	}
}

func TestPullRoleThatDoesNotSync(t *testing.T) {
	w := newWorld(t)
	populate(w)
	for _, p := range []*access.Principal{auditor, admin} {
		res, err := w.pull(p, "", 0)
		if got, want := model.ErrorCode(err), model.CodeForbidden; got != want {
			t.Errorf("%s: pull error %v (code %q), want code %q", p.Role, err, got, want)
		}
		if len(res.Ops) != 0 {
			t.Errorf("%s pulled %d ops", p.Role, len(res.Ops))
		}
	}
}

// TestPullLimitClamp: 0 means the default page, more than the maximum the
// maximum, anything between itself.
func TestPullLimitClamp(t *testing.T) {
	w := newWorldWith(t, protocol.Limits{MaxOps: 100, DefaultPull: 3, MaxPull: 5, MaxSkew: 5 * time.Minute})
	rec, _ := w.identification(fwA, teamA)
	for i := range 9 {
		w.mustApply(fwA, w.set(fwA, rec, ident, "region", fmt.Sprintf("r%d", i)))
	}
	tests := []struct {
		limit, want int
	}{
		{0, 3},
		{1, 1},
		{2, 2},
		{4, 4},
		{5, 5},
		{6, 5},
		{1 << 30, 5},
	}
	for _, tt := range tests {
		res, err := w.pull(fwA, "", tt.limit)
		if err != nil {
			t.Fatalf("limit %d: %v", tt.limit, err)
		}
		if got := len(res.Ops); got != tt.want {
			t.Errorf("limit %d: page of %d ops, want %d", tt.limit, got, tt.want)
		}
		if got := w.store.feedLimits[len(w.store.feedLimits)-1]; got != tt.want {
			t.Errorf("limit %d: store asked for %d entries, want %d", tt.limit, got, tt.want)
		}
		if !res.More {
			t.Errorf("limit %d: more = false with 10 ops", tt.limit)
		}
	}
}

// TestPullDefaultLimits: DESIGN §5's default page is 1,000, the largest
// 5,000.
func TestPullDefaultLimits(t *testing.T) {
	w := newWorld(t)
	for _, tt := range []struct{ limit, want int }{{0, 1000}, {1, 1}, {1000, 1000}, {5000, 5000}, {5001, 5000}, {1 << 20, 5000}} {
		if _, err := w.pull(fwA, "", tt.limit); err != nil {
			t.Fatal(err)
		}
		if got := w.store.feedLimits[len(w.store.feedLimits)-1]; got != tt.want {
			t.Errorf("limit %d: store asked for %d entries, want %d", tt.limit, got, tt.want)
		}
	}
}

// TestPullCursorRoundTrip: a cursor resumes where its page ended; the
// last cursor yields nothing until something new is committed.
func TestPullCursorRoundTrip(t *testing.T) {
	w := newWorld(t)
	rec, _ := w.identification(fwA, teamA)
	for i := range 4 {
		w.mustApply(fwA, w.set(fwA, rec, ident, "region", fmt.Sprintf("r%d", i)))
	}
	first, err := w.pull(fwA, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if !first.More || len(first.Ops) != 2 || first.Cursor == "" {
		t.Fatalf("first page: %d ops, more %v, cursor %q; want 2 ops, more, a cursor", len(first.Ops), first.More, first.Cursor)
	}
	second, err := w.pull(fwA, first.Cursor, 2)
	if err != nil {
		t.Fatal(err)
	}
	third, err := w.pull(fwA, second.Cursor, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Ops) != 2 || !second.More || len(third.Ops) != 1 || third.More {
		t.Errorf("pages of %d (more %v), %d (more %v); want 2 (more), 1 (no more)", len(second.Ops), second.More, len(third.Ops), third.More)
	}
	var got []string
	for _, page := range [][][]byte{first.Ops, second.Ops, third.Ops} {
		for _, js := range page {
			got = append(got, opID(t, js))
		}
	}
	if !slices.Equal(got, w.applied) {
		t.Errorf("pulled %v, want %v in commit order", got, w.applied)
	}

	// At the end: nothing, and the cursor stays usable.
	end, err := w.pull(fwA, third.Cursor, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(end.Ops) != 0 || end.More {
		t.Errorf("at the end: %d ops, more %v", len(end.Ops), end.More)
	}
	again, err := w.pull(fwA, end.Cursor, 2)
	if err != nil || len(again.Ops) != 0 {
		t.Errorf("the end's cursor: %d ops, %v", len(again.Ops), err)
	}

	// Something new: only that.
	o := w.set(fwA2, rec, ident, "code", "X-1")
	w.mustApply(fwA2, o)
	next, err := w.pull(fwA, end.Cursor, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Ops) != 1 || opID(t, next.Ops[0]) != o.id() || next.More {
		t.Errorf("after a new op: %d ops, more %v; want just %s", len(next.Ops), next.More, o.id())
	}

	// An empty cursor starts over.
	if got, want := len(w.pullAll(fwA, "", 0).ops), len(w.applied); got != want {
		t.Errorf("from the beginning: %d ops, want %d", got, want)
	}
}

// TestPullEmptyStore: an empty store gives an empty page, an empty (not
// absent) drop list, a cursor and the server's clock.
func TestPullEmptyStore(t *testing.T) {
	w := newWorld(t)
	res, err := w.pull(fwA, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ops) != 0 || res.More || res.Cursor == "" {
		t.Errorf("empty store: %d ops, more %v, cursor %q", len(res.Ops), res.More, res.Cursor)
	}
	if res.Ops == nil || res.Drop == nil {
		t.Errorf("ops %v, drop %v: want empty lists, not nil (the wire wants [])", res.Ops, res.Drop)
	}
	if got, want := res.ServerHLC.Millis(), now.UnixMilli(); got != want {
		t.Errorf("server_hlc at %d ms, want %d", got, want)
	}
	// Its cursor still works once the store fills.
	rec, _ := w.identification(fwA, teamA)
	next, err := w.pull(fwA, res.Cursor, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Ops) != 1 || !strings.Contains(string(next.Ops[0]), rec) {
		t.Errorf("after creating %s: %d ops", rec, len(next.Ops))
	}
}

func TestPullGarbageCursor(t *testing.T) {
	w := newWorld(t)
	populate(w)
	valid, err := w.pull(fwA, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	for _, cursor := range []string{
		"garbage",
		"!!!!",
		"    ",
		valid.Cursor + "=",
		valid.Cursor + "!",
		strings.Repeat("A", 4096),
		b64([]byte("hello, world")),
		b64([]byte("c1.zz!.1")),
		b64([]byte("c1.1")),
		b64([]byte("c1.1.1.1")),
		b64([]byte("c1.-1.1")),
		b64([]byte("c1.1.zzzzzzzzzzzzzzzz")),
		b64([]byte("c9.1.1")),
		base64.StdEncoding.EncodeToString([]byte("c1.1.12")), // padded
	} {
		res, err := w.pull(fwA, cursor, 2)
		if got, want := model.ErrorCode(err), model.CodeInvalidCursor; got != want {
			t.Errorf("cursor %.40q: error %v (code %q), want code %q", cursor, err, got, want)
		}
		var me *model.Error
		if err != nil && !errors.As(err, &me) {
			t.Errorf("cursor %.40q: error %v is not a *model.Error", cursor, err)
		}
		if len(res.Ops) != 0 {
			t.Errorf("cursor %.40q: %d ops served", cursor, len(res.Ops))
		}
	}
}

// TestPullCursorOfAnotherView: a cursor is valid only for the feeds it was
// issued for; once the user's teams (or their hosted weeks) change the
// device must pull again from the beginning.
func TestPullCursorOfAnotherView(t *testing.T) {
	w := newWorld(t)
	populate(w)
	cursorOf := func(p *access.Principal) string {
		t.Helper()
		return w.pullAll(p, "", 0).cursor
	}
	fwAGained := &access.Principal{User: fwA.User, Device: fwA.Device, Role: fwA.Role, Teams: []string{teamA, teamB}}
	fwALost := &access.Principal{User: fwA.User, Device: fwA.Device, Role: fwA.Role, Teams: []string{teamB}}
	supNarrowed := &access.Principal{User: supAB.User, Device: supAB.Device, Role: supAB.Role, Teams: []string{teamB}}
	supNowNational := &access.Principal{User: supAB.User, Device: supAB.Device, Role: supAB.Role}
	visitorOther := &access.Principal{User: visitW1.User, Device: visitW1.Device, Role: model.RoleVisitor, ActionWeek: week2, ValidUntil: visitW1.ValidUntil}
	tests := []struct {
		name   string
		issued *access.Principal
		used   *access.Principal
		want   model.Code // "" = accepted
	}{
		{"same principal", fwA, fwA, ""},
		{"same teams, another user", fwA, fwA2, ""},
		{"same teams, another role", fwA, leadA, ""},
		{"team gained", fwA, fwAGained, model.CodeResyncRequired},
		{"team lost", fwA, fwALost, model.CodeResyncRequired},
		{"jurisdiction narrowed", supAB, supNarrowed, model.CodeResyncRequired},
		{"jurisdiction lifted", supAB, supNowNational, model.CodeResyncRequired},
		{"national supervisor given a jurisdiction", supNat, supA, model.CodeResyncRequired},
		{"visitor of another week", visitW1, visitorOther, model.CodeResyncRequired},
		{"visitor's cursor used by a field worker", visitW1, fwA, model.CodeResyncRequired},
		{"national supervisor's cursor used by a field worker without team", supNat, &access.Principal{User: fwA.User, Device: fwA.Device, Role: model.RoleFieldWorker}, model.CodeResyncRequired},
	}
	for _, tt := range tests {
		_, err := w.pull(tt.used, cursorOf(tt.issued), 0)
		var got model.Code
		if err != nil {
			got = model.ErrorCode(err)
		}
		if got != tt.want {
			t.Errorf("%s: pull error %v (code %q), want code %q", tt.name, err, got, tt.want)
		}
	}
}

// TestPullCursorAfterNewHostedWeek: when the user's team comes to host an
// action week, the old cursor is refused, and pulling again from the
// beginning brings the week's earlier ops.
func TestPullCursorAfterNewHostedWeek(t *testing.T) {
	w := newWorld(t)
	w.actionWeek(week2, teamB)
	sv, _ := w.siteVisit(visitW2, week2)
	cursor := w.pullAll(fwA, "", 0).cursor
	cursorB := w.pullAll(fwB, "", 0).cursor
	moveWeek := w.set(supNat, week2, week, "host_team", teamA)
	w.mustApply(supNat, moveWeek)

	_, err := w.pull(fwA, cursor, 0)
	if got, want := model.ErrorCode(err), model.CodeResyncRequired; got != want {
		t.Fatalf("pull with the cursor of the old view: error %v (code %q), want %q", err, got, want)
	}
	var records []string
	for _, o := range w.pullAll(fwA, "", 0).ops {
		records = append(records, o.Record)
	}
	if !slices.Contains(records, sv) || !slices.Contains(records, week2) {
		t.Errorf("after resync fw A pulled records %v, want %s and %s", records, week2, sv)
	}
	// Team B lost the week: its cursor is refused too.
	_, err = w.pull(fwB, cursorB, 0)
	if got, want := model.ErrorCode(err), model.CodeResyncRequired; got != want {
		t.Errorf("fw B's cursor after its team lost the week: error %v (code %q), want %q", err, got, want)
	}
}

// TestPullCursorBeyondLastSeq: a cursor naming more than the store holds
// (a restore from an older backup) is refused with resync_required.
func TestPullCursorBeyondLastSeq(t *testing.T) {
	big := newWorld(t)
	populate(big)
	cursor := big.pullAll(fwA, "", 0).cursor

	small := newWorld(t)
	if _, err := small.pull(fwA, cursor, 0); model.ErrorCode(err) != model.CodeResyncRequired {
		t.Errorf("empty store: error %v, want resync_required", err)
	}
	small.actionWeek(week1, teamA)
	small.identification(fwA, teamA)
	if _, err := small.pull(fwA, cursor, 0); model.ErrorCode(err) != model.CodeResyncRequired {
		t.Errorf("smaller store: error %v, want resync_required", err)
	}
	// The store that issued it still serves it.
	if _, err := big.pull(fwA, cursor, 0); err != nil {
		t.Errorf("the issuing store: %v", err)
	}
}

// moveWorld is a world where record rec of team A, with two ops, moves to
// team B; cursors are taken just before the move.
type moveWorld struct {
	*world
	rec, keep string
	recOps    []string // rec's ops before the move
	move      string   // the move's op id
	after     string   // an op of team A after the move
	cursors   map[*access.Principal]string
	before    map[*access.Principal][]string
}

func newMoveWorld(t *testing.T, keepStale bool) *moveWorld {
	w := newWorld(t)
	w.store.keepStale = keepStale
	m := &moveWorld{world: w, cursors: map[*access.Principal]string{}, before: map[*access.Principal][]string{}}
	var teamOp string
	m.rec, teamOp = w.identification(fwA, teamA)
	code := w.set(fwA, m.rec, ident, "code", "X-1")
	w.mustApply(fwA, code)
	m.recOps = []string{teamOp, code.id()}
	m.keep, _ = w.identification(fwA, teamA)
	w.identification(fwB, teamB)
	for _, p := range []*access.Principal{fwA, fwA2, leadA, supA, fwB, fwAB, supAB, supNat} {
		pl := w.pullAll(p, "", 0)
		m.cursors[p], m.before[p] = pl.cursor, pl.ids()
	}
	move := w.set(supAB, m.rec, ident, "team", teamB).with("base", []string{teamOp})
	after := w.set(fwA, m.keep, ident, "code", "K-2")
	w.mustApply(supAB, move)
	w.mustApply(fwA, after)
	m.move, m.after = move.id(), after.id()
	return m
}

// TestPullDropOnTeamMove: devices of the old team's users are told to drop
// the record, once, in the first page after the move, and get none of its
// ops; the new team gets all of them, the earlier ones included.
func TestPullDropOnTeamMove(t *testing.T) {
	for _, limit := range []int{1, 2, 0} {
		m := newMoveWorld(t, false)
		for _, p := range []*access.Principal{fwA, fwA2, leadA, supA} {
			name := fmt.Sprintf("%s %s, limit %d", p.Role, p.User, limit)
			res, err := m.pull(p, m.cursors[p], limit)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !slices.Equal(res.Drop, []string{m.rec}) {
				t.Errorf("%s: first page after the move drops %v, want [%s]", name, res.Drop, m.rec)
			}
			rest := m.pullAll(p, res.Cursor, limit)
			if len(rest.drop) != 0 {
				t.Errorf("%s: later pages drop %v again", name, rest.drop)
			}
			var ids []string
			for _, js := range res.Ops {
				ids = append(ids, opID(t, js))
			}
			ids = append(ids, rest.ids()...)
			if !slices.Equal(ids, []string{m.after}) {
				t.Errorf("%s: pulled %v after the move, want only %s", name, ids, m.after)
			}
		}
		// The new team: every op of the record, once, no drop.
		pl := m.pullAll(fwB, m.cursors[fwB], limit)
		checkOnce(t, fmt.Sprintf("fw B, limit %d", limit), pl.ids(), append(slices.Clone(m.recOps), m.move))
		if len(pl.drop) != 0 {
			t.Errorf("fw B, limit %d: drop %v", limit, pl.drop)
		}
		// A device of the old team that starts over is told to drop too
		// (harmless) and never gets the record.
		fresh := m.pullAll(fwA, "", limit)
		for _, o := range fresh.ops {
			if o.Record == m.rec {
				t.Errorf("fw A from the beginning, limit %d: pulled %s of the moved record", limit, o.ID)
			}
		}
	}
}

// TestPullNoDropWhileReadable: a user who may still read the moved record
// is not told to drop it and holds all its ops.
func TestPullNoDropWhileReadable(t *testing.T) {
	m := newMoveWorld(t, false)
	for _, p := range []*access.Principal{fwAB, supAB, supNat} {
		pl := m.pullAll(p, m.cursors[p], 1)
		if len(pl.drop) != 0 {
			t.Errorf("%s %v: drop %v", p.Role, p.Teams, pl.drop)
		}
		held := append(slices.Clone(m.before[p]), pl.ids()...)
		for _, id := range append(slices.Clone(m.recOps), m.move, m.after) {
			if !slices.Contains(held, id) {
				t.Errorf("%s %v: op %s missing", p.Role, p.Teams, id)
			}
		}
	}
	// The national supervisor reads the global feed: exactly once.
	checkOnce(t, "national supervisor", append(slices.Clone(m.before[supNat]), m.pullAll(supNat, m.cursors[supNat], 1).ids()...), m.readable(supNat))
}

// TestPullExactlyOnceAcrossTeamMove: DESIGN §5 promises every op a user may
// read exactly once across pages. A user who reads both the old and the
// new team must not receive the moved record's earlier ops a second time.
func TestPullExactlyOnceAcrossTeamMove(t *testing.T) {
	m := newMoveWorld(t, false)
	for _, p := range []*access.Principal{fwAB, supAB} {
		all := append(slices.Clone(m.before[p]), m.pullAll(p, m.cursors[p], 0).ids()...)
		checkOnce(t, fmt.Sprintf("%s %v across the move", p.Role, p.Teams), all, m.readable(p))
	}
}

// TestPullStaleIndexEntries: with a store that leaves a moved record's
// entries in its old bucket, a pull still serves each op only from the
// record's current bucket, and the old team gets none of them. (Readers of
// both buckets are left out: Store.Feed requires moved entries to leave
// the old bucket, which is what lets Pull serve them exactly once.)
func TestPullStaleIndexEntries(t *testing.T) {
	m := newMoveWorld(t, true)
	for _, p := range []*access.Principal{fwB, fwA, supNat} {
		pl := m.pullAll(p, "", 2)
		checkOnce(t, fmt.Sprintf("%s %v from the beginning", p.Role, p.Teams), pl.ids(), m.readable(p))
	}
	pl := m.pullAll(fwA, m.cursors[fwA], 2)
	if !slices.Equal(pl.drop, []string{m.rec}) || !slices.Equal(pl.ids(), []string{m.after}) {
		t.Errorf("fw A after the move: ops %v, drop %v; want [%s], [%s]", pl.ids(), pl.drop, m.after, m.rec)
	}
}

// TestPullDropOnSiteVisitMove: a site visit moved to another week is
// dropped by the old week's visitor and host team.
func TestPullDropOnSiteVisitMove(t *testing.T) {
	w := newWorld(t)
	w.actionWeek(week1, teamA)
	w.actionWeek(week2, teamB)
	sv, weekOp := w.siteVisit(visitW1, week1)
	cursors := map[*access.Principal]string{}
	for _, p := range []*access.Principal{visitW1, visitW2, fwA, fwB, supAB} {
		cursors[p] = w.pullAll(p, "", 0).cursor
	}
	w.mustApply(supAB, w.set(supAB, sv, visit, "action_week", week2).with("base", []string{weekOp}))
	tests := []struct {
		p        *access.Principal
		wantDrop bool
	}{
		{visitW1, true}, {fwA, true}, {visitW2, false}, {fwB, false}, {supAB, false},
	}
	for _, tt := range tests {
		pl := w.pullAll(tt.p, cursors[tt.p], 1)
		var want []string
		if tt.wantDrop {
			want = []string{sv}
		}
		if !slices.Equal(pl.drop, want) {
			t.Errorf("%s %s: drop %v, want %v", tt.p.Role, tt.p.User, pl.drop, want)
		}
		got := slices.ContainsFunc(pl.ops, func(o crdt.Op) bool { return o.Record == sv })
		if got == tt.wantDrop {
			t.Errorf("%s %s: pulled ops of the site visit = %v, want %v", tt.p.Role, tt.p.User, got, !tt.wantDrop)
		}
	}
}

// TestPullForgedCursorRevealsNothing: a cursor forged with any sequence,
// in the format the server once issued (version, sequence, the caller's
// own view), gets the same answer whatever the sequence, so probing cannot
// find the store's last sequence; and a real cursor has the same length
// at every position.
func TestPullForgedCursorRevealsNothing(t *testing.T) {
	w := newWorld(t)
	populate(w)
	ctx := context.Background()
	hosted, err := w.svc.Store.HostedWeeks(ctx, fwA.Teams)
	if err != nil {
		t.Fatal(err)
	}
	buckets, all := access.Buckets(fwA, hosted)
	h := fnv.New32a()
	if all {
		h.Write([]byte("*"))
	}
	for _, b := range buckets {
		h.Write([]byte(b))
		h.Write([]byte{0})
	}
	view := strconv.FormatUint(uint64(h.Sum32()), 36)
	last, err := w.svc.Store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[model.Code][]uint64{}
	for _, seq := range []uint64{1, last / 2, last, last + 1, 1 << 40} {
		forged := base64.RawURLEncoding.EncodeToString([]byte("c1." + strconv.FormatUint(seq, 36) + "." + view))
		_, err := w.pull(fwA, forged, 2)
		code := model.ErrorCode(err)
		codes[code] = append(codes[code], seq)
	}
	if len(codes) != 1 || codes[model.CodeInvalidCursor] == nil {
		t.Errorf("forged cursors by sequence: %v, want every one invalid_cursor", codes)
	}
	first, err := w.pull(fwA, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	end := w.pullAll(fwA, "", 0)
	if len(first.Cursor) != len(end.cursor) {
		t.Errorf("cursor lengths %d and %d at two positions: the length tells the sequence's size", len(first.Cursor), len(end.cursor))
	}
}
