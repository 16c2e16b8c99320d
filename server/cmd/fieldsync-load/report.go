package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Goals of DESIGN §8 and the issue behind `task bench`.
const (
	goalIngestRatio = 0.40
	goalPullOpsSec  = 30000
	goalPullOps     = 100000
)

// report is everything one run measured.
type report struct {
	Machine          machineInfo    `json:"machine"`
	Server           string         `json:"server"`
	Compression      string         `json:"compression"`
	UniqueNotes      bool           `json:"unique_notes"`
	Started          time.Time      `json:"started"`
	Baseline         baselineResult `json:"baseline"`
	Ingest           ingestResult   `json:"ingest"`
	Pull             pullResult     `json:"first_pull"`
	IngestToBaseline float64        `json:"ingest_to_baseline"`
	Goals            []goal         `json:"goals"`
	FailedOps        int            `json:"failed_ops"`
	Failures         []string       `json:"failures"`
}

type machineInfo struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	OS         string `json:"goos"`
	Arch       string `json:"goarch"`
	Go         string `json:"go"`
	// LoadStart and LoadEnd are the load averages (1, 5, 15 min) when the
	// run began and ended: other work on the machine skews every figure.
	LoadStart string `json:"load_average_start,omitempty"`
	LoadEnd   string `json:"load_average_end,omitempty"`
}

type goal struct {
	Name   string  `json:"name"`
	Target float64 `json:"target"`
	Value  float64 `json:"value"`
	Met    bool    `json:"met"`
	Note   string  `json:"note,omitempty"`
}

// run does the three phases and returns the report. The error is non-nil
// when a phase could not run (no report then) or when an op failed or did
// not come back in the pull (with the report).
func run(ctx context.Context, cfg config, progress io.Writer) (rep *report, err error) {
	rep = &report{
		Machine: machineInfo{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS, Arch: runtime.GOARCH, Go: runtime.Version()},
		Started: time.Now().UTC().Truncate(time.Second), Failures: []string{},
	}
	rep.Compression, rep.UniqueNotes = cfg.compress, cfg.uniqueNotes
	rep.Machine.LoadStart = loadAverage()
	defer func() { rep.Machine.LoadEnd = loadAverage() }()
	fmt.Fprintf(progress, "baseline: writing %d ops to a raw badger store\n", cfg.baselineOps)
	if rep.Baseline, err = runBaseline(ctx, cfg.baselineOps); err != nil {
		return nil, err
	}

	tgt, err := startTarget(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := tgt.close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("stop the in-process server: %w", cerr))
		}
	}()
	rep.Server = tgt.base
	if tgt.inProcess {
		rep.Server += " (in-process, temporary data directory)"
	}
	c := newClient(tgt.base, cfg.devices, cfg.compress)
	defer c.close()
	w, err := setupWorld(ctx, c, tgt, cfg.devices, progress)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "prepare: building %d ops in pushes of %d\n", cfg.ops, cfg.batch)
	for i, d := range w.devices {
		n := cfg.ops / len(w.devices)
		if i < cfg.ops%len(w.devices) {
			n++
		}
		d.uniqueNotes = cfg.uniqueNotes
		d.plan(n, cfg.batch, c.coding)
	}

	failures := &failureLog{}
	fmt.Fprintf(progress, "ingest: %d devices pushing %d ops\n", cfg.devices, cfg.ops)
	ing, applied, err := runIngest(ctx, c, w, cfg, failures)
	if err != nil {
		return nil, err
	}
	rep.Ingest = ing
	if rep.Baseline.OpsPerSec > 0 {
		rep.IngestToBaseline = ing.OpsPerSec / rep.Baseline.OpsPerSec
	}

	fmt.Fprintf(progress, "first pull: a fresh national supervisor device pulls everything\n")
	if rep.Pull, err = runPull(ctx, c, w, cfg, applied, tgt.inProcess, failures); err != nil {
		return nil, err
	}
	rep.judge()
	rep.FailedOps, rep.Failures = failures.count, append(rep.Failures, failures.messages...)
	if failures.count > 0 {
		return rep, fmt.Errorf("%d ops failed (see the report)", failures.count)
	}
	return rep, nil
}

// judge compares the figures with the goals.
func (r *report) judge() {
	r.Goals = []goal{
		{Name: "durable ingest / raw badger batched writes", Target: goalIngestRatio, Value: r.IngestToBaseline, Met: r.IngestToBaseline >= goalIngestRatio},
		{Name: "first pull ops/s", Target: goalPullOpsSec, Value: r.Pull.WindowOpsPerSec, Met: r.Pull.WindowOpsPerSec >= goalPullOpsSec},
	}
	if r.Pull.WindowOps < goalPullOps {
		r.Goals[1].Note = fmt.Sprintf("measured on %s ops; the goal is stated for %s", thousands(float64(r.Pull.WindowOps)), thousands(goalPullOps))
	}
}

func (r *report) writeJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func (r *report) writeText(w io.Writer) {
	b, in, p := r.Baseline, r.Ingest, r.Pull
	fmt.Fprintf(w, "fieldsync load test, %s\n", r.Started.Format(time.RFC3339))
	fmt.Fprintf(w, "machine     %d CPUs (GOMAXPROCS %d), %s/%s, %s\n", r.Machine.CPUs, r.Machine.GOMAXPROCS, r.Machine.OS, r.Machine.Arch, r.Machine.Go)
	if r.Machine.LoadStart != "" {
		fmt.Fprintf(w, "load avg    %s at the start, %s at the end", r.Machine.LoadStart, r.Machine.LoadEnd)
		if busy(r.Machine.LoadStart, r.Machine.CPUs) || busy(r.Machine.LoadEnd, r.Machine.CPUs) {
			fmt.Fprintf(w, ": WARNING, other work was running; the figures are skewed by it")
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "server      %s\n", r.Server)
	fmt.Fprintf(w, "wire        compression %s, note texts %s\n\n", r.Compression, map[bool]string{true: "unique", false: "from a few fixed ones"}[r.UniqueNotes])

	fmt.Fprintf(w, "baseline    %s raw batched writes\n", b.Badger)
	fmt.Fprintf(w, "            %s\n", b.Description)
	fmt.Fprintf(w, "            %s ops in %.2f s = %s ops/s (%s)\n\n", thousands(float64(b.Ops)), b.Seconds, thousands(b.OpsPerSec), r.cpuShare(b.CPUSeconds, b.Seconds))

	fmt.Fprintf(w, "ingest      %d devices (%s), pushes of %d ops over keep-alive HTTP, each op durable when answered\n", in.Devices, plural(in.Teams, "team"), in.Batch)
	fmt.Fprintf(w, "            %s ops in %d pushes, %.2f s = %s ops/s (%s)\n", thousands(float64(in.Ops)), in.Pushes, in.Seconds, thousands(in.OpsPerSec), r.cpuShare(in.CPUSeconds, in.Seconds))
	fmt.Fprintf(w, "            push latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", in.P50Millis, in.P99Millis, in.MaxMillis)
	fmt.Fprintf(w, "            request body %.0f B/op, response body %.0f B/op, on the wire %.0f B/op (both ways, HTTP headers included)\n",
		in.RequestBytesPerOp, in.AnswerBytesPerOp, in.WireBytesPerOp)
	fmt.Fprintf(w, "            applied %s of %s, failed %s, re-sent after 429: %d\n\n", thousands(float64(in.Applied)), thousands(float64(in.Ops)), thousands(float64(in.Failed)), in.Retries)

	fmt.Fprintf(w, "first pull  a fresh national supervisor device, limit %d, decoding every page\n", p.Limit)
	fmt.Fprintf(w, "            first %s ops (%s) in %.2f s = %s ops/s (%.2f s of it in HTTP exchanges)\n",
		thousands(float64(p.WindowOps)), plural(p.WindowPages, "page"), p.WindowSeconds, thousands(p.WindowOpsPerSec), p.WindowHTTPSeconds)
	fmt.Fprintf(w, "            all %s ops (%s) in %.2f s = %s ops/s (%.2f s in HTTP exchanges; %s)\n",
		thousands(float64(p.Ops)), plural(p.Pages, "page"), p.Seconds, thousands(p.OpsPerSec), p.HTTPSeconds, r.cpuShare(p.CPUSeconds, p.Seconds))
	fmt.Fprintf(w, "            response body %.0f B/op, on the wire %.0f B/op\n", p.AnswerBytesPerOp, p.WireBytesPerOp)
	fmt.Fprintf(w, "            pushed ops pulled back %s of %s, duplicates %d, missing %d, others' ops %d\n\n",
		thousands(float64(p.OwnOps)), thousands(float64(p.Expected)), p.Duplicates, p.Missing, p.Foreign)

	fmt.Fprintf(w, "goals\n")
	for i, g := range r.Goals {
		value, target := fmt.Sprintf("%.1f%%", 100*g.Value), fmt.Sprintf("≥ %.0f%%", 100*g.Target)
		if i == 1 {
			value, target = thousands(g.Value)+" ops/s", "≥ "+thousands(g.Target)+" ops/s"
		}
		verdict := "met"
		if !g.Met {
			verdict = "NOT met"
		}
		fmt.Fprintf(w, "  %-44s %-14s goal %-16s %s", g.Name, value, target, verdict)
		if g.Note != "" {
			fmt.Fprintf(w, " (%s)", g.Note)
		}
		fmt.Fprintln(w)
	}
	if r.FailedOps > 0 {
		fmt.Fprintf(w, "\nFAILED: %d ops; the first messages:\n", r.FailedOps)
		for _, m := range r.Failures {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}
}

// cpuShare says how much of the machine this process used in a phase.
func (r *report) cpuShare(cpu, wall float64) string {
	if cpu <= 0 || wall <= 0 {
		return "process CPU not measured"
	}
	return fmt.Sprintf("process CPU %.1f s, %.0f%% of %d CPUs", cpu, 100*cpu/wall/float64(r.Machine.CPUs), r.Machine.CPUs)
}

// busy reports whether a load average's 1-minute figure says other work
// kept at least half the CPUs busy.
func busy(load string, cpus int) bool {
	f := strings.Fields(load)
	if len(f) == 0 {
		return false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return err == nil && v >= float64(cpus)/2
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// thousands formats v rounded, with thin separators: 71,234.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
