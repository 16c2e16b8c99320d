package crdt_test

import (
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

const (
	limRecord = "00000000-0000-4000-8000-00000000a001"
	limDevice = "00000000-0000-4000-8000-0000000000d1"
	limTeam   = "00000000-0000-4000-8000-0000000000f1"
)

// limOp returns the validated op number n of limRecord.
func limOp(t *testing.T, n int, field, action, value string, base ...int) crdt.Op {
	t.Helper()
	b := make([]string, len(base))
	for i, x := range base {
		b[i] = fmt.Sprintf("%q", limID(x))
	}
	js := fmt.Sprintf(`{"id":%q,"record":%q,"kind":"identification","field":%q,"action":%q,"value":%s,"base":[%s],"hlc":"%016x","device":%q}`,
		limID(n), limRecord, field, action, value, strings.Join(b, ","), 0x1000+n, limDevice)
	op, err := crdt.DecodeOp([]byte(js))
	if err != nil {
		t.Fatalf("DecodeOp(%s): %v", js, err)
	}
	if err := crdt.Validate(model.DefaultSchema(), &op); err != nil {
		t.Fatalf("Validate(%s): %v", js, err)
	}
	return op
}

func limID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// limRecordOf applies ops to a new record.
func limRecordOf(t *testing.T, ops ...crdt.Op) *crdt.Record {
	t.Helper()
	r := crdt.NewRecord(limRecord, model.KindIdentification)
	for i := range ops {
		if _, err := r.Apply(model.DefaultSchema(), &ops[i]); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}
	return r
}

func limSchema(l model.RecordLimits) *model.Schema {
	s := model.DefaultSchema()
	s.SetLimits(l)
	return s
}

// sizeAfter returns r's size once op is applied (r is not changed).
func sizeAfter(t *testing.T, r *crdt.Record, op crdt.Op) int {
	t.Helper()
	c := r.Clone()
	if _, err := c.Apply(model.DefaultSchema(), &op); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return c.Size()
}

func TestRecordSize(t *testing.T) {
	r := limRecordOf(t)
	if got := r.Size(); got != 0 {
		t.Fatalf("empty record: Size() = %d, want 0", got)
	}
	// A sibling costs its value plus 128; a superseded id 40; a set
	// element its name plus 8, and 40 per add; a redaction 128, and the
	// redacted entry keeps null (4 bytes) instead of its value.
	steps := []struct {
		op   crdt.Op
		want int
	}{
		{limOp(t, 1, "status", "set", `"potential"`), 128 + 11},
		{limOp(t, 2, "status", "set", `"presumed"`, 1), 128 + 10 + 40},
		{limOp(t, 3, "indicators", "add", `"abduction"`), 128 + 10 + 40 + (8 + 9 + 40)},
		{limOp(t, 4, "notes", "append", `{"text":"met at the bus station"}`), 128 + 10 + 40 + 57 + (128 + 33)},
		{limOp(t, 5, "notes", "redact", `null`, 4), 128 + 10 + 40 + 57 + (128 + 4) + 128},
	}
	for i, s := range steps {
		if _, err := r.Apply(model.DefaultSchema(), &s.op); err != nil {
			t.Fatal(err)
		}
		if got := r.Size(); got != s.want {
			t.Errorf("after op %d: Size() = %d, want %d", i+1, got, s.want)
		}
	}
}

// TestCheckLimits checks each record limit at its boundary, and that
// redactions, removes, deletion, status, review and scope writes still
// apply on a record at its limits.
func TestCheckLimits(t *testing.T) {
	team := limOp(t, 1, "team", "set", fmt.Sprintf("%q", limTeam))
	note := func(n int) crdt.Op { return limOp(t, n, "notes", "append", fmt.Sprintf(`{"text":"note %d"}`, n)) }
	location := limOp(t, 5, "location", "set", `"`+strings.Repeat("x", 200)+`"`)
	indicator := limOp(t, 6, "indicators", "add", `"abduction"`)
	status := limOp(t, 7, "status", "set", `"potential"`)
	full := []crdt.Op{team, note(2), note(3), note(4), location, indicator, status}
	// atSize sets MaxRecordBytes to the record's size plus d.
	type limitsOf func(r *crdt.Record) model.RecordLimits
	entries := func(n int) limitsOf {
		return func(*crdt.Record) model.RecordLimits { return model.RecordLimits{MaxLogEntries: n} }
	}
	atSize := func(d int) limitsOf {
		return func(r *crdt.Record) model.RecordLimits { return model.RecordLimits{MaxRecordBytes: r.Size() + d} }
	}
	// roomFor sets MaxRecordBytes to the size the record has once op is
	// applied, plus d.
	roomFor := func(op crdt.Op, d int) limitsOf {
		return func(r *crdt.Record) model.RecordLimits {
			return model.RecordLimits{MaxRecordBytes: sizeAfter(t, r, op) + d}
		}
	}
	both := func(r *crdt.Record) model.RecordLimits {
		return model.RecordLimits{MaxLogEntries: 3, MaxRecordBytes: r.Size()}
	}
	tests := []struct {
		name   string
		limits limitsOf
		op     crdt.Op
		want   model.Code
	}{
		// Entries per log field.
		{"append below max_log_entries", entries(4), note(10), ""},
		{"append at max_log_entries", entries(3), note(10), model.CodeRecordTooLarge},
		{"append to another log at max_log_entries", entries(3), limOp(t, 10, "referrals", "append", `{"service":"shelter"}`), ""},
		{"redact at max_log_entries", entries(3), limOp(t, 10, "notes", "redact", `null`, 2), ""},
		{"zero max_log_entries is no limit", entries(0), note(10), ""},

		// Bytes per record.
		{"append that fits max_record_bytes exactly", roomFor(note(10), 0), note(10), ""},
		{"append one byte over max_record_bytes", roomFor(note(10), -1), note(10), model.CodeRecordTooLarge},
		{"new set element over max_record_bytes", roomFor(limOp(t, 10, "indicators", "add", `"debt_bondage"`), -1), limOp(t, 10, "indicators", "add", `"debt_bondage"`), model.CodeRecordTooLarge},
		{"new register over max_record_bytes", roomFor(limOp(t, 10, "region", "set", `"north"`), -1), limOp(t, 10, "region", "set", `"north"`), model.CodeRecordTooLarge},
		{"register sibling over max_record_bytes", atSize(0), limOp(t, 10, "location", "set", `"y"`), model.CodeRecordTooLarge},
		{"register write that shrinks the record", atSize(-1000), limOp(t, 10, "location", "set", `"y"`, 5), ""},
		{"register op already held, on a record over max_record_bytes", atSize(-1000), location, ""},
		{"set add already held, on a record over max_record_bytes", atSize(-1000), indicator, ""},
		{"non-positive max_record_bytes is no limit", atSize(-1 - 1<<30), note(10), ""},

		// Never refused for size, on a record at or over both limits.
		{"redact on a full record", both, limOp(t, 10, "notes", "redact", `null`, 3), ""},
		{"remove on a full record", both, limOp(t, 10, "indicators", "remove", `"abduction"`, 6), ""},
		{"remove with an unknown base on a full record", both, limOp(t, 10, "indicators", "remove", `"abduction"`, 99), ""},
		{"delete on a full record", both, limOp(t, 10, "deleted", "set", `true`), ""},
		{"status change on a full record", both, limOp(t, 10, "status", "set", `"presumed"`, 7), ""},
		{"concurrent status on a full record", both, limOp(t, 10, "status", "set", `"presumed"`), ""},
		{"review on a full record", both, limOp(t, 10, "review_status", "set", `"needs_info"`), ""},
		{"team change on a full record", both, limOp(t, 10, "team", "set", fmt.Sprintf("%q", limID(0xf2)), 1), ""},
		{"append on a full record", both, note(10), model.CodeRecordTooLarge},
		{"add on a full record", both, limOp(t, 10, "indicators", "add", `"abduction"`), model.CodeRecordTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := limRecordOf(t, full...)
			before := r.Canonical()
			err := crdt.CheckLimits(limSchema(tt.limits(r)), r, &tt.op)
			if got := codeOf(err); got != tt.want {
				t.Fatalf("CheckLimits() = %v, want code %q", err, tt.want)
			}
			if string(r.Canonical()) != string(before) {
				t.Fatal("CheckLimits changed the record")
			}
		})
	}
}

func codeOf(err error) model.Code {
	if err == nil {
		return ""
	}
	return model.ErrorCode(err)
}

// TestCheckLimitsMessage: the sentence names the rule and its limit, never
// the record's content or size.
func TestCheckLimitsMessage(t *testing.T) {
	r := limRecordOf(t, limOp(t, 1, "notes", "append", `{"text":"secret"}`))
	s := limSchema(model.RecordLimits{MaxLogEntries: 1, MaxRecordBytes: 100})
	for _, op := range []crdt.Op{limOp(t, 2, "notes", "append", `{"text":"x"}`), limOp(t, 3, "region", "set", `"north"`)} {
		err := crdt.CheckLimits(s, r, &op)
		msg := model.ErrorMessage(err)
		if model.ErrorCode(err) != model.CodeRecordTooLarge || !strings.Contains(msg, "max_") {
			t.Errorf("CheckLimits(%s) = %v, want record_too_large naming its rule", op.Field, err)
		}
		if strings.Contains(msg, "secret") || strings.Contains(msg, fmt.Sprint(r.Size())) {
			t.Errorf("message %q reveals the record", msg)
		}
	}
}

// TestPropertySize: a record's size is a function of its state (replicas
// that received the same ops in any order, or merged, report the same size
// as a decoded snapshot, which recounts it), and CheckLimits refuses
// exactly the ops that would grow the record past MaxRecordBytes.
func TestPropertySize(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := propGen(40).Draw(t, "scenario")
		propLogOps(t, sc.Ops)
		a := propDeliver(t, sc.Ops, propOrder(t, len(sc.Ops), "order a"))
		b := propDeliver(t, sc.Ops, propOrder(t, len(sc.Ops), "order b"))
		for id, ra := range a {
			var dec crdt.Record
			data, err := ra.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if err := dec.UnmarshalBinary(data); err != nil {
				t.Fatal(err)
			}
			half := propApplyAll(t, id, propOpsOf(sc.Ops, id)[:len(propOpsOf(sc.Ops, id))/2])
			merged := propMerged(t, half, b[id])
			if sa, sb, sd, sm := ra.Size(), b[id].Size(), dec.Size(), merged.Size(); sa != sb || sa != sd || sa != sm {
				t.Fatalf("record %s: sizes differ: order a %d, order b %d, decoded %d, merged %d", id, sa, sb, sd, sm)
			}
		}
		recs := map[string]*crdt.Record{}
		for i := range sc.Ops {
			op := sc.Ops[i]
			r, ok := recs[op.Record]
			if !ok {
				r = crdt.NewRecord(op.Record, op.Kind)
				recs[op.Record] = r
			}
			before := r.Size()
			c := r.Clone()
			if _, err := c.Apply(propSchema, &op); err != nil {
				t.Fatal(err)
			}
			after := c.Size()
			decl, _ := propSchema.Field(op.Kind, op.Field)
			exempt := decl.SizeExempt || op.Action == model.ActionRedact || op.Action == model.ActionRemove
			fits := limSchemaBytes(max(after, before))
			if err := crdt.CheckLimits(fits, r, &op); err != nil {
				t.Fatalf("op %d: refused with room for it: %v", i, err)
			}
			tight := limSchemaBytes(after - 1)
			err := crdt.CheckLimits(tight, r, &op)
			if refused, want := err != nil, !exempt && after > before; refused != want {
				t.Fatalf("op %d (%s %s): size %d -> %d, limit %d: refused %v, want %v (%v)", i, op.Action, op.Field, before, after, after-1, refused, want, err)
			}
			if _, err := r.Apply(propSchema, &op); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func limSchemaBytes(n int) *model.Schema {
	s := model.DefaultSchema()
	s.Limits = model.RecordLimits{MaxRecordBytes: n}
	return s
}
