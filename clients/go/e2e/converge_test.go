package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"

	"github.com/fieldsync/fieldsync/model"
)

// editor makes random offline edits on one device and remembers the op
// ids the SDK acknowledged.
type editor struct {
	c       *fieldsync.Client
	rng     *rand.Rand
	name    string
	written []string
}

var (
	registers = map[string][]any{
		"status":    {"potential", "presumed", "withdrawn"},
		"sex":       {"female", "male", "other", "unknown"},
		"age_group": {"child", "adult", "unknown"},
		"location":  {"bus station", "border crossing", "bar on the main road", "family home"},
		"code":      {"A-17", "B-03", "C-44"},
	}
	sets = map[string][]string{
		"exploitation_types": {"sexual", "labour", "begging", "forced_criminality"},
		"payment_means":      {"cash", "bank_transfer", "crypto", "in_kind"},
	}
)

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// edit makes one random edit of record id.
func (e *editor) edit(t testing.TB, id string) {
	t.Helper()
	ctx := context.Background()
	var op string
	var err error
	switch k := e.rng.IntN(10); {
	case k < 4:
		f := pick(e.rng, keys(registers))
		op, err = e.c.Set(ctx, id, f, pick(e.rng, registers[f]))
	case k < 6:
		f := pick(e.rng, keys(sets))
		op, err = e.c.Add(ctx, id, f, pick(e.rng, sets[f]))
	case k < 8:
		f := pick(e.rng, keys(sets))
		op, err = e.c.Remove(ctx, id, f, pick(e.rng, sets[f]))
	default:
		op, err = e.c.Append(ctx, id, "notes", map[string]any{"text": fmt.Sprintf("%s: statement %d", e.name, len(e.written))})
	}
	if err != nil {
		t.Fatalf("%s: edit %s: %v", e.name, id, err)
	}
	if op != "" {
		e.written = append(e.written, op)
	}
}

// TestFiveDevicesConvergeThroughBrokenNetwork: five devices each make
// hundreds of offline edits to the same records, then sync in random
// order, concurrently and then one by one, through a proxy that cuts
// connections mid-request and mid-response. Every device and the server
// end byte-identical, every op is held exactly once, and concurrent
// values are shown as conflicts with their authors.
func TestFiveDevicesConvergeThroughBrokenNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	ctx := context.Background()
	s := startServer(t, nil)
	s.user("sup", model.RoleSupervisor)
	names := []string{"ana", "ben", "cata", "dan", "eva"}
	for _, n := range names {
		s.user(n, model.RoleFieldWorker, "north")
	}
	proxy := startProxy(t, s.m.Addr(), 1)
	rng := rand.New(rand.NewPCG(2026, 5))
	chaos := func(o *fieldsync.Options) { o.PushBatch, o.PullLimit, o.MaxAttempts = 100, 200, 200 }

	// The records exist everywhere before the devices go offline.
	creator := device(t, proxy.URL, names[0], chaos)
	var records []string
	var created []string
	for i := range 6 {
		id := must[string](t)(creator.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", "potential"),
			fieldsync.F("code", fmt.Sprintf("N-%02d", i))))
		records = append(records, id)
		for _, op := range must[[]opRef](t)(history(creator, id)) {
			created = append(created, op.id)
		}
	}
	syncOK(t, creator)
	editors := []*editor{{c: creator, name: names[0], rng: rand.New(rand.NewPCG(0, 1))}}
	for i, n := range names[1:] {
		c := device(t, proxy.URL, n, chaos)
		syncOK(t, c)
		editors = append(editors, &editor{c: c, name: n, rng: rand.New(rand.NewPCG(uint64(i+1), 1))})
	}

	// Offline: hundreds of edits each, to the same records.
	for _, e := range editors {
		for range 300 {
			e.edit(t, pick(e.rng, records))
		}
	}

	// Sync through the proxy: first all at once, then one by one in random order, twice.
	var wg sync.WaitGroup
	errs := make(chan error, len(editors))
	for _, e := range editors {
		wg.Go(func() { errs <- e.c.Sync(ctx) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent sync: %v", err)
		}
	}
	for range 2 {
		for _, i := range rng.Perm(len(editors)) {
			syncOK(t, editors[i].c)
		}
	}
	if proxy.CutRequests.Load() == 0 || proxy.CutResponses.Load() == 0 {
		t.Fatalf("the proxy cut %d requests and %d responses; the test proves nothing without both",
			proxy.CutRequests.Load(), proxy.CutResponses.Load())
	}
	t.Logf("proxy: %d connections, %d cut mid-request, %d cut mid-response",
		proxy.Conns.Load(), proxy.CutRequests.Load(), proxy.CutResponses.Load())

	sup := s.login("sup", userPassword).AccessToken
	want := map[string]int{}
	for _, id := range created {
		want[id]++
	}
	for _, e := range editors {
		for _, id := range e.written {
			want[id]++
		}
		st := must[fieldsync.Status](t)(e.c.Status(ctx))
		if st.Outbox != 0 || st.Quarantine != 0 {
			t.Errorf("%s: outbox %d, quarantine %d; want both empty", e.name, st.Outbox, st.Quarantine)
		}
	}
	held := map[string]int{}
	conflicts := 0
	authors := map[string]bool{}
	for _, id := range records {
		for _, e := range editors {
			sameAsServer(t, s, sup, e.c, id)
		}
		var served struct {
			History []struct {
				ID string `json:"id"`
			} `json:"history"`
		}
		mustUnmarshal(t, s.record(sup, id, true), &served)
		for _, op := range served.History {
			held[op.ID]++
		}
		r := must[*fieldsync.Record](t)(editors[0].c.Record(ctx, id))
		for _, f := range r.Conflicts {
			for _, v := range append([]fieldsync.Version{*r.Fields[f].Version}, r.Fields[f].Conflicts...) {
				if v.User == "" || v.Device == "" || v.HLC == 0 {
					t.Errorf("record %s field %s: a value without author: %+v", id, f, v)
				}
				authors[v.User] = true
			}
			conflicts++
		}
	}
	for id, n := range want {
		if n != 1 || held[id] != 1 {
			t.Errorf("op %s: written %d times, held %d times by the server; want 1 and 1", id, n, held[id])
		}
	}
	if len(held) != len(want) {
		t.Errorf("the server holds %d ops, the devices wrote %d", len(held), len(want))
	}
	if conflicts == 0 || len(authors) < 2 {
		t.Errorf("%d conflicted fields by %d authors; concurrent offline sets must show as conflicts", conflicts, len(authors))
	}
	t.Logf("%d ops, %d conflicted register fields by %d authors", len(held), conflicts, len(authors))
}

type opRef struct{ id string }

func history(c *fieldsync.Client, id string) ([]opRef, error) {
	ops, err := c.History(context.Background(), id)
	var out []opRef
	for _, op := range ops {
		out = append(out, opRef{op.ID})
	}
	return out, err
}
