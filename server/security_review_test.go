package server_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// TestLinkedIDNeverReachesANonReader (issue 9, item 2): a national
// supervisor links a North record to a South record. No answer any reader
// of the North record gets (pull, record, history, lists, review routes,
// exports, figures) holds the South record's id, so an op on that id
// cannot serve as an existence oracle; the link is served only to a
// caller who may read both records, and the old field is unknown.
func TestLinkedIDNeverReachesANonReader(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	sup, fw, tl := d.clients["sup"], d.clients["fw"], d.clients["tl"]
	supN := d.addUser("sup.n", userSpec{role: model.RoleSupervisor, teams: []string{"north"}})
	sup.mustDo(http.StatusOK, http.MethodPost, "/v1/review/links", api.LinkRequest{Records: []string{d.northRec, d.southRec}})

	noID := func(what string, body []byte) {
		t.Helper()
		if bytes.Contains(body, []byte(d.southRec)) {
			t.Errorf("%s holds the id of the South record: %.300s", what, body)
		}
	}
	for name, c := range map[string]*client{"fw": fw, "tl": tl, "sup.n": supN} {
		ops, _, _ := c.pullAll("", 1000)
		for _, op := range ops {
			noID(name+" pull", op)
		}
		for _, path := range []string{"/v1/records/" + d.northRec, "/v1/records/" + d.northRec + "?history=true", "/v1/records?kind=identification"} {
			noID(name+" GET "+path, c.mustDo(http.StatusOK, http.MethodGet, path, nil))
		}
	}
	for _, path := range []string{"/v1/review/queue", "/v1/review/duplicates?include_linked=true", "/v1/export/records",
		"/v1/stats", "/v1/export/stats", "/v1/review/links?record=" + d.northRec} {
		noID("sup.n GET "+path, supN.mustDo(http.StatusOK, http.MethodGet, path, nil))
	}
	// Only a caller who reads both records sees the link.
	if body := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/review/links?record="+d.northRec, nil); !bytes.Contains(body, []byte(d.southRec)) {
		t.Errorf("the national supervisor's links of the North record: %s, want the link to South", body)
	}
	// The field is gone from the schema: an op naming it is unknown, for
	// every role.
	for _, c := range []*client{fw, sup} {
		r := c.push(c.op(d.northRec, model.KindIdentification, "linked_records", "add", d.southRec)).Results[0]
		if r.Status != "rejected" || r.Code != model.CodeUnknownField {
			t.Errorf("%s pushes linked_records: %+v, want rejected unknown_field", c.user.Username, r)
		}
	}
	// Linking a record outside the caller's reach answers exactly what
	// linking one that does not exist answers.
	outside := errorBodyOf(t, supN, http.MethodPost, "/v1/review/links", api.LinkRequest{Records: []string{d.northRec, d.southRec}})
	unknown := d.southRec
	d.southRec = newID()
	missing := errorBodyOf(t, supN, http.MethodPost, "/v1/review/links", api.LinkRequest{Records: []string{d.northRec, d.southRec}})
	if !bytes.Equal(outside, bytes.ReplaceAll(missing, []byte(d.southRec), []byte(unknown))) {
		t.Errorf("linking an unreadable record: %s; linking a missing one: %s", outside, missing)
	}
}

// errorBodyOf sends a request that must fail with 404 and returns its body.
func errorBodyOf(t *testing.T, c *client, method, path string, body any) []byte {
	t.Helper()
	status, data := c.do(method, path, body)
	if status != http.StatusNotFound {
		t.Fatalf("%s %s: %d %s, want 404", method, path, status, data)
	}
	return data
}

// TestRejectionNamesNoStoredValue (issue 9, item 2): a visitor writes the
// identifications it created without reading them; its refusal after a
// supervisor's decision must not tell the decision.
func TestRejectionNamesNoStoredValue(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	sup, vis := d.clients["sup"], d.clients["visitor"]
	messages := map[string]string{}
	for _, decision := range []string{"identified", "not_victim"} {
		rec := newID()
		vis.pushApplied(vis.newIdentification(rec, d.teams["north"], [3]any{"status", "set", "presumed"})...)
		sup.pushApplied(sup.op(rec, model.KindIdentification, "status", "set", decision, sup.record(rec).siblings("status")...))
		r := vis.push(vis.op(rec, model.KindIdentification, "status", "set", "withdrawn")).Results[0]
		if r.Status != "rejected" || r.Code != model.CodeForbidden {
			t.Fatalf("visitor replaces %s: %+v, want rejected forbidden", decision, r)
		}
		messages[decision] = r.Message
	}
	if messages["identified"] != messages["not_victim"] {
		t.Errorf("the refusal tells the decision:\n%s\n%s", messages["identified"], messages["not_victim"])
	}
}

// TestFormalStatusSiblingNeedsSupervisor (issue 9, item 3): a supervisor's
// decision that arrived as a sibling of a field worker's concurrent value
// cannot be erased by a field worker's write whose base covers it.
func TestFormalStatusSiblingNeedsSupervisor(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	sup, fw := d.clients["sup"], d.clients["fw"]
	rec := newID()
	fw.pushApplied(fw.newIdentification(rec, d.teams["north"], [3]any{"code", "set", "N-2"})...)
	sup.record(rec)
	fw.record(rec)
	// The supervisor decides, offline; the field worker writes later
	// (a greater stamp) and pushes first.
	decision := sup.op(rec, model.KindIdentification, "status", "set", "identified")
	var stamp struct {
		HLC string `json:"hlc"`
	}
	mustUnmarshal(t, decision, &stamp)
	at, err := hlc.Parse(stamp.HLC)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.clock.Update(hlc.New(at.Millis()+1, 0)); err != nil {
		t.Fatal(err)
	}
	fw.pushApplied(fw.op(rec, model.KindIdentification, "status", "set", "presumed"))
	sup.pushApplied(decision)
	r := fw.record(rec)
	if got := r.siblings("status"); len(got) != 2 {
		t.Fatalf("status siblings %v, want the field value and the decision", got)
	}
	for _, c := range []*client{fw, d.clients["tl"]} {
		res := c.push(c.op(rec, model.KindIdentification, "status", "set", "potential", r.siblings("status")...)).Results[0]
		if res.Status != "rejected" || res.Code != model.CodeForbidden {
			t.Errorf("%s resolves over the decision: %+v, want rejected forbidden", c.user.Username, res)
		}
	}
	if !slices.ContainsFunc(statusValues(t, sup, rec), func(v string) bool { return v == `"identified"` }) {
		t.Fatalf("the decision was erased: status %v", statusValues(t, sup, rec))
	}
	// The supervisor may resolve it.
	sup.pushApplied(sup.op(rec, model.KindIdentification, "status", "set", "identified", sup.record(rec).siblings("status")...))
	if got := statusValues(t, sup, rec); !slices.Equal(got, []string{`"identified"`}) {
		t.Errorf("status after the supervisor's resolution: %v", got)
	}
}

// statusValues returns the status register's sibling values as c reads
// them, shown first.
func statusValues(t *testing.T, c *client, rec string) []string {
	t.Helper()
	r := c.record(rec)
	f := r.Fields["status"]
	out := []string{string(f.Value)}
	for _, s := range f.Conflicts {
		out = append(out, string(s.Value))
	}
	return out
}
