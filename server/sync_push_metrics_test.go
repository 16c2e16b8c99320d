package server_test

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// TestPushCountsOpsByOutcome: fieldsync_pushed_ops_total counts every op
// of a push under its status and code, however they are added up.
func TestPushCountsOpsByOutcome(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north"}, map[string]userSpec{"fw": {role: model.RoleFieldWorker, teams: []string{"north"}}})
	fw := w.clients["fw"]
	rec := newID()
	ops := fw.newIdentification(rec, w.teams["north"], [3]any{"status", "set", "potential"}, [3]any{"region", "set", "north"})
	ops = append(ops, json.RawMessage(`[]`), json.RawMessage(`7`))
	fw.push(ops...)
	fw.push(ops[0]) // a duplicate

	resp, err := h.http.Get("http://" + h.m.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`fieldsync_pushed_ops_total{code="",status="applied"} 3`,
		`fieldsync_pushed_ops_total{code="invalid_op",status="rejected"} 2`,
		`fieldsync_pushed_ops_total{code="",status="duplicate"} 1`,
	} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("metrics lack %s; they hold:\n%s", want, grepLines(string(body), "fieldsync_pushed_ops_total"))
		}
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
