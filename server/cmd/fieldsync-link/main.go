// Command fieldsync-link measures what a fresh device costs on a slow
// link (issue 13): an in-process server on 127.0.0.1 holding -ops ops
// over -records identifications of one team (unique note texts), and one
// fresh field-worker device (the Go SDK) per scenario, in the same run:
// on a simulated -bandwidth, -rtt link that cuts the connection every
// -cut bytes, and on the clean loopback; each with and without compression
// and with and without a snapshot bootstrap (open cases first).
//
// For each scenario it reports the bytes on the wire (both ways, HTTP
// headers included) per op, and per record for a snapshot; the time until
// the open cases are usable (for a snapshot: the page that completes them;
// for a pull: the end, as ops come in sequence order) and until
// everything is in; the bytes re-sent after cuts. On the slow link the
// times are computed from the bytes and round trips that crossed it (one
// round trip per request and per connection opened, the bytes at the
// link's rate; nothing sleeps, so the figures do not depend on the
// machine's load, and the device's clock follows the computed time so that
// its page sizes adapt to the link); on the loopback they are measured
// wall times, which on a shared machine vary with its load. Every device
// is checked against the server: every record, a sample byte for byte.
//
// Usage:
//
//	go run ./server/cmd/fieldsync-link [-ops 100000] [-records 10000] [-open 0.2] [-bandwidth 256000] [-rtt 300ms] [-cut 2097152]
//
// It prints a Markdown table (the README's), and exits 1 when a device
// did not end with the server's records.
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
	"time"
)

// config is what the flags say.
type config struct {
	ops, records int
	open         float64
	bandwidth    float64
	rtt          time.Duration
	cut          int64
	sample       int
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("fieldsync-link", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.ops, "ops", 100000, "ops the team's records hold")
	fs.IntVar(&c.records, "records", 10000, "identifications of the team")
	fs.Float64Var(&c.open, "open", 0.2, "share of the records that are open cases (potential or presumed)")
	fs.Float64Var(&c.bandwidth, "bandwidth", 256000, "the slow link's rate in bits per second")
	fs.DurationVar(&c.rtt, "rtt", 300*time.Millisecond, "the slow link's round trip")
	fs.Int64Var(&c.cut, "cut", 2<<20, "the slow link cuts the connection every this many bytes received (0: never)")
	fs.IntVar(&c.sample, "sample", 200, "records of each device compared byte for byte with the server's")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var errs []error
	if c.records < 1 || c.ops < 8*c.records {
		errs = append(errs, errors.New("-records must be at least 1 and -ops at least 8 per record"))
	}
	if c.open < 0 || c.open > 1 {
		errs = append(errs, errors.New("-open must be between 0 and 1"))
	}
	if c.bandwidth <= 0 || c.rtt < 0 || c.cut < 0 {
		errs = append(errs, errors.New("-bandwidth must be positive, -rtt and -cut at least 0"))
	}
	return c, errors.Join(errs...)
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fieldsync-link: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rows, err := run(ctx, cfg, os.Stderr)
	stop()
	writeTable(os.Stdout, cfg, rows)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fieldsync-link: %v\n", err)
		os.Exit(1)
	}
}

// run builds the world and measures every scenario.
func run(ctx context.Context, cfg config, progress io.Writer) (rows []row, err error) {
	w, err := startServer(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, w.close()) }()
	if err := w.setup(ctx); err != nil {
		return nil, err
	}
	if err := w.fill(ctx, cfg.records, cfg.ops, cfg.open, progress); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "fill: %d ops applied, %d of the records are open cases\n", w.ops, w.open)
	for _, slow := range []bool{true, false} {
		for _, compress := range []bool{false, true} {
			for _, snapshot := range []bool{false, true} {
				sc := scenario{slow: slow, compress: compress, snapshot: snapshot}
				fmt.Fprintf(progress, "device: %s\n", sc)
				r, err := measure(ctx, w, cfg, sc)
				if err != nil {
					return rows, fmt.Errorf("%s: %w", sc, err)
				}
				rows = append(rows, r)
			}
		}
	}
	return rows, nil
}
