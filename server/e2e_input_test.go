package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fieldsync/fieldsync/model"
)

// TestPushBadRequests: whole-request errors get their status and code,
// apply nothing, and a valid push right after still works.
func TestPushBadRequests(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north"}, map[string]userSpec{"fw": {role: model.RoleFieldWorker, teams: []string{"north"}}})
	c := w.clients["fw"]
	rec := newID()
	valid := c.op(rec, model.KindIdentification, "team", "set", w.teams["north"])
	many := make([]string, 1001)
	for i := range many {
		many[i] = "{}"
	}
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"not json", `{"ops":[`, 400, "invalid_json"},
		{"empty body", ``, 400, "invalid_json"},
		{"array body", `[]`, 400, "invalid_json"},
		{"no ops key", `{}`, 400, "invalid_json"},
		{"ops not an array", `{"ops":{}}`, 400, "invalid_json"},
		{"unknown top-level key", `{"ops":[],"extra":1}`, 400, "invalid_json"},
		{"two values", `{"ops":[]} {"ops":[]}`, 400, "invalid_json"},
		{"too many ops", `{"ops":[` + strings.Join(many, ",") + `]}`, 413, "too_many_ops"},
		{"too deep", `{"ops":[` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `]}`, 400, "too_deep"},
		{"body over the limit", `{"ops":["` + strings.Repeat("x", 5<<20) + `"]}`, 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := c.do(http.MethodPost, "/v1/sync/push", tt.body)
			if status != tt.wantStatus || errorCode(t, body) != tt.wantCode {
				t.Fatalf("got %d %s, want %d %s", status, body, tt.wantStatus, tt.wantCode)
			}
		})
	}
	c.pushApplied(valid)
	if all, _, _ := c.pullAll("", 10); len(all) != 1 {
		t.Fatalf("after the bad requests the store holds %d ops, want 1", len(all))
	}
}

// TestPushBadOps: each malformed or forbidden op is its own rejection with
// its own code; the valid ops of the same push are applied.
func TestPushBadOps(t *testing.T) {
	h := startServer(t)
	w := newWorld(h, []string{"north", "south"}, map[string]userSpec{
		"fw":       {role: model.RoleFieldWorker, teams: []string{"north"}},
		"fw.south": {role: model.RoleFieldWorker, teams: []string{"south"}},
	})
	c, other := w.clients["fw"], w.clients["fw.south"]
	rec, southRec := newID(), newID()
	other.pushApplied(other.newIdentification(southRec, w.teams["south"])...)
	edit := func(op json.RawMessage, key string, value any) json.RawMessage {
		var m map[string]any
		mustUnmarshal(t, op, &m)
		if value == nil {
			delete(m, key)
		} else {
			m[key] = value
		}
		b, _ := json.Marshal(m)
		return b
	}
	ok := func(field string, value any) json.RawMessage {
		return c.op(rec, model.KindIdentification, field, "set", value)
	}
	tests := []struct {
		name string
		op   json.RawMessage
		want model.Code
	}{
		{"not an object", json.RawMessage(`"set status"`), model.CodeInvalidOp},
		{"unknown key", edit(ok("region", "x"), "colour", "red"), model.CodeInvalidOp},
		{"id not a uuid", edit(ok("region", "x"), "id", "42"), model.CodeInvalidID},
		{"id upper case", edit(ok("region", "x"), "id", strings.ToUpper(newID())), model.CodeInvalidID},
		{"missing id", edit(ok("region", "x"), "id", nil), model.CodeInvalidID},
		{"record not a uuid", edit(ok("region", "x"), "record", "case-1"), model.CodeInvalidID},
		{"bad hlc", edit(ok("region", "x"), "hlc", "yesterday"), model.CodeInvalidHLC},
		{"unknown kind", edit(ok("region", "x"), "kind", "person"), model.CodeUnknownKind},
		{"unknown field", ok("name", "Jane"), model.CodeUnknownField},
		{"wrong action for class", c.op(rec, model.KindIdentification, "region", "add", "x"), model.CodeInvalidOp},
		{"malformed base", edit(ok("region", "x"), "base", []string{"nope"}), model.CodeInvalidOp},
		{"wrong value type", ok("age_estimate", "seventeen"), model.CodeInvalidValue},
		{"value not allowed", ok("status", "rescued"), model.CodeInvalidValue},
		{"bad date", ok("encounter_date", "2026-02-30"), model.CodeInvalidValue},
		{"another device", edit(ok("region", "x"), "device", newID()), model.CodeForbidden},
		{"supervisor-only value", ok("status", "identified"), model.CodeForbidden},
		{"supervisor-only field", ok("review_status", "reviewed"), model.CodeForbidden},
		{"another team's record", c.op(southRec, model.KindIdentification, "region", "set", "x"), model.CodeForbidden},
		{"record without its team", c.op(newID(), model.KindIdentification, "region", "set", "x"), model.CodeUnknownRecord},
	}
	ops := []json.RawMessage{ok("team", w.teams["north"])}
	for _, tt := range tests {
		ops = append(ops, tt.op)
	}
	ops = append(ops, ok("region", "Shkodër"))
	res := c.push(ops...)
	if r := res.Results[0]; r.Status != "applied" {
		t.Fatalf("creating op: %+v", r)
	}
	for i, tt := range tests {
		r := res.Results[i+1]
		if r.Status != "rejected" || r.Code != tt.want || r.Message == "" {
			t.Errorf("%s: got %+v, want rejected %s with a message", tt.name, r, tt.want)
		}
	}
	if r := res.Results[len(res.Results)-1]; r.Status != "applied" {
		t.Fatalf("valid op after the bad ones: %+v", r)
	}
	got := c.mustDo(http.StatusOK, http.MethodGet, "/v1/records/"+rec, nil)
	if !bytes.Contains(got, []byte(`"region":{`)) || !bytes.Contains(got, []byte("Shkodër")) {
		t.Fatalf("record misses the valid op: %s", got)
	}
	if bytes.Contains(got, []byte("identified")) || bytes.Contains(got, []byte("review_status")) {
		t.Fatalf("a rejected op reached the record: %s", got)
	}
}

// TestHeadersTooLarge: an oversized header gets 431 headers_too_large.
func TestHeadersTooLarge(t *testing.T) {
	h := startServer(t)
	req, _ := http.NewRequest(http.MethodGet, h.base+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 20000))
	resp, err := h.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || errorCode(t, body.Bytes()) != "headers_too_large" {
		t.Fatalf("got %d %s, want 431 headers_too_large", resp.StatusCode, body.String())
	}
}

// TestAuthErrors: wrong passwords, missing and forged tokens get their
// codes; nothing is 5xx.
func TestAuthErrors(t *testing.T) {
	h := startServer(t)
	newWorld(h, []string{"north"}, map[string]userSpec{"fw": {role: model.RoleFieldWorker, teams: []string{"north"}}})
	tests := []struct {
		name       string
		method     string
		path       string
		token      string
		body       string
		wantStatus int
		wantCode   string
	}{
		{"wrong password", "POST", "/v1/auth/login", "", `{"username":"fw","password":"not the password"}`, 401, "invalid_credentials"},
		{"unknown user", "POST", "/v1/auth/login", "", `{"username":"nobody","password":"not the password"}`, 401, "invalid_credentials"},
		{"bad device id", "POST", "/v1/auth/login", "", fmt.Sprintf(`{"username":"fw","password":%q,"device_id":"ABC"}`, userPassword), 400, "invalid_id"},
		{"unknown login key", "POST", "/v1/auth/login", "", `{"user":"fw"}`, 400, "invalid_request"},
		{"no token", "GET", "/v1/sync/pull", "", "", 401, "unauthorized"},
		{"garbage token", "GET", "/v1/sync/pull", "garbage", "", 401, "unauthorized"},
		{"unknown refresh token", "POST", "/v1/auth/refresh", "", `{"refresh_token":"fsr_nope"}`, 401, "unauthorized"},
		{"no such route", "GET", "/v1/nothing", "", "", 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := h.do(tt.method, tt.path, tt.token, tt.body)
			if status != tt.wantStatus || errorCode(t, body) != tt.wantCode {
				t.Fatalf("got %d %s, want %d %s", status, body, tt.wantStatus, tt.wantCode)
			}
		})
	}
}
