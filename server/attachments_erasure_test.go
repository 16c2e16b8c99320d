package server_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server"
	"github.com/fieldsync/fieldsync/server/backup"
	"github.com/fieldsync/fieldsync/server/store"
)

// attachFile uploads a photo holding canary into team's scope and
// attaches it to a new identification of that team; it returns the
// record, the blob's download path, the bytes and the entry op.
func attachFile(t *testing.T, h *harness, c *client, team, canary string) (rec, path string, data []byte, entry []byte) {
	t.Helper()
	data, digest := photo(300<<10, canary)
	uploadWhole(t, h, c, api.UploadRequest{Size: int64(len(data)), Digest: digest, Team: team}, data)
	rec = newID()
	entry = c.op(rec, model.KindIdentification, model.FieldAttachments, "append",
		map[string]any{"digest": digest, "size": len(data), "media_type": "image/jpeg", "name": "consent.jpg"})
	c.pushApplied(append(c.newIdentification(rec, team), entry)...)
	return rec, "/v1/records/" + rec + "/attachments/" + digest, data, entry
}

// TestAttachmentRedactionErasesTheBlob (issues 12 and 16): redacting the
// only entry naming a file erases the file at once: it is no longer
// served or deduplicated, its canary is in no file of the data directory
// after a clean shutdown, and a backup taken before the redaction,
// restored with the data keys as they are after it, answers 404 for it
// while everything else (the record, another file) restores intact. The
// control restores the same backup with the key backup of its own time:
// the file is served, canary included (the store's
// TestBlobErasureReachesTheBytes has the byte-scan controls). On the
// code before blob keys the redacted file stayed until the orphan sweep
// and the restored backup served it.
func TestAttachmentRedactionErasesTheBlob(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	fw, sup := d.clients["fw"], d.clients["sup"]
	north := d.teams["north"]
	canary := erasureCanary()
	rec, path, data, entry := attachFile(t, h, fw, north, canary)
	keptRec, keptPath, keptData, _ := attachFile(t, h, fw, north, erasureCanary())
	if got := sup.mustDo(http.StatusOK, http.MethodGet, path, nil); !bytes.Contains(got, []byte(canary)) {
		t.Fatal("control: the file is not served with its canary before the redaction")
	}
	keptRecord := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+keptRec, nil)

	ctx := context.Background()
	backupKey := filepath.Join(t.TempDir(), "backup.key")
	if _, err := backup.GenerateKey(backupKey); err != nil {
		t.Fatal(err)
	}
	before := filepath.Join(t.TempDir(), "before.backup")
	h.stop()
	if err := server.BackupTo(ctx, h.dir, "", backupKey, before, before+".datakeys", discardLogger()); err != nil {
		t.Fatal(err)
	}
	h.start()
	fw.token = h.login("fw", userPassword, fw.device).token
	sup = h.login("sup", userPassword, "")

	sup.pushApplied(sup.op(rec, model.KindIdentification, model.FieldAttachments, "redact", nil, opID(t, entry)))
	if status, _ := fw.do(http.MethodGet, path, nil); status != http.StatusNotFound {
		t.Errorf("download after the redaction: %d, want 404", status)
	}
	_, digest := photo(300<<10, canary)
	if up := createUpload(t, h, fw, api.UploadRequest{Size: int64(len(data)), Digest: digest, Team: north}, http.StatusCreated); up.Complete {
		t.Errorf("the erased file is still deduplicated: %+v", up)
	}
	h.stop()
	if hits := filesContaining(t, h.dir, []string{canary}); len(hits) > 0 {
		t.Errorf("the erased file's canary is in the data directory: %v", hits)
	}
	after := filepath.Join(t.TempDir(), "after.backup")
	if err := server.BackupTo(ctx, h.dir, "", backupKey, after, after+".datakeys", discardLogger()); err != nil {
		t.Fatal(err)
	}

	restore := func(keys string) *client {
		t.Helper()
		h.dir = filepath.Join(t.TempDir(), "data")
		if _, err := server.RestoreFrom(ctx, h.dir, "", backupKey, before, keys, discardLogger()); err != nil {
			t.Fatal(err)
		}
		h.start()
		return h.login("sup", userPassword, "")
	}
	t.Run("old backup, keys after the erasure", func(t *testing.T) {
		sup := restore(after + ".datakeys")
		defer h.stop()
		if status, _ := sup.do(http.MethodGet, path, nil); status != http.StatusNotFound {
			t.Errorf("the erased file from the old backup: %d, want 404", status)
		}
		if got := sup.mustDo(http.StatusOK, http.MethodGet, keptPath, nil); !bytes.Equal(got, keptData) {
			t.Errorf("the other file restored as %d bytes, not its bytes", len(got))
		}
		if got := sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+keptRec, nil); !bytes.Equal(got, keptRecord) {
			t.Errorf("the other record restored differently:\ngot  %s\nwant %s", got, keptRecord)
		}
		sup.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+rec, nil)
	})
	t.Run("control: old backup with its own keys", func(t *testing.T) {
		sup := restore(before + ".datakeys")
		defer h.stop()
		if got := sup.mustDo(http.StatusOK, http.MethodGet, path, nil); !bytes.Equal(got, data) {
			t.Errorf("the file from the old backup with its keys: %d bytes, not its bytes", len(got))
		}
	})
}

// TestAttachmentFollowsTheRecordMove: a record moved to another team
// keeps its files: the new team's readers download them, the old team's
// no longer; dedup stays per team (the new team's scope does not hold
// the file), and a record of the new team naming the digest without an
// upload of its own gets 404. On the code before bindings the moved
// record's file was 404 for its new team.
func TestAttachmentFollowsTheRecordMove(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	fw, fws, sup := d.clients["fw"], d.clients["fw.s"], d.clients["sup"]
	rec, path, data, _ := attachFile(t, h, fw, d.teams["north"], "moved")
	sup.pushApplied(sup.op(rec, model.KindIdentification, "team", "set", d.teams["south"], currentSiblings(t, sup, rec, "team")...))
	if got := fws.mustDo(http.StatusOK, http.MethodGet, path, nil); !bytes.Equal(got, data) {
		t.Errorf("the new team's download: %d bytes, not the file", len(got))
	}
	if status, _ := fw.do(http.MethodGet, path, nil); status != http.StatusNotFound {
		t.Errorf("the old team's download: %d, want 404", status)
	}
	_, digest := photo(300<<10, "moved")
	if up := createUpload(t, h, fws, api.UploadRequest{Size: int64(len(data)), Digest: digest, Team: d.teams["south"]}, http.StatusCreated); up.Complete {
		t.Errorf("dedup crossed teams: %+v", up)
	}
	other := newID()
	fws.pushApplied(append(fws.newIdentification(other, d.teams["south"]),
		fws.op(other, model.KindIdentification, model.FieldAttachments, "append", map[string]any{"digest": digest, "size": len(data), "media_type": "image/jpeg"}))...)
	if status, _ := fws.do(http.MethodGet, "/v1/records/"+other+"/attachments/"+digest, nil); status != http.StatusNotFound {
		t.Errorf("a new-team record naming the digest without an upload: %d, want 404", status)
	}
}

// TestSweepReleasesStaleBindings: a binding whose record no longer names
// the file (here a record that no longer exists, as after a retention
// erasure or a crash between a redaction and its release) is released by
// the next sweep, which erases the file nothing else names, well before
// the orphan TTL; a file a live entry names stays.
func TestSweepReleasesStaleBindings(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north"}, map[string]userSpec{"fw": {role: model.RoleFieldWorker, teams: []string{"north"}}})
	fw, north := w.clients["fw"], w.teams["north"]
	stale, staleDigest := photo(20<<10, "stale")
	uploadWhole(t, h, fw, api.UploadRequest{Size: int64(len(stale)), Digest: staleDigest, Team: north}, stale)
	_, keptPath, kept, _ := attachFile(t, h, fw, north, "kept")
	h.stop()
	db, err := store.Open(filepath.Join(h.dir, "db"), store.Options{Schema: model.DefaultSchema(), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.BindBlob(context.Background(), newID(), "t:"+north, staleDigest); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	h.start()
	fw.token = h.login("fw", userPassword, fw.device).token
	if err := h.m.SweepBlobs(t.Context()); err != nil {
		t.Fatal(err)
	}
	if up := createUpload(t, h, fw, api.UploadRequest{Size: int64(len(stale)), Digest: staleDigest, Team: north}, http.StatusCreated); up.Complete {
		t.Errorf("the file of a stale binding survived the sweep: %+v", up)
	}
	if got := fw.mustDo(http.StatusOK, http.MethodGet, keptPath, nil); !bytes.Equal(got, kept) {
		t.Errorf("the named file: %d bytes, not its bytes", len(got))
	}
}

// TestRetentionErasesTheRecordsFiles (issues 12 and 16): a record erased
// by retention takes the files only it names with it: the download
// answers 404, the file is no longer deduplicated (its head and data key
// are gone), and its canary is in no file of the data directory after a
// clean shutdown; a file it shares with another live record of its team
// is still served through that record. The store's
// TestRetentionErasureErasesTheRecordsBlobs has the byte-scan control
// through badger with the keys. On the code before, the erased record's
// file stayed deduplicated until the orphan sweep.
func TestRetentionErasesTheRecordsFiles(t *testing.T) {
	h := startServerEnv(t, map[string]string{"FIELDSYNC_RETENTION": retentionRules})
	d := newDeployment(t, h)
	fw := d.clients["fw"]
	north := d.teams["north"]
	canary := erasureCanary()
	rec, path, data, _ := attachFile(t, h, fw, north, canary)
	sharedCanary := erasureCanary()
	_, keptPath, keptData, _ := attachFile(t, h, fw, north, sharedCanary)
	_, sharedDigest := photo(300<<10, sharedCanary)
	fw.pushApplied(
		fw.op(rec, model.KindIdentification, model.FieldAttachments, "append",
			map[string]any{"digest": sharedDigest, "size": len(keptData), "media_type": "image/jpeg", "name": "shared.jpg"}),
		fw.op(rec, model.KindIdentification, model.FieldStatus, "set", "withdrawn"),
	)
	sharedPath := "/v1/records/" + rec + "/attachments/" + sharedDigest
	if got := d.clients["sup"].mustDo(http.StatusOK, http.MethodGet, sharedPath, nil); !bytes.Equal(got, keptData) {
		t.Fatal("control: the record does not serve the shared file before the erasure")
	}

	h.advance(40 * 24 * time.Hour)
	admin := h.login("admin", adminPassword, d.admin.device)
	admin.mustDo(http.StatusOK, http.MethodPost, "/v1/admin/retention/run", nil)
	fw = h.login("fw", userPassword, fw.device)
	sup := h.login("sup", userPassword, "")
	sup.mustDo(http.StatusNotFound, http.MethodGet, "/v1/records/"+rec, nil)
	if status, _ := sup.do(http.MethodGet, path, nil); status != http.StatusNotFound {
		t.Errorf("download of the erased record's file: %d, want 404", status)
	}
	_, digest := photo(300<<10, canary)
	if up := createUpload(t, h, fw, api.UploadRequest{Size: int64(len(data)), Digest: digest, Team: north}, http.StatusCreated); up.Complete {
		t.Errorf("the erased record's file is still deduplicated: %+v", up)
	}
	if got := sup.mustDo(http.StatusOK, http.MethodGet, keptPath, nil); !bytes.Equal(got, keptData) {
		t.Errorf("the shared file through the live record: %d bytes, not its bytes", len(got))
	}
	h.stop()
	if hits := filesContaining(t, h.dir, []string{canary}); len(hits) > 0 {
		t.Errorf("the erased file's canary is in the data directory: %v", hits)
	}
}
