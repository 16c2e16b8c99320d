package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// TestConcurrentPushersConverge: many devices push concurrently; the
// server's record states equal the engine's reference merge of exactly
// the ops pushed, and a device applying what it pulls holds the same bytes.
func TestConcurrentPushersConverge(t *testing.T) {
	h := startServer(t)
	users := map[string]userSpec{"sup": {role: model.RoleSupervisor}}
	for i := range 8 {
		users[fmt.Sprintf("fw%d", i)] = userSpec{role: model.RoleFieldWorker, teams: []string{"north"}}
	}
	w := newWorld(h, []string{"north"}, users)
	records := make([]string, 12)
	for i := range records {
		records[i] = newID()
		w.clients["fw0"].pushApplied(w.clients["fw0"].newIdentification(records[i], w.teams["north"])...)
	}

	var mu sync.Mutex
	pushed := map[string]json.RawMessage{} // op id -> op with the server's user
	var wg sync.WaitGroup
	for i := range 8 {
		c := w.clients[fmt.Sprintf("fw%d", i)]
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 6 {
				batch := randomOps(c, rng, records, 40)
				res := c.push(batch...)
				mu.Lock()
				for j, r := range res.Results {
					if r.Status != "applied" {
						t.Errorf("op %s: %s %s %s", r.ID, r.Status, r.Code, r.Message)
					}
					pushed[r.ID] = withUser(t, batch[j], c.user.ID)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	sup := w.clients["sup"]
	all, _, _ := sup.pullAll("", 500)
	reference := replay(t, all)
	for _, id := range records {
		got := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+id, nil)
		if want := reference[id].Canonical(); !bytes.Equal(got, want) {
			t.Fatalf("record %s:\nserver %s\npulled %s", id, got, want)
		}
	}
	// Every pushed op is in the pull exactly once, unchanged but for user.
	seen := map[string]int{}
	for _, raw := range all {
		op, err := crdt.DecodeOp(raw)
		if err != nil {
			t.Fatal(err)
		}
		seen[op.ID]++
		if want, ok := pushed[op.ID]; ok && !bytes.Equal(canonicalOp(t, want), canonicalOp(t, raw)) {
			t.Errorf("op %s changed on the way:\npushed %s\npulled %s", op.ID, want, raw)
		}
	}
	for id := range pushed {
		if seen[id] != 1 {
			t.Errorf("op %s pulled %d times, want 1", id, seen[id])
		}
	}
	// The engine's reference merge of the pushed ops (in a shuffled order)
	// gives the same bytes.
	ops := make([]json.RawMessage, 0, len(all))
	for _, raw := range all {
		ops = append(ops, raw)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	shuffled := replay(t, ops)
	for _, id := range records {
		if !bytes.Equal(shuffled[id].Canonical(), reference[id].Canonical()) {
			t.Fatalf("record %s depends on delivery order", id)
		}
	}
}

// randomOps makes n ops of c on records: concurrent sets, adds, removes of
// nothing seen, and notes.
func randomOps(c *client, rng *rand.Rand, records []string, n int) []json.RawMessage {
	ops := make([]json.RawMessage, n)
	for i := range ops {
		rec := records[rng.IntN(len(records))]
		switch rng.IntN(5) {
		case 0:
			ops[i] = c.op(rec, model.KindIdentification, "status", "set", []string{"potential", "presumed", "withdrawn"}[rng.IntN(3)])
		case 1:
			ops[i] = c.op(rec, model.KindIdentification, "region", "set", fmt.Sprintf("region %d", rng.IntN(4)))
		case 2:
			ops[i] = c.op(rec, model.KindIdentification, "exploitation_types", "add", []string{"labour", "sexual", "begging"}[rng.IntN(3)])
		case 3:
			ops[i] = c.op(rec, model.KindIdentification, "notes", "append", map[string]string{"text": fmt.Sprintf("note %d", rng.IntN(1000))})
		default:
			ops[i] = c.op(rec, model.KindIdentification, "age_estimate", "set", rng.IntN(60))
		}
	}
	return ops
}

// replay applies ops to fresh records with the engine.
func replay(t *testing.T, ops []json.RawMessage) map[string]*crdt.Record {
	t.Helper()
	schema := model.DefaultSchema()
	recs := map[string]*crdt.Record{}
	for _, raw := range ops {
		op, err := crdt.DecodeOp(raw)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := recs[op.Record]
		if !ok {
			r = crdt.NewRecord(op.Record, op.Kind)
			recs[op.Record] = r
		}
		if _, err := r.Apply(schema, &op); err != nil {
			t.Fatal(err)
		}
	}
	return recs
}

func withUser(t *testing.T, raw json.RawMessage, user string) json.RawMessage {
	op, err := crdt.DecodeOp(raw)
	if err != nil {
		t.Fatal(err)
	}
	op.User = user
	return op.AppendJSON(nil)
}

func canonicalOp(t *testing.T, raw json.RawMessage) []byte {
	op, err := crdt.DecodeOp(raw)
	if err != nil {
		t.Fatal(err)
	}
	return op.AppendJSON(nil)
}

// TestDuplicatesAndReplaysChangeNothing: a batch pushed again is all
// duplicates with the stored stamps, and the record's bytes do not move;
// a reused id with other content is id_conflict.
func TestDuplicatesAndReplaysChangeNothing(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north"}, map[string]userSpec{"fw": {role: model.RoleFieldWorker, teams: []string{"north"}}})
	c := w.clients["fw"]
	rec := newID()
	ops := c.newIdentification(rec, w.teams["north"], [3]any{"status", "set", "presumed"}, [3]any{"notes", "append", map[string]string{"text": "first contact"}})
	first := c.pushApplied(ops...)
	before := c.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+rec, nil)
	for range 3 {
		again := c.push(ops...)
		for i, r := range again.Results {
			if r.Status != "duplicate" || r.HLC != first.Results[i].HLC {
				t.Fatalf("replayed op %d: %+v, want duplicate with hlc %s", i, r, first.Results[i].HLC)
			}
		}
	}
	if after := c.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+rec, nil); !bytes.Equal(before, after) {
		t.Fatalf("replay changed the record:\nbefore %s\nafter  %s", before, after)
	}
	var forged map[string]any
	mustUnmarshal(t, ops[1], &forged)
	forged["value"] = "withdrawn"
	data, _ := json.Marshal(forged)
	res := c.push(data)
	if got := res.Results[0]; got.Status != "rejected" || got.Code != model.CodeIDConflict {
		t.Fatalf("reused id with other value: %+v, want rejected id_conflict", got)
	}
	all, _, _ := c.pullAll("", 100)
	if len(all) != len(ops) {
		t.Fatalf("pulled %d ops, want %d", len(all), len(ops))
	}
}

// TestPullPagesExactlyOnceAcrossRestarts: a device paging through
// thousands of ops with small pages, the server restarting between pages,
// gets every op exactly once.
func TestPullPagesExactlyOnceAcrossRestarts(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north"}, map[string]userSpec{"fw": {role: model.RoleFieldWorker, teams: []string{"north"}}})
	c := w.clients["fw"]
	want := map[string]bool{}
	for range 6 {
		rec := newID()
		ops := c.newIdentification(rec, w.teams["north"])
		for j := range 499 {
			ops = append(ops, c.op(rec, model.KindIdentification, "notes", "append", map[string]string{"text": fmt.Sprint(j)}))
		}
		for _, r := range c.pushApplied(ops...).Results {
			want[r.ID] = true
		}
	}
	got := map[string]int{}
	cursor, pages := "", 0
	for {
		var page api.PullResponse
		mustUnmarshal(t, c.mustDo(http.StatusOK, http.MethodGet, "/v1/sync/pull?limit=250&cursor="+cursor, nil), &page)
		for _, raw := range page.Ops {
			op, err := crdt.DecodeOp(raw)
			if err != nil {
				t.Fatal(err)
			}
			got[op.ID]++
		}
		cursor, pages = page.Cursor, pages+1
		if !page.More {
			break
		}
		if pages%4 == 0 {
			h.restart()
			c = h.login("fw", userPassword, c.device)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("pulled %d distinct ops, want %d", len(got), len(want))
	}
	for id := range want {
		if got[id] != 1 {
			t.Fatalf("op %s pulled %d times", id, got[id])
		}
	}
	// Nothing new: the next pull is empty.
	var page api.PullResponse
	mustUnmarshal(t, c.mustDo(http.StatusOK, http.MethodGet, "/v1/sync/pull?cursor="+cursor, nil), &page)
	if len(page.Ops) != 0 || page.More {
		t.Fatalf("pull after the end returned %d ops, more=%v", len(page.Ops), page.More)
	}
}

// TestTeamIsolation: a field worker never sees another team's records by
// pull, by id, or by list, and cannot write to them.
func TestTeamIsolation(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north", "south"}, map[string]userSpec{
		"fw.north": {role: model.RoleFieldWorker, teams: []string{"north"}},
		"fw.south": {role: model.RoleFieldWorker, teams: []string{"south"}},
		"sup":      {role: model.RoleSupervisor},
	})
	north, south := w.clients["fw.north"], w.clients["fw.south"]
	recN, recS := newID(), newID()
	north.pushApplied(north.newIdentification(recN, w.teams["north"], [3]any{"code", "set", "N-1"})...)
	south.pushApplied(south.newIdentification(recS, w.teams["south"], [3]any{"code", "set", "S-1"})...)

	ops, _, _ := north.pullAll("", 100)
	for _, raw := range ops {
		if bytes.Contains(raw, []byte(recS)) {
			t.Fatalf("north pulled a south op: %s", raw)
		}
	}
	if len(ops) != 2 {
		t.Fatalf("north pulled %d ops, want its own 2", len(ops))
	}
	status, body := north.do(http.MethodGet, "/v1/records/"+recS, nil)
	if status != http.StatusNotFound || errorCode(t, body) != "not_found" {
		t.Fatalf("north reading a south record: %d %s, want 404 not_found", status, body)
	}
	var list api.RecordList
	mustUnmarshal(t, north.mustDo(http.StatusOK, http.MethodGet, "/v1/records?team="+w.teams["south"], nil), &list)
	if len(list.Records) != 0 {
		t.Fatalf("north listed south records: %+v", list.Records)
	}
	res := north.push(north.op(recS, model.KindIdentification, "code", "set", "hijacked"))
	if r := res.Results[0]; r.Status != "rejected" || r.Code != model.CodeForbidden {
		t.Fatalf("north writing a south record: %+v, want rejected forbidden", r)
	}
	// Creating a record for another team is refused too.
	res = north.push(north.newIdentification(newID(), w.teams["south"])...)
	if r := res.Results[0]; r.Status != "rejected" || r.Code != model.CodeForbidden {
		t.Fatalf("north creating a south record: %+v, want rejected forbidden", r)
	}
	var all api.RecordList
	mustUnmarshal(t, w.clients["sup"].mustDo(http.StatusOK, http.MethodGet, "/v1/records", nil), &all)
	ids := []string{}
	for _, r := range all.Records {
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	want := []string{recN, recS}
	sort.Strings(want)
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("supervisor lists %v, want %v", ids, want)
	}
}
