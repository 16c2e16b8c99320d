package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server"
	"github.com/fieldsync/fieldsync/server/backup"
)

// writeKey creates a random store encryption key file.
func writeKey(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "store.key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// filesContaining returns the files under dir whose bytes contain any
// canary.
func filesContaining(t *testing.T, dir string, canaries []string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, c := range canaries {
			if bytes.Contains(data, []byte(c)) {
				hits = append(hits, path+": "+c)
				return nil
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// TestEncryptionAtRestAndBackups: with encryption on, a thousand canary
// strings written through the API appear nowhere in plaintext in the data
// directory or in the backup; a wrong key fails with a clear error; the
// restored store serves exactly what the source served.
func TestEncryptionAtRestAndBackups(t *testing.T) {
	key := writeKey(t)
	h := startServerEnv(t, map[string]string{"FIELDSYNC_ENCRYPTION_KEY_FILE": key})
	d := newDeployment(t, h)
	fw, sup := d.clients["fw"], d.clients["sup"]
	canaries := make([]string, 1000)
	var records []string
	for i := range canaries {
		canaries[i] = fmt.Sprintf("CANARY-%s-%04d", hex.EncodeToString([]byte{byte(i), byte(i >> 8), 0x5a}), i)
	}
	for i := 0; i < len(canaries); i += 100 {
		rec := newID()
		records = append(records, rec)
		ops := fw.newIdentification(rec, d.teams["north"], [3]any{"code", "set", canaries[i]})
		for _, c := range canaries[i+1 : i+100] {
			ops = append(ops, fw.op(rec, model.KindIdentification, "notes", "append", map[string]string{"text": c}))
		}
		fw.pushApplied(ops...)
	}
	want := map[string][]byte{}
	for _, rec := range append(records, d.northRec, d.southRec, d.week) {
		want[rec] = sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+rec+"?history=true", nil)
	}
	if !bytes.Contains(want[records[0]], []byte(canaries[1])) {
		t.Fatal("the canaries did not reach the store")
	}
	h.stop()
	if hits := filesContaining(t, h.dir, canaries); len(hits) > 0 {
		t.Fatalf("plaintext canaries in the data directory: %v", hits[:min(5, len(hits))])
	}

	ctx := context.Background()
	backupKey := filepath.Join(t.TempDir(), "backup.key")
	if _, err := backup.GenerateKey(backupKey); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "fieldsync.backup")
	if err := server.BackupTo(ctx, h.dir, key, backupKey, out, out+".datakeys", discardLogger()); err != nil {
		t.Fatal(err)
	}
	if hits := filesContaining(t, filepath.Dir(out), canaries); len(hits) > 0 {
		t.Fatalf("plaintext canaries in the backup: %v", hits[:1])
	}

	wrong := writeKey(t)
	err := server.VerifyAudit(ctx, h.dir, wrong, discardLogger(), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "encryption key") {
		t.Fatalf("opening with a wrong key: %v, want a clear error naming the key", err)
	}
	if err := server.VerifyAudit(ctx, h.dir, "", discardLogger(), &bytes.Buffer{}); err == nil {
		t.Fatal("opened an encrypted store without a key")
	}

	// The restore drill: a new directory, the same answers.
	restored := t.TempDir()
	if _, err := server.RestoreFrom(ctx, filepath.Join(restored, "data"), key, backupKey, out, out+".datakeys", discardLogger()); err != nil {
		t.Fatal(err)
	}
	h.dir = filepath.Join(restored, "data")
	h.start()
	sup = h.login("sup", userPassword, "")
	for rec, body := range want {
		if got := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+rec+"?history=true", nil); !bytes.Equal(got, body) {
			t.Fatalf("restored record %s differs:\ngot  %s\nwant %s", rec, got, body)
		}
	}
	var report bytes.Buffer
	h.stop()
	if err := server.VerifyAudit(ctx, h.dir, key, discardLogger(), &report); err != nil {
		t.Fatalf("restored audit chain: %v\n%s", err, report.String())
	}
}

// TestAuditChainRecordsAndVerifies: real activity lands in the chain (a
// supervisor's read, a failed login, a revocation, a rejected op), the
// auditor reads it and the offline verifier accepts it.
func TestAuditChainRecordsAndVerifies(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	sup, fw := d.clients["sup"], d.clients["fw"]
	sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+d.northRec, nil)
	h.tryLogin("fw", "wrong password!!", "")
	fw.push(fw.op(d.southRec, model.KindIdentification, "code", "set", "x"))
	d.admin.mustDo(http.StatusOK, http.MethodPost, "/v1/devices/"+d.clients["tl"].device+"/revoke", nil)
	sup.mustDo(http.StatusOK, http.MethodPost, "/v1/review/links", api.LinkRequest{Records: []string{d.northRec, d.southRec}})

	var page struct {
		Entries []struct {
			Seq    uint64 `json:"seq"`
			Actor  string `json:"actor"`
			Action string `json:"action"`
			Object string `json:"object"`
			Detail string `json:"detail"`
		} `json:"entries"`
	}
	mustUnmarshal(t, d.clients["auditor"].mustDo(http.StatusOK, http.MethodGet, "/v1/audit?limit=1000", nil), &page)
	found := map[string]bool{}
	for i, e := range page.Entries {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i+1, e.Seq)
		}
		switch {
		case e.Action == "record_read" && e.Actor == sup.user.ID && e.Object == d.northRec:
			found["read"] = true
		case e.Action == "login_failed" && e.Object == "fw":
			found["failed login"] = true
		case e.Action == "op_rejected" && e.Actor == fw.user.ID && e.Detail == "forbidden":
			found["rejected op"] = true
		case e.Action == "device_revoked" && e.Object == d.clients["tl"].device:
			found["revocation"] = true
		case e.Action == "records_linked" && e.Actor == sup.user.ID && e.Object == d.northRec:
			found["link"] = true
		}
	}
	for _, what := range []string{"read", "failed login", "rejected op", "revocation", "link"} {
		if !found[what] {
			t.Errorf("no audit entry for the %s", what)
		}
	}
	body := d.clients["auditor"].mustDo(http.StatusOK, http.MethodGet, "/v1/audit?limit=1000", nil)
	if bytes.Contains(body, []byte("N-1")) {
		t.Fatal("the audit log holds record content")
	}
	h.stop()
	var report bytes.Buffer
	if err := server.VerifyAudit(context.Background(), h.dir, "", discardLogger(), &report); err != nil {
		t.Fatalf("verify: %v\n%s", err, report.String())
	}
}
