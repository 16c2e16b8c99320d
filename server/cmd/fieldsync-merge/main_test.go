package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

const (
	testRecord = "0193f2a1-b2c3-7d4e-8f50-6172839405a6"
	testDevice = "3f6c1a2e-8d4b-4e1f-a7c2-1b9e0d5f6a01"
)

func testOp(id, field, action, value, base string) string {
	return `{"id":"` + id + `","record":"` + testRecord + `","kind":"identification","field":"` + field +
		`","action":"` + action + `","value":` + value + `,"base":` + base + `,"hlc":"01957f1160000000","device":"` + testDevice + `"}`
}

func caseLine(t *testing.T, ops ...string) string {
	t.Helper()
	b, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// TestRunAnswersEachCaseOnItsOwnLine: states with history for a valid
// case (canonical, redacted append erased), the code and index of the
// first refused op, op -1 for a line that is not a case, and an op given
// as base64 bytes.
func TestRunAnswersEachCaseOnItsOwnLine(t *testing.T) {
	appendID := "00000000-0000-4000-8000-000000000001"
	in := caseLine(t,
		testOp(appendID, "notes", "append", `{"text":"x","b":1.0}`, `[]`),
		testOp("00000000-0000-4000-8000-000000000002", "notes", "redact", `null`, `["`+appendID+`"]`),
	) + caseLine(t, testOp("00000000-0000-4000-8000-000000000003", "code", "set", `"a"`, `[]`), `{"id":1}`) + "not json\n" +
		`[{"base64":"` + base64.StdEncoding.EncodeToString([]byte(testOp("00000000-0000-4000-8000-000000000004", "code", "set", "\"a\xff\"", `[]`))) + `"}]` + "\n"
	var out bytes.Buffer
	if err := run(false, strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d lines, want 4:\n%s", len(lines), out.String())
	}
	if !strings.HasPrefix(lines[0], `{"sizes":[`) || !strings.Contains(lines[0], `],"states":[{"deleted":false,"fields":{"notes":{"entries":[{`) ||
		!strings.Contains(lines[0], `"redacted":true`) || strings.Contains(lines[0], `"text"`) || !strings.Contains(lines[0], `"history":[`) {
		t.Errorf("line 1 = %s, want the size and the state with the entry redacted and its value erased from the history", lines[0])
	}
	if got, want := lines[1], `{"error":{"code":"invalid_id","op":1}}`; got != want {
		t.Errorf("line 2 = %s, want %s", got, want)
	}
	if got, want := lines[2], `{"error":{"code":"invalid_op","op":-1}}`; got != want {
		t.Errorf("line 3 = %s, want %s", got, want)
	}
	if got, want := lines[3], `{"error":{"code":"invalid_value","op":0}}`; got != want {
		t.Errorf("line 4 (an op's bytes, invalid UTF-8 in its value) = %s, want %s", got, want)
	}
}

// TestRunSchema writes the schema that GET /v1/schema serves.
func TestRunSchema(t *testing.T) {
	var out bytes.Buffer
	if err := run(true, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	var s struct {
		Version int                        `json:"version"`
		Kinds   map[string]json.RawMessage `json:"kinds"`
	}
	if err := json.Unmarshal(out.Bytes(), &s); err != nil || s.Version == 0 || len(s.Kinds) != 3 {
		t.Errorf("schema = %.200s (err %v), want version and three kinds", out.String(), err)
	}
}

// TestRunClock runs a clock case: Now, a wall clock going back, an Update,
// a remote too far ahead, an overflow without the drift guard, a bad remote.
func TestRunClock(t *testing.T) {
	in := `{"max_drift_ms":1000,"steps":[{"wall":5,"remote":null},{"wall":3,"remote":null},{"wall":3,"remote":"0000000000060007"},{"wall":3,"remote":"0000000007d00000"},{"wall":3,"remote":"0000000000ZZ0000"}]}` + "\n" +
		`{"steps":[{"wall":3,"remote":"ffffffffffffffff"}]}` + "\n"
	var out bytes.Buffer
	if err := runClock(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	want := `["0000000000050000","0000000000050001","0000000000060008","drift","invalid"]` + "\n" + `["overflow"]` + "\n"
	if got := out.String(); got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
}
