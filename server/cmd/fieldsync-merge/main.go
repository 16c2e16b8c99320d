// Command fieldsync-merge is the Go side of the TypeScript client's
// differential test (clients/ts): a long-lived process that merges cases
// with the Go engine (sync/crdt) and writes the canonical states, so that
// the TypeScript engine's output can be compared with it byte for byte.
//
// Usage:
//
//	fieldsync-merge          read cases from stdin, write results to stdout
//	fieldsync-merge -schema  write the default schema (GET /v1/schema) and exit
//	fieldsync-merge -hlc     read clock cases instead (below)
//
// Each input line (NDJSON) is one case: a JSON array whose elements are
// each one op in its wire form, as a string holding the op's text or as
// {"base64":"..."} holding its bytes (so that a malformed op, even one that
// is not UTF-8, is a case too), applied in the order given to empty
// records. Each output line is
// that case's result, written and flushed before the next line is read:
//
//   - on success, {"sizes":[...],"states":[...]}: the states of the records
//     the ops write, sorted by record id, each the RFC 8785 canonical state
//     that GET /v1/records/{id}?history=true serves (history: every
//     distinct op once, sorted by (hlc, device, id), redacted appends
//     erased), and in the same order each record's Size (what
//     max_record_bytes bounds, so that a device refuses record_too_large
//     where the server would);
//   - when an op is refused (DecodeOp, Validate or Apply), the object
//     {"error":{"code":"<model code>","op":<index of the op in the case>}}
//     (op -1 when the line itself is not an array of strings).
//
// With -hlc each input line is a clock case,
// {"max_drift_ms":N,"steps":[{"wall":<unix ms>,"remote":"<hlc>"|null},...]},
// run on a fresh sync/hlc Clock whose wall clock reads each step's wall:
// Now when remote is null, else Update(remote). The output line is the
// array of results: the timestamp, or "drift", "overflow" or "invalid".
//
// Invariants: pure function of each line (no state carries over between
// cases); no I/O but stdin, stdout and stderr; a malformed line is a case
// error, never a crash.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/fieldsync/fieldsync/model"
	"github.com/fieldsync/fieldsync/sync/crdt"
	"github.com/fieldsync/fieldsync/sync/hlc"
)

// maxLine bounds one case (one input line).
const maxLine = 64 << 20

func main() {
	schema := flag.Bool("schema", false, "write the default schema as JSON and exit")
	clock := flag.Bool("hlc", false, "read clock cases instead of merge cases")
	flag.Parse()
	var err error
	if *clock {
		err = runClock(os.Stdin, os.Stdout)
	} else {
		err = run(*schema, os.Stdin, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fieldsync-merge:", err)
		os.Exit(1)
	}
}

func run(printSchema bool, in io.Reader, out io.Writer) error {
	s := model.DefaultSchema()
	w := bufio.NewWriter(out)
	if printSchema {
		enc, err := json.Marshal(s)
		if err != nil {
			return fmt.Errorf("encode schema: %w", err)
		}
		w.Write(enc)
		w.WriteByte('\n')
		return w.Flush()
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	for sc.Scan() {
		w.Write(mergeCase(s, sc.Bytes()))
		w.WriteByte('\n')
		if err := w.Flush(); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read case: %w", err)
	}
	return nil
}

// mergeCase applies the ops of one case and returns its result line.
func mergeCase(s *model.Schema, line []byte) []byte {
	raws, err := readCase(line)
	if err != nil {
		return caseError(model.CodeInvalidOp, -1)
	}
	records := map[string]*crdt.Record{}
	ops := map[string][]crdt.Op{}
	for i, raw := range raws {
		op, err := crdt.DecodeOp(raw)
		if err == nil {
			err = crdt.Validate(s, &op)
		}
		if err == nil {
			r, ok := records[op.Record]
			if !ok {
				r = crdt.NewRecord(op.Record, op.Kind)
				records[op.Record] = r
			}
			_, err = r.Apply(s, &op)
		}
		if err != nil {
			var me *model.Error
			if !errors.As(err, &me) {
				return caseError("internal", i)
			}
			return caseError(me.Code, i)
		}
		ops[op.Record] = append(ops[op.Record], op)
	}
	ids := make([]string, 0, len(records))
	for id := range records {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	buf := []byte(`{"sizes":[`)
	for i, id := range ids {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendInt(buf, int64(records[id].Size()), 10)
	}
	buf = append(buf, `],"states":[`...)
	for i, id := range ids {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = records[id].AppendJSON(buf, history(ops[id]))
	}
	return append(buf, "]}"...)
}

// readCase returns the bytes of each op of a case line.
func readCase(line []byte) ([][]byte, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(line, &elems); err != nil {
		return nil, err
	}
	raws := make([][]byte, len(elems))
	for i, e := range elems {
		var text string
		if err := json.Unmarshal(e, &text); err == nil {
			raws[i] = []byte(text)
			continue
		}
		var b struct {
			Base64 []byte `json:"base64"`
		}
		if err := json.Unmarshal(e, &b); err != nil {
			return nil, err
		}
		raws[i] = b.Base64
	}
	return raws, nil
}

// history returns a record's ops as ?history=true serves them: each op
// once, sorted by (hlc, device, id), appends named by a redact of the same
// field erased.
func history(ops []crdt.Op) []crdt.Op {
	seen := map[string]bool{}
	erased := map[string]bool{}
	var out []crdt.Op
	for _, op := range ops {
		if op.Action == model.ActionRedact {
			for _, id := range op.Base {
				erased[op.Field+"\x00"+id] = true
			}
		}
		if !seen[op.ID] {
			seen[op.ID] = true
			out = append(out, op)
		}
	}
	for i, op := range out {
		if op.Action == model.ActionAppend && erased[op.Field+"\x00"+op.ID] {
			out[i] = op.Redacted()
		}
	}
	crdt.SortOps(out)
	return out
}

// caseError is the result line of a refused case.
func caseError(code model.Code, op int) []byte {
	return fmt.Appendf(nil, `{"error":{"code":%q,"op":%d}}`, string(code), op)
}

// clockCase is one line of -hlc input.
type clockCase struct {
	MaxDriftMs int64 `json:"max_drift_ms"`
	Steps      []struct {
		Wall   int64   `json:"wall"`
		Remote *string `json:"remote"`
	} `json:"steps"`
}

// runClock answers clock cases, one line each.
func runClock(in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	w := bufio.NewWriter(out)
	for sc.Scan() {
		var c clockCase
		results := []string{}
		if err := json.Unmarshal(sc.Bytes(), &c); err == nil {
			results = clockResults(c)
		}
		enc, _ := json.Marshal(results)
		w.Write(enc)
		w.WriteByte('\n')
		if err := w.Flush(); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read case: %w", err)
	}
	return nil
}

func clockResults(c clockCase) []string {
	var wall int64
	clock := hlc.NewClock(func() time.Time { return time.UnixMilli(wall) }, time.Duration(c.MaxDriftMs)*time.Millisecond)
	results := make([]string, 0, len(c.Steps))
	for _, st := range c.Steps {
		wall = st.Wall
		if st.Remote == nil {
			results = append(results, clock.Now().String())
			continue
		}
		remote, err := hlc.Parse(*st.Remote)
		var t hlc.Timestamp
		if err == nil {
			t, err = clock.Update(remote)
		}
		switch {
		case errors.Is(err, hlc.ErrInvalid):
			results = append(results, "invalid")
		case errors.Is(err, hlc.ErrDrift):
			results = append(results, "drift")
		case errors.Is(err, hlc.ErrOverflow):
			results = append(results, "overflow")
		default:
			results = append(results, t.String())
		}
	}
	return results
}
