package server_test

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// erasureCanary returns 24 random capital letters (no stored byte string
// shares 4 of them in a row, so block compression keeps them whole).
func erasureCanary() string {
	b := make([]byte, 24)
	for i := range b {
		b[i] = 'A' + byte(rand.IntN(26))
	}
	return string(b)
}

// TestRedactionErasesFromTheDataDirectory (issue 12): a note pushed by a
// field worker and redacted by a supervisor is, after a clean shutdown,
// in no file of the data directory (no encryption at rest); the other
// note and record are served as before, byte for byte, after a restart.
// The controls (a scan that finds a plain value; the same scan without a
// redaction, reading through badger with the keys) are the store's:
// TestErasureReachesTheBytes.
func TestRedactionErasesFromTheDataDirectory(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	fw, sup := d.clients["fw"], d.clients["sup"]
	erased, kept := erasureCanary(), erasureCanary()
	rec := newID()
	fw.pushApplied(fw.newIdentification(rec, d.teams["north"])...)
	secret := fw.op(rec, model.KindIdentification, "notes", "append", map[string]string{"text": erased})
	fw.pushApplied(secret, fw.op(rec, model.KindIdentification, "notes", "append", map[string]string{"text": kept}))
	before := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+rec+"?history=true", nil)
	if !bytes.Contains(before, []byte(erased)) {
		t.Fatal("control: the note is not served before the redaction")
	}
	sup.pushApplied(sup.op(rec, model.KindIdentification, "notes", "redact", nil, opID(t, secret)))
	redacted := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+rec+"?history=true", nil)
	other := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+d.northRec+"?history=true", nil)
	h.stop()
	if hits := filesContaining(t, h.dir, []string{erased}); len(hits) > 0 {
		t.Errorf("the redacted note is in the data directory: %v", hits)
	}
	h.start()
	sup = h.login("sup", userPassword, "")
	if got := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+rec+"?history=true", nil); !bytes.Equal(got, redacted) {
		t.Errorf("after a restart the record differs:\ngot  %s\nwant %s", got, redacted)
	}
	if got := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+d.northRec+"?history=true", nil); !bytes.Equal(got, other) {
		t.Errorf("after a restart another record differs")
	}
	if !bytes.Contains(redacted, []byte(kept)) || bytes.Contains(redacted, []byte(erased)) {
		t.Errorf("served after the redaction: %s", redacted)
	}
}
