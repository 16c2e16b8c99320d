package server_test

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/model"
)

// eventStream is an open GET /v1/sync/events, read line by line.
type eventStream struct {
	t     *testing.T
	resp  *http.Response
	lines chan string // closed when the server ends the stream
}

// openStream opens c's event stream and waits for its first line.
func openStream(t *testing.T, c *client) *eventStream {
	t.Helper()
	resp := streamRequest(t, c)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %d, want 200", resp.StatusCode)
	}
	es := &eventStream{t: t, resp: resp, lines: make(chan string, 64)}
	go func() {
		defer close(es.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			es.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	if line := es.next(); line != ": connected" {
		t.Fatalf("first line %q, want \": connected\"", line)
	}
	return es
}

func streamRequest(t *testing.T, c *client) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.h.base+"/v1/sync/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := (&http.Client{}).Do(req) // no timeout: the stream stays open
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// streamWait bounds every wait for the server (a failure, never a
// measurement).
const streamWait = 30 * time.Second

// next returns the next non-empty line ("" once the stream ended).
func (es *eventStream) next() string {
	es.t.Helper()
	for {
		select {
		case line, ok := <-es.lines:
			if !ok {
				return ""
			}
			if line != "" {
				return line
			}
		case <-time.After(streamWait):
			es.t.Fatalf("no event within %s", streamWait)
		}
	}
}

// event returns the next event's name and data, skipping comments; ok is
// false once the stream ended.
func (es *eventStream) event() (name, data string, ok bool) {
	es.t.Helper()
	for {
		line := es.next()
		switch {
		case line == "":
			return name, data, false
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			return name, strings.TrimSpace(strings.TrimPrefix(line, "data:")), true
		}
	}
}

// ends fails the test unless the server ends the stream without another
// changes event.
func (es *eventStream) ends(why string) {
	es.t.Helper()
	for {
		name, _, ok := es.event()
		if !ok {
			return
		}
		if name == "changes" {
			es.t.Fatalf("%s: the stream still delivered a changes event", why)
		}
	}
}

// pokeChanges commits an op (by the national supervisor, logged in again
// on its device in case the clock moved past its token) so every open
// stream wakes up.
func pokeChanges(d *deployment) {
	sup := d.h.login("sup", userPassword, d.clients["sup"].device)
	sup.pushApplied(sup.op(d.northRec, model.KindIdentification, "region", "set", "r"+newID()[:6]))
}

func TestEventsEndWhenDeviceRevoked(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	es := openStream(t, d.clients["fw"])
	d.admin.mustDo(http.StatusOK, http.MethodPost, "/v1/devices/"+d.clients["fw"].device+"/revoke", nil)
	pokeChanges(d)
	es.ends("revoked device")
	if status, body := d.clients["fw"].do(http.MethodGet, "/v1/sync/events", nil); status != http.StatusUnauthorized || errorCode(t, body) != string(model.CodeDeviceRevoked) {
		t.Errorf("reconnect of a revoked device: %d %s, want 401 device_revoked", status, body)
	}
}

// TestEventsEndOnRevokeWithoutTraffic: the revoke itself ends the stream,
// not the next commit or tick.
func TestEventsEndOnRevokeWithoutTraffic(t *testing.T) {
	h := startServerEnv(t, map[string]string{"FIELDSYNC_STREAM_CHECK": "1m"})
	d := newDeployment(t, h)
	es := openStream(t, d.clients["tl"])
	d.admin.mustDo(http.StatusOK, http.MethodPost, "/v1/devices/"+d.clients["tl"].device+"/revoke", nil)
	es.ends("revoked device, no commit")
}

// TestEventsEndWhenAccountDisabled: disabling an account ends its open
// streams at once, with no commit and no tick in between.
func TestEventsEndWhenAccountDisabled(t *testing.T) {
	h := startServerEnv(t, map[string]string{"FIELDSYNC_STREAM_CHECK": "1m"})
	d := newDeployment(t, h)
	fw := d.clients["fw"]
	es := openStream(t, fw)
	d.admin.mustDo(http.StatusOK, http.MethodPost, "/v1/admin/users/"+fw.user.ID+"/disable", nil)
	es.ends("disabled account, no commit")
}

func TestEventsEndWhenGrantEnds(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	visitor := d.addUser("visitor.short", userSpec{role: model.RoleVisitor, actionWeek: d.week, validUntil: h.now().Add(5 * time.Minute)})
	es := openStream(t, visitor)
	h.advance(6 * time.Minute) // the grant ended, the token (15 min) did not
	pokeChanges(d)
	es.ends("ended grant")
}

func TestEventsEndWhenTokenExpires(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	es := openStream(t, d.clients["fw"])
	h.advance(16 * time.Minute) // access tokens live 15 min
	pokeChanges(d)
	es.ends("expired token")
}

// TestEventsRecheckOnTick: with no commit at all, the periodic check ends
// the stream of an expired token.
func TestEventsRecheckOnTick(t *testing.T) {
	h := startServerEnv(t, map[string]string{"FIELDSYNC_STREAM_CHECK": "20ms"})
	d := newDeployment(t, h)
	es := openStream(t, d.clients["fw"])
	h.advance(16 * time.Minute)
	es.ends("expired token, no commit")
}

// TestEventsCarryNothingGlobal: a changes event holds no sequence, and
// its bytes do not depend on how much others committed.
func TestEventsCarryNothingGlobal(t *testing.T) {
	h := startServer(t)
	d := newDeployment(t, h)
	es := openStream(t, d.clients["fw"])
	for range 2 {
		pokeChanges(d)
		name, data, ok := es.event()
		if !ok || name != "changes" {
			t.Fatalf("event %q %q (open %v), want changes", name, data, ok)
		}
		if data != "{}" {
			t.Errorf("changes event data %q, want {} (no sequence, nothing global)", data)
		}
	}
}

// TestEventsStreamCap: a user's streams are capped (429 rate_limited); a
// device's new stream replaces its old one, even at the cap.
func TestEventsStreamCap(t *testing.T) {
	h := startServerEnv(t, map[string]string{"FIELDSYNC_STREAMS_PER_USER": "2"})
	d := newDeployment(t, h)
	first := d.clients["fw"]
	second := h.login("fw", userPassword, "")
	third := h.login("fw", userPassword, "")
	one := openStream(t, first)
	openStream(t, second)
	resp := streamRequest(t, third)
	body := make([]byte, 512)
	n, _ := resp.Body.Read(body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || errorCode(t, body[:n]) != string(model.CodeRateLimited) {
		t.Errorf("third stream of a user capped at 2: %d %s, want 429 rate_limited", resp.StatusCode, body[:n])
	}
	again := openStream(t, first) // the first device reconnects
	one.ends("replaced stream")
	pokeChanges(d)
	if name, _, ok := again.event(); !ok || name != "changes" {
		t.Errorf("replacing stream: event %q (open %v), want changes", name, ok)
	}
}
