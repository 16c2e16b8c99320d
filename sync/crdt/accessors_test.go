package crdt

import (
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// TestRedactionPending: a redaction that arrived before its append is
// pending for that append's id in that log only (protocol stores such an
// append erased on arrival).
func TestRedactionPending(t *testing.T) {
	r := NewRecord(mtRec, model.KindIdentification)
	mtApply(t, r, mtOp(1, "status", "set", `"potential"`, "", 10))
	mtApply(t, r, mtOp(2, "notes", "redact", "null", mtBase(9), 20))
	tests := []struct {
		name, field, id string
		want            bool
	}{
		{"the named append", "notes", "00000000-0000-4000-8000-000000000009", true},
		{"another id", "notes", "00000000-0000-4000-8000-000000000008", false},
		{"another log", "referrals", "00000000-0000-4000-8000-000000000009", false},
		{"a register", "status", "00000000-0000-4000-8000-000000000009", false},
		{"an unknown field", "no_such_field", "00000000-0000-4000-8000-000000000009", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.RedactionPending(tt.field, tt.id); got != tt.want {
				t.Errorf("RedactionPending(%q, %q) = %v, want %v", tt.field, tt.id, got, tt.want)
			}
		})
	}
}

// TestElementsOfNonSet: Elements is nil for a register, a log or an
// absent field, and the present elements, sorted, for a set.
func TestElementsOfNonSet(t *testing.T) {
	r := NewRecord(mtRec, model.KindIdentification)
	mtApply(t, r, mtOp(1, "status", "set", `"potential"`, "", 10))
	mtApply(t, r, mtOp(2, "notes", "append", `{"text":"x"}`, "", 11))
	mtApply(t, r, mtOp(3, "indicators", "add", `"debt_bondage"`, "", 12))
	mtApply(t, r, mtOp(4, "indicators", "add", `"abduction"`, "", 13))
	for _, field := range []string{"status", "notes", "sex"} {
		if got := r.Elements(field); got != nil {
			t.Errorf("Elements(%q) = %v, want nil", field, got)
		}
	}
	if got, want := r.Elements("indicators"), []string{"abduction", "debt_bondage"}; !slices.Equal(got, want) {
		t.Errorf("Elements(indicators) = %v, want %v", got, want)
	}
}
