// Command fieldsync-load is fieldsync's load generator: the end-to-end
// benchmark of DESIGN §8 (`task bench`). In one run, on one machine, it
// measures
//
//  1. baseline: badger's raw batched-write rate (SyncWrites, 500-op
//     transactions of two small keys per op), in its own temporary
//     directory;
//  2. ingest: N simulated devices (field workers of a few teams, one device
//     each) pushing realistic identification ops concurrently over HTTP
//     keep-alive connections: ops/s, push latency p50/p99/max, bytes per
//     op, and every op's result checked;
//  3. first pull: a fresh device of a national supervisor pulling
//     everything with limit 5000: ops/s and bytes per op, and the count
//     checked against what was pushed;
//
// and reports the ratio of durable ingest to the baseline against the goal
// (≥ 40%) and the first pull's rate against its goal (≥ 30,000 ops/s).
//
// Usage:
//
//	go run ./server/cmd/fieldsync-load [flags]
//
// With no -addr it starts a server in-process on 127.0.0.1:0 over a
// temporary data directory (removed afterwards). With -addr it targets a
// running server on the loopback interface, logging in as admin with
// -admin-password (or FIELDSYNC_ADMIN_PASSWORD) to create its teams and
// users, whose names carry a per-run prefix.
//
// -compress gzip|zstd sends pushes compressed and asks for compressed
// answers (the bytes on the wire are counted as sent); -unique-notes makes
// every note text unique, so compression is measured on text that does
// not repeat.
//
// -cpuprofile and -pull-cpuprofile write CPU profiles of the ingest and
// first-pull phases (go tool pprof), -trace an execution trace of the
// ingest phase (go tool trace -pprof=sched|sync|syscall shows where the
// wall time goes when the CPUs are not the limit). The report also gives
// the process's CPU time per phase and the machine's load average, since
// other work on the machine skews every figure.
//
// It exits 0 when every op was applied and pulled back (whether or not the
// goals are met: they are reported, never asserted), 1 when an op failed or
// the pull did not return what was pushed, 2 on bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// config is what the flags say.
type config struct {
	devices        int
	batch          int
	ops            int
	pull           int
	baselineOps    int
	addr           string
	adminPassword  string
	json           bool
	cpuProfile     string
	pullCPUProfile string
	trace          string
	// compress is the content coding of pushes and pull answers: off,
	// gzip or zstd.
	compress string
	// uniqueNotes makes every note text unique (random words), so that
	// compression is not measured on repeated strings.
	uniqueNotes bool
}

// maxBatch is the server's default limit of ops per push (DESIGN §5).
const maxBatch = 1000

// pullLimit is the page size the first pull asks for (the server's
// largest).
const pullLimit = 5000

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("fieldsync-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: fieldsync-load [flags]\n\n"+
			"Measures badger's raw batched-write rate, durable ingest by concurrent devices over HTTP\n"+
			"and a fresh device's first pull, in one run, and reports them against DESIGN §8's goals.\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.IntVar(&c.devices, "devices", 16, "simulated devices pushing concurrently (one field worker each)")
	fs.IntVar(&c.batch, "batch", 500, "ops per push (at most 1000, the server's default limit)")
	fs.IntVar(&c.ops, "ops", 200000, "total ops pushed in the ingest phase")
	fs.IntVar(&c.pull, "pull", 100000, "ops the first-pull rate is measured on (the first ones of the same data; the pull then goes on to the end)")
	fs.IntVar(&c.baselineOps, "baseline-ops", 200000, "ops written by the raw badger baseline")
	fs.StringVar(&c.addr, "addr", "", "target a running server at this loopback host:port (empty: start one in-process on 127.0.0.1:0 over a temporary directory)")
	fs.StringVar(&c.adminPassword, "admin-password", getenv("FIELDSYNC_ADMIN_PASSWORD"), "the target server's admin password, needed with -addr (FIELDSYNC_ADMIN_PASSWORD)")
	fs.BoolVar(&c.json, "json", false, "print the report as one line of JSON too, after the text")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the ingest phase to this file (go tool pprof)")
	fs.StringVar(&c.pullCPUProfile, "pull-cpuprofile", "", "write a CPU profile of the first-pull phase to this file")
	fs.StringVar(&c.trace, "trace", "", "write an execution trace of the ingest phase to this file (go tool trace; shows where wall time goes when the CPUs idle)")
	fs.StringVar(&c.compress, "compress", "off", "content coding of push bodies and pull answers: off, gzip or zstd (the SDK's default is zstd answers, gzip pushes)")
	fs.BoolVar(&c.uniqueNotes, "unique-notes", false, "write a unique note text (random words) in every note, instead of a few fixed ones: measure compression on text that does not repeat")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, c.validate()
}

func (c *config) validate() error {
	var errs []error
	if c.devices < 1 {
		errs = append(errs, errors.New("-devices must be at least 1"))
	}
	if c.batch < 1 || c.batch > maxBatch {
		errs = append(errs, fmt.Errorf("-batch must be between 1 and %d (the server's default ops per push)", maxBatch))
	}
	if c.ops < c.devices {
		errs = append(errs, errors.New("-ops must be at least -devices (every device pushes)"))
	}
	if c.pull < 1 {
		errs = append(errs, errors.New("-pull must be at least 1"))
	}
	if c.compress != "off" && c.compress != "gzip" && c.compress != "zstd" {
		errs = append(errs, fmt.Errorf("-compress %q must be off, gzip or zstd", c.compress))
	}
	if c.baselineOps < 1 {
		errs = append(errs, errors.New("-baseline-ops must be at least 1"))
	}
	if c.addr != "" {
		if _, err := loopbackURL(c.addr); err != nil {
			errs = append(errs, err)
		}
		if c.adminPassword == "" {
			errs = append(errs, errors.New("-addr needs the server's admin password: -admin-password or FIELDSYNC_ADMIN_PASSWORD"))
		}
	}
	return errors.Join(errs...)
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fieldsync-load: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rep, err := run(ctx, cfg, os.Stderr)
	stop()
	if rep != nil {
		rep.writeText(os.Stdout)
		if cfg.json {
			if jerr := rep.writeJSON(os.Stdout); jerr != nil && err == nil {
				err = jerr
			}
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fieldsync-load: %v\n", err)
		os.Exit(1)
	}
}
