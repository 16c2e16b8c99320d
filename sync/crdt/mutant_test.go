package crdt

// Tests that pin what mutation testing found unpinned (issue 10): each
// names the guard it protects, so a wrong line there fails here.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"

	"github.com/fieldsync/fieldsync/model"
)

const (
	mtRec = "00000000-0000-4000-8000-000000000001"
	mtDev = "00000000-0000-4000-8000-0000000000d1"
)

// mtOp is the JSON of op n of record mtRec on device mtDev stamped ts.
func mtOp(n int, field, action, value, base string, ts uint64) string {
	return fmt.Sprintf(`{"id":"00000000-0000-4000-8000-%012d","record":%q,"kind":"identification","field":%q,"action":%q,"value":%s,"base":[%s],"hlc":"%016x","device":%q}`,
		n, mtRec, field, action, value, base, ts, mtDev)
}

// mtBase is the base naming op n.
func mtBase(n int) string { return fmt.Sprintf(`"00000000-0000-4000-8000-%012d"`, n) }

// mtApply applies op to r and returns Apply's changed.
func mtApply(t *testing.T, r *Record, js string) bool {
	t.Helper()
	o := mustOp(t, js)
	changed, err := r.Apply(model.DefaultSchema(), &o)
	if err != nil {
		t.Fatalf("Apply(%s): %v", js, err)
	}
	return changed
}

// TestApplyReportsChangeOfExistingField: Apply's "changed" (the SDK
// persists and notifies on it) is true for a change to a field the record
// already holds even when the op's stamp is not the record's newest, and
// false only when nothing changed (record.go: return changed || !ok).
func TestApplyReportsChangeOfExistingField(t *testing.T) {
	r := NewRecord(mtRec, model.KindIdentification)
	steps := []struct {
		name string
		op   string
		want bool
	}{
		{"new field", mtOp(1, "status", "set", `"potential"`, "", 100), true},
		{"older concurrent sibling", mtOp(2, "status", "set", `"presumed"`, "", 50), true},
		{"older op superseding one", mtOp(3, "status", "set", `"identified"`, mtBase(2), 60), true},
		{"same op again", mtOp(3, "status", "set", `"identified"`, mtBase(2), 60), false},
		{"older add to a new set", mtOp(4, "indicators", "add", `"debt_bondage"`, "", 10), true},
		{"older add to that set", mtOp(5, "indicators", "add", `"abduction"`, "", 11), true},
		{"older add again", mtOp(5, "indicators", "add", `"abduction"`, "", 11), false},
		{"older append to a new log", mtOp(6, "notes", "append", `{"text":"a"}`, "", 12), true},
		{"older append to that log", mtOp(7, "notes", "append", `{"text":"b"}`, "", 13), true},
		{"older redact of it", mtOp(8, "notes", "redact", `null`, mtBase(7), 14), true},
	}
	for _, s := range steps {
		if got := mtApply(t, r, s.op); got != s.want {
			t.Errorf("%s: Apply changed = %v, want %v", s.name, got, s.want)
		}
	}
}

// TestValueOfAbsentField: Value, Siblings, Elements and Entries of a field
// the record does not hold (or holds under another class) are nil, never
// a nil dereference (record.go: !ok || len(reg.siblings) == 0).
func TestValueOfAbsentField(t *testing.T) {
	r := NewRecord(mtRec, model.KindIdentification)
	mtApply(t, r, mtOp(1, "indicators", "add", `"abduction"`, "", 1))
	for _, name := range []string{"status", "indicators", "notes"} {
		if v := r.Value(name); v != nil {
			t.Errorf("Value(%q) = %s, want nil", name, v)
		}
	}
	if s := r.Siblings("status"); s != nil {
		t.Errorf("Siblings(status) = %v, want nil", s)
	}
	if e := r.Elements("status"); e != nil {
		t.Errorf("Elements(status) = %v, want nil", e)
	}
	if e := r.Entries("indicators"); e != nil {
		t.Errorf("Entries(indicators) = %v, want nil", e)
	}
	mtApply(t, r, mtOp(2, "status", "set", `"presumed"`, "", 2))
	mtApply(t, r, mtOp(3, "status", "set", `null`, mtBase(2), 3))
	if v := string(r.Value("status")); v != "null" {
		t.Errorf("Value(status) after clearing = %s, want null", v)
	}
}

// TestConflictsOnlyMultiSibling: Conflicts names a register only while it
// holds more than one sibling (record.go: len(reg.siblings) > 1).
func TestConflictsOnlyMultiSibling(t *testing.T) {
	r := NewRecord(mtRec, model.KindIdentification)
	mtApply(t, r, mtOp(1, "status", "set", `"potential"`, "", 10))
	mtApply(t, r, mtOp(2, "region", "set", `"north"`, "", 11))
	mtApply(t, r, mtOp(3, "indicators", "add", `"abduction"`, "", 12))
	mtApply(t, r, mtOp(4, "indicators", "add", `"debt_bondage"`, "", 13))
	if got := r.Conflicts(); len(got) != 0 {
		t.Fatalf("Conflicts() = %v with one sibling per register, want none", got)
	}
	mtApply(t, r, mtOp(5, "status", "set", `"presumed"`, "", 9))
	if got, want := r.Conflicts(), []string{"status"}; !slices.Equal(got, want) {
		t.Fatalf("Conflicts() = %v, want %v", got, want)
	}
	mtApply(t, r, mtOp(6, "status", "set", `"presumed"`, mtBase(1)+","+mtBase(5), 14))
	if got := r.Conflicts(); len(got) != 0 {
		t.Fatalf("Conflicts() = %v after a resolving set, want none", got)
	}
}

// TestClonePendingRedaction: a clone keeps a redaction whose append has
// not arrived, so the append is erased on arrival in the clone too, and
// the clone's redactions are its own (log.go: clone copies redactions).
func TestClonePendingRedaction(t *testing.T) {
	r := NewRecord(mtRec, model.KindIdentification)
	mtApply(t, r, mtOp(1, "notes", "append", `{"text":"kept"}`, "", 10))
	mtApply(t, r, mtOp(3, "notes", "redact", `null`, mtBase(2), 30))
	c := r.Clone()
	mtApply(t, c, mtOp(2, "notes", "append", `{"text":"secret"}`, "", 20))
	for _, e := range c.Entries("notes") {
		if e.Op == "00000000-0000-4000-8000-000000000002" && (!e.Redacted || string(e.Value) != "null") {
			t.Fatalf("the clone kept a redacted append: %+v", e)
		}
	}
	// A redaction received by the clone must not reach the original.
	mtApply(t, c, mtOp(4, "notes", "redact", `null`, mtBase(9), 40))
	mtApply(t, r, mtOp(9, "notes", "append", `{"text":"other"}`, "", 25))
	for _, e := range r.Entries("notes") {
		if e.Redacted && e.Op != "00000000-0000-4000-8000-000000000002" {
			t.Fatalf("the original shares the clone's redactions: %+v", e)
		}
	}
}

// TestAppendStringMatchesJCS: every byte below 0x80, and a few multi-byte
// runes, is written as RFC 8785 writes it; control characters escaped
// (U+001F included), nothing else (jcs.go: c >= 0x20).
func TestAppendStringMatchesJCS(t *testing.T) {
	var inputs []string
	for c := range 0x80 {
		inputs = append(inputs, string(rune(c)), "a"+string(rune(c))+"z")
	}
	inputs = append(inputs, "\u007f\u0080\u2028\u2029\U0001f600é", "")
	for _, s := range inputs {
		raw, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		want, err := jcs.Transform(raw)
		if err != nil {
			t.Fatalf("jcs.Transform(%s): %v", raw, err)
		}
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestCanonicalControlCharacters: a set element and a log entry holding
// control characters are served in RFC 8785 form.
func TestCanonicalControlCharacters(t *testing.T) {
	r := NewRecord("00000000-0000-4000-8000-0000000000a1", model.KindActionWeek)
	o := mustOp(t, `{"id":"00000000-0000-4000-8000-000000000002","record":"00000000-0000-4000-8000-0000000000a1","kind":"action_week","field":"towns","action":"add","value":"a\u001fb\u0001\n","hlc":"0000000000000001","device":"00000000-0000-4000-8000-000000000003"}`)
	if _, err := r.Apply(model.DefaultSchema(), &o); err != nil {
		t.Fatal(err)
	}
	c := r.Canonical()
	want, err := jcs.Transform(c)
	if err != nil {
		t.Fatalf("served state is not JSON: %v\n%s", err, c)
	}
	if !bytes.Equal(c, want) {
		t.Fatalf("served state is not canonical:\ngot  %s\nwant %s", c, want)
	}
	if !bytes.Contains(c, []byte(`"a\u001fb\u0001\n"`)) {
		t.Fatalf("served state lacks the escaped element: %s", c)
	}
}

// TestIsCanonicalScalarBounds: integers of up to 15 digits are exact
// doubles and pass as they are; 16 digits may not be (2^53 has 16), so
// they go through the canonicaliser (decode.go: len(digits) > 15).
func TestIsCanonicalScalarBounds(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"999999999999999", true}, {"-999999999999999", true},
		{"9007199254740993", false}, {"1000000000000000", false},
		{"0", true}, {"-0", false}, {"01", false}, {"-", false},
		{"1.0", false}, {"1e2", false}, {`"a"`, true}, {`"a\n"`, false},
		{"null", true}, {"true", true}, {"false", true},
	} {
		if got := isCanonicalScalar([]byte(tc.in)); got != tc.want {
			t.Errorf("isCanonicalScalar(%s) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// TestValidateNumbersOfEveryLeadingDigit: a number field takes numbers
// starting with any digit or a minus sign, and nothing else
// (validate.go: v[0] < '0' || v[0] > '9').
func TestValidateNumbersOfEveryLeadingDigit(t *testing.T) {
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"0", true}, {"1", true}, {"9", true}, {"95", true}, {"9.5", true}, {"-9", true},
		{"8e2", true}, {`"9"`, false}, {"true", false}, {"[9]", false}, {`{"a":9}`, false},
	} {
		o, err := DecodeOp(fmt.Appendf(nil, `{"id":"00000000-0000-4000-8000-000000000002","record":%q,"kind":"identification","field":"age_estimate","action":"set","value":%s,"hlc":"0000000000000001","device":%q}`, mtRec, tc.value, mtDev))
		if err != nil {
			t.Fatalf("DecodeOp(%s): %v", tc.value, err)
		}
		err = Validate(model.DefaultSchema(), &o)
		if got := err == nil; got != tc.ok {
			t.Errorf("Validate(age_estimate = %s) = %v, want ok = %v", tc.value, err, tc.ok)
		}
	}
}

// TestRegisterWithoutSiblings: two ops naming each other in their bases
// leave a register with no sibling; the record is then not deleted, the
// value is absent and nothing panics (record.go Deleted and Value:
// len(reg.siblings) > 0).
func TestRegisterWithoutSiblings(t *testing.T) {
	r := NewRecord(mtRec, model.KindIdentification)
	mtApply(t, r, mtOp(1, "deleted", "set", `true`, mtBase(2), 10))
	mtApply(t, r, mtOp(2, "deleted", "set", `true`, mtBase(1), 11))
	mtApply(t, r, mtOp(3, "region", "set", `"north"`, mtBase(4), 12))
	mtApply(t, r, mtOp(4, "region", "set", `"south"`, mtBase(3), 13))
	if r.Deleted() {
		t.Error("Deleted() = true with no sibling left")
	}
	if v := r.Value("region"); v != nil {
		t.Errorf("Value(region) = %s with no sibling left, want nil", v)
	}
	if s := r.Siblings("deleted"); len(s) != 0 {
		t.Errorf("Siblings(deleted) = %v, want none", s)
	}
	if c := r.Conflicts(); len(c) != 0 {
		t.Errorf("Conflicts() = %v, want none", c)
	}
}

// TestAppendEntryMustBeAnObject: a log entry that is not a JSON object,
// null included, is refused as such, not for a missing key
// (validate.go checkEntry: Unmarshal fails || entry == nil).
func TestAppendEntryMustBeAnObject(t *testing.T) {
	for _, v := range []string{`null`, `5`, `"text"`, `[{"text":"a"}]`, `true`} {
		o, err := DecodeOp([]byte(mtOp(1, "notes", "append", v, "", 1)))
		if err != nil {
			t.Fatalf("DecodeOp(%s): %v", v, err)
		}
		err = Validate(model.DefaultSchema(), &o)
		if model.ErrorCode(err) != model.CodeInvalidValue || !strings.Contains(model.ErrorMessage(err), "must be a JSON object") {
			t.Errorf("append %s: %v, want invalid_value: must be a JSON object", v, err)
		}
	}
}
