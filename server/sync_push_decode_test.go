package server

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// unmarshalPush is what decodePush accepts, written as the unmarshal it
// replaced: the reference of TestDecodePushAsUnmarshal.
func unmarshalPush(body []byte) ([]json.RawMessage, bool) {
	var req struct {
		Ops []jsontext.Value `json:"ops"`
	}
	err := jsonv2.Unmarshal(body, &req, jsonv2.RejectUnknownMembers(true), jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
	if err != nil || req.Ops == nil {
		return nil, false
	}
	ops := make([]json.RawMessage, len(req.Ops))
	for i, op := range req.Ops {
		ops[i] = json.RawMessage(op)
	}
	return ops, true
}

// pushBodies are edge cases of the push body's shape.
var pushBodies = []string{
	`{"ops":[]}`, `{"ops":[{"id":"x"}]}`, `{"ops":[` + "\"\xff\"" + `]}`, `{"ops":{}}`, `[[[[`, `{"ops":[{"a":1,"a":2}]}`, ``,
	`{"ops":[],"x":1}`, `{"ops":[1],"ops":[2,3]}`, `{"ops":[1],"ops":null}`, `{"ops":null,"ops":[1]}`, `{"Ops":[1]}`,
	`{"ops":[1]} x`, `{"ops":[1,]}`, ` {"ops":[ 1 , {"a" : 1} ,"s", null,[[]] ]} `, `{"ops":[1]`, `{}`, `{"ops":null}`,
	`null`, `[]`, `"ops"`, `{"ops":[1]}{}`, `{"\u006fps":[true]}`, `{"ops":[1] , "ops":[]}`, `{"ops":["\ud800"]}`,
	`{"ops":[{"id":"` + strings.Repeat("x", 5000) + `"}]}`, `{"ops":[],}`, `{,"ops":[]}`, `{"ops":[]]`, `{"ops":3}`,
}

// TestDecodePushAsUnmarshal: decodePush accepts and returns exactly what
// the reflective unmarshal it replaced did.
func TestDecodePushAsUnmarshal(t *testing.T) {
	for _, body := range pushBodies {
		checkDecodePush(t, []byte(body))
	}
}

func checkDecodePush(t *testing.T, body []byte) {
	t.Helper()
	want, ok := unmarshalPush(body)
	got, err := decodePush(body, 1<<20)
	if ok != (err == nil) {
		t.Fatalf("%q: decodePush error %v, unmarshal accepts: %v", body, err, ok)
	}
	if ok && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: decodePush = %q, unmarshal = %q", body, got, want)
	}
}

// FuzzDecodePushAsUnmarshal is TestDecodePushAsUnmarshal on any body.
func FuzzDecodePushAsUnmarshal(f *testing.F) {
	for _, body := range pushBodies {
		f.Add([]byte(body))
	}
	f.Fuzz(checkDecodePush)
}

// BenchmarkDecodePush splits a 500-op push body: decodePush against the
// unmarshal it replaced.
func BenchmarkDecodePush(b *testing.B) {
	op := `{"id":"0193f2a1-b2c3-7000-8000-000000000001","record":"0193f2a1-b2c3-7000-8000-0000000000aa","kind":"identification","field":"notes","action":"append","value":{"text":"Met near the bus station."},"base":[],"hlc":"0193f2a1b2c30001","device":"0193f2a1-b2c3-7000-8000-0000000000d1"}`
	body := []byte(`{"ops":[` + strings.TrimSuffix(strings.Repeat(op+",", 500), ",") + `]}`)
	b.Run("decodePush", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for range b.N {
			if _, err := decodePush(body, 32); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for range b.N {
			if _, ok := unmarshalPush(body); !ok {
				b.Fatal("refused")
			}
		}
	})
}
