package review_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/server/review"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

var schema = model.DefaultSchema()

// builder writes ops into one record, as if pushed: op ids are
// "<record>-<n>", hlcs day-sized steps of the caller's choosing.
type builder struct {
	t   *testing.T
	rec *crdt.Record
	n   int
}

func build(t *testing.T, id, kind string) *builder {
	return &builder{t: t, rec: crdt.NewRecord(id, kind)}
}

// ident starts an identification of team t0 (its team written at time 1).
func ident(t *testing.T, id string) *builder {
	b := build(t, id, model.KindIdentification)
	b.at(1, "u", "team", model.ActionSet, "t0")
	return b
}

// at applies an op of user at time at (in days) and returns its id; value
// is marshalled; base names the ops it overwrites (or the entry redacted).
func (b *builder) at(at int, user, field string, action model.Action, value any, base ...string) string {
	b.t.Helper()
	b.n++
	raw, err := json.Marshal(value)
	if err != nil {
		b.t.Fatal(err)
	}
	if base == nil {
		base = []string{}
	}
	id := fmt.Sprintf("%s-%d", b.rec.ID, b.n)
	op := &crdt.Op{ID: id, Record: b.rec.ID, Kind: b.rec.Kind, Field: field, Action: action, Value: raw, Base: base,
		HLC: hlc.New(1_767_225_600_000+int64(at)*86_400_000, 0), Device: "d-" + user, User: user}
	if _, err := b.rec.Apply(schema, op); err != nil {
		b.t.Fatalf("apply %s %s: %v", field, action, err)
	}
	return id
}

// set writes a register at time at, as user u, over base.
func (b *builder) set(at int, field string, value any, base ...string) string {
	return b.at(at, "u", field, model.ActionSet, value, base...)
}

// day returns the hlc of time at, as the API shows it.
func day(at int) string { return hlc.New(1_767_225_600_000+int64(at)*86_400_000, 0).String() }

// reasonCodes returns the reason codes, sorted, a conflict's as
// "conflict:<field>".
func reasonCodes(rs []api.QueueReason) []string {
	var out []string
	for _, r := range rs {
		code := r.Code
		if r.Code == review.ReasonConflict {
			code += ":" + r.Field
		}
		out = append(out, code)
	}
	slices.Sort(out)
	return out
}

// codeOf returns err's code ("" for no error).
func codeOf(err error) model.Code {
	if err == nil {
		return ""
	}
	return model.ErrorCode(err)
}
