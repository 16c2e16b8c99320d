package crdt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/gowebpki/jcs"
)

// The golden vectors in testdata/ are the shared, hand-derived check of the
// merge rules (DESIGN §4); the TypeScript client loads the same files. The
// format is documented in testdata/README.md.

const (
	minGoldenVectors     = 30
	goldenRandomOrders   = 20
	goldenMergeSplits    = 10
	goldenVectorPattern  = "testdata/*.json"
	goldenDiffContextLns = 3
)

var goldenFileName = regexp.MustCompile(`^[0-9]{2}-[a-z0-9]+(-[a-z0-9]+)*\.json$`)

// goldenOpKeys are the keys every op of a vector must spell out.
var goldenOpKeys = []string{"action", "base", "device", "field", "hlc", "id", "kind", "record", "user", "value"}

type goldenVector struct {
	file        string
	Name        string                     `json:"name"`
	Description string                     `json:"description"`
	Ops         []json.RawMessage          `json:"ops"`
	Expected    map[string]json.RawMessage `json:"expected"`
	History     map[string]json.RawMessage `json:"history"`

	ops  []Op              // decoded and validated, in list order
	want map[string][]byte // record id -> canonical expected state
	hist map[string][]byte // record id -> canonical expected history
}

// loadGoldenVectors reads, decodes and validates every vector; any problem
// with a vector file itself is fatal.
func loadGoldenVectors(t *testing.T) []*goldenVector {
	t.Helper()
	files, err := filepath.Glob(goldenVectorPattern)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	schema := model.DefaultSchema()
	var vs []*goldenVector
	for _, file := range files {
		v, err := loadGoldenVector(schema, file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		vs = append(vs, v)
	}
	return vs
}

func loadGoldenVector(schema *model.Schema, file string) (*goldenVector, error) {
	base := filepath.Base(file)
	if !goldenFileName.MatchString(base) {
		return nil, fmt.Errorf("file name must be NN-short-name.json")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	v := &goldenVector{file: file}
	if err := dec.Decode(v); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if v.Name != strings.TrimSuffix(base, ".json") {
		return nil, fmt.Errorf("name %q must equal the file name without .json", v.Name)
	}
	if strings.TrimSpace(v.Description) == "" || len(v.Ops) == 0 || len(v.Expected) == 0 {
		return nil, fmt.Errorf("description, ops and expected must not be empty")
	}

	kinds := map[string]string{} // record id -> kind, from the ops
	byID := map[string]*Op{}
	for i, raw := range v.Ops {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(raw, &keys); err != nil {
			return nil, fmt.Errorf("op %d: %w", i, err)
		}
		if got := slices.Sorted(maps.Keys(keys)); !slices.Equal(got, goldenOpKeys) {
			return nil, fmt.Errorf("op %d: keys %v, want all of %v", i, got, goldenOpKeys)
		}
		op, err := DecodeOp(raw)
		if err != nil {
			return nil, fmt.Errorf("op %d: DecodeOp: %w", i, err)
		}
		if err := Validate(schema, &op); err != nil {
			return nil, fmt.Errorf("op %d (%s): Validate: %w", i, op.ID, err)
		}
		if prev, ok := byID[op.ID]; ok {
			if !SameContent(prev, &op, false) || prev.HLC != op.HLC || prev.User != op.User || prev.Device != op.Device {
				return nil, fmt.Errorf("op %d: id %s is listed twice with different contents", i, op.ID)
			}
		} else {
			byID[op.ID] = &op
		}
		if k, ok := kinds[op.Record]; ok && k != op.Kind {
			return nil, fmt.Errorf("op %d: record %s has ops of kinds %s and %s", i, op.Record, k, op.Kind)
		}
		kinds[op.Record] = op.Kind
		v.ops = append(v.ops, op)
	}

	v.want = map[string][]byte{}
	for id, raw := range v.Expected {
		if _, ok := kinds[id]; !ok {
			return nil, fmt.Errorf("expected holds record %s, which no op writes", id)
		}
		c, err := jcs.Transform(raw)
		if err != nil {
			return nil, fmt.Errorf("expected[%s]: canonicalise: %w", id, err)
		}
		v.want[id] = c
	}
	for id := range kinds {
		if _, ok := v.Expected[id]; !ok {
			return nil, fmt.Errorf("ops write record %s, which expected does not hold", id)
		}
	}
	v.hist = map[string][]byte{}
	for id, raw := range v.History {
		if _, ok := kinds[id]; !ok {
			return nil, fmt.Errorf("history holds record %s, which no op writes", id)
		}
		c, err := jcs.Transform(raw)
		if err != nil {
			return nil, fmt.Errorf("history[%s]: canonicalise: %w", id, err)
		}
		v.hist[id] = c
	}
	return v, nil
}

// goldenSeed is the fixed per-file seed of the random delivery orders.
func goldenSeed(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

type goldenDelivery struct {
	name  string
	order []int // indices into the vector's ops, duplicates allowed
}

// goldenDeliveries returns the orders every vector is applied in: as
// listed, reversed, and goldenRandomOrders seeded random permutations,
// each with random duplicates inserted at random places.
func goldenDeliveries(v *goldenVector) []goldenDelivery {
	n := len(v.ops)
	listed := make([]int, n)
	for i := range listed {
		listed[i] = i
	}
	reversed := slices.Clone(listed)
	slices.Reverse(reversed)
	ds := []goldenDelivery{{"listed", listed}, {"reversed", reversed}}
	r := rand.New(rand.NewPCG(goldenSeed(v.Name), 0x5eed))
	for k := range goldenRandomOrders {
		order := r.Perm(n)
		for range r.IntN(n + 1) {
			at := r.IntN(len(order) + 1)
			order = slices.Insert(order, at, r.IntN(n))
		}
		ds = append(ds, goldenDelivery{fmt.Sprintf("random-%02d", k), order})
	}
	return ds
}

// applyGolden applies the ops at order to fresh records.
func applyGolden(t *testing.T, schema *model.Schema, v *goldenVector, order []int) map[string]*Record {
	t.Helper()
	recs := map[string]*Record{}
	for _, i := range order {
		op := v.ops[i]
		r, ok := recs[op.Record]
		if !ok {
			r = NewRecord(op.Record, op.Kind)
			recs[op.Record] = r
		}
		if _, err := r.Apply(schema, &op); err != nil {
			t.Fatalf("Apply op %d (%s): %v", i, op.ID, err)
		}
	}
	return recs
}

// checkGoldenState compares the canonical state of every record with the
// vector's expected state; it reports whether all matched.
func checkGoldenState(t *testing.T, v *goldenVector, recs map[string]*Record, how string) bool {
	t.Helper()
	ok := true
	for _, id := range slices.Sorted(maps.Keys(v.want)) {
		r, found := recs[id]
		if !found {
			t.Errorf("%s: %s: record %s has no state", v.Name, how, id)
			ok = false
			continue
		}
		if got := r.Canonical(); !bytes.Equal(got, v.want[id]) {
			t.Errorf("%s: %s: record %s differs from expected\n%s", v.Name, how, id, goldenDiff(got, v.want[id]))
			ok = false
		}
	}
	return ok
}

func TestVectorCount(t *testing.T) {
	vs := loadGoldenVectors(t)
	if len(vs) < minGoldenVectors {
		t.Fatalf("found %d golden vectors in %s, want at least %d", len(vs), goldenVectorPattern, minGoldenVectors)
	}
	names := map[string]bool{}
	for _, v := range vs {
		if num := v.Name[:2]; names[num] {
			t.Errorf("two vectors are numbered %s", num)
		} else {
			names[num] = true
		}
	}
}

// TestVectors applies every vector's ops in every delivery order to fresh
// records and compares the canonical states (and histories) with the
// hand-derived expectations.
func TestVectors(t *testing.T) {
	schema := model.DefaultSchema()
	for _, v := range loadGoldenVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			for _, d := range goldenDeliveries(v) {
				recs := applyGolden(t, schema, v, d.order)
				how := fmt.Sprintf("delivery %s %v", d.name, d.order)
				if !checkGoldenState(t, v, recs, how) {
					return // one readable failure per vector is enough
				}
				if d.name == "listed" {
					checkGoldenIdempotent(t, schema, v, recs)
				}
			}
			checkGoldenHistory(t, v)
		})
	}
}

// checkGoldenIdempotent re-applies every op to records that hold them all:
// Apply must report no change and the state must stay byte-identical.
func checkGoldenIdempotent(t *testing.T, schema *model.Schema, v *goldenVector, recs map[string]*Record) {
	t.Helper()
	for i := range v.ops {
		op := v.ops[i]
		r := recs[op.Record]
		before := r.Canonical()
		changed, err := r.Apply(schema, &op)
		if err != nil {
			t.Fatalf("re-apply op %d (%s): %v", i, op.ID, err)
		}
		if after := r.Canonical(); !bytes.Equal(before, after) {
			t.Errorf("%s: re-applying op %d (%s) changed the state\n%s", v.Name, i, op.ID, goldenDiff(after, before))
		} else if changed {
			t.Errorf("%s: re-applying op %d (%s) reported a change but the state is the same", v.Name, i, op.ID)
		}
	}
}

// checkGoldenHistory builds each listed record's history as the server
// serves it: its ops once each, sorted by (hlc, device, id), the value of
// every append a redact of the same record and field names erased.
func checkGoldenHistory(t *testing.T, v *goldenVector) {
	t.Helper()
	for _, id := range slices.Sorted(maps.Keys(v.hist)) {
		var ops []Op
		seen := map[string]bool{}
		redacted := map[[2]string]bool{} // (field, append id)
		for _, op := range v.ops {
			if op.Record != id || seen[op.ID] {
				continue
			}
			seen[op.ID] = true
			ops = append(ops, op)
			if op.Action == model.ActionRedact {
				redacted[[2]string{op.Field, op.Base[0]}] = true
			}
		}
		SortOps(ops)
		got := []byte{'['}
		for i, op := range ops {
			if op.Action == model.ActionAppend && redacted[[2]string{op.Field, op.ID}] {
				op = op.Redacted()
			}
			if i > 0 {
				got = append(got, ',')
			}
			got = op.AppendJSON(got)
		}
		got = append(got, ']')
		if !bytes.Equal(got, v.hist[id]) {
			t.Errorf("%s: history of record %s differs from expected\n%s", v.Name, id, goldenDiff(got, v.hist[id]))
		}
	}
}

// TestVectorsMerge splits each vector's ops between two replicas (some ops
// reach both), applies them and joins the replicas with Record.Merge in
// both directions: the result must equal the expected state.
func TestVectorsMerge(t *testing.T) {
	schema := model.DefaultSchema()
	for _, v := range loadGoldenVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(goldenSeed(v.Name), 0x3e76e))
			for k := range goldenMergeSplits {
				var left, right []int
				for _, i := range r.Perm(len(v.ops)) {
					switch r.IntN(3) {
					case 0:
						left = append(left, i)
					case 1:
						right = append(right, i)
					default:
						left = append(left, i)
						right = append(right, i)
					}
				}
				for dir, pair := range [2][2][]int{{left, right}, {right, left}} {
					into := applyGolden(t, schema, v, pair[0])
					from := applyGolden(t, schema, v, pair[1])
					for id, fr := range from {
						if rec, ok := into[id]; ok {
							if err := rec.Merge(fr); err != nil {
								t.Fatalf("Merge: %v", err)
							}
						} else {
							into[id] = fr.Clone()
						}
					}
					how := fmt.Sprintf("merge split %d direction %d: %v into %v", k, dir, pair[1], pair[0])
					if !checkGoldenState(t, v, into, how) {
						return
					}
				}
			}
		})
	}
}

// goldenDiff shows got and want indented, with the first differing line
// marked.
func goldenDiff(got, want []byte) string {
	g, w := goldenIndent(got), goldenIndent(want)
	gl, wl := strings.Split(g, "\n"), strings.Split(w, "\n")
	first := 0
	for first < len(gl) && first < len(wl) && gl[first] == wl[first] {
		first++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "first difference at line %d:\n", first+1)
	for _, side := range []struct {
		label string
		lines []string
	}{{"got ", gl}, {"want", wl}} {
		lo, hi := max(0, first-goldenDiffContextLns), min(len(side.lines), first+goldenDiffContextLns+1)
		for i := lo; i < hi; i++ {
			mark := "  "
			if i == first {
				mark = "> "
			}
			fmt.Fprintf(&b, "  %s %s%4d %s\n", side.label, mark, i+1, side.lines[i])
		}
	}
	fmt.Fprintf(&b, "got (canonical):  %s\nwant (canonical): %s\n", got, want)
	fmt.Fprintf(&b, "got:\n%s\nwant:\n%s", g, w)
	return b.String()
}

func goldenIndent(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b) + "\n(not valid JSON: " + err.Error() + ")"
	}
	return out.String()
}
