package fieldsync

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/model"
)

func TestWriteNeedsLogin(t *testing.T) {
	c := open(t, t.TempDir(), nil)
	_, err := c.CreateIdentification(context.Background(), "0b9f8a5e-4b7e-4b43-9a34-1d1b35c3a0c1")
	wantErr(t, err, ErrNotLoggedIn)
}

func TestLocalStateAndOutboxSurviveReopen(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	dir := t.TempDir()
	c := loggedIn(t, dir, f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "potential"), F("indicators", []string{"debt_bondage"}),
		F("notes", map[string]any{"text": "met at the border"})))
	must[string](t)(c.Set(ctx, id, "status", "presumed"))
	must[string](t)(c.Add(ctx, id, "exploitation_types", "labour"))
	before := must[*Record](t)(c.Record(ctx, id)).Canonical()
	if got := status(t, c).Outbox; got != 6 {
		t.Fatalf("outbox = %d, want 6", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c2 := open(t, dir, f)
	r := must[*Record](t)(c2.Record(ctx, id))
	if got := r.Canonical(); string(got) != string(before) {
		t.Fatalf("after reopen:\ngot  %s\nwant %s", got, before)
	}
	if got, want := string(r.Fields["status"].Value), `"presumed"`; got != want {
		t.Errorf("status = %s, want %s", got, want)
	}
	if r.Fields["status"].Conflicts != nil {
		t.Errorf("status conflicts = %v, want none (the set's base covers the first value)", r.Fields["status"].Conflicts)
	}
	if got, want := r.Fields["exploitation_types"].Values, []string{"labour"}; !slices.Equal(got, want) {
		t.Errorf("exploitation_types = %v, want %v", got, want)
	}
	st := status(t, c2)
	if st.Outbox != 6 || st.User.ID != f.user.ID || !st.LoggedIn || st.DeviceID != c.DeviceID() {
		t.Errorf("status after reopen = %+v", st)
	}
}

func TestCreateNeedsScopeFirst(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	if _, err := c.Create(ctx, model.KindIdentification, F("status", "potential")); model.ErrorCode(err) != model.CodeInvalidValue {
		t.Fatalf("create without team: err = %v, want invalid_value", err)
	}
	id := must[string](t)(c.Create(ctx, model.KindIdentification, F("status", "potential"), F("team", f.team())))
	ops := must[[]pendingView](t)(outboxView(c))
	if len(ops) != 2 || ops[0].field != "team" || ops[0].record != id {
		t.Fatalf("outbox = %+v, want the team op first", ops)
	}
}

func TestWritesAreValidatedLocally(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	for _, tc := range []struct {
		name string
		err  error
		want model.Code
	}{
		{"unknown value", second(c.Set(ctx, id, "status", "rescued")), model.CodeInvalidValue},
		{"unknown field", second(c.Set(ctx, id, "name", "x")), model.CodeUnknownField},
		{"wrong class", second(c.Add(ctx, id, "status", "x")), model.CodeInvalidOp},
		{"supervisor field", second(c.Set(ctx, id, "review_status", "reviewed")), model.CodeForbidden},
		{"entry without text", second(c.Append(ctx, id, "notes", map[string]any{"x": 1})), model.CodeInvalidValue},
	} {
		if got := model.ErrorCode(tc.err); got != tc.want {
			t.Errorf("%s: code = %s (%v), want %s", tc.name, got, tc.err, tc.want)
		}
	}
	_, err := c.Set(ctx, "0b9f8a5e-4b7e-4b43-9a34-1d1b35c3a0c1", "status", "presumed")
	wantErr(t, err, ErrNotFound)
	if got := status(t, c).Outbox; got != 1 {
		t.Errorf("outbox = %d, want 1 (refused writes queue nothing)", got)
	}
}

func second[T any](_ T, err error) error { return err }

func TestSetBaseResolvesConflicts(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "potential")))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	f.inject(otherOp(id, model.KindIdentification, "status", model.ActionSet, "presumed"))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	r := must[*Record](t)(c.Record(ctx, id))
	if got := len(r.Fields["status"].Conflicts); got != 1 {
		t.Fatalf("conflicts = %d, want 1 (two concurrent values)", got)
	}
	if got := must[[]*Record](t)(c.Conflicts(ctx)); len(got) != 1 || got[0].ID != id {
		t.Fatalf("Conflicts() = %v, want [%s]", got, id)
	}
	v := r.Fields["status"].Conflicts[0]
	if v.User == "" || v.Device == "" || v.HLC == 0 {
		t.Errorf("conflict lacks author: %+v", v)
	}
	must[string](t)(c.Set(ctx, id, "status", "withdrawn"))
	r = must[*Record](t)(c.Record(ctx, id))
	if len(r.Conflicts) != 0 || string(r.Fields["status"].Value) != `"withdrawn"` {
		t.Fatalf("after set: conflicts %v value %s, want none and withdrawn", r.Conflicts, r.Fields["status"].Value)
	}
	if got := must[[]*Record](t)(c.Conflicts(ctx)); len(got) != 0 {
		t.Errorf("Conflicts() = %d records, want 0", len(got))
	}
}

func TestRemoveBaseIsLiveAdds(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	a1 := must[string](t)(c.Add(ctx, id, "payment_means", "cash"))
	a2 := must[string](t)(c.Add(ctx, id, "payment_means", "cash"))
	must[string](t)(c.Add(ctx, id, "payment_means", "crypto"))
	rm := must[string](t)(c.Remove(ctx, id, "payment_means", "cash"))
	ops := must[[]pendingView](t)(outboxView(c))
	last := ops[len(ops)-1]
	want := []string{a1, a2}
	slices.Sort(want)
	if last.id != rm || !slices.Equal(last.base, want) {
		t.Fatalf("remove op = %+v, want base %v", last, want)
	}
	if got := must[string](t)(c.Remove(ctx, id, "payment_means", "cash")); got != "" {
		t.Errorf("removing an absent element wrote op %s, want none", got)
	}
	// A concurrent add the device had not seen survives the remove.
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	f.inject(otherOp(id, model.KindIdentification, "payment_means", model.ActionAdd, "cash"))
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	r := must[*Record](t)(c.Record(ctx, id))
	if got, want := r.Fields["payment_means"].Values, []string{"cash", "crypto"}; !slices.Equal(got, want) {
		t.Fatalf("payment_means = %v, want %v", got, want)
	}
}

func TestListFilters(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	f.user.Role = model.RoleTeamLead // may delete
	c := loggedIn(t, t.TempDir(), f)
	a := must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "potential"), F("indicators", []string{"debt_bondage"})))
	b := must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "presumed")))
	must[string](t)(c.CreateIdentification(ctx, f.team(), F("status", "presumed"), F("deleted", true)))
	ids := func(rs []*Record) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"kind", Query{Kind: model.KindIdentification, Where: []Filter{{"status", "potential"}}}, []string{a}},
		{"register", Query{Where: []Filter{{"status", "presumed"}}}, []string{b}},
		{"set", Query{Where: []Filter{{"indicators", "debt_bondage"}}}, []string{a}},
		{"other kind", Query{Kind: model.KindSiteVisit}, nil},
	} {
		if got := ids(must[[]*Record](t)(c.List(ctx, tc.q))); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := len(must[[]*Record](t)(c.List(ctx, Query{Deleted: true}))); got != 3 {
		t.Errorf("with deleted: %d records, want 3", got)
	}
}

func TestSubscribeSeesWrites(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := newFakeServer(t)
	c := loggedIn(t, t.TempDir(), f)
	ch := c.Subscribe(ctx)
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	if got := <-ch; got != id {
		t.Fatalf("notified %s, want %s", got, id)
	}
	cancel()
	for range ch {
	}
}

// pendingView is an outbox entry as a test sees it.
type pendingView struct {
	id, record, field string
	base              []string
	value             json.RawMessage
}

func outboxView(c *Client) ([]pendingView, error) {
	batch, err := c.outboxBatch(MaxPushBatch*100, 1<<30)
	var out []pendingView
	for _, p := range batch {
		out = append(out, pendingView{id: p.op.ID, record: p.op.Record, field: p.op.Field, base: p.op.Base, value: p.op.Value})
	}
	return out, err
}

// A large record is stored as its state plus a tail of later ops; what a
// reopened replica reads equals what was written, across tail rewrites.
func TestLargeRecordTailSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	dir := t.TempDir()
	c := loggedIn(t, dir, f)
	id := must[string](t)(c.CreateIdentification(ctx, f.team()))
	var want []byte
	tails := 0
	for i := range 3 * maxTail * 2 {
		must[string](t)(c.Append(ctx, id, "notes", map[string]any{"text": "a statement long enough to make the record large quickly, note " + string(rune('a'+i%26))}))
		if i%37 == 0 {
			must[string](t)(c.Set(ctx, id, "status", []string{"potential", "presumed"}[i%2]))
		}
		_ = c.view(func(b *badger.Txn) error {
			tail, err := readTail(b, id)
			tails = max(tails, len(tail))
			return err
		})
		if i == 2*maxTail+5 || i == 3*maxTail*2-1 {
			want = must[*Record](t)(c.Record(ctx, id)).Canonical()
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			c = open(t, dir, f)
			if got := must[*Record](t)(c.Record(ctx, id)).Canonical(); string(got) != string(want) {
				t.Fatalf("after %d writes and a reopen the record differs", i+1)
			}
		}
	}
	if tails == 0 {
		t.Fatal("the record never grew a tail; the test proves nothing")
	}
	if err := c.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := must[*Record](t)(c.Record(ctx, id)).Canonical(); string(got) != string(f.state(t, id)) {
		t.Fatal("device and server differ")
	}
}

func TestEncryptedReplicaNeedsItsKey(t *testing.T) {
	ctx := context.Background()
	f := newFakeServer(t)
	dir := t.TempDir()
	key := []byte("0123456789abcdef0123456789abcdef")
	c := loggedIn(t, dir, f, func(o *Options) { o.EncryptionKey = key })
	id := must[string](t)(c.CreateIdentification(ctx, f.team(), F("notes", map[string]any{"text": "statement"})))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := Open(dir, Options{Logger: testLogger()}); err == nil {
		_ = c.Close()
		t.Fatal("an encrypted replica opened without its key")
	}
	c = open(t, dir, f, func(o *Options) { o.EncryptionKey = key })
	must[*Record](t)(c.Record(ctx, id))
}
