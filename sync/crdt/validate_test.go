package crdt_test

import (
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// valOp builds the JSON of an op of kind.field with the given action, raw
// value ("" = absent) and base.
func valOp(kind, field, action, value string, base ...string) string {
	over := map[string]string{"kind": decQ(kind), "field": decQ(field), "action": decQ(action)}
	drop := []string{}
	if value == "" {
		drop = append(drop, "value")
	} else {
		over["value"] = value
	}
	if len(base) == 0 {
		drop = append(drop, "base")
	} else {
		quoted := make([]string, len(base))
		for i, b := range base {
			quoted[i] = decQ(b)
		}
		over["base"] = "[" + strings.Join(quoted, ",") + "]"
	}
	return decJSON(over, drop...)
}

func valIdent(field, action, value string, base ...string) string {
	return valOp(model.KindIdentification, field, action, value, base...)
}

func TestValidateErrorCodes(t *testing.T) {
	const (
		teamID = "0193f2a1-b2c3-7000-8000-0000000000f1"
	)
	long := func(n int) string { return decQ(strings.Repeat("x", n)) } // n+2 bytes
	tests := []struct {
		name string
		in   string
		want model.Code // "" = valid
	}{
		// Kind and field.
		{"valid set", valIdent("status", "set", `"presumed"`, decBaseA), ""},
		{"unknown kind", valOp("person", "status", "set", `"presumed"`), model.CodeUnknownKind},
		{"kind in another case", valOp("Identification", "status", "set", `"presumed"`), model.CodeUnknownKind},
		{"unknown field", valIdent("name", "set", `"x"`), model.CodeUnknownField},
		{"field of another kind", valIdent("towns", "add", `"x"`), model.CodeUnknownField},

		// Action against the field's class.
		{"add on a register", valIdent("status", "add", `"presumed"`), model.CodeInvalidOp},
		{"append on a register", valIdent("region", "append", `{"text":"x"}`), model.CodeInvalidOp},
		{"set on a set", valIdent("indicators", "set", `"abduction"`), model.CodeInvalidOp},
		{"redact on a set", valIdent("indicators", "redact", "", decBaseA), model.CodeInvalidOp},
		{"set on a log", valIdent("notes", "set", `{"text":"x"}`), model.CodeInvalidOp},
		{"remove on a log", valIdent("notes", "remove", `"x"`, decBaseA), model.CodeInvalidOp},

		// Base shape.
		{"add with a base", valIdent("indicators", "add", `"abduction"`, decBaseA), model.CodeInvalidOp},
		{"append with a base", valIdent("notes", "append", `{"text":"x"}`, decBaseA), model.CodeInvalidOp},
		{"redact with no base", valIdent("notes", "redact", ""), model.CodeInvalidOp},
		{"redact with two bases", valIdent("notes", "redact", "", decBaseA, decBaseB), model.CodeInvalidOp},
		{"redact with one base", valIdent("notes", "redact", "", decBaseA), ""},
		{"redact with the same base twice is one base", valIdent("notes", "redact", "", decBaseA, decBaseA), ""},
		{"set naming itself", valIdent("status", "set", `"presumed"`, decBaseA, decID), model.CodeInvalidOp},
		{"remove naming itself", valIdent("indicators", "remove", `"abduction"`, decID), model.CodeInvalidOp},
		{"redact naming itself", valIdent("notes", "redact", "", decID), model.CodeInvalidOp},
		{"remove with an empty base", valIdent("indicators", "remove", `"abduction"`), ""},
		{"set with several bases", valIdent("status", "set", `"presumed"`, decBaseA, decBaseB), ""},

		// Types.
		{"bool as a string", valIdent("deleted", "set", `"true"`), model.CodeInvalidValue},
		{"bool as a number", valIdent("child_presumed", "set", `1`), model.CodeInvalidValue},
		{"bool", valIdent("child_presumed", "set", `false`), ""},
		{"number as a string", valIdent("age_estimate", "set", `"17"`), model.CodeInvalidValue},
		{"number as a bool", valIdent("age_estimate", "set", `true`), model.CodeInvalidValue},
		{"number", valIdent("age_estimate", "set", `17.5`), ""},
		{"date as a number", valIdent("encounter_date", "set", `20260203`), model.CodeInvalidValue},
		{"date 2026-02-30", valIdent("encounter_date", "set", `"2026-02-30"`), model.CodeInvalidValue},
		{"date 2026-13-01", valIdent("encounter_date", "set", `"2026-13-01"`), model.CodeInvalidValue},
		{"date without padding", valIdent("encounter_date", "set", `"2026-2-3"`), model.CodeInvalidValue},
		{"date with a time", valIdent("encounter_date", "set", `"2026-02-03T10:00:00Z"`), model.CodeInvalidValue},
		{"date", valIdent("encounter_date", "set", `"2026-02-28"`), ""},
		{"leap day", valIdent("encounter_date", "set", `"2024-02-29"`), ""},
		{"string as a number", valIdent("region", "set", `5`), model.CodeInvalidValue},
		{"string as an object", valIdent("location", "set", `{"lat":1}`), model.CodeInvalidValue},
		{"string as an array", valIdent("code", "set", `["x"]`), model.CodeInvalidValue},

		// Formats and allowed values.
		{"country XX", valIdent("citizenship", "set", `"XX"`), model.CodeInvalidValue},
		{"country lowercase", valIdent("citizenship", "set", `"de"`), model.CodeInvalidValue},
		{"country alpha-3", valIdent("citizenship", "set", `"DEU"`), model.CodeInvalidValue},
		{"country UK", valIdent("citizenship", "set", `"UK"`), model.CodeInvalidValue},
		{"country DE", valIdent("citizenship", "set", `"DE"`), ""},
		{"country XK", valIdent("citizenship", "set", `"XK"`), ""},
		{"uuid not a uuid", valIdent("team", "set", `"team-1"`), model.CodeInvalidValue},
		{"uuid uppercase", valIdent("team", "set", decQ(strings.ToUpper(teamID))), model.CodeInvalidValue},
		{"uuid braced", valIdent("action_week", "set", decQ("{"+teamID+"}")), model.CodeInvalidValue},
		{"uuid", valIdent("team", "set", decQ(teamID)), ""},
		{"enum value not allowed", valIdent("status", "set", `"victim"`), model.CodeInvalidValue},
		{"enum value in another case", valIdent("status", "set", `"Presumed"`), model.CodeInvalidValue},
		{"enum value of another field", valIdent("sex", "set", `"adult"`), model.CodeInvalidValue},
		{"enum value", valIdent("sex", "set", `"female"`), ""},
		{"indicator code not in the catalogue", valIdent("indicators", "add", `"made_up_code"`), model.CodeInvalidValue},
		{"indicator code", valIdent("indicators", "add", `"abduction"`), ""},
		{"exploitation type not listed", valIdent("exploitation_types", "add", `"theft"`), model.CodeInvalidValue},
		{"set element not a string", valIdent("exploitation_types", "add", `1`), model.CodeInvalidValue},
		{"set element null", valIdent("exploitation_types", "add", `null`), model.CodeInvalidValue},
		{"set element absent", valIdent("exploitation_types", "add", ``), model.CodeInvalidValue},
		{"linked_records is no field (schema 2)", valIdent("linked_records", "add", decQ(teamID)), model.CodeUnknownField},
		{"free set element empty", valOp(model.KindActionWeek, "towns", "add", `""`), model.CodeInvalidValue},
		{"free set element", valOp(model.KindActionWeek, "towns", "add", `"Shkodër"`), ""},
		{"remove of a retired code", valIdent("indicators", "remove", `"retired_code_v0"`, decBaseA), ""},
		{"remove of an unlisted exploitation type", valIdent("exploitation_types", "remove", `"theft"`, decBaseA), ""},
		{"remove of a number", valIdent("indicators", "remove", `1`, decBaseA), model.CodeInvalidValue},
		{"remove of an object", valIdent("indicators", "remove", `{"code":"abduction"}`, decBaseA), model.CodeInvalidValue},

		// Log entries.
		{"append a string", valIdent("notes", "append", `"text"`), model.CodeInvalidValue},
		{"append an array", valIdent("notes", "append", `[{"text":"x"}]`), model.CodeInvalidValue},
		{"append null", valIdent("notes", "append", `null`), model.CodeInvalidValue},
		{"append nothing", valIdent("notes", "append", ``), model.CodeInvalidValue},
		{"append without text", valIdent("notes", "append", `{"lang":"fr"}`), model.CodeInvalidValue},
		{"append with empty text", valIdent("notes", "append", `{"text":""}`), model.CodeInvalidValue},
		{"append with numeric text", valIdent("notes", "append", `{"text":5}`), model.CodeInvalidValue},
		{"append with text and more", valIdent("notes", "append", `{"text":"x","lang":"fr","n":[1,2]}`), ""},
		{"referral without service", valIdent("referrals", "append", `{"text":"x"}`), model.CodeInvalidValue},
		{"referral", valIdent("referrals", "append", `{"service":"shelter"}`), ""},
		{"consent", valIdent("consent", "append", `{"scope":"data_sharing"}`), ""},
		{"redact with a value", valIdent("notes", "redact", `"x"`, decBaseA), model.CodeInvalidValue},
		{"redact with an object", valIdent("notes", "redact", `{"text":"x"}`, decBaseA), model.CodeInvalidValue},
		{"redact with explicit null", valIdent("notes", "redact", `null`, decBaseA), ""},

		// Clearing a register.
		{"null deleted", valIdent("deleted", "set", `null`), model.CodeInvalidValue},
		{"null team (the scope)", valIdent("team", "set", `null`), model.CodeInvalidValue},
		{"absent team value", valIdent("team", "set", ``), model.CodeInvalidValue},
		{"null site_visit action_week (the scope)", valOp(model.KindSiteVisit, "action_week", "set", `null`), model.CodeInvalidValue},
		{"null action_week deleted", valOp(model.KindActionWeek, "deleted", "set", `null`), model.CodeInvalidValue},
		{"null region", valIdent("region", "set", `null`), ""},
		{"null identification action_week (not its scope)", valIdent("action_week", "set", `null`), ""},
		{"null status", valIdent("status", "set", `null`), ""},
		{"null age estimate", valIdent("age_estimate", "set", `null`), ""},

		// Size.
		{"region at its limit", valIdent("region", "set", long(254)), ""},
		{"region oversize", valIdent("region", "set", long(255)), model.CodeInvalidValue},
		{"code oversize", valIdent("code", "set", long(63)), model.CodeInvalidValue},
		{"code at its limit", valIdent("code", "set", long(62)), ""},
		{"summary of 16 KiB", valOp(model.KindSiteVisit, "summary", "set", long(16<<10-2)), ""},
		{"summary oversize", valOp(model.KindSiteVisit, "summary", "set", long(16<<10-1)), model.CodeInvalidValue},
		{"note oversize", valIdent("notes", "append", `{"text":`+long(64<<10)+`}`), model.CodeInvalidValue},
		{"set element oversize", valOp(model.KindActionWeek, "towns", "add", long(300)), model.CodeInvalidValue},
		{"remove element oversize", valIdent("indicators", "remove", long(300), decBaseA), model.CodeInvalidValue},
	}
	schema := model.DefaultSchema()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := crdt.DecodeOp([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeOp(%.200s): %v", tt.in, err)
			}
			err = crdt.Validate(schema, &op)
			if got, want := decCode(err), tt.want; got != want {
				t.Errorf("Validate(%.200s) code = %q, want %q (err %v)", tt.in, got, want, err)
			}
		})
	}
}

// TestValidateUUIDSetElement: a set field with a UUID format takes only
// canonical UUIDs. The default schema has no such field since version 2
// (linked_records left the records' state); the engine is generic, so the
// rule is checked on a schema that declares one.
func TestValidateUUIDSetElement(t *testing.T) {
	schema := model.DefaultSchema()
	schema.Kinds[model.KindIdentification].Fields["refs"] = &model.Field{Class: model.ClassSet, Type: model.TypeString,
		Format: model.FormatUUID, Writers: []model.Role{model.RoleSupervisor}, MaxBytes: 256}
	for value, want := range map[string]model.Code{`"x"`: model.CodeInvalidValue, decQ(decBaseA): ""} {
		op, err := crdt.DecodeOp([]byte(valIdent("refs", "add", value)))
		if err != nil {
			t.Fatal(err)
		}
		if got := decCode(crdt.Validate(schema, &op)); got != want {
			t.Errorf("Validate(add %s) code = %q, want %q", value, got, want)
		}
	}
}

// TestValidateRemoveNull: a remove's value is the element, a string
// (DESIGN §3: a set is a set of strings; §4: for add/remove the value is
// the element). A remove without an element names nothing.
func TestValidateRemoveNull(t *testing.T) {
	schema := model.DefaultSchema()
	for _, value := range []string{`null`, ``} {
		op, err := crdt.DecodeOp([]byte(valIdent("indicators", "remove", value, decBaseA)))
		if err != nil {
			t.Fatal(err)
		}
		err = crdt.Validate(schema, &op)
		if got, want := decCode(err), model.CodeInvalidValue; got != want {
			t.Errorf("Validate(remove with value %q) code = %q, want %q", value, got, want)
		}
	}
}

func TestSameContent(t *testing.T) {
	const other = "0193f2a1-b2c3-7000-8000-0000000000ff"
	base := valIdent("notes", "append", `{"text":"x","a":1}`)
	set := decJSON(nil)
	tests := []struct {
		name     string
		stored   string
		sent     string
		redacted bool
		want     bool
	}{
		{"identical", set, set, false, true},
		{"value differs", set, decJSON(map[string]string{"value": `"potential"`}), false, false},
		{"value null vs absent", decJSON(map[string]string{"value": "null"}), decJSON(nil, "value"), false, true},
		{"value null vs a value", decJSON(map[string]string{"value": "null"}), set, false, false},
		{"value spelled differently", base, valIdent("notes", "append", `{ "a" : 1.0, "text" : "x" }`), false, true},
		{"base differs", set, decJSON(map[string]string{"base": "[" + decQ(decBaseB) + "]"}), false, false},
		{"base grows", set, decJSON(map[string]string{"base": "[" + decQ(decBaseA) + "," + decQ(decBaseB) + "]"}), false, false},
		{"base order and duplicates ignored", decJSON(map[string]string{"base": "[" + decQ(decBaseA) + "," + decQ(decBaseB) + "]"}), decJSON(map[string]string{"base": "[" + decQ(decBaseB) + "," + decQ(decBaseA) + "," + decQ(decBaseB) + "]"}), false, true},
		{"base absent vs empty", decJSON(nil, "base"), decJSON(map[string]string{"base": "[]"}), false, true},
		{"base absent vs null", decJSON(nil, "base"), decJSON(map[string]string{"base": "null"}), false, true},
		{"field differs", set, decJSON(map[string]string{"field": decQ("sex"), "value": `"presumed"`}), false, false},
		{"record differs", set, decJSON(map[string]string{"record": decQ(other)}), false, false},
		{"kind differs", set, decJSON(map[string]string{"kind": decQ(model.KindSiteVisit)}), false, false},
		{"action differs", valIdent("indicators", "add", `"abduction"`), valIdent("indicators", "remove", `"abduction"`), false, false},
		{"hlc differs", set, decJSON(map[string]string{"hlc": decQ("0193f2a1b2c3ffff")}), false, true},
		{"user differs", set, decJSON(map[string]string{"user": decQ(other)}), false, true},
		{"user absent", set, decJSON(nil, "user"), false, true},
		{"redacted stored copy matches any value", valIdent("notes", "append", `null`), base, true, true},
		{"redacted stored copy matches the original", base, base, true, true},
		{"redacted stored copy: field still compared", valIdent("notes", "append", `null`), valIdent("referrals", "append", `{"service":"x"}`), true, false},
		{"redacted stored copy: record still compared", valIdent("notes", "append", `null`), decJSON(map[string]string{"field": decQ("notes"), "action": decQ("append"), "record": decQ(other)}, "base"), true, false},
		{"redacted stored copy: base still compared", valIdent("notes", "append", `null`), valIdent("notes", "append", `{"text":"x"}`, decBaseA), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored, err := crdt.DecodeOp([]byte(tt.stored))
			if err != nil {
				t.Fatalf("DecodeOp(stored): %v", err)
			}
			sent, err := crdt.DecodeOp([]byte(tt.sent))
			if err != nil {
				t.Fatalf("DecodeOp(sent): %v", err)
			}
			if tt.redacted {
				stored = stored.Redacted()
			}
			if got, want := crdt.SameContent(&stored, &sent, tt.redacted), tt.want; got != want {
				t.Errorf("SameContent(%s, %s, %v) = %v, want %v", stored.AppendJSON(nil), sent.AppendJSON(nil), tt.redacted, got, want)
			}
		})
	}
	// An op built by hand with an absent (nil) value equals one decoded
	// with null.
	a, _ := crdt.DecodeOp([]byte(decJSON(map[string]string{"value": "null"})))
	b := a
	b.Value = nil
	if !crdt.SameContent(&a, &b, false) || !crdt.SameContent(&b, &a, false) {
		t.Errorf("SameContent: nil value != null")
	}
}

// TestApplyRefusesForeignOps: Apply refuses an op of another record or
// kind and an unknown field, and changes nothing.
func TestApplyRefusesForeignOps(t *testing.T) {
	schema := model.DefaultSchema()
	r := crdt.NewRecord(decRecord, model.KindIdentification)
	want := r.Canonical()
	tests := []struct {
		name string
		in   string
		want model.Code
	}{
		{"other record", decJSON(map[string]string{"record": decQ(decBaseA)}), model.CodeInvalidOp},
		{"other kind", valOp(model.KindSiteVisit, "town", "set", `"x"`), model.CodeKindMismatch},
		{"unknown field", valIdent("name", "set", `"x"`), model.CodeUnknownField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := crdt.DecodeOp([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			changed, err := r.Apply(schema, &op)
			if got := decCode(err); got != tt.want || changed {
				t.Errorf("Apply = %v, code %q; want false, %q", changed, got, tt.want)
			}
			if got := r.Canonical(); string(got) != string(want) {
				t.Errorf("state changed: %s", got)
			}
		})
	}
	other := crdt.NewRecord(decBaseA, model.KindIdentification)
	if err := r.Merge(other); decCode(err) != model.CodeKindMismatch {
		t.Errorf("Merge of another record: %v", err)
	}
}
