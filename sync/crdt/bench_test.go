package crdt_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// The workload of BenchmarkApply (DESIGN §8: merge engine ≥ 1M ops/s in
// memory).
const (
	benchRecords = 10_000
	benchOps     = 1_000_000
	benchDevices = 50
	benchUsers   = 20
)

// benchWorkload is a deterministic history: ops (decoded and validated
// before the timer starts) and, for each, the index of its record.
type benchWorkload struct {
	records []string
	ops     []crdt.Op
	rec     []int32
}

var (
	benchOnce sync.Once
	benchData *benchWorkload
	benchErr  error
)

// benchUUID draws a random version 4 UUID in canonical form.
func benchUUID(rng *rand.Rand) string {
	hi, lo := rng.Uint64(), rng.Uint64()
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// benchRegisters are the registers written, with canonical values.
var benchRegisters = []struct {
	field  string
	values []string
}{
	{"status", []string{`"potential"`, `"presumed"`, `"withdrawn"`}},
	{"region", []string{`"north"`, `"south"`, `"Shkodër"`, `null`}},
	{"location", []string{`"bus station"`, `"border point"`, `"bar on the main road"`}},
	{"sex", []string{`"female"`, `"male"`, `"unknown"`}},
	{"age_group", []string{`"child"`, `"adult"`, `"unknown"`}},
	{"age_estimate", []string{`15`, `16.5`, `17`, `24`}},
	{"encounter_date", []string{`"2026-03-01"`, `"2026-03-02"`}},
	{"citizenship", []string{`"AL"`, `"XK"`, `"MK"`}},
	{"child_presumed", []string{`true`, `false`}},
}

var benchSets = []struct {
	field  string
	values []string
}{
	{"exploitation_types", []string{"sexual", "labour", "begging", "forced_criminality"}},
	{"indicators", []string{"abduction", "debt_at_recruitment", "deceived_wages", "deceived_nature_of_job", "abuse_of_family_situation"}},
	{"payment_means", []string{"cash", "bank_transfer", "crypto"}},
}

// benchLoad builds the workload once: 60% register sets whose base is the
// writer's view of the field's siblings (usually all of them, sometimes a
// stale view that leaves a conflict), 25% set adds and removes (a remove's
// base is the element's live adds), 15% log appends.
func benchLoad() (*benchWorkload, error) {
	benchOnce.Do(func() { benchData, benchErr = benchBuild(benchRecords, benchOps) })
	return benchData, benchErr
}

func benchBuild(nRecords, nOps int) (*benchWorkload, error) {
	rng := rand.New(rand.NewPCG(8, 1_000_000))
	schema := model.DefaultSchema()
	w := &benchWorkload{records: make([]string, nRecords), ops: make([]crdt.Op, 0, nOps), rec: make([]int32, 0, nOps)}
	for i := range w.records {
		w.records[i] = benchUUID(rng)
	}
	devices := make([]string, benchDevices)
	for i := range devices {
		devices[i] = benchUUID(rng)
	}
	users := make([]string, benchUsers)
	for i := range users {
		users[i] = benchUUID(rng)
	}
	type recState struct {
		siblings map[string][]string
		live     map[string][]string // "field\x00element" -> live add ids
	}
	states := make([]recState, nRecords)
	for i := range states {
		states[i] = recState{siblings: map[string][]string{}, live: map[string][]string{}}
	}
	values := map[string]json.RawMessage{}
	raw := func(s string) json.RawMessage {
		v, ok := values[s]
		if !ok {
			v = json.RawMessage(s)
			values[s] = v
		}
		return v
	}
	ms := int64(1_750_000_000_000)
	var counter uint16
	for n := range nOps {
		if rng.IntN(4) == 0 {
			ms += int64(rng.IntN(3))
			counter = 0
		}
		counter++
		ri := rng.IntN(nRecords)
		st := &states[ri]
		dev := rng.IntN(benchDevices)
		op := crdt.Op{
			ID: benchUUID(rng), Record: w.records[ri], Kind: model.KindIdentification,
			HLC: hlc.New(ms, counter), Device: devices[dev], User: users[dev%benchUsers], Base: []string{},
		}
		switch p := rng.IntN(100); {
		case p < 60:
			reg := benchRegisters[rng.IntN(len(benchRegisters))]
			op.Field, op.Action = reg.field, model.ActionSet
			op.Value = raw(reg.values[rng.IntN(len(reg.values))])
			sib := st.siblings[reg.field]
			base := sib
			if len(sib) > 0 && rng.IntN(12) == 0 {
				base = sib[:rng.IntN(len(sib))] // a stale view: a conflict
			}
			op.Base = append([]string{}, base...)
			var next []string
			for _, id := range sib {
				if !propContains(base, id) {
					next = append(next, id)
				}
			}
			st.siblings[reg.field] = append(next, op.ID)
		case p < 85:
			set := benchSets[rng.IntN(len(benchSets))]
			elem := set.values[rng.IntN(len(set.values))]
			op.Field = set.field
			op.Value = raw(fmt.Sprintf("%q", elem))
			key := set.field + "\x00" + elem
			if live := st.live[key]; len(live) > 0 && rng.IntN(5) < 2 {
				op.Action = model.ActionRemove
				op.Base = append([]string{}, live...)
				st.live[key] = nil
			} else {
				op.Action = model.ActionAdd
				st.live[key] = append(live, op.ID)
			}
		default:
			op.Field, op.Action = "notes", model.ActionAppend
			op.Value = json.RawMessage(fmt.Sprintf(`{"text":"observation %d","v":%d}`, n, n%7))
		}
		slices.Sort(op.Base)
		if err := crdt.Validate(schema, &op); err != nil {
			return nil, fmt.Errorf("op %d: %v", n, err)
		}
		if n < 2_000 {
			again, err := crdt.DecodeOp(op.AppendJSON(nil))
			if err != nil || !reflect.DeepEqual(again, op) {
				return nil, fmt.Errorf("op %d does not round-trip: %v\n%#v\n%#v", n, err, op, again)
			}
		}
		w.ops = append(w.ops, op)
		w.rec = append(w.rec, int32(ri))
	}
	return w, nil
}

// BenchmarkApply applies 1,000,000 pre-decoded, validated ops to 10,000
// fresh records per iteration and reports ops/s.
func BenchmarkApply(b *testing.B) {
	w, err := benchLoad()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("interleaved", func(b *testing.B) { benchApply(b, w, w.ops, w.rec) })
	// The same ops, each record's in their order, records one after the
	// other: how a device materialises a first pull or the server a push
	// from one tablet, with each record's state hot in the cache.
	order := make([]int, len(w.ops))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return w.rec[order[i]] < w.rec[order[j]] })
	ops, rec := make([]crdt.Op, len(order)), make([]int32, len(order))
	for i, k := range order {
		ops[i], rec[i] = w.ops[k], w.rec[k]
	}
	b.Run("by-record", func(b *testing.B) { benchApply(b, w, ops, rec) })
}

func benchApply(b *testing.B, w *benchWorkload, ops []crdt.Op, rec []int32) {
	schema := model.DefaultSchema()
	b.ReportAllocs()
	b.ResetTimer()
	var cpu time.Duration
	for range b.N {
		b.StopTimer()
		recs := make([]*crdt.Record, len(w.records))
		for i, id := range w.records {
			recs[i] = crdt.NewRecord(id, model.KindIdentification)
		}
		// The workload (about 400 MB) is live throughout: a collection
		// cycle marking it costs seconds of CPU (on the idle P too) and
		// would land in one order or the other at random. Collecting
		// here, outside the figures, leaves the timed applies room to
		// allocate without a cycle, so both orders measure the engine.
		runtime.GC()
		start := benchCPU()
		b.StartTimer()
		for i := range ops {
			if _, err := recs[rec[i]].Apply(schema, &ops[i]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		cpu += benchCPU() - start
	}
	b.ReportMetric(float64(len(ops))*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	// CPU time hardly depends on other load on the machine, unlike ops/s.
	b.ReportMetric(float64(cpu)/float64(len(ops)*b.N), "cpu-ns/op")
}

// benchCPU returns the CPU time the process has used.
func benchCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestBenchWorkloadConverges checks the benchmark's generator on a
// smaller workload of the same shape (100 ops per record): valid ops whose
// state does not depend on delivery order, with conflicts.
func TestBenchWorkloadConverges(t *testing.T) {
	w, err := benchBuild(200, 20_000)
	if err != nil {
		t.Fatal(err)
	}
	schema := model.DefaultSchema()
	// Applied in order and in reverse.
	fwd, rev := map[int32]*crdt.Record{}, map[int32]*crdt.Record{}
	apply := func(m map[int32]*crdt.Record, i int) {
		ri := w.rec[i]
		r, ok := m[ri]
		if !ok {
			r = crdt.NewRecord(w.records[ri], model.KindIdentification)
			m[ri] = r
		}
		if _, err := r.Apply(schema, &w.ops[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range w.ops {
		apply(fwd, i)
	}
	for i := len(w.ops) - 1; i >= 0; i-- {
		apply(rev, i)
	}
	conflicts := 0
	for ri, r := range fwd {
		if got, want := rev[ri].Canonical(), r.Canonical(); string(got) != string(want) {
			t.Fatalf("record %d differs between orders", ri)
		}
		conflicts += len(r.Conflicts())
	}
	if conflicts == 0 {
		t.Errorf("the workload has no conflicts")
	}
}

// benchSchema50 is a schema with one kind of 50 fields: 30 registers, 10
// sets, 10 logs.
func benchSchema50() *model.Schema {
	writers := []model.Role{model.RoleFieldWorker}
	fields := map[string]*model.Field{
		model.FieldDeleted: {Class: model.ClassRegister, Type: model.TypeBool, Writers: writers, MaxBytes: 16},
	}
	for i := range 30 {
		fields[fmt.Sprintf("register_%02d", i)] = &model.Field{Class: model.ClassRegister, Type: model.TypeString, Writers: writers, MaxBytes: 256}
	}
	for i := range 10 {
		fields[fmt.Sprintf("set_%02d", i)] = &model.Field{Class: model.ClassSet, Type: model.TypeString, Writers: writers, MaxBytes: 256}
	}
	for i := range 10 {
		fields[fmt.Sprintf("log_%02d", i)] = &model.Field{Class: model.ClassLog, Type: model.TypeObject, Writers: writers, Required: []string{"text"}, MaxBytes: 64 << 10}
	}
	return &model.Schema{Version: 1, Kinds: map[string]*model.Kind{"bench": {Fields: fields}}}
}

// BenchmarkCanonical50Fields encodes a record of 50 fields (every third
// register in conflict, 5 elements per set, 5 entries per log, one
// redacted).
func BenchmarkCanonical50Fields(b *testing.B) {
	schema := benchSchema50()
	rng := rand.New(rand.NewPCG(50, 50))
	r := crdt.NewRecord(benchUUID(rng), "bench")
	ms := int64(1_750_000_000_000)
	apply := func(field string, action model.Action, value string, base ...string) string {
		ms++
		op := crdt.Op{ID: benchUUID(rng), Record: r.ID, Kind: "bench", Field: field, Action: action,
			Value: json.RawMessage(value), Base: append([]string{}, base...), HLC: hlc.New(ms, 0),
			Device: benchUUID(rng), User: benchUUID(rng)}
		if err := crdt.Validate(schema, &op); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Apply(schema, &op); err != nil {
			b.Fatal(err)
		}
		return op.ID
	}
	apply(model.FieldDeleted, model.ActionSet, `false`)
	for i := range 30 {
		f := fmt.Sprintf("register_%02d", i)
		first := apply(f, model.ActionSet, fmt.Sprintf(`"value %d"`, i))
		if i%3 == 0 {
			apply(f, model.ActionSet, fmt.Sprintf(`"concurrent value %d"`, i))
		} else {
			apply(f, model.ActionSet, fmt.Sprintf(`"second value %d with \"quotes\" and ë"`, i), first)
		}
	}
	for i := range 10 {
		for j := range 5 {
			apply(fmt.Sprintf("set_%02d", i), model.ActionAdd, fmt.Sprintf(`"element-%d-%d"`, i, j))
		}
	}
	for i := range 10 {
		f := fmt.Sprintf("log_%02d", i)
		var last string
		for j := range 5 {
			last = apply(f, model.ActionAppend, fmt.Sprintf(`{"lang":"sq","text":"entry %d of log %d: met at the border point"}`, j, i))
		}
		apply(f, model.ActionRedact, `null`, last)
	}
	if n := len(r.FieldNames()); n != 51 {
		b.Fatalf("record has %d fields, want 51 (50 + deleted)", n)
	}
	out := r.Canonical()
	if !json.Valid(out) {
		b.Fatalf("invalid canonical output")
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		out = r.AppendJSON(out[:0], nil)
	}
	b.StopTimer()
	b.ReportMetric(float64(len(out)), "bytes/record")
	allocating := testing.AllocsPerRun(10, func() { _ = r.Canonical() })
	b.ReportMetric(allocating, "allocs/Canonical")
}

// BenchmarkDecodeOp decodes typical ops as they arrive in a push.
func BenchmarkDecodeOp(b *testing.B) {
	cases := []struct {
		name string
		js   string
	}{
		{"set", decJSON(nil)},
		{"add", valOp(model.KindIdentification, "indicators", "add", `"abduction"`)},
		{"remove3", valOp(model.KindIdentification, "indicators", "remove", `"abduction"`, decBaseB, decBaseA, decID[:35]+"2")},
		{"append", valOp(model.KindIdentification, "notes", "append", `{"text":"Met at the bus station at 23:00, travelling with two adults who held her passport.","lang":"en"}`)},
	}
	for _, c := range cases {
		data := []byte(c.js)
		if _, err := crdt.DecodeOp(data); err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for range b.N {
				if _, err := crdt.DecodeOp(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}

// BenchmarkDecodeStored decodes the same ops from their stored form
// (AppendJSON), as the store and the SDK read them back.
func BenchmarkDecodeStored(b *testing.B) {
	cases := []struct {
		name string
		js   string
	}{
		{"set", decJSON(nil)},
		{"add", valOp(model.KindIdentification, "indicators", "add", `"abduction"`)},
		{"remove3", valOp(model.KindIdentification, "indicators", "remove", `"abduction"`, decBaseB, decBaseA, decID[:35]+"2")},
		{"append", valOp(model.KindIdentification, "notes", "append", `{"text":"Met at the bus station at 23:00, travelling with two adults who held her passport.","lang":"en"}`)},
	}
	for _, c := range cases {
		op, err := crdt.DecodeOp([]byte(c.js))
		if err != nil {
			b.Fatalf("%s: %v", c.name, err)
		}
		data := op.AppendJSON(nil)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for range b.N {
				if _, err := crdt.DecodeStored(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
}
