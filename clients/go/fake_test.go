package fieldsync

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// fakeServer speaks just enough of the wire protocol for the SDK's unit
// tests, with knobs to misbehave. The end-to-end tests use the real one.
type fakeServer struct {
	t    *testing.T
	srv  *httptest.Server
	user api.User

	mu        sync.Mutex
	ops       []crdt.Op // in arrival order; the pull cursor is an index
	byID      map[string]int
	token     int // current access token generation
	refreshes int
	pushes    [][]string // op ids of each push received
	// decide, when set, answers each new op (nil result: applied as is).
	decide func(op *crdt.Op) *protocol.Result
	// expire makes the next authenticated request answer 401 token_expired.
	expire bool
	// revoked answers every request 401 device_revoked with wipe.
	revoked bool
	// disabled answers every request 401 account_disabled, no wipe.
	disabled bool
	// cutAfterPush hijacks and closes the connection after applying the
	// next n pushes, so the device never sees the answer.
	cutAfterPush int
	// maxOps answers 413 too_many_ops to larger pushes.
	maxOps int
	// gone answers 410 resync_required to any non-empty cursor, once.
	gone bool
	// busy answers the next n authenticated requests 429 (Retry-After: 1)
	// and unavailable the next n 503.
	busy, unavailable int
	// drop is listed in the next pull page, erased (a subset: records
	// retention erased) with it.
	drop, erased []string
	// acked lists the record ids of every POST /v1/sync/purges, in order;
	// ackFails answers the next n of them 503.
	acked    [][]string
	ackFails int
	// hidden op ids are not served by pulls.
	hidden map[string]bool
	// link, when set, is told the limit asked and the bytes of each pull
	// page before it is sent (a simulated link advances a clock).
	link func(limit, bytes int)
	// now is the server's wall clock; clock stamps server_hlc with it.
	now   *testClock
	clock *hlc.Clock
}

func newFakeServer(t *testing.T) *fakeServer {
	now := newTestClock(time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC))
	f := &fakeServer{t: t, byID: map[string]int{}, hidden: map[string]bool{}, now: now, clock: hlc.NewClock(now.Now, 0),
		user: api.User{ID: uuid.NewString(), Username: "ana", Role: model.RoleFieldWorker, Teams: []string{uuid.NewString()}}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/auth/login", f.login)
	mux.HandleFunc("POST /v1/auth/refresh", f.refresh)
	mux.HandleFunc("POST /v1/sync/push", f.authed(f.push))
	mux.HandleFunc("GET /v1/sync/pull", f.authed(f.pull))
	mux.HandleFunc("POST /v1/sync/purges", f.authed(f.ackPurges))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) team() string { return f.user.Teams[0] }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code model.Code, wipe bool) {
	writeJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: string(code), Wipe: wipe}})
}

func (f *fakeServer) tokens(device string) api.TokenResponse {
	return api.TokenResponse{AccessToken: "at" + strconv.Itoa(f.token), RefreshToken: "rt" + strconv.Itoa(f.token),
		TokenType: "Bearer", ExpiresIn: 900, DeviceID: device, User: f.user, TeamNames: map[string]string{f.user.Teams[0]: "Mobile team North"}}
}

func (f *fakeServer) login(w http.ResponseWriter, r *http.Request) {
	var req api.LoginRequest
	_ = json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.revoked {
		writeError(w, http.StatusUnauthorized, model.CodeDeviceRevoked, true)
		return
	}
	if req.Password != "secret" {
		writeError(w, http.StatusUnauthorized, model.CodeInvalidCredentials, false)
		return
	}
	f.token++
	writeJSON(w, http.StatusOK, f.tokens(req.DeviceID))
}

func (f *fakeServer) refresh(w http.ResponseWriter, r *http.Request) {
	var req api.RefreshRequest
	_ = json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.revoked {
		writeError(w, http.StatusUnauthorized, model.CodeDeviceRevoked, true)
		return
	}
	if f.disabled {
		writeError(w, http.StatusUnauthorized, model.CodeAccountDisabled, false)
		return
	}
	if req.RefreshToken != "rt"+strconv.Itoa(f.token) {
		writeError(w, http.StatusUnauthorized, model.CodeTokenReused, false)
		return
	}
	f.token++
	f.refreshes++
	writeJSON(w, http.StatusOK, f.tokens(""))
}

func (f *fakeServer) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		revoked, disabled, expire, want := f.revoked, f.disabled, f.expire, "Bearer at"+strconv.Itoa(f.token)
		f.expire = false
		busy, unavailable := f.busy > 0, f.busy == 0 && f.unavailable > 0
		if busy {
			f.busy--
		} else if unavailable {
			f.unavailable--
		}
		f.mu.Unlock()
		switch {
		case busy:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, model.CodeRateLimited, false)
		case unavailable:
			w.WriteHeader(http.StatusServiceUnavailable)
		case revoked:
			writeError(w, http.StatusUnauthorized, model.CodeDeviceRevoked, true)
		case disabled:
			writeError(w, http.StatusUnauthorized, model.CodeAccountDisabled, false)
		case expire || r.Header.Get("Authorization") != want:
			writeError(w, http.StatusUnauthorized, model.CodeTokenExpired, false)
		default:
			h(w, r)
		}
	}
}

func (f *fakeServer) push(w http.ResponseWriter, r *http.Request) {
	var req api.PushRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, model.CodeInvalidJSON, false)
		return
	}
	f.mu.Lock()
	if f.maxOps > 0 && len(req.Ops) > f.maxOps {
		f.mu.Unlock()
		writeError(w, http.StatusRequestEntityTooLarge, model.CodeTooManyOps, false)
		return
	}
	res := api.PushResponse{}
	var ids []string
	for _, raw := range req.Ops {
		op, err := crdt.DecodeOp(raw)
		if err != nil {
			f.t.Errorf("fake server: pushed op does not decode: %v", err)
			continue
		}
		ids = append(ids, op.ID)
		res.Results = append(res.Results, f.apply(op))
	}
	f.pushes = append(f.pushes, ids)
	res.ServerHLC = f.clock.Now().String()
	cut := f.cutAfterPush > 0
	if cut {
		f.cutAfterPush--
	}
	f.mu.Unlock()
	if cut {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// apply stores one op (caller holds mu) and returns its result.
func (f *fakeServer) apply(op crdt.Op) protocol.Result {
	if i, ok := f.byID[op.ID]; ok {
		return protocol.Result{ID: op.ID, Status: protocol.StatusDuplicate, HLC: f.ops[i].HLC.String()}
	}
	if f.decide != nil {
		if r := f.decide(&op); r != nil && r.Status == protocol.StatusRejected {
			return *r
		}
	}
	op.User = f.user.ID
	f.byID[op.ID] = len(f.ops)
	f.ops = append(f.ops, op)
	return protocol.Result{ID: op.ID, Status: protocol.StatusApplied, HLC: op.HLC.String()}
}

// inject stores an op as if another device had pushed it.
func (f *fakeServer) inject(op crdt.Op) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.byID[op.ID] = len(f.ops)
	f.ops = append(f.ops, op)
}

func (f *fakeServer) ackPurges(w http.ResponseWriter, r *http.Request) {
	var req api.PurgeAckRequest
	_ = json.NewDecoder(r.Body).Decode(&req)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ackFails > 0 {
		f.ackFails--
		writeError(w, http.StatusServiceUnavailable, model.CodeUnavailable, false)
		return
	}
	f.acked = append(f.acked, req.Records)
	writeJSON(w, http.StatusOK, api.PurgeAckResponse{Acknowledged: len(req.Records)})
}

func (f *fakeServer) pull(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cursor := r.URL.Query().Get("cursor")
	if cursor != "" && f.gone {
		f.gone = false
		writeError(w, http.StatusGone, model.CodeResyncRequired, false)
		return
	}
	from, _ := strconv.Atoi(cursor)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	to := min(len(f.ops), from+limit)
	page := api.PullResponse{Ops: []json.RawMessage{}, Cursor: strconv.Itoa(to), More: to < len(f.ops), Drop: f.drop, Erased: f.erased, ServerHLC: f.clock.Now().String()}
	if page.Drop == nil {
		page.Drop = []string{}
	}
	f.drop, f.erased = nil, nil
	for _, op := range f.ops[from:to] {
		if !f.hidden[op.ID] {
			page.Ops = append(page.Ops, op.AppendJSON(nil))
		}
	}
	if f.link != nil {
		body, _ := json.Marshal(page)
		f.link(limit, len(body))
	}
	writeJSON(w, http.StatusOK, page)
}

// state returns the fake server's merge of every op it holds for record.
func (f *fakeServer) state(t *testing.T, record string) []byte {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var r *crdt.Record
	for i := range f.ops {
		if f.ops[i].Record != record {
			continue
		}
		if r == nil {
			r = crdt.NewRecord(record, f.ops[i].Kind)
		}
		if _, err := r.Apply(model.DefaultSchema(), &f.ops[i]); err != nil {
			t.Fatal(err)
		}
	}
	if r == nil {
		t.Fatalf("fake server holds no op of %s", record)
	}
	return r.Canonical()
}

// otherOp builds an op of another device of the same user.
func otherOp(record, kind, field string, action model.Action, value any, base ...string) crdt.Op {
	v, _ := json.Marshal(value)
	raw, _ := json.Marshal(opJSON{ID: uuid.NewString(), Record: record, Kind: kind, Field: field, Action: action,
		Value: v, Base: append([]string{}, base...), HLC: hlc.New(time.Now().UnixMilli(), 0), Device: otherDevice, User: otherUser})
	op, err := crdt.DecodeOp(raw)
	if err != nil {
		panic(fmt.Sprintf("otherOp: %v", err))
	}
	return op
}

var (
	otherDevice = uuid.NewString()
	otherUser   = uuid.NewString()
)
