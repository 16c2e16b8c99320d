package server

import (
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// FuzzDecodePush: any body either decodes to ops or is refused with a
// whole-request code; it never panics, and an accepted body never nests
// deeper than the limit.
func FuzzDecodePush(f *testing.F) {
	for _, seed := range []string{`{"ops":[]}`, `{"ops":[{"id":"x"}]}`, `{"ops":[` + "\"\xff\"" + `]}`, `{"ops":{}}`, `[[[[`, `{"ops":[{"a":1,"a":2}]}`, ``, `{"ops":[],"x":1}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := decodePush(body, 32)
		if err != nil {
			if c := model.ErrorCode(err); c != model.CodeInvalidJSON && c != model.CodeTooDeep {
				t.Fatalf("decodePush error code %s", c)
			}
			return
		}
		if ops == nil || jsonDepth(body) > 32 {
			t.Fatalf("accepted %q", body)
		}
	})
}

// FuzzDecodeBody: request bodies of the other routes decode strictly or
// fail with a request-level code, never panic.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{`{"username":"a","password":"b"}`, `{"username":1}`, `{"user":"a"}`, `{} {}`, `{"teams":[[[]]]}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req api.CreateUserRequest
		if err := decodeBody(body, 32, &req); err != nil {
			switch model.ErrorCode(err) {
			case model.CodeInvalidJSON, model.CodeInvalidRequest, model.CodeTooDeep:
			default:
				t.Fatalf("decodeBody error code %s for %q", model.ErrorCode(err), body)
			}
		}
	})
}
