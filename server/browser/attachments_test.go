//go:build browser

package browser

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/server/demo"
)

// TestConsoleAttachment: the record page of the demo's identification
// with a photo lists the attachment with its caption and shows the photo
// inline (decoded by the browser, served by the download route), and the
// view is in the audit log as a supervisor's read of that file.
func TestConsoleAttachment(t *testing.T) {
	chromium := requireBrowser(t)
	base := startDemo(t)
	b := newBrowser(t, chromium)
	sup := login(t, base, "supervisor", demo.Password)
	var found api.RecordList
	sup.do(http.MethodGet, "/v1/records?code="+demo.AttachmentCode+"&sort=code&limit=5", nil, &found)
	rec := ""
	for _, r := range found.Records {
		if r.Code == demo.AttachmentCode {
			rec = r.ID
		}
	}
	if rec == "" {
		t.Fatalf("the demo has no record %s", demo.AttachmentCode)
	}
	sum := sha256.Sum256(demo.IdentityPhoto())
	digest := hex.EncodeToString(sum[:])

	b.do("viewport", chromedp.EmulateViewport(1280, 900))
	b.logIn(base, "supervisor", demo.Password, "#queue-list .queue-item")
	b.do("open the record with a photo", chromedp.Navigate(base+"/#/record/"+rec),
		chromedp.WaitVisible(chromedp.CSS(`li.attachment[data-digest="`+digest+`"]`)))
	b.waitText(".card.attachments", demo.AttachmentCaption)
	b.waitJS("the photo shown", `(() => { const i = document.querySelector("li.attachment img.attachment-image"); return !!i && i.complete && i.naturalWidth === 48 && i.naturalHeight === 30; })()`)
	b.shot("record-attachment")
	if got := b.eval(`String(document.querySelectorAll('li.attachment button[data-action="download"]').length)`); got != "1" {
		t.Errorf("%s download buttons, want 1", got)
	}

	aud := login(t, base, "auditor", demo.Password)
	var page struct {
		Entries []struct {
			Action string `json:"action"`
			Object string `json:"object"`
			Detail string `json:"detail"`
			Role   string `json:"role"`
		} `json:"entries"`
	}
	aud.do(http.MethodGet, "/v1/audit?limit=1000", nil, &page)
	views := 0
	for _, e := range page.Entries {
		if e.Action == "record_read" && e.Object == rec && strings.Contains(e.Detail, digest) {
			views++
		}
	}
	if views == 0 {
		t.Errorf("the supervisor's view of the photo is not in the audit log")
	}
}
