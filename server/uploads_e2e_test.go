package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/api"
	fieldsync "github.com/fieldsync/fieldsync/clients/go"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/server/testproxy"
)

// jpegFile returns n bytes that sniff as JPEG, random past the magic.
func jpegFile(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	copy(b, []byte{0xFF, 0xD8, 0xFF, 0xE0})
	return b
}

// TestUpload50MBThroughACuttingProxy (issue 16): a 50 MB file (the size
// limit raised) sent by the Go SDK's Uploader through a proxy on
// 127.0.0.1 that cuts the connection every 5 MB (10^6 bytes, so cuts
// fall anywhere in a chunk) completes, and the bytes
// the proxy forwarded are at most the file, one chunk per cut and the
// requests' headers: each cut re-sends at most the chunk it interrupted,
// never the file from zero. The server then serves the file byte for
// byte.
func TestUpload50MBThroughACuttingProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 50 MB")
	}
	const size, every = 50 << 20, 5_000_000
	h := startServerEnv(t, map[string]string{"FIELDSYNC_MAX_BLOB_BYTES": strconv.Itoa(60 << 20)})
	w := newWorld(h, []string{"north"}, map[string]userSpec{"fw": {role: model.RoleFieldWorker, teams: []string{"north"}}})
	data := jpegFile(rand.New(rand.NewPCG(1, 2)), size)
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])

	// The proxy cuts the connection each time the bytes it forwarded to
	// the server cross a multiple of every.
	cut := testproxy.Every(every)
	proxy := testproxy.StartTCP(t, h.base[len("http://"):], testproxy.TCP{Conn: func() (up, down testproxy.Budget) { return cut, nil }})
	c, err := fieldsync.Open(t.TempDir(), fieldsync.Options{ServerURL: proxy.URL, DeviceName: "cut", Logger: discardLogger(),
		Backoff: fieldsync.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Login(ctx, "fw", userPassword); err != nil {
		t.Fatal(err)
	}
	upBefore := proxy.Up.Load()
	// jpegFile is random bytes behind a JPEG signature, not a photo the SDK
	// could strip (stripping is tested in clients/go/e2e/photo_test.go).
	up := &fieldsync.Uploader{Client: c, KeepMetadata: true, MaxAttempts: 20, Backoff: fieldsync.Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond}}
	info, err := up.Upload(ctx, fieldsync.UploadScope{Team: w.teams["north"]}, data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Digest != digest || info.Size != size {
		t.Fatalf("Upload = %+v", info)
	}
	sent, cuts := proxy.Up.Load()-upBefore, proxy.CutRequests.Load()
	chunk := int64(fieldsync.DefaultUploadChunk)
	const headers = 128 << 10 // every request's head, about 60 requests
	t.Logf("%d bytes to the server for a %d-byte file through %d cuts (%.3f bytes per file byte)", sent, size, cuts, float64(sent)/size)
	if cuts < size/every {
		t.Fatalf("the proxy cut %d times, want at least %d", cuts, size/every)
	}
	if most := size + cuts*chunk + headers; sent > most {
		t.Errorf("sent %d bytes, more than the file, one %d-byte chunk per cut and the headers (%d)", sent, chunk, most)
	}

	fw := w.clients["fw"]
	rec := newID()
	fw.pushApplied(append(fw.newIdentification(rec, w.teams["north"]),
		fw.op(rec, model.KindIdentification, model.FieldAttachments, "append", map[string]any{"digest": digest, "size": size, "media_type": "image/jpeg"}))...)
	status, _, got := upHTTP(t, h, fw, http.MethodGet, "/v1/records/"+rec+"/attachments/"+digest, nil, nil)
	if status != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("download: %d, %d bytes, equal %v", status, len(got), bytes.Equal(got, data))
	}
}

// killUpload is one file a device uploads across server kills.
type killUpload struct {
	data   []byte
	digest string
	id     string
	acked  int64 // the greatest offset the server acknowledged
	done   bool
}

// TestSIGKILLDuringUploads (issue 16): the server is SIGKILLed 20 times
// while three devices upload files in 32 KiB chunks. After each restart
// every upload's offset (HEAD) is at least the last one the server
// acknowledged, the upload resumes from there and completes, and every
// completed file is served byte for byte: no truncated or corrupt blob
// is ever served.
func TestSIGKILLDuringUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts a server 20 times")
	}
	k := newKillRig(t)
	h, team, devices := k.h, k.w.teams["north"], k.devices
	recs := make([]string, len(devices))
	for i, d := range devices {
		recs[i] = newID()
		d.pushApplied(d.newIdentification(recs[i], team)...)
	}
	r := rand.New(rand.NewPCG(3, 4))
	current := make([]*killUpload, len(devices))
	// pending are the completed files (record, digest) not yet attached
	// to their device's record; done those attached.
	var pending, done [][2]string
	files := map[string][]byte{}
	attachAndCheck := func(round int) {
		for _, f := range pending {
			d := devices[slices.Index(recs, f[0])]
			d.pushApplied(d.op(f[0], model.KindIdentification, model.FieldAttachments, "append",
				map[string]any{"digest": f[1], "size": len(files[f[1]]), "media_type": "image/jpeg"}))
		}
		done, pending = append(done, pending...), nil
		for _, f := range done {
			status, _, got := upHTTP(t, h, devices[0], http.MethodGet, "/v1/records/"+f[0]+"/attachments/"+f[1], nil, nil)
			if status != http.StatusOK || !bytes.Equal(got, files[f[1]]) {
				t.Fatalf("round %d: a completed file is served as %d, %d bytes of %d, equal %v", round, status, len(got), len(files[f[1]]), bytes.Equal(got, files[f[1]]))
			}
		}
	}
	var mu sync.Mutex
	newFile := func() *killUpload {
		mu.Lock()
		defer mu.Unlock()
		data := jpegFile(r, 200<<10+r.IntN(400<<10))
		sum := sha256.Sum256(data)
		return &killUpload{data: data, digest: hex.EncodeToString(sum[:])}
	}
	for i := range current {
		current[i] = newFile()
	}
	// upload sends the device's current files until stop (in the last
	// round: until its file is complete).
	upload := func(last bool) func(i int, d *client, stop <-chan struct{}) {
		return func(i int, d *client, stop <-chan struct{}) {
			for {
				select {
				case <-stop:
					return
				default:
				}
				u := current[i]
				if err := uploadStep(d, team, u); err != nil {
					if !errors.Is(err, errUploadFailed) {
						t.Error(err)
					}
					return
				}
				if u.done {
					mu.Lock()
					pending = append(pending, [2]string{recs[i], u.digest})
					files[u.digest] = u.data
					mu.Unlock()
					if last {
						return
					}
					current[i] = newFile()
				}
			}
		}
	}
	for round := range 20 {
		k.round(time.Duration(150+round*37%200)*time.Millisecond, upload(false))
		for i := range devices {
			u := current[i]
			if u.id == "" || u.done {
				continue
			}
			status, off := headOffset(t, h, devices[i], u.id)
			if status != http.StatusNoContent || off < u.acked || off > int64(len(u.data)) {
				t.Fatalf("round %d: HEAD of an upload acknowledged at %d: %d offset %d", round, u.acked, status, off)
			}
			u.acked = off
		}
		attachAndCheck(round)
	}
	_, wait := k.work(upload(true)) // the last round: every file completes
	wait()
	attachAndCheck(20)
	k.ch.kill()
	for i, u := range current {
		if !u.done {
			t.Errorf("device %d: the upload did not complete after the last restart", i)
		}
	}
	if len(done) < 10 {
		t.Fatalf("only %d files completed in 20 rounds; the test did not exercise uploads", len(done))
	}
	t.Logf("%d files completed across 20 kills", len(done))
}

// errUploadFailed is a request that got no answer: the server is down.
var errUploadFailed = errors.New("the server did not answer")

// uploadStep sends the next request of u: create, resume (HEAD), a
// 32 KiB chunk, or complete. An answer that contradicts an
// acknowledgement is an error.
func uploadStep(c *client, team string, u *killUpload) error {
	do := func(method, path string, body []byte, hdr map[string]string) (int, http.Header, []byte, error) {
		req, _ := http.NewRequest(method, c.h.base+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+c.token)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.h.http.Do(req)
		if err != nil {
			return 0, nil, nil, errUploadFailed
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return 0, nil, nil, errUploadFailed
		}
		return resp.StatusCode, resp.Header, b, nil
	}
	switch {
	case u.id == "":
		body := fmt.Sprintf(`{"size":%d,"digest":%q,"team":%q}`, len(u.data), u.digest, team)
		status, _, b, err := do(http.MethodPost, "/v1/uploads", []byte(body), map[string]string{"Content-Type": "application/json"})
		if err != nil {
			return err
		}
		var up api.Upload
		if status != http.StatusCreated || json.Unmarshal(b, &up) != nil {
			return fmt.Errorf("create upload: %d %s", status, b)
		}
		u.id = up.ID
	case u.acked < int64(len(u.data)):
		end := min(u.acked+32<<10, int64(len(u.data)))
		status, hdr, b, err := do(http.MethodPatch, "/v1/uploads/"+u.id, u.data[u.acked:end], map[string]string{"Upload-Offset": strconv.FormatInt(u.acked, 10)})
		if err != nil {
			return err
		}
		off, _ := strconv.ParseInt(hdr.Get("Upload-Offset"), 10, 64)
		switch {
		case status == http.StatusNoContent && off == end:
			u.acked = end
		case status == http.StatusConflict && off > u.acked:
			u.acked = off // acknowledged before a kill, the answer lost
		default:
			return fmt.Errorf("chunk at %d: %d offset %d %s", u.acked, status, off, b)
		}
	default:
		status, _, b, err := do(http.MethodPost, "/v1/uploads/"+u.id+"/complete", nil, nil)
		if err != nil {
			return err
		}
		var info api.BlobInfo
		if status != http.StatusOK || json.Unmarshal(b, &info) != nil || info.Digest != u.digest {
			return fmt.Errorf("complete: %d %s", status, b)
		}
		u.done = true
	}
	return nil
}
