package crdt_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// Ids used by the decode and validate table tests.
const (
	decID     = "0193f2a1-b2c3-7000-8000-000000000001"
	decRecord = "0193f2a1-b2c3-7000-8000-0000000000aa"
	decDevice = "0193f2a1-b2c3-7000-8000-0000000000d1"
	decUser   = "0193f2a1-b2c3-7000-8000-0000000000e1"
	decBaseA  = "0193f2a1-b2c3-7000-8000-00000000000a"
	decBaseB  = "0193f2a1-b2c3-7000-8000-00000000000b"
	decHLC    = "0193f2a1b2c30001"
)

// decKeys is the order in which decJSON writes an op's members.
var decKeys = []string{"id", "record", "kind", "field", "action", "value", "base", "hlc", "device", "user"}

// decJSON writes a valid set op with the members of over replaced (raw
// JSON text) and those named in drop left out. Keys of over not in decKeys
// are appended.
func decJSON(over map[string]string, drop ...string) string {
	m := map[string]string{
		"id": decQ(decID), "record": decQ(decRecord), "kind": decQ("identification"), "field": decQ("status"),
		"action": decQ("set"), "value": decQ("presumed"), "base": "[" + decQ(decBaseA) + "]", "hlc": decQ(decHLC),
		"device": decQ(decDevice), "user": decQ(decUser),
	}
	keys := append([]string{}, decKeys...)
	for k, v := range over {
		if _, ok := m[k]; !ok {
			keys = append(keys, k)
		}
		m[k] = v
	}
	var parts []string
	for _, k := range keys {
		if !decContains(drop, k) {
			parts = append(parts, decQ(k)+":"+m[k])
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func decQ(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func decContains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// codeOf returns the model error code of err, or "" for nil.
func decCode(err error) model.Code {
	if err == nil {
		return ""
	}
	return model.ErrorCode(err)
}

func TestDecodeOpErrorCodes(t *testing.T) {
	valid := decJSON(nil)
	manyIDs := make([]string, crdt.MaxBase+1)
	for i := range manyIDs {
		manyIDs[i] = decQ(fmt.Sprintf("0193f2a1-b2c3-7000-8000-%012x", i))
	}
	tests := []struct {
		name string
		in   string
		want model.Code // "" = decodes
	}{
		{"valid", valid, ""},
		{"valid with surrounding whitespace", " \n\t" + valid + "\r\n ", ""},

		// Shape of the object.
		{"unknown key", decJSON(map[string]string{"extra": "1"}), model.CodeInvalidOp},
		{"key in another case", decJSON(map[string]string{"ID": decQ(decID)}, "id"), model.CodeInvalidOp},
		{"repeated key", strings.TrimSuffix(valid, "}") + `,"value":"presumed"}`, model.CodeInvalidOp},
		{"repeated key spelled with an escape", strings.TrimSuffix(valid, "}") + `,"v\u0061lue":"presumed"}`, model.CodeInvalidOp},
		{"trailing object", valid + "{}", model.CodeInvalidOp},
		{"trailing garbage", valid + "x", model.CodeInvalidOp},
		{"trailing comma", valid + ",", model.CodeInvalidOp},
		{"second op", valid + valid, model.CodeInvalidOp},
		{"comma before the closing brace", strings.TrimSuffix(valid, "}") + ",}", model.CodeInvalidOp},
		{"not an object: array", "[" + valid + "]", model.CodeInvalidOp},
		{"not an object: string", decQ(valid), model.CodeInvalidOp},
		{"not an object: null", "null", model.CodeInvalidOp},
		{"not an object: number", "1", model.CodeInvalidOp},
		{"empty input", "", model.CodeInvalidOp},
		{"unterminated object", strings.TrimSuffix(valid, "}"), model.CodeInvalidOp},
		{"member without value", `{"id"}`, model.CodeInvalidOp},
		{"invalid member value", decJSON(map[string]string{"value": "tru"}), model.CodeInvalidOp},

		// Ids.
		{"missing id", decJSON(nil, "id"), model.CodeInvalidID},
		{"null id", decJSON(map[string]string{"id": "null"}), model.CodeInvalidID},
		{"uppercase id", decJSON(map[string]string{"id": decQ(strings.ToUpper(decID))}), model.CodeInvalidID},
		{"braced id", decJSON(map[string]string{"id": decQ("{" + decID + "}")}), model.CodeInvalidID},
		{"urn id", decJSON(map[string]string{"id": decQ("urn:uuid:" + decID)}), model.CodeInvalidID},
		{"id without hyphens", decJSON(map[string]string{"id": decQ(strings.ReplaceAll(decID, "-", ""))}), model.CodeInvalidID},
		{"id with a non-hex digit", decJSON(map[string]string{"id": decQ("0193f2a1-b2c3-7000-8000-00000000000g")}), model.CodeInvalidID},
		{"numeric id", decJSON(map[string]string{"id": "1"}), model.CodeInvalidID},
		{"missing record", decJSON(nil, "record"), model.CodeInvalidID},
		{"uppercase record", decJSON(map[string]string{"record": decQ(strings.ToUpper(decRecord))}), model.CodeInvalidID},
		{"missing device", decJSON(nil, "device"), model.CodeInvalidID},
		{"empty device", decJSON(map[string]string{"device": decQ("")}), model.CodeInvalidID},
		{"user absent", decJSON(nil, "user"), ""},
		{"user empty", decJSON(map[string]string{"user": decQ("")}), ""},
		{"user not a uuid", decJSON(map[string]string{"user": decQ("alice")}), model.CodeInvalidID},
		{"user uppercase", decJSON(map[string]string{"user": decQ(strings.ToUpper(decUser))}), model.CodeInvalidID},
		{"user a number", decJSON(map[string]string{"user": "7"}), model.CodeInvalidID},

		// hlc.
		{"missing hlc", decJSON(nil, "hlc"), model.CodeInvalidHLC},
		{"short hlc", decJSON(map[string]string{"hlc": decQ("0193f2a1b2c3001")}), model.CodeInvalidHLC},
		{"long hlc", decJSON(map[string]string{"hlc": decQ("0193f2a1b2c300011")}), model.CodeInvalidHLC},
		{"uppercase hlc", decJSON(map[string]string{"hlc": decQ("0193F2A1B2C30001")}), model.CodeInvalidHLC},
		{"non-hex hlc", decJSON(map[string]string{"hlc": decQ("0193f2a1b2c3000g")}), model.CodeInvalidHLC},
		{"numeric hlc", decJSON(map[string]string{"hlc": "1750000000000"}), model.CodeInvalidHLC},
		{"null hlc", decJSON(map[string]string{"hlc": "null"}), model.CodeInvalidHLC},

		// kind, field, action.
		{"missing kind", decJSON(nil, "kind"), model.CodeInvalidOp},
		{"empty kind", decJSON(map[string]string{"kind": decQ("")}), model.CodeInvalidOp},
		{"numeric kind", decJSON(map[string]string{"kind": "1"}), model.CodeInvalidOp},
		{"missing field", decJSON(nil, "field"), model.CodeInvalidOp},
		{"null field", decJSON(map[string]string{"field": "null"}), model.CodeInvalidOp},
		{"missing action", decJSON(nil, "action"), model.CodeInvalidOp},
		{"unknown action", decJSON(map[string]string{"action": decQ("delete")}), model.CodeInvalidOp},
		{"uppercase action", decJSON(map[string]string{"action": decQ("SET")}), model.CodeInvalidOp},
		{"unknown kind decodes (Validate refuses it)", decJSON(map[string]string{"kind": decQ("person")}), ""},

		// base.
		{"base absent", decJSON(nil, "base"), ""},
		{"base null", decJSON(map[string]string{"base": "null"}), ""},
		{"base empty", decJSON(map[string]string{"base": "[]"}), ""},
		{"base a string", decJSON(map[string]string{"base": decQ(decBaseA)}), model.CodeInvalidOp},
		{"base an object", decJSON(map[string]string{"base": "{}"}), model.CodeInvalidOp},
		{"base a number", decJSON(map[string]string{"base": "1"}), model.CodeInvalidOp},
		{"base entry a number", decJSON(map[string]string{"base": "[1]"}), model.CodeInvalidOp},
		{"base entry null", decJSON(map[string]string{"base": "[null]"}), model.CodeInvalidOp},
		{"base entry not a uuid", decJSON(map[string]string{"base": `["x"]`}), model.CodeInvalidOp},
		{"base entry uppercase", decJSON(map[string]string{"base": "[" + decQ(strings.ToUpper(decBaseA)) + "]"}), model.CodeInvalidOp},
		{"base at the limit", decJSON(map[string]string{"base": "[" + strings.Join(manyIDs[:crdt.MaxBase], ",") + "]"}), ""},
		{"base too long", decJSON(map[string]string{"base": "[" + strings.Join(manyIDs, ",") + "]"}), model.CodeInvalidOp},

		// value.
		{"value absent", decJSON(nil, "value"), ""},
		{"value out of double range", decJSON(map[string]string{"value": "1e400"}), model.CodeInvalidValue},
		{"value with a lone surrogate", decJSON(map[string]string{"value": `"\ud800"`}), model.CodeInvalidValue},
		{"value with invalid UTF-8", decJSON(map[string]string{"value": "\"\xff\""}), model.CodeInvalidValue},
		{"value object with a repeated key", decJSON(map[string]string{"value": `{"a":1,"a":2}`}), model.CodeInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := crdt.DecodeOp([]byte(tt.in))
			if got, want := decCode(err), tt.want; got != want {
				t.Errorf("DecodeOp(%.200s) code = %q, want %q (err %v)", tt.in, got, want, err)
			}
		})
	}
}

func TestDecodeOpNormalises(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantValue string
		wantBase  []string
		wantUser  string
	}{
		{"base sorted and deduplicated", decJSON(map[string]string{"base": "[" + decQ(decBaseB) + "," + decQ(decBaseA) + "," + decQ(decBaseB) + "]"}), `"presumed"`, []string{decBaseA, decBaseB}, decUser},
		{"absent base is empty, not nil", decJSON(nil, "base"), `"presumed"`, []string{}, decUser},
		{"null base is empty", decJSON(map[string]string{"base": "null"}), `"presumed"`, []string{}, decUser},
		{"absent value is null", decJSON(nil, "value"), `null`, []string{decBaseA}, decUser},
		{"explicit null value", decJSON(map[string]string{"value": "null"}), `null`, []string{decBaseA}, decUser},
		{"1.0 becomes 1", decJSON(map[string]string{"field": decQ("age_estimate"), "value": "1.0"}), `1`, []string{decBaseA}, decUser},
		{"number forms", decJSON(map[string]string{"value": "[1E2, -0, 0.10, 1e21, 1e-7, 100000000000000000000]"}), `[100,0,0.1,1e+21,1e-7,100000000000000000000]`, []string{decBaseA}, decUser},
		{"key order and whitespace", decJSON(map[string]string{"field": decQ("notes"), "action": decQ("append"), "base": "[]", "value": `{ "text" : "x", "b" : {"z":1, "a":2}, "a" : true }`}), `{"a":true,"b":{"a":2,"z":1},"text":"x"}`, []string{}, decUser},
		{"string escapes", decJSON(map[string]string{"value": `"\u00e9\/\u0041\t\u001f\ud83d\ude00"`}), "\"é/A\\t\\u001f😀\"", []string{decBaseA}, decUser},
		{"absent user is empty", decJSON(nil, "user"), `"presumed"`, []string{decBaseA}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := crdt.DecodeOp([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeOp(%s): %v", tt.in, err)
			}
			if got, want := string(op.Value), tt.wantValue; got != want {
				t.Errorf("value = %s, want %s", got, want)
			}
			if got, want := op.Base, tt.wantBase; !reflect.DeepEqual(got, want) {
				t.Errorf("base = %#v, want %#v", got, want)
			}
			if got, want := op.User, tt.wantUser; got != want {
				t.Errorf("user = %q, want %q", got, want)
			}
			// The canonical form decodes to the same op.
			again, err := crdt.DecodeOp(op.AppendJSON(nil))
			if err != nil {
				t.Fatalf("DecodeOp(AppendJSON): %v", err)
			}
			if !reflect.DeepEqual(op, again) {
				t.Errorf("round trip: got %#v, want %#v", again, op)
			}
		})
	}
}

func TestDecodeOpFields(t *testing.T) {
	op, err := crdt.DecodeOp([]byte(decJSON(nil)))
	if err != nil {
		t.Fatal(err)
	}
	want := crdt.Op{
		ID: decID, Record: decRecord, Kind: "identification", Field: "status", Action: model.ActionSet,
		Value: json.RawMessage(`"presumed"`), Base: []string{decBaseA}, HLC: hlc.New(0x0193f2a1b2c3, 1),
		Device: decDevice, User: decUser,
	}
	if !reflect.DeepEqual(op, want) {
		t.Errorf("DecodeOp = %#v, want %#v", op, want)
	}
	wantJSON := `{"action":"set","base":["` + decBaseA + `"],"device":"` + decDevice + `","field":"status","hlc":"` + decHLC +
		`","id":"` + decID + `","kind":"identification","record":"` + decRecord + `","user":"` + decUser + `","value":"presumed"}`
	if got := string(op.AppendJSON(nil)); got != wantJSON {
		t.Errorf("AppendJSON = %s, want %s", got, wantJSON)
	}
	if got, err := json.Marshal(op); err != nil || string(got) != wantJSON {
		t.Errorf("json.Marshal = %s, %v, want %s", got, err, wantJSON)
	}
	var viaUnmarshal crdt.Op
	if err := json.Unmarshal([]byte(decJSON(nil)), &viaUnmarshal); err != nil || !reflect.DeepEqual(viaUnmarshal, want) {
		t.Errorf("json.Unmarshal = %#v, %v", viaUnmarshal, err)
	}
	if err := json.Unmarshal([]byte(decJSON(nil, "id")), &viaUnmarshal); decCode(err) != model.CodeInvalidID {
		t.Errorf("json.Unmarshal without id: code %q, want %q", decCode(err), model.CodeInvalidID)
	}
}
