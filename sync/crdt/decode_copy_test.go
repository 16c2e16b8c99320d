package crdt_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/sync/crdt"
)

// TestDecodeOpOwnsItsBytes checks that a decoded op shares no memory with
// its input: the server decodes ops straight out of a request body that
// fiber reuses for the next request.
func TestDecodeOpOwnsItsBytes(t *testing.T) {
	for _, tc := range []struct{ name, js string }{
		{"set", decJSON(nil)},
		{"no base", decJSON(map[string]string{"base": "[]"})},
		{"object value", decJSON(map[string]string{"field": `"notes"`, "action": `"append"`, "value": `{"text":"x"}`})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(tc.js)
			want, err := crdt.DecodeOp([]byte(tc.js))
			if err != nil {
				t.Fatal(err)
			}
			got, err := crdt.DecodeOp(data)
			if err != nil {
				t.Fatal(err)
			}
			for i := range data {
				data[i] = 'X'
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("after the input was overwritten the op is %+v, want %+v", got, want)
			}
		})
	}
}

// TestDecodeOpEscapedNames checks that names and strings spelt with
// escape sequences decode as their plain spelling (the fast paths read
// plain spellings without unquoting).
func TestDecodeOpEscapedNames(t *testing.T) {
	plain, err := crdt.DecodeOp([]byte(decJSON(nil)))
	if err != nil {
		t.Fatal(err)
	}
	esc := func(s string) string {
		return `"\u00` + string("0123456789abcdef"[s[0]>>4]) + string("0123456789abcdef"[s[0]&15]) + s[1:] + `"`
	}
	js := decJSON(nil)
	for _, k := range []string{"id", "record", "kind", "field", "action", "hlc", "device", "user", "value", "base"} {
		js = strings.Replace(js, `"`+k+`":`, esc(k)+":", 1)
	}
	for _, v := range []string{decID, decRecord, decDevice, "identification", "status", "set", decHLC} {
		js = strings.Replace(js, `:"`+v+`"`, ":"+esc(v), 1)
	}
	if bytes.Equal([]byte(js), []byte(decJSON(nil))) {
		t.Fatal("nothing was escaped")
	}
	got, err := crdt.DecodeOp([]byte(js))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	if !reflect.DeepEqual(got, plain) {
		t.Errorf("%s decodes as %+v, want %+v", js, got, plain)
	}
}
