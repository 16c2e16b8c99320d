package server

import (
	"encoding/json"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// TestPullPageIsWhatEncodingJSONWrites: the pull page written from the
// stored bytes is byte for byte the JSON that c.JSON(api.PullResponse)
// wrote, HTML and line-separator escapes included.
func TestPullPageIsWhatEncodingJSONWrites(t *testing.T) {
	ops := [][]byte{
		[]byte(`{"id":"a","value":"plain"}`),
		[]byte(`{"value":"<script>alert('x') & more</script>"}`),
		[]byte("{\"value\":\"line\u2028para\u2029end, caf\u00e9 \U0001F600\"}"),
		[]byte(`{"value":"esc \" \\ \n \u0001","n":[1,2.5,-3e10,true,false,null],"o":{}}`),
		[]byte("{\"value\":\"\u2027\u202a\u20ac edge\"}"),
	}
	tests := []struct {
		name string
		res  protocol.PullResult
	}{
		{"empty page", protocol.PullResult{Ops: [][]byte{}, Drop: []string{}, Cursor: "c1", ServerHLC: hlc.New(1700000000000, 3)}},
		{"ops and drops", protocol.PullResult{Ops: ops, Drop: []string{"r1", "r<2>"}, Cursor: "abc-_DEF", More: true, ServerHLC: hlc.New(1700000000001, 0)}},
		{"nil drop", protocol.PullResult{Ops: ops[:1], Cursor: "", ServerHLC: hlc.New(1, 1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := make([]json.RawMessage, len(tc.res.Ops))
			for i, op := range tc.res.Ops {
				raw[i] = op
			}
			want, err := json.Marshal(api.PullResponse{Ops: raw, Cursor: tc.res.Cursor, More: tc.res.More, Drop: tc.res.Drop, ServerHLC: tc.res.ServerHLC.String()})
			if err != nil {
				t.Fatal(err)
			}
			if got := appendPullPage(nil, &tc.res); string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}
