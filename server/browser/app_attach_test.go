//go:build browser

package browser

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fieldsync/fieldsync/server/demo"
)

// testPNG encodes a w×h PNG (IHDR, IDAT, IEND: no text chunk, so the
// SDK's stripping leaves it byte for byte) and writes it to dir/name.
func testPNG(t *testing.T, dir, name string, w, h int) (string, []byte) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 6), uint8(y * 12), 90, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, buf.Bytes()), buf.Bytes()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// download returns the bytes of GET /v1/records/{id}/attachments/{digest}.
func (c *apiClient) download(id, digest string) []byte {
	c.t.Helper()
	return c.raw(http.MethodGet, "/v1/records/"+id+"/attachments/"+digest, nil)
}

// idbFiles lists the keys of the device's files store (queued and cached
// files: u/, b/, c/, d/ followed by the record's id).
const idbFiles = `(async () => {
	const db = await new Promise((ok, ko) => { const r = indexedDB.open("fieldsync-app"); r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
	const all = await new Promise((ok, ko) => { const r = db.transaction("files").objectStore("files").getAllKeys(); r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
	db.close();
	return all.sort().join(" ");
})()`

// TestAppAttach: a field worker, offline, is refused an HTML file, a HEIC
// photo whose location data the SDK cannot remove (a damaged one: the SDK
// strips the HEIC it can follow) and a file over 25 MB in the app's words
// (nothing written),
// attaches a generated PNG with a caption to a new identification, sees it
// listed as waiting to upload and opens it (from the device, in an <img>
// from an object URL, revoked when the screen is left); online, a sync
// uploads it (and a fake .ogg the server's sniffing refuses is explained
// on the sync screen, not listed as uploaded); the list says uploaded;
// offline the uploaded file cannot be opened and the app says so; online
// it is downloaded; a supervisor finds the entry and downloads exactly the
// bytes attached. axe-core finds no serious violation on the record with
// its file shown.
func TestAppAttach(t *testing.T) {
	chromium := requireBrowser(t)
	script := axeScript(t)
	base := startDemo(t)
	dir := t.TempDir()
	b := newAppBrowser(t, chromium, base, 800, 1280)
	b.open("worker.north", "#list .item")

	b.offline(true)
	b.do("new identification", chromedp.Click(chromedp.CSS(`#nav a[href="#/new"]`)), chromedp.WaitVisible(chromedp.CSS("#new-form")),
		chromedp.SendKeys(chromedp.CSS("#new-code"), "N-APP-ATT"), chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#attach-form")))
	id := b.recordID()
	waiting := b.unsynced()

	// Refused files, in the app's words; nothing is written.
	html := writeFile(t, dir, "page.html", []byte("<html><script>alert(1)</script></html>"))
	heic := writeFile(t, dir, "photo.heic", append([]byte("\x00\x00\x00\x18ftypheic"), make([]byte, 64)...))
	b.do("attach an HTML file", chromedp.SetUploadFiles(chromedp.CSS("#attach-file"), []string{html}), chromedp.Click(chromedp.CSS("#add-attachment")))
	b.waitText("#message", "This kind of file cannot be attached.")
	b.do("attach a HEIC photo", chromedp.SetUploadFiles(chromedp.CSS("#attach-file"), []string{heic}), chromedp.Click(chromedp.CSS("#add-attachment")))
	b.waitText("#message", "This HEIC photo cannot be attached: the app could not remove its location data")
	big := writeFile(t, dir, "scan.pdf", []byte("%PDF-1.7\n"))
	if err := os.Truncate(big, 25<<20+1); err != nil {
		t.Fatal(err)
	}
	b.do("attach a file over 25 MB", chromedp.SetUploadFiles(chromedp.CSS("#attach-file"), []string{big}), chromedp.Click(chromedp.CSS("#add-attachment")))
	b.waitText("#message", "The file is too large: a file may be at most 25 MB.")
	if got := b.unsynced(); got != waiting {
		t.Errorf("after three refused files %s changes wait, want %s", got, waiting)
	}

	// A PNG with a caption, offline.
	file, data := testPNG(t, dir, "consent-form.png", 40, 20)
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	b.do("attach a PNG", chromedp.SetUploadFiles(chromedp.CSS("#attach-file"), []string{file}),
		chromedp.SendKeys(chromedp.CSS("#attach-caption"), "Signed consent form"), chromedp.Click(chromedp.CSS("#add-attachment")))
	b.waitText("#message", "The file is saved on this device.")
	item := fmt.Sprintf(`#attachment-list li[data-digest=%q]`, digest)
	b.waitJS(fmt.Sprintf(`!!document.querySelector('%s[data-state="waiting"]')`, item))
	if got, want := b.text(item), fmt.Sprintf("consent-form.png · %d bytes · Waiting to upload", len(data)); !strings.Contains(got, want) || !strings.Contains(got, "Signed consent form") {
		t.Errorf("the attachment shows %q, want %q and its caption", got, want)
	}
	b.do("show it offline", chromedp.Click(chromedp.CSS(item+` button[data-action="show"]`)))
	b.waitJS(fmt.Sprintf(`(() => { const i = document.querySelector('%s img.attachment-image'); return !!i && i.complete && i.naturalWidth === 40 && i.naturalHeight === 20 && i.src.startsWith("blob:"); })()`, item))
	b.view("app-attachment-offline", "#attachments")
	b.eval(fmt.Sprintf(`(() => { window.shownFile = document.querySelector('%s img.attachment-image').src; return ""; })()`, item))
	// A new image from the URL loads while it is open (the CSP's connect-src
	// keeps fetch off blob: URLs; img-src allows them).
	probe := `new Promise((ok) => { const i = new Image(); i.onload = () => ok("open"); i.onerror = () => ok("revoked"); i.src = window.shownFile; })`
	if got := b.eval(probe); got != "open" {
		t.Fatalf("the shown image's object URL is %s while shown (the probe cannot fail)", got)
	}
	b.eval(`(() => { location.hash = "#/list"; return ""; })()`)
	b.waitJS(`!!document.querySelector("#search-code")`)
	if got := b.eval(probe); got != "revoked" {
		t.Errorf("after leaving the record the image's object URL is %s, want revoked", got)
	}

	// A file whose bytes are not what its type says passes the app's and
	// the SDK's checks (neither sniffs audio) and is refused by the server.
	ogg := writeFile(t, dir, "voice.ogg", []byte("not a recording at all"))
	b.goRecord(id)
	b.do("attach a fake recording", chromedp.SetUploadFiles(chromedp.CSS("#attach-file"), []string{ogg}), chromedp.Click(chromedp.CSS("#add-attachment")))
	b.waitText("#message", "The file is saved on this device.")

	// Online: the sync uploads the file before its entry.
	b.offline(false)
	b.sync()
	b.waitText("#st-rejected", "1 change was refused")
	b.do("refused changes", chromedp.Click(chromedp.CSS("#st-rejected")), chromedp.WaitVisible(chromedp.CSS("#rejected")))
	b.waitText("#rejected", "The server did not accept this kind of file")
	b.view("app-attachment-refused", "#rejected")
	b.goRecord(id)
	if got := b.eval(`[...document.querySelectorAll("#attachment-list li")].filter((li) => li.textContent.includes("voice.ogg")).map((li) => li.dataset.state).join(" ")`); got != "" && got != "refused" {
		t.Errorf("the refused recording is listed as %q, want refused or not listed (the device undid its entry)", got)
	}
	b.waitJS(fmt.Sprintf(`!!document.querySelector('%s[data-state="uploaded"]')`, item))
	b.waitText(item, "Uploaded")
	// Uploaded, the file left the device's queue: offline it cannot be
	// opened, and the app says why.
	b.offline(true)
	b.do("show it offline once uploaded", chromedp.Click(chromedp.CSS(item+` button[data-action="show"]`)))
	b.waitText("#message", "The file is not on this device and the server cannot be reached.")
	b.offline(false)
	b.do("show it again", chromedp.Click(chromedp.CSS(item+` button[data-action="show"]`)))
	b.waitJS(fmt.Sprintf(`(() => { const i = document.querySelector('%s img.attachment-image'); return !!i && i.complete && i.naturalWidth === 40; })()`, item))
	for _, f := range b.axe(script, "record with a file") {
		t.Errorf("accessibility: %s", f)
	}

	sup := login(t, base, "supervisor", demo.Password)
	entries := sup.record(id).Fields["attachments"].Entries
	if len(entries) != 1 {
		t.Fatalf("the server holds %d attachment entries, want 1: %+v", len(entries), entries)
	}
	want := map[string]any{"digest": digest, "size": float64(len(data)), "media_type": "image/png", "name": "consent-form.png", "caption": "Signed consent form"}
	if got := entries[0].Value; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the server's entry is %v, want %v", got, want)
	}
	if got := sup.download(id, digest); !bytes.Equal(got, data) {
		t.Errorf("the supervisor downloads %d bytes, not the %d bytes attached", len(got), len(data))
	}
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

// TestAppAttachVisitor: a visitor attaches a photo to a site visit of
// their week and to a new identification for the host team; after the
// sync the site visit's file is listed as uploaded, and the
// identification and its file are gone from the phone (write without
// read) while the host team's worker downloads both files.
func TestAppAttachVisitor(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	dir := t.TempDir()
	v := newAppBrowser(t, chromium, base, 360, 800)
	v.open("visitor.de", "#view section[data-week]")
	v.offline(true)
	v.do("new visit", choose("#visit-date", "2026-12-02"), chromedp.Click(chromedp.CSS("#save-visit")), chromedp.WaitVisible(chromedp.CSS("#attach-form")))
	visit := strings.TrimPrefix(v.eval(`location.hash`), "#/visit/")
	site, siteData := testPNG(t, dir, "site.png", 16, 16)
	v.do("attach to the visit", chromedp.SetUploadFiles(chromedp.CSS("#attach-file"), []string{site}), chromedp.Click(chromedp.CSS("#add-attachment")))
	v.waitText("#message", "The file is saved on this device.")
	v.waitText("#attachment-list", "Waiting to upload")

	before := strings.Fields(v.eval(idbRecords))
	doc, docData := testPNG(t, dir, "passport.png", 24, 12)
	v.do("identification with a file", chromedp.Click(chromedp.CSS(`#nav a[href="#/new"]`)), chromedp.WaitVisible(chromedp.CSS("#new-form")),
		chromedp.SendKeys(chromedp.CSS("#new-code"), "V-APP-ATT"),
		chromedp.SetUploadFiles(chromedp.CSS("#new-file"), []string{doc}),
		chromedp.SendKeys(chromedp.CSS("#new-caption"), "Passport page"),
		chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#view section[data-week]")))
	v.waitText("#message", "then removed from this device")
	var ident string
	for _, k := range strings.Fields(v.eval(idbRecords)) {
		if !slices.Contains(before, k) {
			ident = k
		}
	}
	if ident == "" || !strings.Contains(v.eval(idbFiles), ident) {
		t.Fatalf("the visitor's identification %q and its file are not on the phone after saving (files: %s)", ident, v.eval(idbFiles))
	}

	v.offline(false)
	v.sync()
	v.waitText("#visitor-sent", "1 identification was sent")
	if got := v.eval(idbFiles); strings.Contains(got, ident) {
		t.Errorf("after the sync the phone still holds files of the sent identification: %s", got)
	}
	v.eval(fmt.Sprintf(`(() => { location.hash = "#/visit/%s"; return ""; })()`, visit))
	v.waitText("#attachment-list", "Uploaded")

	w := login(t, base, "worker.north", demo.Password)
	for _, c := range []struct {
		id   string
		data []byte
	}{{visit, siteData}, {ident, docData}} {
		sum := sha256.Sum256(c.data)
		if got := w.download(c.id, hex.EncodeToString(sum[:])); !bytes.Equal(got, c.data) {
			t.Errorf("the host team's worker downloads %d bytes of %s's file, want the %d attached", len(got), c.id, len(c.data))
		}
	}
	if got := w.record(ident).Fields["attachments"].Entries; len(got) != 1 || got[0].Value["caption"] != "Passport page" {
		t.Errorf("the visitor's identification's attachments at the server: %+v", got)
	}
	if errs := v.errors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}
