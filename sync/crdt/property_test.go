package crdt_test

// Property tests of the merge engine (DESIGN §4, doc.go): random ops over a
// few identification records, written by several devices whose replicas
// supply realistic bases, mixed with adversarial bases naming random ids of
// the pool (ops not yet written, ops of other fields, ids that never become
// ops). Every property is also checked against propSpecState, an
// independent, deliberately naive reading of the §4 rules that computes the
// state from the set of ops in one pass.
//
// Helpers here are prefixed "prop" so that they do not collide with other
// test files of this package.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"
	"pgregory.net/rapid"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

var propSchema = model.DefaultSchema()

const propKind = model.KindIdentification

// propField is one field the generators write.
type propField struct {
	name  string
	class model.Class
}

// propFields covers every merge class: registers of each value type
// (deleted included), two code sets, a log.
var propFields = []propField{
	{model.FieldStatus, model.ClassRegister},
	{"region", model.ClassRegister},
	{"age_estimate", model.ClassRegister},
	{model.FieldDeleted, model.ClassRegister},
	{"exploitation_types", model.ClassSet},
	{"indicators", model.ClassSet},
	{"notes", model.ClassLog},
}

// propFieldWeights picks fields (indexes into propFields): sets and the
// log more often than a single register, so that removes meet several
// concurrent adds and redacts meet each other.
var propFieldWeights = []int{0, 1, 2, 3, 4, 4, 5, 5, 6, 6, 6}

// propFocus narrows a scenario to one class now and then (the first is no
// focus), so that its ops meet densely: removes of several concurrent adds,
// redacts of one entry by several users, conflicts of many siblings.
var propFocus = [][]int{propFieldWeights, {0, 3}, {4, 5}, {6}}

// propValues are raw JSON texts written as register values and log entries,
// several of them not canonical (DecodeOp canonicalises them).
var propValues = map[string][]string{
	model.FieldStatus:  {`"potential"`, `"presumed"`, `"identified"`, `"withdrawn"`},
	"region":           {`"north"`, `"Tiran\u00eb"`, `null`, `"a\"b\\c\u0001\u2028"`, `"<&>"`},
	"age_estimate":     {`17`, `1.0`, `1e1`, `-0`, `0.1`, `25.50`, `1e21`, `1E-7`},
	model.FieldDeleted: {`true`, `false`},
	"notes": {
		`{"text":"first meeting"}`,
		`{ "text" : "x", "b" : 1.0, "a" : [1, 2.50, {"z":null,"y":"\u00e9"}] }`,
		`{"text":"\u00e9t\u00e9","lang":"fr"}`,
	},
}

// propElements are the elements added to the sets: few, so that adds and
// removes of one element meet.
var propElements = map[string][]string{
	"exploitation_types": {"sexual", "labour"},
	"indicators":         {"abduction", "debt_at_recruitment", "deceived_wages"},
}

// propRetired is a code no catalogue holds: removes may still name it.
const propRetired = "retired_indicator_v0"

// propID returns a canonical lowercase UUID tagged with its role.
func propID(tag, n int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", tag, n)
}

// propFailer is what the builders need of *testing.T and *rapid.T.
type propFailer interface {
	Fatalf(format string, args ...any)
}

// propChooser supplies the builder's choices: rapid draws in property
// tests, fuzz bytes in FuzzApplySequence.
type propChooser interface {
	choose(n int, label string) int
}

type propRapid struct{ t *rapid.T }

func (c propRapid) choose(n int, label string) int {
	if n <= 1 {
		return 0
	}
	return rapid.IntRange(0, n-1).Draw(c.t, label)
}

// propBytes reads choices from fuzz data; once it runs out every choice
// is 0, so the builder always terminates.
type propBytes struct {
	data []byte
	pos  int
}

func (c *propBytes) choose(n int, _ string) int {
	if n <= 1 {
		return 0
	}
	k := 1
	for m := 256; m < n; m <<= 8 {
		k++
	}
	v := 0
	for range k {
		if c.pos >= len(c.data) {
			break
		}
		v = v<<8 | int(c.data[c.pos])
		c.pos++
	}
	return v % n
}

// propDevice is one writer with its own replica of every record.
type propDevice struct {
	id    string
	user  string
	recs  map[string]*crdt.Record
	known map[string]bool
	ops   []crdt.Op
}

func (d *propDevice) rec(id string) *crdt.Record {
	r, ok := d.recs[id]
	if !ok {
		r = crdt.NewRecord(id, propKind)
		d.recs[id] = r
	}
	return r
}

func (d *propDevice) receive(fail propFailer, op crdt.Op) {
	if d.known[op.ID] {
		return
	}
	if _, err := d.rec(op.Record).Apply(propSchema, &op); err != nil {
		fail.Fatalf("device %s: Apply(%s): %v", d.id, op.AppendJSON(nil), err)
	}
	d.known[op.ID] = true
	d.ops = append(d.ops, op)
}

// liveAdds returns the adds of elem the device has received that no remove
// it has received names: the base a remove written now carries.
func (d *propDevice) liveAdds(record, field, elem string) []string {
	removed := map[string]bool{}
	for i := range d.ops {
		op := &d.ops[i]
		if op.Record == record && op.Field == field && op.Action == model.ActionRemove && propElem(op) == elem {
			for _, b := range op.Base {
				removed[b] = true
			}
		}
	}
	var live []string
	for i := range d.ops {
		op := &d.ops[i]
		if op.Record == record && op.Field == field && op.Action == model.ActionAdd && propElem(op) == elem && !removed[op.ID] {
			live = append(live, op.ID)
		}
	}
	return live
}

func propElem(op *crdt.Op) string {
	var s string
	_ = json.Unmarshal(op.Value, &s)
	return s
}

// propScenario is a generated history: the records written and the
// distinct ops in the order they were written.
type propScenario struct {
	Records []string
	Ops     []crdt.Op
}

// propGen generates scenarios of 1 to 3 records, 2 to 4 devices and up to
// maxOps ops.
func propGen(maxOps int) *rapid.Generator[*propScenario] {
	return rapid.Custom(func(t *rapid.T) *propScenario {
		nRec := rapid.IntRange(1, 3).Draw(t, "records")
		nDev := rapid.IntRange(2, 4).Draw(t, "devices")
		nOps := rapid.IntRange(1, maxOps).Draw(t, "ops")
		recs, ops := propBuild(t, propRapid{t}, nRec, nDev, nOps)
		return &propScenario{Records: recs, Ops: ops}
	})
}

// propBuild writes nOps ops. Devices write to their own replicas and now
// and then sync (from another device or from the server, which holds every
// op so far), so bases name what the writer had seen; a quarter of the
// bases are adversarial instead, or mixed.
func propBuild(fail propFailer, ch propChooser, nRec, nDev, nOps int) ([]string, []crdt.Op) {
	records := make([]string, nRec)
	for i := range records {
		records[i] = propID(0x1ec, i+1)
	}
	users := []string{propID(0x05e, 1), propID(0x05e, 2), propID(0x05e, 3)}
	devs := make([]*propDevice, nDev)
	for i := range devs {
		devs[i] = &propDevice{id: propID(0xde7, i+1), user: users[i%len(users)], recs: map[string]*crdt.Record{}, known: map[string]bool{}}
	}
	// The pool holds the ids of every op to be written, in an order
	// unrelated to the writing order, and four ids that never become ops.
	pool := make([]string, nOps+4)
	order := make([]int, len(pool))
	for i := range order {
		order[i] = i
	}
	for i := len(order) - 1; i > 0; i-- {
		j := ch.choose(i+1, "id order")
		order[i], order[j] = order[j], order[i]
	}
	for i := range pool {
		pool[i] = propID(0x0b, order[i]+1)
	}
	randomIDs := func(self string, max int) []string {
		var ids []string
		for range ch.choose(max+1, "adversarial ids") {
			if id := pool[ch.choose(len(pool), "adversarial id")]; id != self {
				ids = append(ids, id)
			}
		}
		return ids
	}
	weights := propFocus[ch.choose(len(propFocus), "focus")]
	var all []crdt.Op
	for steps := 0; len(all) < nOps && steps < 4*nOps+8; steps++ {
		d := devs[ch.choose(nDev, "device")]
		if ch.choose(4, "write or sync") == 3 {
			src := ch.choose(nDev+1, "sync from (last = server)")
			for _, op := range all {
				if src == nDev || devs[src].known[op.ID] {
					d.receive(fail, op)
				}
			}
			continue
		}
		record := records[ch.choose(nRec, "record")]
		f := propFields[weights[ch.choose(len(weights), "field")]]
		id := pool[len(all)]
		ts := hlc.New(1_750_000_000_000+int64(ch.choose(6, "hlc ms")), uint16(ch.choose(2, "hlc counter")))
		user := d.user
		if ch.choose(8, "user") == 7 {
			user = "" // the server sets it; a client may leave it out
		}
		var action model.Action
		var value string
		var base []string
		baseFrom := func(realistic []string) []string {
			switch ch.choose(4, "base mode") {
			case 2:
				return randomIDs(id, 3)
			case 3:
				return append(realistic, randomIDs(id, 2)...)
			}
			return realistic
		}
		switch f.class {
		case model.ClassRegister:
			action = model.ActionSet
			vals := propValues[f.name]
			value = vals[ch.choose(len(vals), "value")]
			var sib []string
			for _, e := range d.rec(record).Siblings(f.name) {
				sib = append(sib, e.Op)
			}
			base = baseFrom(sib)
		case model.ClassSet:
			elems := propElements[f.name]
			if ch.choose(5, "add or remove") < 3 {
				action = model.ActionAdd
				value = fmt.Sprintf("%q", elems[ch.choose(len(elems), "element")])
			} else {
				action = model.ActionRemove
				choices := append(append([]string{}, elems...), propRetired)
				elem := choices[ch.choose(len(choices), "element")]
				value = fmt.Sprintf("%q", elem)
				base = baseFrom(d.liveAdds(record, f.name, elem))
			}
		case model.ClassLog:
			if ch.choose(3, "append or redact") < 2 {
				action = model.ActionAppend
				vals := propValues[f.name]
				value = vals[ch.choose(len(vals), "entry")]
			} else {
				action = model.ActionRedact
				if ch.choose(2, "redact a value") == 1 {
					value = "null"
				}
				entries := d.rec(record).Entries(f.name)
				if len(entries) > 0 && ch.choose(3, "redact target mode") < 2 {
					base = []string{entries[ch.choose(len(entries), "redact target")].Op}
				} else {
					j := ch.choose(len(pool), "redact target id")
					if pool[j] == id {
						j = (j + 1) % len(pool)
					}
					base = []string{pool[j]}
				}
			}
		}
		js := propOpJSON(ch, id, record, f.name, action, value, base, ts, d.id, user)
		op := propMustOp(fail, js)
		d.receive(fail, op)
		all = append(all, op)
	}
	return records, all
}

// propOpJSON writes an op as a client would: the base unsorted, possibly
// with duplicates, an empty base absent, [] or null, user absent when
// empty, a null value sometimes absent.
func propOpJSON(ch propChooser, id, record, field string, action model.Action, value string, base []string, ts hlc.Timestamp, device, user string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":%q,"record":%q,"kind":%q,"field":%q,"action":%q`, id, record, propKind, field, action)
	if value != "" {
		fmt.Fprintf(&b, `,"value":%s`, value)
	}
	if len(base) > 0 {
		q := make([]string, len(base))
		for i, x := range base {
			q[i] = fmt.Sprintf("%q", x)
		}
		fmt.Fprintf(&b, `, "base" : [ %s ]`, strings.Join(q, ", "))
	} else {
		switch ch.choose(3, "empty base form") {
		case 1:
			b.WriteString(`,"base":[]`)
		case 2:
			b.WriteString(`,"base":null`)
		}
	}
	fmt.Fprintf(&b, `,"hlc":%q,"device":%q`, ts.String(), device)
	if user != "" {
		fmt.Fprintf(&b, `,"user":%q`, user)
	}
	b.WriteString("}")
	return []byte(b.String())
}

// propMustOp decodes and validates a generated op and checks that its
// canonical JSON decodes to the same op (and is itself canonical).
func propMustOp(fail propFailer, js []byte) crdt.Op {
	op, err := crdt.DecodeOp(js)
	if err != nil {
		fail.Fatalf("DecodeOp(%s): %v", js, err)
	}
	if err := crdt.Validate(propSchema, &op); err != nil {
		fail.Fatalf("Validate(%s): %v", js, err)
	}
	out := op.AppendJSON(nil)
	again, err := crdt.DecodeOp(out)
	if err != nil {
		fail.Fatalf("DecodeOp(AppendJSON) of %s: %v", out, err)
	}
	if !reflect.DeepEqual(op, again) {
		fail.Fatalf("round trip changed the op:\n in: %#v\nout: %#v", op, again)
	}
	if c, err := jcs.Transform(out); err != nil || !bytes.Equal(c, out) {
		fail.Fatalf("AppendJSON is not canonical: %s (jcs: %s, %v)", out, c, err)
	}
	return op
}

// propDeliver applies ops in the given order (indexes into ops, repeats
// allowed) to fresh replicas of their records. A repeated op must report
// no change and leave the canonical state as it was.
func propDeliver(fail propFailer, ops []crdt.Op, order []int) map[string]*crdt.Record {
	recs := map[string]*crdt.Record{}
	seen := map[string]bool{}
	for _, i := range order {
		op := ops[i]
		r, ok := recs[op.Record]
		if !ok {
			r = crdt.NewRecord(op.Record, op.Kind)
			recs[op.Record] = r
		}
		var before []byte
		if seen[op.ID] {
			before = r.Canonical()
		}
		changed, err := r.Apply(propSchema, &op)
		if err != nil {
			fail.Fatalf("Apply(%s): %v", op.AppendJSON(nil), err)
		}
		if seen[op.ID] {
			if changed {
				fail.Fatalf("Apply of the already applied op %s reported a change", op.AppendJSON(nil))
			}
			if after := r.Canonical(); !bytes.Equal(before, after) {
				fail.Fatalf("Apply of the already applied op %s changed the state:\nbefore %s\nafter  %s", op.AppendJSON(nil), before, after)
			}
		}
		seen[op.ID] = true
	}
	return recs
}

// propOrder draws a delivery order of n ops: every op at least once, some
// twice or three times, shuffled.
func propOrder(t *rapid.T, n int, label string) []int {
	var order []int
	for i := range n {
		order = append(order, i)
		for range rapid.IntRange(0, 2).Draw(t, label+" copies") {
			order = append(order, i)
		}
	}
	return rapid.Permutation(order).Draw(t, label)
}

// propLogOps logs the ops, one canonical JSON per line, for a failure
// report.
func propLogOps(t *rapid.T, ops []crdt.Op) {
	var b strings.Builder
	for i := range ops {
		fmt.Fprintf(&b, "  %2d %s\n", i, ops[i].AppendJSON(nil))
	}
	t.Logf("ops (%d):\n%s", len(ops), b.String())
}

func propOpsOf(ops []crdt.Op, record string) []crdt.Op {
	var out []crdt.Op
	for _, op := range ops {
		if op.Record == record {
			out = append(out, op)
		}
	}
	return out
}

func propApplyAll(fail propFailer, id string, ops []crdt.Op) *crdt.Record {
	r := crdt.NewRecord(id, propKind)
	for i := range ops {
		if _, err := r.Apply(propSchema, &ops[i]); err != nil {
			fail.Fatalf("Apply(%s): %v", ops[i].AppendJSON(nil), err)
		}
	}
	return r
}

// propMerged returns a ⊔ b without touching either.
func propMerged(fail propFailer, a, b *crdt.Record) *crdt.Record {
	c := a.Clone()
	if err := c.Merge(b); err != nil {
		fail.Fatalf("Merge: %v", err)
	}
	return c
}

// propCheckCanonical checks property (e): the state is valid JSON and
// RFC 8785 canonical already.
func propCheckCanonical(fail propFailer, what string, c []byte) {
	if !json.Valid(c) {
		fail.Fatalf("%s: Canonical is not valid JSON: %s", what, c)
	}
	t, err := jcs.Transform(c)
	if err != nil {
		fail.Fatalf("%s: jcs.Transform(%s): %v", what, c, err)
	}
	if !bytes.Equal(t, c) {
		fail.Fatalf("%s: Canonical is not in RFC 8785 form:\n got %s\njcs  %s", what, c, t)
	}
}

// ---------------------------------------------------------------------------
// The specification model: the state of a record computed directly from
// the set of its ops by the rules of DESIGN §4, with encoding/json and
// jcs.Transform for the canonical form. It shares no code with the engine.

type propKey struct {
	hlc, device, id string
}

func propKeyOf(op *crdt.Op) propKey { return propKey{op.HLC.String(), op.Device, op.ID} }

func (a propKey) less(b propKey) bool {
	if a.hlc != b.hlc {
		return a.hlc < b.hlc
	}
	if a.device != b.device {
		return a.device < b.device
	}
	return a.id < b.id
}

func propSpecState(fail propFailer, s *model.Schema, id, kind string, ops []crdt.Op) []byte {
	// The set of ops: duplicates collapse.
	byID := map[string]*crdt.Op{}
	var distinct []*crdt.Op
	for i := range ops {
		if _, ok := byID[ops[i].ID]; !ok {
			byID[ops[i].ID] = &ops[i]
			distinct = append(distinct, &ops[i])
		}
	}
	maxHLC := hlc.Timestamp(0)
	byField := map[string][]*crdt.Op{}
	for _, op := range distinct {
		maxHLC = max(maxHLC, op.HLC)
		byField[op.Field] = append(byField[op.Field], op)
	}
	fields := map[string]any{}
	deleted := false
	for name, fops := range byField {
		decl, err := s.Field(kind, name)
		if err != nil {
			fail.Fatalf("spec: %v", err)
		}
		var state any
		switch decl.Class {
		case model.ClassRegister:
			// Siblings: set ops not named in the base of any other op of
			// the field; shown = greatest by (hlc, device, id).
			var sib []*crdt.Op
			for _, op := range fops {
				named := false
				for _, other := range fops {
					if other.ID != op.ID && propContains(other.Base, op.ID) {
						named = true
					}
				}
				if !named {
					sib = append(sib, op)
				}
			}
			sort.Slice(sib, func(i, j int) bool { return propKeyOf(sib[j]).less(propKeyOf(sib[i])) })
			member := func(op *crdt.Op) map[string]any {
				return map[string]any{"value": op.Value, "op": op.ID, "hlc": op.HLC.String(), "device": op.Device, "user": op.User}
			}
			if len(sib) == 0 {
				state = map[string]any{"value": nil}
				break
			}
			m := member(sib[0])
			if len(sib) > 1 {
				var conflicts []any
				for _, op := range sib[1:] {
					conflicts = append(conflicts, member(op))
				}
				m["conflicts"] = conflicts
			}
			state = m
			if name == model.FieldDeleted {
				deleted = string(sib[0].Value) == "true"
			}
		case model.ClassSet:
			// An element is present while some add of it is not named in
			// the base of a remove of that element.
			present := map[string]bool{}
			for _, add := range fops {
				if add.Action != model.ActionAdd {
					continue
				}
				removed := false
				for _, rm := range fops {
					if rm.Action == model.ActionRemove && propElem(rm) == propElem(add) && propContains(rm.Base, add.ID) {
						removed = true
					}
				}
				if !removed {
					present[propElem(add)] = true
				}
			}
			values := []string{}
			for v := range present {
				values = append(values, v)
			}
			sort.Strings(values)
			state = map[string]any{"values": values}
		case model.ClassLog:
			// Entries sorted by (hlc, device, id); a redacted one keeps its
			// place, value null, redacted_by = user of the greatest redact.
			var apps []*crdt.Op
			for _, op := range fops {
				if op.Action == model.ActionAppend {
					apps = append(apps, op)
				}
			}
			sort.Slice(apps, func(i, j int) bool { return propKeyOf(apps[i]).less(propKeyOf(apps[j])) })
			entries := []any{}
			for _, app := range apps {
				e := map[string]any{"op": app.ID, "hlc": app.HLC.String(), "device": app.Device, "user": app.User, "value": app.Value, "redacted": false}
				var by *crdt.Op
				for _, rd := range fops {
					if rd.Action == model.ActionRedact && propContains(rd.Base, app.ID) && (by == nil || propKeyOf(by).less(propKeyOf(rd))) {
						by = rd
					}
				}
				if by != nil {
					e["value"] = nil
					e["redacted"] = true
					e["redacted_by"] = by.User
				}
				entries = append(entries, e)
			}
			state = map[string]any{"entries": entries}
		}
		if name != model.FieldDeleted {
			fields[name] = state
		}
	}
	doc := map[string]any{"id": id, "kind": kind, "deleted": deleted, "hlc": maxHLC.String(), "fields": fields}
	raw, err := json.Marshal(doc)
	if err != nil {
		fail.Fatalf("spec: marshal: %v", err)
	}
	out, err := jcs.Transform(raw)
	if err != nil {
		fail.Fatalf("spec: jcs: %v", err)
	}
	return out
}

func propContains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Properties.

// TestPropertyGeneratedOps: every generated op decodes, validates and
// round-trips through AppendJSON (checked in propMustOp), and the
// generators do produce conflicts, removes that cancel, redactions.
func TestPropertyGeneratedOps(t *testing.T) {
	var conflicts, removals, redactions, scenarios int
	// A short run checks few scenarios, and any one of them may lack a
	// redaction; keep checking (a bounded number of rounds) until each
	// kind was seen, so the test fails only for a generator that never
	// makes one.
	for round := 0; round < 20 && (conflicts == 0 || removals == 0 || redactions == 0); round++ {
		checkGeneratedOps(t, &conflicts, &removals, &redactions, &scenarios)
	}
	t.Logf("%d scenarios: records with conflicts %d, with removes %d, with redacted entries %d", scenarios, conflicts, removals, redactions)
	if conflicts == 0 || removals == 0 || redactions == 0 {
		t.Errorf("the generator never produced a conflict, a remove with a base or a redaction")
	}
}

// checkGeneratedOps runs one rapid check of the generators, counting what
// they produced.
func checkGeneratedOps(t *testing.T, conflicts, removals, redactions, scenarios *int) {
	rapid.Check(t, func(t *rapid.T) {
		sc := propGen(40).Draw(t, "scenario")
		*scenarios++
		recs := propDeliver(t, sc.Ops, propIdentity(len(sc.Ops)))
		for _, r := range recs {
			if len(r.Conflicts()) > 0 {
				*conflicts++
			}
			for _, name := range []string{"exploitation_types", "indicators"} {
				for _, op := range propOpsOf(sc.Ops, r.ID) {
					if op.Field == name && op.Action == model.ActionRemove && len(op.Base) > 0 {
						*removals++
						break
					}
				}
			}
			for _, e := range r.Entries("notes") {
				if e.Redacted {
					*redactions++
					break
				}
			}
		}
	})
}

func propIdentity(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = i
	}
	return o
}

// TestPropertyConvergence is property (a): at least 5 replicas receiving
// all ops in different orders, with duplicates, hold byte-identical
// canonical state, and it is the state the §4 rules define.
func TestPropertyConvergence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := propGen(40).Draw(t, "scenario")
		propLogOps(t, sc.Ops)
		n := rapid.IntRange(5, 8).Draw(t, "replicas")
		replicas := make([]map[string]*crdt.Record, n)
		for i := range replicas {
			replicas[i] = propDeliver(t, sc.Ops, propOrder(t, len(sc.Ops), fmt.Sprintf("order %d", i)))
		}
		for _, id := range sc.Records {
			ops := propOpsOf(sc.Ops, id)
			if len(ops) == 0 {
				continue
			}
			want := replicas[0][id].Canonical()
			propCheckCanonical(t, "replica 0", want)
			for i := 1; i < n; i++ {
				if got := replicas[i][id].Canonical(); !bytes.Equal(got, want) {
					t.Fatalf("record %s: replica %d differs from replica 0:\n%s\n%s", id, i, got, want)
				}
			}
			if spec := propSpecState(t, propSchema, id, propKind, ops); !bytes.Equal(want, spec) {
				t.Fatalf("record %s: engine state differs from the §4 rules:\nengine %s\nspec   %s", id, want, spec)
			}
		}
	})
}

// TestPropertyMergeLaws is property (b): Record.Merge is commutative,
// associative and idempotent, and merging replicas of S1 and S2 equals
// applying S1 ∪ S2.
func TestPropertyMergeLaws(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := propGen(30).Draw(t, "scenario")
		propLogOps(t, sc.Ops)
		for _, id := range sc.Records {
			ops := propOpsOf(sc.Ops, id)
			var subsets [3][]crdt.Op
			var inSet [3]map[string]bool
			for k := range subsets {
				inSet[k] = map[string]bool{}
				for _, op := range ops {
					if rapid.Bool().Draw(t, fmt.Sprintf("S%d has op", k+1)) {
						subsets[k] = append(subsets[k], op)
						inSet[k][op.ID] = true
					}
				}
				subsets[k] = rapid.Permutation(subsets[k]).Draw(t, fmt.Sprintf("S%d order", k+1))
			}
			a := propApplyAll(t, id, subsets[0])
			b := propApplyAll(t, id, subsets[1])
			c := propApplyAll(t, id, subsets[2])
			aBefore, bBefore := a.Canonical(), b.Canonical()
			eq := func(what string, x, y *crdt.Record) {
				if cx, cy := x.Canonical(), y.Canonical(); !bytes.Equal(cx, cy) {
					t.Fatalf("record %s: %s:\n%s\n%s", id, what, cx, cy)
				}
			}
			ab := propMerged(t, a, b)
			eq("a⊔b != b⊔a", ab, propMerged(t, b, a))
			eq("(a⊔b)⊔c != a⊔(b⊔c)", propMerged(t, ab, c), propMerged(t, a, propMerged(t, b, c)))
			eq("a⊔a != a", propMerged(t, a, a), a)
			eq("a⊔clone(a) != a", propMerged(t, a, a.Clone()), a)
			eq("(a⊔b)⊔b != a⊔b", propMerged(t, ab, b), ab)
			eq("empty⊔a != a", propMerged(t, crdt.NewRecord(id, propKind), a), a)
			if !bytes.Equal(a.Canonical(), aBefore) || !bytes.Equal(b.Canonical(), bBefore) {
				t.Fatalf("record %s: Merge changed one of its operands' state", id)
			}
			// a ⊔ b equals a replica that applied S1 ∪ S2 (in an order of
			// its own), and the §4 state of S1 ∪ S2.
			var union []crdt.Op
			union = append(union, subsets[1]...)
			for _, op := range subsets[0] {
				if !inSet[1][op.ID] {
					union = append(union, op)
				}
			}
			eq("a⊔b != apply(S1 ∪ S2)", ab, propApplyAll(t, id, union))
			if spec := propSpecState(t, propSchema, id, propKind, union); !bytes.Equal(ab.Canonical(), spec) {
				t.Fatalf("record %s: a⊔b differs from the §4 state of S1 ∪ S2:\nmerge %s\nspec  %s", id, ab.Canonical(), spec)
			}
			// Merging a replica into one that applied some of the same ops
			// and then applying the rest in any order still converges.
			abc := propMerged(t, ab, c)
			for _, op := range rapid.Permutation(ops).Draw(t, "rest order") {
				if _, err := abc.Apply(propSchema, &op); err != nil {
					t.Fatalf("Apply: %v", err)
				}
			}
			eq("(a⊔b⊔c) + all ops != apply(all)", abc, propApplyAll(t, id, ops))
		}
	})
}

// TestPropertyApplyIdempotent is property (c): applying an op already
// applied, right away or after others, reports no change and leaves the
// canonical state unchanged.
func TestPropertyApplyIdempotent(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := propGen(40).Draw(t, "scenario")
		propLogOps(t, sc.Ops)
		recs := map[string]*crdt.Record{}
		for i := range sc.Ops {
			op := sc.Ops[i]
			r, ok := recs[op.Record]
			if !ok {
				r = crdt.NewRecord(op.Record, propKind)
				recs[op.Record] = r
			}
			if _, err := r.Apply(propSchema, &op); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			again := []crdt.Op{op, sc.Ops[rapid.IntRange(0, i).Draw(t, "earlier op")]}
			for _, dup := range again {
				rr := recs[dup.Record]
				before := rr.Canonical()
				changed, err := rr.Apply(propSchema, &dup)
				if err != nil {
					t.Fatalf("re-Apply: %v", err)
				}
				if changed {
					t.Fatalf("re-Apply of %s reported a change", dup.AppendJSON(nil))
				}
				if after := rr.Canonical(); !bytes.Equal(before, after) {
					t.Fatalf("re-Apply of %s changed the state:\nbefore %s\nafter  %s", dup.AppendJSON(nil), before, after)
				}
			}
		}
	})
}

// TestPropertyCloneDeep is property (d): a clone shares nothing with its
// original; writing to either (Apply or Merge) leaves the other's state as
// it was.
func TestPropertyCloneDeep(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := propGen(40).Draw(t, "scenario")
		propLogOps(t, sc.Ops)
		for _, id := range sc.Records {
			ops := propOpsOf(sc.Ops, id)
			k := rapid.IntRange(0, len(ops)).Draw(t, "prefix")
			orig := propApplyAll(t, id, ops[:k])
			want := orig.Canonical()
			clone := orig.Clone()
			if got := clone.Canonical(); !bytes.Equal(got, want) {
				t.Fatalf("clone differs from its original:\n%s\n%s", got, want)
			}
			for _, op := range rapid.Permutation(ops[k:]).Draw(t, "rest to clone") {
				if _, err := clone.Apply(propSchema, &op); err != nil {
					t.Fatalf("Apply: %v", err)
				}
			}
			if err := clone.Merge(propApplyAll(t, id, ops)); err != nil {
				t.Fatalf("Merge: %v", err)
			}
			if got := orig.Canonical(); !bytes.Equal(got, want) {
				t.Fatalf("record %s: writing to the clone changed the original:\nbefore %s\nafter  %s", id, want, got)
			}
			// And the other way round.
			clone2 := orig.Clone()
			for _, op := range ops[k:] {
				if _, err := orig.Apply(propSchema, &op); err != nil {
					t.Fatalf("Apply: %v", err)
				}
			}
			if got := clone2.Canonical(); !bytes.Equal(got, want) {
				t.Fatalf("record %s: writing to the original changed the clone:\nbefore %s\nafter  %s", id, want, got)
			}
		}
	})
}

// TestPropertyCanonicalForm is property (e): after every op the canonical
// state (with and without history) is valid JSON and already in RFC 8785
// form, and Canonical is stable across calls.
func TestPropertyCanonicalForm(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := propGen(40).Draw(t, "scenario")
		propLogOps(t, sc.Ops)
		recs := map[string]*crdt.Record{}
		for i := range sc.Ops {
			op := sc.Ops[i]
			r, ok := recs[op.Record]
			if !ok {
				r = crdt.NewRecord(op.Record, propKind)
				recs[op.Record] = r
				propCheckCanonical(t, "empty record", r.Canonical())
			}
			if _, err := r.Apply(propSchema, &op); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			c := r.Canonical()
			propCheckCanonical(t, fmt.Sprintf("after op %d", i), c)
			if again := r.Canonical(); !bytes.Equal(c, again) {
				t.Fatalf("Canonical is not stable:\n%s\n%s", c, again)
			}
		}
		for id, r := range recs {
			history := propOpsOf(sc.Ops, id)
			crdt.SortOps(history)
			redacted := map[string]bool{}
			for _, e := range r.Entries("notes") {
				redacted[e.Op] = e.Redacted
			}
			for i := range history {
				if redacted[history[i].ID] {
					history[i] = history[i].Redacted()
				}
			}
			withHistory := r.AppendJSON(nil, history)
			propCheckCanonical(t, "with history", withHistory)
			var doc struct {
				History []crdt.Op `json:"history"`
			}
			if err := json.Unmarshal(withHistory, &doc); err != nil || len(doc.History) != len(history) {
				t.Fatalf("history does not decode as ops: %v", err)
			}
		}
	})
}

// TestApplyRestampedCopy: the server re-stamps an op whose hlc is too far
// ahead and serves only the new stamp (DESIGN §5), so the writing device,
// which applied its own copy, later pulls the same op id with another hlc
// (and the server's user). By §4 that is the same op ("a differing hlc or
// user is not a difference"; "applying an op twice changes nothing"):
// whatever stamp a replica keeps, the op must appear once in the state.
func TestApplyRestampedCopy(t *testing.T) {
	const (
		own    = "0193f2a1b2c3ffff" // the device's clock, ahead
		server = "0193f2a1b2c30001" // the server's stamp
	)
	others := []string{"0193f2a1b2c30000", "0193f2a1b2c30002", "0193f2a1b2c30003"}
	for _, tt := range []struct {
		field, action, value string
	}{
		{"notes", "append", `{"text":"x"}`},
		{"status", "set", `"presumed"`},
		{"indicators", "add", `"abduction"`},
	} {
		t.Run(tt.field, func(t *testing.T) {
			mk := func(id, h, user string) crdt.Op {
				return propMustOp(t, []byte(decJSON(map[string]string{"id": decQ(id), "field": decQ(tt.field), "action": decQ(tt.action), "value": tt.value, "hlc": decQ(h), "user": decQ(user)}, "base")))
			}
			r := crdt.NewRecord(decRecord, propKind)
			apply := func(op crdt.Op) bool {
				changed, err := r.Apply(propSchema, &op)
				if err != nil {
					t.Fatal(err)
				}
				return changed
			}
			for i, h := range others {
				apply(mk(propID(0x0b, i+1), h, decUser))
			}
			apply(mk(decID, own, decUser))
			before := r.Canonical()
			apply(mk(decID, server, decBaseA)) // re-stamped by the server, user set by it
			after := r.Canonical()
			if n := bytes.Count(after, []byte(`"op":"`+decID+`"`)); n > 1 {
				t.Errorf("after the re-stamped copy, op %s appears %d times in the state:\nbefore %s\nafter  %s", decID, n, before, after)
			}
		})
	}
}
