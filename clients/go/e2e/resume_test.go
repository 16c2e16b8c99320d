package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"

	"github.com/fieldsync/fieldsync/model"
)

// cutTransport passes requests to the server and loses every every-th
// pull or snapshot answer after the server sent it whole (the device sees
// a broken connection), counting how often each op or record was served
// and which were in the lost answers.
type cutTransport struct {
	base  http.RoundTripper
	every int

	mu     sync.Mutex
	pages  int
	served map[string]int // op or record id: times served
	lost   map[string]int // op or record id: times in a lost answer
	cuts   int
}

func newCutTransport(every int) *cutTransport {
	return &cutTransport{base: http.DefaultTransport.(*http.Transport).Clone(), every: every, served: map[string]int{}, lost: map[string]int{}}
}

func (c *cutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	page := strings.HasPrefix(req.URL.Path, "/v1/sync/pull") || strings.HasPrefix(req.URL.Path, "/v1/sync/snapshot")
	if err != nil || !page || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var items struct {
		Ops     []struct{ ID string } `json:"ops"`
		Records []struct{ ID string } `json:"records"`
	}
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, fmt.Errorf("the test reads a page: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pages++
	cut := c.pages%c.every == 0
	for _, it := range append(items.Ops, items.Records...) {
		c.served[it.ID]++
		if cut {
			c.lost[it.ID]++
		}
	}
	if cut {
		c.cuts++
		return nil, errors.New("the link was cut")
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// resent returns the items served more than once and the items of lost
// answers.
func (c *cutTransport) resent() (resent, lost int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, n := range c.served {
		resent += n - 1
		lost += c.lost[id]
	}
	return resent, lost
}

// TestCutLinkResumesWithinOnePage: a device pulling every op and a device
// bootstrapping from a snapshot, each over a link that loses every third
// page after the server sent it, end with every record as the server
// holds it, and a cut costs exactly the page in flight: an op or record
// is served again only when the answer holding it was lost (the pull and
// the snapshot resume from the last page applied, never from the start),
// and the pulling device applied every op exactly once.
func TestCutLinkResumesWithinOnePage(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, nil)
	s.user("ana", model.RoleFieldWorker, "north")
	s.user("pia", model.RoleFieldWorker, "north")
	s.user("sam", model.RoleFieldWorker, "north")
	s.user("sup", model.RoleSupervisor)
	ana := device(t, s.URL, "ana")
	var records []string
	ops := 0
	for i := range 40 {
		status := []string{"potential", "presumed", "withdrawn"}[i%3]
		records = append(records, must[string](t)(ana.CreateIdentification(ctx, s.team("north"), fieldsync.F("status", status),
			fieldsync.F("code", fmt.Sprintf("N-%02d", i)))))
		must[string](t)(ana.Append(ctx, records[i], "notes", map[string]any{"text": fmt.Sprintf("note %d", i)}))
	}
	syncOK(t, ana)
	ops = must[fieldsync.Status](t)(ana.Status(ctx)).Pushed
	sup := s.login("sup", userPassword).AccessToken

	for _, tc := range []struct {
		who       string
		bootstrap bool
	}{{"pia", false}, {"sam", true}} {
		cut := newCutTransport(3)
		c := device(t, s.URL, tc.who, func(o *fieldsync.Options) {
			o.HTTPClient, o.DisableCompression, o.MaxAttempts = &http.Client{Transport: cut}, true, 100
			o.Bootstrap, o.PullLimit, o.SnapshotLimit, o.PageTime = tc.bootstrap, 7, 3, -1
		})
		syncOK(t, c)
		for _, id := range records {
			if got, want := must[[]byte](t)(c.RecordJSON(ctx, id, false)), s.record(sup, id, false); !bytes.Equal(got, want) {
				t.Fatalf("%s: record %s\n%s\nserver\n%s", tc.who, id, got, want)
			}
		}
		resent, lost := cut.resent()
		if cut.cuts == 0 || resent != lost {
			t.Fatalf("%s: %d cuts; %d items served again, %d items were in lost answers: a cut must cost the page in flight, no more",
				tc.who, cut.cuts, resent, lost)
		}
		if st := must[fieldsync.Status](t)(c.Status(ctx)); !tc.bootstrap && st.Pulled != ops {
			t.Fatalf("%s applied %d ops; the server holds %d (each exactly once)", tc.who, st.Pulled, ops)
		}
		t.Logf("%s: %d cuts, %d items served again", tc.who, cut.cuts, resent)
	}
}
