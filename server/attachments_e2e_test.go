package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
)

// upHTTP sends one upload request with extra headers and returns the
// status, headers and body.
func upHTTP(t *testing.T, h *harness, c *client, method, path string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, h.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

// photo returns a JPEG-looking file of n bytes holding canary.
func photo(n int, canary string) ([]byte, string) {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	copy(b, []byte{0xFF, 0xD8, 0xFF, 0xE0})
	copy(b[n/2:], canary)
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

func createUpload(t *testing.T, h *harness, c *client, req api.UploadRequest, want int) api.Upload {
	t.Helper()
	var u api.Upload
	mustUnmarshal(t, c.mustDo(want, http.MethodPost, "/v1/uploads", req), &u)
	return u
}

func patchChunk(t *testing.T, h *harness, c *client, id string, offset int, chunk []byte) (int, int64) {
	t.Helper()
	status, hdr, _ := upHTTP(t, h, c, http.MethodPatch, "/v1/uploads/"+id, chunk, map[string]string{"Upload-Offset": strconv.Itoa(offset)})
	got, _ := strconv.ParseInt(hdr.Get("Upload-Offset"), 10, 64)
	return status, got
}

func headOffset(t *testing.T, h *harness, c *client, id string) (int, int64) {
	t.Helper()
	status, hdr, _ := upHTTP(t, h, c, http.MethodHead, "/v1/uploads/"+id, nil, nil)
	got, _ := strconv.ParseInt(hdr.Get("Upload-Offset"), 10, 64)
	return status, got
}

// cutPatch sends the head of a PATCH whose body is cut half-way: the
// connection closes before the server has the whole chunk.
func cutPatch(t *testing.T, h *harness, c *client, id string, offset int, chunk []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PATCH /v1/uploads/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nUpload-Offset: %d\r\nContent-Length: %d\r\n\r\n", id, c.token, offset, len(chunk))
	if _, err := conn.Write(chunk[:len(chunk)/2]); err != nil {
		t.Fatal(err)
	}
	conn.Close()
}

// TestUploadResumesAndDownloadAccess: a blob uploaded in chunks survives a
// cut mid-chunk and a server restart, resumes at the acknowledged offset
// (a chunk at any other offset is 409 upload_offset), completes when its
// digest verifies, and is served only through a readable record whose
// live entry names it: 404 before the entry, for another team and after
// the entry is redacted; a supervisor's download is audited.
func TestUploadResumesAndDownloadAccess(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north", "south"}, map[string]userSpec{
		"fw":      {role: model.RoleFieldWorker, teams: []string{"north"}},
		"other":   {role: model.RoleFieldWorker, teams: []string{"south"}},
		"sup":     {role: model.RoleSupervisor},
		"auditor": {role: model.RoleAuditor},
	})
	fw, other, sup := w.clients["fw"], w.clients["other"], w.clients["sup"]
	data, digest := photo(700<<10, "CANARY-7f3a")
	up := createUpload(t, h, fw, api.UploadRequest{Size: int64(len(data)), Digest: digest, Team: w.teams["north"]}, http.StatusCreated)

	const chunk = 256 << 10
	if status, off := patchChunk(t, h, fw, up.ID, 0, data[:chunk]); status != http.StatusNoContent || off != chunk {
		t.Fatalf("first chunk: %d offset %d, want 204 offset %d", status, off, chunk)
	}
	cutPatch(t, h, fw, up.ID, chunk, data[chunk:2*chunk])
	h.restart()
	fw.token = h.login("fw", userPassword, fw.device).token
	status, off := headOffset(t, h, fw, up.ID)
	if status != http.StatusNoContent || off != chunk {
		t.Fatalf("HEAD after cut and restart: %d offset %d, want 204 offset %d", status, off, chunk)
	}
	if status, cur := patchChunk(t, h, fw, up.ID, 0, data[:chunk]); status != http.StatusConflict || cur != chunk {
		t.Fatalf("chunk from zero: %d offset %d, want 409 offset %d", status, cur, chunk)
	}
	for o := int(off); o < len(data); o += chunk {
		end := min(o+chunk, len(data))
		if status, _ := patchChunk(t, h, fw, up.ID, o, data[o:end]); status != http.StatusNoContent {
			t.Fatalf("chunk at %d: %d", o, status)
		}
	}
	var info api.BlobInfo
	mustUnmarshal(t, fw.mustDo(http.StatusOK, http.MethodPost, "/v1/uploads/"+up.ID+"/complete", nil), &info)
	if got, want := info, (api.BlobInfo{Digest: digest, Size: int64(len(data)), MediaType: "image/jpeg"}); got != want {
		t.Fatalf("complete = %+v, want %+v", got, want)
	}

	rec := newID()
	path := "/v1/records/" + rec + "/attachments/" + digest
	fw.pushApplied(fw.newIdentification(rec, w.teams["north"])...)
	if status, _ := fw.do(http.MethodGet, path, nil); status != http.StatusNotFound {
		t.Fatalf("download before any entry names the blob: %d, want 404", status)
	}
	entry := fw.op(rec, model.KindIdentification, model.FieldAttachments, "append",
		map[string]any{"digest": digest, "size": len(data), "media_type": "image/jpeg", "name": "passport.jpg"})
	fw.pushApplied(entry)

	status, hdr, got := upHTTP(t, h, fw, http.MethodGet, path, nil, nil)
	if status != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("download: %d, %d bytes, equal %v", status, len(got), bytes.Equal(got, data))
	}
	if hdr.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(hdr.Get("Content-Disposition"), "attachment") || hdr.Get("Content-Type") != "image/jpeg" {
		t.Errorf("download headers %v", hdr)
	}
	status, _, got = upHTTP(t, h, fw, http.MethodGet, path, nil, map[string]string{"Range": "bytes=262140-262150"})
	if status != http.StatusPartialContent || !bytes.Equal(got, data[262140:262151]) {
		t.Errorf("range across chunks: %d %x, want 206 %x", status, got, data[262140:262151])
	}
	if status, _ := other.do(http.MethodGet, path, nil); status != http.StatusNotFound {
		t.Errorf("another team's download: %d, want 404", status)
	}
	sup.mustDo(http.StatusOK, http.MethodGet, path, nil)
	if log := w.clients["auditor"].mustDo(http.StatusOK, http.MethodGet, "/v1/audit", nil); !bytes.Contains(log, []byte("attachment "+digest)) {
		t.Errorf("the supervisor's download is not in the audit log")
	}
	sup.pushApplied(sup.op(rec, model.KindIdentification, model.FieldAttachments, "redact", nil, opID(t, entry)))
	if status, _ := fw.do(http.MethodGet, path, nil); status != http.StatusNotFound {
		t.Errorf("download after the entry is redacted: %d, want 404", status)
	}
}

// TestUploadRefusals: each refusal has its own code: a scope the caller
// may not write (403 forbidden), a file over the size limit (413
// blob_too_large, also for a chunk past the declared size), a chunk out
// of order (409 upload_offset with the acknowledged offset), bytes that
// do not match the digest (422
// digest_mismatch: the upload is deleted, never served) and a type outside
// the list, sniffed from the bytes (415 media_type).
func TestUploadRefusals(t *testing.T) {
	h := startServerEnv(t, map[string]string{"FIELDSYNC_MAX_BLOB_BYTES": "1048576"})
	w := newWorld(h, []string{"north", "south"}, map[string]userSpec{
		"fw": {role: model.RoleFieldWorker, teams: []string{"north"}},
	})
	fw := w.clients["fw"]
	data, digest := photo(4096, "x")
	codeOf := func(want int, req api.UploadRequest) string {
		t.Helper()
		return errorCode(t, fw.mustDo(want, http.MethodPost, "/v1/uploads", req))
	}
	if got := codeOf(http.StatusForbidden, api.UploadRequest{Size: 4096, Digest: digest, Team: w.teams["south"]}); got != "forbidden" {
		t.Errorf("another team's scope: %s", got)
	}
	if got := codeOf(http.StatusForbidden, api.UploadRequest{Size: 4096, Digest: digest, ActionWeek: newID()}); got != "forbidden" {
		t.Errorf("an unknown action week: %s", got)
	}
	if got := codeOf(http.StatusRequestEntityTooLarge, api.UploadRequest{Size: 2 << 20, Digest: digest, Team: w.teams["north"]}); got != "blob_too_large" {
		t.Errorf("oversize: %s", got)
	}

	complete := func(body []byte, sum string) (int, []byte, string) {
		t.Helper()
		up := createUpload(t, h, fw, api.UploadRequest{Size: int64(len(body)), Digest: sum, Team: w.teams["north"]}, http.StatusCreated)
		if status, _ := patchChunk(t, h, fw, up.ID, 0, body); status != http.StatusNoContent {
			t.Fatalf("chunk: %d", status)
		}
		status, got := fw.do(http.MethodPost, "/v1/uploads/"+up.ID+"/complete", nil)
		return status, got, up.ID
	}
	forged := bytes.Clone(data)
	forged[100] ^= 1
	status, body, id := complete(forged, digest)
	if status != http.StatusUnprocessableEntity || errorCode(t, body) != "digest_mismatch" {
		t.Errorf("digest mismatch: %d %s", status, body)
	}
	if status, _ := headOffset(t, h, fw, id); status != http.StatusNotFound {
		t.Errorf("HEAD of a refused upload: %d, want 404 (deleted)", status)
	}
	up := createUpload(t, h, fw, api.UploadRequest{Size: 4096, Digest: digest, Team: w.teams["north"]}, http.StatusCreated)
	for _, tc := range []struct {
		name         string
		offset, size int
		want         int
		code         string
	}{
		{"a chunk past the acknowledged offset", 1024, 1024, http.StatusConflict, "upload_offset"},
		{"a chunk past the declared size", 0, 4097, http.StatusRequestEntityTooLarge, "blob_too_large"},
	} {
		status, hdr, body := upHTTP(t, h, fw, http.MethodPatch, "/v1/uploads/"+up.ID, bytes.Repeat([]byte{1}, tc.size), map[string]string{"Upload-Offset": strconv.Itoa(tc.offset)})
		if status != tc.want || errorCode(t, body) != tc.code || hdr.Get("Upload-Offset") != "0" {
			t.Errorf("%s: %d %s offset %q, want %d %s offset 0", tc.name, status, body, hdr.Get("Upload-Offset"), tc.want, tc.code)
		}
	}
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	sum := sha256.Sum256(svg)
	if status, body, _ := complete(svg, hex.EncodeToString(sum[:])); status != http.StatusUnsupportedMediaType || errorCode(t, body) != "media_type" {
		t.Errorf("svg: %d %s", status, body)
	}
}

// TestUploadExpiryAndOrphanSweep: an incomplete upload past the upload TTL
// and a completed blob no live entry names past the orphan TTL are
// deleted with their chunks (the server's clock is moved forward); a
// referenced blob stays.
func TestUploadExpiryAndOrphanSweep(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north"}, map[string]userSpec{
		"fw": {role: model.RoleFieldWorker, teams: []string{"north"}},
	})
	fw, team := w.clients["fw"], w.teams["north"]
	upload := func(canary string, done bool) (string, string) {
		data, digest := photo(300<<10, canary)
		up := createUpload(t, h, fw, api.UploadRequest{Size: int64(len(data)), Digest: digest, Team: team}, http.StatusCreated)
		if status, _ := patchChunk(t, h, fw, up.ID, 0, data[:200<<10]); status != http.StatusNoContent {
			t.Fatalf("chunk: %d", status)
		}
		if done {
			patchChunk(t, h, fw, up.ID, 200<<10, data[200<<10:])
			fw.mustDo(http.StatusOK, http.MethodPost, "/v1/uploads/"+up.ID+"/complete", nil)
		}
		return up.ID, digest
	}
	stale, _ := upload("stale", false)
	_, orphan := upload("orphan", true)
	_, kept := upload("kept", true)
	rec := newID()
	fw.pushApplied(append(fw.newIdentification(rec, team),
		fw.op(rec, model.KindIdentification, model.FieldAttachments, "append", map[string]any{"digest": kept, "size": 300 << 10, "media_type": "image/jpeg"}))...)

	if err := h.m.SweepBlobs(t.Context()); err != nil {
		t.Fatal(err)
	}
	if status, _ := headOffset(t, h, fw, stale); status != http.StatusNoContent {
		t.Fatalf("a fresh incomplete upload was swept: HEAD %d", status)
	}
	h.advance(25 * time.Hour)
	if err := h.m.SweepBlobs(t.Context()); err != nil {
		t.Fatal(err)
	}
	fw.token = h.login("fw", userPassword, fw.device).token
	if status, _ := headOffset(t, h, fw, stale); status != http.StatusNotFound {
		t.Errorf("expired upload: HEAD %d, want 404", status)
	}
	if up := createUpload(t, h, fw, api.UploadRequest{Size: 300 << 10, Digest: orphan, Team: team}, http.StatusCreated); up.Complete {
		t.Errorf("the orphan blob survived the sweep")
	}
	if up := createUpload(t, h, fw, api.UploadRequest{Size: 300 << 10, Digest: kept, Team: team}, http.StatusOK); !up.Complete {
		t.Errorf("the referenced blob was swept")
	}
	h.stop()
	if got, want := chunkKeys(t, h.dir), 2; got != want {
		t.Errorf("chunk keys left: %d, want %d (the kept blob's 200 KiB and 100 KiB chunks)", got, want)
	}
}

// chunkKeys counts the blob chunk keys (bc/) of a closed store.
func chunkKeys(t *testing.T, dir string) int {
	t.Helper()
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(dir, "db")).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n := 0
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("bc/")})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// uploadWhole uploads data in one chunk into req's scope and completes it.
func uploadWhole(t *testing.T, h *harness, c *client, req api.UploadRequest, data []byte) {
	t.Helper()
	up := createUpload(t, h, c, req, http.StatusCreated)
	if status, _ := patchChunk(t, h, c, up.ID, 0, data); status != http.StatusNoContent {
		t.Fatalf("chunk: %d", status)
	}
	c.mustDo(http.StatusOK, http.MethodPost, "/v1/uploads/"+up.ID+"/complete", nil)
}

// TestAttachmentVisitor: a visitor uploads for their week's site visits
// and for identifications of their week's host team, not elsewhere, and
// downloads only their week's site-visit files (write without read holds
// for files too); an auditor never reads a file: 404, as for a file
// that does not exist (403 before, which told it the route exists for
// others).
func TestAttachmentVisitor(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	visitor, fw := d.clients["visitor"], d.clients["fw"]
	visitFile, visitDigest := photo(10<<10, "visit")
	idFile, idDigest := photo(10<<10, "identification")
	size := int64(len(visitFile))

	uploadWhole(t, h, visitor, api.UploadRequest{Size: size, Digest: visitDigest, ActionWeek: d.week}, visitFile)
	uploadWhole(t, h, visitor, api.UploadRequest{Size: size, Digest: idDigest, Team: d.teams["north"]}, idFile)
	if got := errorCode(t, visitor.mustDo(http.StatusForbidden, http.MethodPost, "/v1/uploads", api.UploadRequest{Size: size, Digest: idDigest, Team: d.teams["south"]})); got != "forbidden" {
		t.Errorf("visitor upload for another team: %s", got)
	}
	attach := func(c *client, rec, kind, digest string) {
		c.pushApplied(c.op(rec, kind, model.FieldAttachments, "append", map[string]any{"digest": digest, "size": size, "media_type": "image/jpeg"}))
	}
	attach(visitor, d.weekVisit, model.KindSiteVisit, visitDigest)
	if up := createUpload(t, h, fw, api.UploadRequest{Size: size, Digest: idDigest, Team: d.teams["north"]}, http.StatusOK); !up.Complete {
		t.Errorf("the team's scope holds the visitor's file, but an upload of it is not complete: %+v", up)
	}
	attach(fw, d.northRec, model.KindIdentification, idDigest)

	visitPath := "/v1/records/" + d.weekVisit + "/attachments/" + visitDigest
	idPath := "/v1/records/" + d.northRec + "/attachments/" + idDigest
	for _, tt := range []struct {
		who, path string
		want      int
	}{
		{"visitor", visitPath, http.StatusOK},
		{"visitor", idPath, http.StatusNotFound},
		{"fw", idPath, http.StatusOK},
		{"fw", visitPath, http.StatusOK},
		{"fw.s", idPath, http.StatusNotFound},
		{"fw.s", visitPath, http.StatusNotFound},
		{"auditor", idPath, http.StatusNotFound},
		{"auditor", visitPath, http.StatusNotFound},
	} {
		if status, _ := d.clients[tt.who].do(http.MethodGet, tt.path, nil); status != tt.want {
			t.Errorf("GET %s as %s: %d, want %d", tt.path, tt.who, status, tt.want)
		}
	}
}
