package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// staleOp returns op stamped an hour before the server's clock, so that
// its value loses to every value written since.
func staleOp(t *testing.T, h *harness, op json.RawMessage) json.RawMessage {
	t.Helper()
	var m map[string]any
	mustUnmarshal(t, op, &m)
	m["hlc"] = hlc.New(h.now().Add(-time.Hour).UnixMilli(), 0).String()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRegionalSupervisorMovesStayInJurisdiction: a supervisor of north
// moves neither an action week nor an identification out of its
// jurisdiction or into it, not even as a value that loses to the shown
// one; what it was refused stays where it was, for everyone.
func TestRegionalSupervisorMovesStayInJurisdiction(t *testing.T) {
	h := startServer(t)
	d := adminDeployment(t, h)
	supN, sup := d.clients["sup.n"], d.clients["sup"]
	south := d.teams["south"]
	rejected := func(what string, op json.RawMessage) {
		t.Helper()
		if r := supN.push(op).Results[0]; r.Status != "rejected" || r.Code != model.CodeForbidden {
			t.Errorf("%s: %+v, want rejected forbidden", what, r)
		}
	}
	weekBase := currentSiblings(t, supN, d.week, "host_team")
	recBase := currentSiblings(t, supN, d.northRec, "team")
	rejected("week out", supN.op(d.week, model.KindActionWeek, "host_team", "set", south, weekBase...))
	rejected("week out, losing", staleOp(t, h, supN.op(d.week, model.KindActionWeek, "host_team", "set", south)))
	rejected("record out", supN.op(d.northRec, model.KindIdentification, "team", "set", south, recBase...))
	rejected("record out, losing", staleOp(t, h, supN.op(d.northRec, model.KindIdentification, "team", "set", south)))
	rejected("record in", supN.op(d.southRec, model.KindIdentification, "team", "set", d.teams["north"]))
	for _, c := range []struct {
		who, rec string
		want     int
	}{{"fw", d.week, 200}, {"fw", d.northRec, 200}, {"fw.s", d.week, 404}, {"fw.s", d.northRec, 404}, {"fw.s", d.southRec, 200}} {
		d.clients[c.who].mustDo(c.want, http.MethodGet, "/v1/records/"+c.rec, nil)
	}
	if got := currentSiblings(t, supN, d.week, "host_team"); len(got) != 1 || got[0] != weekBase[0] {
		t.Errorf("host_team siblings after refused moves = %v, want %v", got, weekBase)
	}

	// The national supervisor moves the week south; north's supervisor may
	// not bring it back, and no longer reads it.
	sup.pushApplied(sup.op(d.week, model.KindActionWeek, "host_team", "set", south, weekBase...))
	rejected("week in", supN.op(d.week, model.KindActionWeek, "host_team", "set", d.teams["north"]))
	supN.mustDo(http.StatusNotFound, http.MethodGet, "/v1/records/"+d.week, nil)
	d.clients["fw.s"].mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+d.week, nil)
}
