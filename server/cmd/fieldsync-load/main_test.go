package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldsync/fieldsync/server"
)

// tinyArgs run every phase at a size that takes a few seconds.
var tinyArgs = []string{"-devices", "2", "-ops", "400", "-batch", "100", "-baseline-ops", "1000", "-pull", "200"}

func tinyConfig(t *testing.T, extra ...string) config {
	t.Helper()
	cfg, err := parseFlags(append(append([]string{}, tinyArgs...), extra...), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// checkCounts asserts the report's counts, never its timings.
func checkCounts(t *testing.T, rep *report) {
	t.Helper()
	if rep.Baseline.Ops != 1000 || rep.Baseline.OpsPerSec <= 0 {
		t.Errorf("baseline = %+v, want 1000 ops at some rate", rep.Baseline)
	}
	in := rep.Ingest
	if in.Devices != 2 || in.Teams != 1 || in.Ops != 400 || in.Pushes != 4 || in.Applied != 400 || in.Failed != 0 {
		t.Errorf("ingest = %+v, want 2 devices of 1 team pushing 400 ops in 4 pushes, all applied", in)
	}
	if in.OpsPerSec <= 0 || in.P50Millis <= 0 || in.P99Millis < in.P50Millis || in.MaxMillis < in.P99Millis {
		t.Errorf("ingest figures missing or out of order: %+v", in)
	}
	if in.RequestBytesPerOp < 150 || in.WireBytesPerOp <= in.RequestBytesPerOp {
		t.Errorf("ingest bytes per op: request %.0f, wire %.0f", in.RequestBytesPerOp, in.WireBytesPerOp)
	}
	p := rep.Pull
	if p.OwnOps != 400 || p.Expected != 400 || p.Missing != 0 || p.Duplicates != 0 || p.Pages != 1 || p.WindowOps != 400 {
		t.Errorf("first pull = %+v, want every one of the 400 pushed ops once, in one page", p)
	}
	if p.AnswerBytesPerOp <= 0 || p.WireBytesPerOp < p.AnswerBytesPerOp {
		t.Errorf("pull bytes per op: body %.0f, wire %.0f", p.AnswerBytesPerOp, p.WireBytesPerOp)
	}
	if rep.FailedOps != 0 || len(rep.Failures) != 0 {
		t.Errorf("failures: %d %v", rep.FailedOps, rep.Failures)
	}
	if len(rep.Goals) != 2 || rep.IngestToBaseline <= 0 || rep.Goals[0].Value != rep.IngestToBaseline {
		t.Errorf("goals = %+v, ratio %v", rep.Goals, rep.IngestToBaseline)
	}
	if rep.Goals[1].Note == "" {
		t.Errorf("a first pull of %d ops is not flagged as smaller than the goal's 100,000", p.WindowOps)
	}
}

func TestRunInProcess(t *testing.T) {
	rep, err := run(context.Background(), tinyConfig(t), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, rep)
	if rep.Pull.Foreign != 0 {
		t.Errorf("the in-process server served %d ops nobody pushed", rep.Pull.Foreign)
	}

	var text, js bytes.Buffer
	rep.writeText(&text)
	for _, want := range []string{"machine", "baseline", "ingest", "first pull", "p50", "p99", "B/op", "goals", "≥ 40%", "≥ 30,000 ops/s"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the text report lacks %q:\n%s", want, text.String())
		}
	}
	if err := rep.writeJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("the JSON report does not decode: %v\n%s", err, js.String())
	}
	if back.Ingest.Applied != 400 || back.Pull.OwnOps != 400 || back.Baseline.Ops != 1000 {
		t.Errorf("JSON report counts: %+v", back)
	}
}

// TestRunAgainstServer targets a running server with -addr, as against
// `fieldsync serve`: it creates its own teams and users next to the
// server's, and pulls back its own ops among any others.
func TestRunAgainstServer(t *testing.T) {
	const password = "load generator test password"
	m := server.NewMain()
	m.Stdout = io.Discard
	env := map[string]string{"FIELDSYNC_ADMIN_PASSWORD": password, "FIELDSYNC_LOG_LEVEL": "error"}
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "", "--data", t.TempDir()}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	rep, err := run(context.Background(), tinyConfig(t, "-addr", m.Addr(), "-admin-password", password), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, rep)
}

// TestRunCompressed: with -compress and -unique-notes every op is still
// applied and pulled back once, the pushes and answers cross the wire
// compressed (fewer bytes on the wire than in the decoded answers), and
// no two notes share a text.
func TestRunCompressed(t *testing.T) {
	for _, coding := range []string{"gzip", "zstd"} {
		rep, err := run(context.Background(), tinyConfig(t, "-compress", coding, "-unique-notes"), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		in, p := rep.Ingest, rep.Pull
		if in.Applied != 400 || p.OwnOps != 400 || p.Missing != 0 || p.Duplicates != 0 || rep.FailedOps != 0 {
			t.Fatalf("%s: ingest %+v, pull %+v, failures %v", coding, in, p, rep.Failures)
		}
		if p.WireBytesPerOp >= p.AnswerBytesPerOp {
			t.Errorf("%s: pull on the wire %.0f B/op, decoded %.0f B/op: the answers were not compressed", coding, p.WireBytesPerOp, p.AnswerBytesPerOp)
		}
		if rep.Compression != coding || !rep.UniqueNotes {
			t.Errorf("report says compression %q, unique notes %v", rep.Compression, rep.UniqueNotes)
		}
	}
}

// TestUniqueNotes: with uniqueNotes a device's note texts never repeat;
// without, they come from the fixed few.
func TestUniqueNotes(t *testing.T) {
	d := newDevice(0, &session{device: "d"}, "team", "Varna")
	d.uniqueNotes = true
	seen := map[string]bool{}
	for range 2000 {
		text := d.note(noteTexts)
		if seen[text] {
			t.Fatalf("note text %q repeats", text)
		}
		seen[text] = true
	}
	d.uniqueNotes = false
	if text := d.note(noteTexts); !slices.Contains(noteTexts, text) {
		t.Fatalf("without uniqueNotes the note %q is not one of the fixed texts", text)
	}
}

func TestFlags(t *testing.T) {
	noEnv := func(string) string { return "" }
	cfg, err := parseFlags(nil, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.devices != 16 || cfg.batch != 500 || cfg.ops != 200000 || cfg.pull != 100000 || cfg.baselineOps != 200000 || cfg.addr != "" || cfg.json {
		t.Errorf("defaults = %+v", cfg)
	}
	for _, args := range [][]string{
		{"-addr", "10.0.0.5:8080", "-admin-password", "x"},
		{"-addr", "example.org:80", "-admin-password", "x"},
		{"-addr", "https://127.0.0.1:8443", "-admin-password", "x"},
		{"-addr", "127.0.0.1:8080"}, // no admin password
		{"-batch", "1001"},
		{"-devices", "0"},
		{"-ops", "3", "-devices", "4"},
		{"-compress", "br"},
	} {
		if _, err := parseFlags(args, noEnv, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	env := func(k string) string {
		if k == "FIELDSYNC_ADMIN_PASSWORD" {
			return "from the environment"
		}
		return ""
	}
	for _, addr := range []string{"127.0.0.1:8080", "http://127.0.0.1:8080", "localhost:8080", "[::1]:8080"} {
		cfg, err := parseFlags([]string{"-addr", addr}, env, io.Discard)
		if err != nil || cfg.adminPassword != "from the environment" {
			t.Errorf("parseFlags(-addr %s) = %v, password %q", addr, err, cfg.adminPassword)
		}
	}
}

func TestPercentile(t *testing.T) {
	var durations []time.Duration
	for i := 1; i <= 100; i++ {
		durations = append(durations, time.Duration(i))
	}
	if got := percentile(durations, 50); got != 50 {
		t.Errorf("p50 of 1..100 = %d", got)
	}
	if got := percentile(durations, 99); got != 99 {
		t.Errorf("p99 of 1..100 = %d", got)
	}
	if got := percentile(durations, 100); got != 100 {
		t.Errorf("max of 1..100 = %d", got)
	}
	if got := percentile(durations[:1], 99); got != 1 {
		t.Errorf("p99 of one = %d", got)
	}
	if thousands(71234.4) != "71,234" || thousands(999) != "999" || thousands(1000) != "1,000" {
		t.Errorf("thousands: %s %s %s", thousands(71234.4), thousands(999), thousands(1000))
	}
}
