package crdt_test

import (
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
)

// TestValidateAttachments: an attachments entry names a blob by a SHA-256
// digest with a positive size, an allowed media type and short strings.
func TestValidateAttachments(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	entry := func(fields string) string {
		return `{"digest":"` + digest + `","media_type":"image/jpeg"` + fields + `}`
	}
	tests := []struct {
		name string
		in   string
		want model.Code
	}{
		{"valid photo", valIdent("attachments", "append", entry(`,"size":1024,"name":"passport.jpg","caption":"id page"`)), ""},
		{"valid on a site visit", valOp(model.KindSiteVisit, "attachments", "append", entry(`,"size":5`)), ""},
		{"no size", valIdent("attachments", "append", entry(``)), model.CodeInvalidValue},
		{"zero size", valIdent("attachments", "append", entry(`,"size":0`)), model.CodeInvalidValue},
		{"fractional size", valIdent("attachments", "append", entry(`,"size":1.5`)), model.CodeInvalidValue},
		{"no digest", valIdent("attachments", "append", `{"media_type":"image/jpeg","size":1}`), model.CodeInvalidValue},
		{"upper-case digest", valIdent("attachments", "append", `{"digest":"`+strings.ToUpper(digest)+`","media_type":"image/jpeg","size":1}`), model.CodeInvalidValue},
		{"short digest", valIdent("attachments", "append", `{"digest":"abcd","media_type":"image/jpeg","size":1}`), model.CodeInvalidValue},
		{"svg", valIdent("attachments", "append", `{"digest":"`+digest+`","media_type":"image/svg+xml","size":1}`), model.CodeInvalidValue},
		{"name not a string", valIdent("attachments", "append", entry(`,"size":1,"name":7`)), model.CodeInvalidValue},
		{"caption too long", valIdent("attachments", "append", entry(`,"size":1,"caption":"`+strings.Repeat("x", 256)+`"`)), model.CodeInvalidValue},
		{"size of one byte", valIdent("attachments", "append", entry(`,"size":1`)), ""},
		{"size of 2^53 bytes", valIdent("attachments", "append", entry(`,"size":9007199254740992`)), ""},
		{"size past 2^53 bytes", valIdent("attachments", "append", entry(`,"size":18014398509481984`)), model.CodeInvalidValue},
		{"negative size", valIdent("attachments", "append", entry(`,"size":-1`)), model.CodeInvalidValue},
		{"size as a string", valIdent("attachments", "append", entry(`,"size":"5"`)), model.CodeInvalidValue},
		{"name and caption of 255 bytes", valIdent("attachments", "append", entry(`,"size":1,"name":"`+strings.Repeat("n", 255)+`","caption":"`+strings.Repeat("c", 255)+`"`)), ""},
		{"name too long", valIdent("attachments", "append", entry(`,"size":1,"name":"`+strings.Repeat("x", 256)+`"`)), model.CodeInvalidValue},
		{"redact by supervisor rule is the log's", valIdent("attachments", "redact", "", decBaseA), ""},
	}
	schema := model.DefaultSchema()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, err := crdt.DecodeOp([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodeOp: %v", err)
			}
			if got, want := decCode(crdt.Validate(schema, &op)), tt.want; got != want {
				t.Errorf("Validate(%.120s) code = %q, want %q", tt.in, got, want)
			}
		})
	}
}
