package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// TestRecordLimitsOverHTTP: the per-record limits come from the
// configuration, are served in GET /v1/schema, and are enforced per op:
// a full log and a record at its byte limit refuse the next entry with
// record_too_large (after a restart too: the size is recounted from the
// stored state), a redaction and a status change still apply, and other
// records are unaffected.
func TestRecordLimitsOverHTTP(t *testing.T) {
	h := startServerEnv(t, map[string]string{
		"FIELDSYNC_MAX_LOG_ENTRIES":  "5",
		"FIELDSYNC_MAX_ENTRY_BYTES":  "2048",
		"FIELDSYNC_MAX_RECORD_BYTES": "8192",
	})
	w := newWorld(h, []string{"north"}, map[string]userSpec{
		"fw":  {role: model.RoleFieldWorker, teams: []string{"north"}},
		"sup": {role: model.RoleSupervisor},
	})
	fw, sup := w.clients["fw"], w.clients["sup"]

	var schema model.Schema
	mustUnmarshal(t, fw.mustDo(http.StatusOK, http.MethodGet, "/v1/schema", nil), &schema)
	if got, want := schema.Limits, (model.RecordLimits{MaxLogEntries: 5, MaxEntryBytes: 2048, MaxRecordBytes: 8192}); got != want {
		t.Errorf("served limits %+v, want %+v", got, want)
	}
	if got := schema.Kinds[model.KindIdentification].Fields["notes"].MaxBytes; got != 2048 {
		t.Errorf("served max_bytes of notes %d, want 2048", got)
	}

	note := func(c *client, rec, text string) json.RawMessage {
		return c.op(rec, model.KindIdentification, "notes", "append", map[string]string{"text": text})
	}
	full, other, big := newID(), newID(), newID()
	fw.pushApplied(fw.newIdentification(full, w.teams["north"])...)
	fw.pushApplied(fw.newIdentification(other, w.teams["north"])...)
	fw.pushApplied(fw.newIdentification(big, w.teams["north"])...)
	var first string
	for i := range 5 {
		op := note(fw, full, "short note")
		if i == 0 {
			first = opID(t, op)
		}
		fw.pushApplied(op)
	}
	checkRejected := func(res api.PushResponse, want model.Code) {
		t.Helper()
		if r := res.Results[0]; r.Status != "rejected" || r.Code != want {
			t.Fatalf("result %+v, want rejected %s", r, want)
		}
	}
	checkRejected(fw.push(note(fw, full, "one too many")), model.CodeRecordTooLarge)

	// A full record still takes a redaction and a status change.
	sup.pushApplied(sup.op(full, model.KindIdentification, "notes", "redact", nil, first))
	fw.pushApplied(fw.op(full, model.KindIdentification, "status", "set", "presumed"))
	rec := getJSON[map[string]any](sup, "/v1/records/"+full)
	entries := rec["fields"].(map[string]any)["notes"].(map[string]any)["entries"].([]any)
	if len(entries) != 5 || entries[0].(map[string]any)["redacted"] != true {
		t.Fatalf("notes after the redaction: %v, want 5 entries, the first redacted", entries)
	}

	// Another record is unaffected.
	fw.pushApplied(note(fw, other, "elsewhere"))

	// Bytes per record: entries of about 1.5 KiB fill 8 KiB after four.
	text := strings.Repeat("a long statement ", 90)
	for range 4 {
		fw.pushApplied(note(fw, big, text))
	}
	checkRejected(fw.push(note(fw, big, text)), model.CodeRecordTooLarge)
	// An entry over max_entry_bytes is an invalid value, as before.
	checkRejected(fw.push(note(fw, other, strings.Repeat("x", 2100))), model.CodeInvalidValue)

	// The size survives a restart (recounted from the stored state).
	h.restart()
	fw = h.login("fw", userPassword, fw.device)
	checkRejected(fw.push(note(fw, full, "after a restart")), model.CodeRecordTooLarge)
	checkRejected(fw.push(note(fw, big, text)), model.CodeRecordTooLarge)
	fw.pushApplied(note(fw, other, "still fine"))
}

func opID(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	mustUnmarshal(t, raw, &v)
	return v.ID
}
