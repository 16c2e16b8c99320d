//go:build browser

package browser

// Attachments across the two SDKs in headless Chromium against the real
// server (issue 16 item 7): a phone photo attached in the browser
// (Device.attach, a File) is stripped there, queued encrypted, uploaded
// by the tab's sync and downloaded by a Go SDK device without its GPS or
// maker metadata; a file the Go device attaches is fetched in the browser
// byte for byte.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"
)

// attached is h.deviceAttach's answer.
type attached struct {
	outcome
	Digest    string `json:"digest"`
	Size      int    `json:"size"`
	MediaType string `json:"media_type"`
	Uploads   int    `json:"uploads"`
}

// fetched is h.deviceFetch's answer.
type fetched struct {
	outcome
	B64  string `json:"b64"`
	Type string `json:"type"`
}

// tsFixture reads a photo of the TypeScript SDK's strip test (the Go
// SDK's phone photos and their stripped bytes).
func tsFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "clients", "ts", "test", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSDKDeviceAttachFetchedByGoDevice: see the file comment.
func TestSDKDeviceAttachFetchedByGoDevice(t *testing.T) {
	s, _, _, first := deviceSetup(t, uuid.NewString())
	ctx := context.Background()
	record := uuid.NewString()
	first.deviceWrite(record, []edit{{Field: "team", Action: "set", Value: s.team}, {Field: "status", Action: "set", Value: "potential"}})
	photo := tsFixture(t, "phone-6.jpg")
	var gps []byte
	for _, v := range []uint32{48, 1, 51, 1, 2411, 100} {
		gps = binary.LittleEndian.AppendUint32(gps, v)
	}
	if !bytes.Contains(photo, gps) {
		t.Fatal("the test photo carries no GPS position: the test checks nothing")
	}
	var a attached
	first.call(&a, "deviceAttach", record, base64.StdEncoding.EncodeToString(photo), "shelter.jpg", "image/jpeg")
	if !a.OK || a.MediaType != "image/jpeg" || a.Uploads != 1 {
		t.Fatalf("attach in the browser answered %+v; want ok, image/jpeg, one upload queued", a)
	}
	var res outcome
	first.call(&res, "deviceSync")
	if !res.OK {
		t.Fatalf("device sync: %+v", res)
	}
	if st := first.deviceStatus(); st.Outbox != 0 || st.Quarantine != 0 {
		t.Fatalf("after the sync: %+v", st)
	}

	g := goDevice(t, s.url, "fw")
	if err := g.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := g.Fetch(ctx, record, a.Digest)
	if err != nil {
		t.Fatalf("the Go device fetches the browser's photo: %v", err)
	}
	if bytes.Contains(got, gps) || bytes.Contains(got, []byte("CANARY")) {
		t.Errorf("the photo attached in the browser reached the Go device with its location or maker metadata")
	}
	if want := tsFixture(t, "phone-6.stripped.jpg"); !bytes.Equal(got, want) {
		t.Errorf("the Go device received %d bytes; want the Go SDK's stripped photo (%d bytes)", len(got), len(want))
	}

	// The other way: a PDF attached on the Go device, fetched in the browser.
	pdf := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("consent form "), 70_000)...)
	up, err := g.Attach(ctx, record, pdf, fieldsync.AttachOptions{Name: "consent.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	first.call(&res, "deviceSync")
	if !res.OK {
		t.Fatalf("device sync: %+v", res)
	}
	var f fetched
	first.call(&f, "deviceFetch", record, up.Digest)
	if !f.OK {
		t.Fatalf("fetch in the browser: %+v", f)
	}
	if b, err := base64.StdEncoding.DecodeString(f.B64); err != nil || !bytes.Equal(b, pdf) || f.Type != "application/pdf" {
		t.Errorf("the browser fetched %d bytes of %s (err %v); want the Go device's %d-byte PDF", len(b), f.Type, err, len(pdf))
	}
	t.Logf("photo: %d bytes attached, %d stripped bytes at the Go device; PDF: %d bytes fetched in the browser", len(photo), len(got), len(pdf))
}

// TestSDKDeviceUploadResumesThroughCuts: a 3 MB file attached in the
// browser is uploaded through the proxy while it cuts one request in four
// before the server sees it and one in four after the server answered
// (PATCH, HEAD, complete and push alike), and for sure the second chunk
// before the server and the answer of the fourth: the sync retries until done,
// and the chunks forwarded to the server add up to the file's size
// exactly (every chunk after a lost answer resumed at the offset the
// server acknowledged, never re-sent, never from zero); a Go device then
// downloads the file byte for byte.
func TestSDKDeviceUploadResumesThroughCuts(t *testing.T) {
	s, p, _, first := deviceSetup(t, uuid.NewString())
	ctx := context.Background()
	record := uuid.NewString()
	first.deviceWrite(record, []edit{{Field: "team", Action: "set", Value: s.team}, {Field: "status", Action: "set", Value: "potential"}})
	data := make([]byte, 3<<20+12345)
	for i := range data {
		data[i] = byte(uint32(i) * 2654435761 >> 24)
	}
	copy(data, "%PDF-1.7\n")
	var a attached
	first.call(&a, "deviceAttach", record, base64.StdEncoding.EncodeToString(data), "scan.pdf", "application/pdf")
	if !a.OK {
		t.Fatalf("attach: %+v", a)
	}
	p.Cutting.Store(true)
	p.cutPatchBefore.Store(2) // the second chunk never reaches the server
	p.cutPatchAfter.Store(4)  // the server stores the next one; its answer is lost
	var res outcome
	for i := 0; ; i++ {
		first.call(&res, "deviceSync")
		if res.OK {
			break
		}
		if i == 20 {
			t.Fatalf("the sync through the cutting proxy never completed: %+v", res)
		}
	}
	p.Cutting.Store(false)
	cuts := p.CutRequests.Load() + p.CutResponses.Load()
	if cuts == 0 {
		t.Fatal("the proxy cut nothing: the test checks nothing")
	}
	if got := p.patchBytes.Load(); got != int64(len(data)) {
		t.Errorf("%d bytes of chunks reached the server for a %d-byte file; want each byte once", got, len(data))
	}
	if st := first.deviceStatus(); st.Outbox != 0 || st.Quarantine != 0 {
		t.Errorf("after the sync: %+v", st)
	}
	g := goDevice(t, s.url, "fw")
	if err := g.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := g.Fetch(ctx, record, a.Digest)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the Go device fetched %d bytes (err %v); want the browser's %d", len(got), err, len(data))
	}
	t.Logf("%d cuts (%d before the server, %d after its answer); %d chunk bytes forwarded for %d bytes of file", cuts, p.CutRequests.Load(), p.CutResponses.Load(), p.patchBytes.Load(), len(data))
}
