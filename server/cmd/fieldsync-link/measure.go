package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	fieldsync "github.com/fieldsync/fieldsync/clients/go"
)

// scenario is one fresh device's first sync.
type scenario struct {
	slow, compress, snapshot bool
}

func (s scenario) String() string {
	l, c, b := "loopback", "off", "pull every op"
	if s.slow {
		l = "slow link"
	}
	if s.compress {
		c = "on"
	}
	if s.snapshot {
		b = "snapshot"
	}
	return fmt.Sprintf("%s, compression %s, %s", l, c, b)
}

// row is one scenario's figures. Times are computed on the slow link and
// measured on the loopback.
type row struct {
	scenario
	ops, records int
	// wire is the bytes both ways from the first sync's start to its end;
	// snapshotWire those of the bootstrap alone.
	wire, snapshotWire int64
	requests, cuts     int
	resent             int64
	// openAt and allAt: the open cases usable, everything in.
	openAt, allAt time.Duration
	// wall is the measured wall time of the sync.
	wall time.Duration
	// pullPage and snapshotPage are the page sizes the device settled on.
	pullPage, snapshotPage int
}

// measure runs one fresh device's first sync over its link and checks it
// ends with the server's records.
func measure(ctx context.Context, w *world, cfg config, sc scenario) (row, error) {
	r := row{scenario: sc, ops: w.ops, records: len(w.records)}
	l := &link{}
	if sc.slow {
		l.bitsPerSec, l.rtt, l.cutEvery = cfg.bandwidth, cfg.rtt, cfg.cut
	}
	origin := time.Now()
	now := time.Now
	if sc.slow {
		now = func() time.Time { return origin.Add(l.elapsed()) }
	}
	var t0 time.Duration
	var in0, out0 int64
	elapsed := func() time.Duration {
		if sc.slow {
			return l.elapsed() - t0
		}
		return time.Since(origin) - t0
	}
	r.openAt = -1
	dir, err := os.MkdirTemp("", "fieldsync-link-device-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	opt := fieldsync.Options{ServerURL: w.base, HTTPClient: &http.Client{Transport: l.transport()}, Now: now, DeviceName: "fresh tablet",
		Logger: slog.New(slog.DiscardHandler), DisableCompression: !sc.compress, Bootstrap: sc.snapshot, MaxAttempts: 1000,
		Backoff: fieldsync.Backoff{Base: time.Millisecond, Max: 2 * time.Millisecond}, DisableEvents: true,
		OnBootstrap: func(p fieldsync.BootstrapProgress) {
			if r.openAt < 0 && p.Phase != fieldsync.BootstrapOpenCases {
				r.openAt = elapsed()
			}
			if p.Phase == fieldsync.BootstrapComplete {
				in, out := l.bytes()
				r.snapshotWire = in - in0 + out - out0
			}
		}}
	c, err := fieldsync.Open(dir, opt)
	if err != nil {
		return r, err
	}
	defer c.Close()
	if _, err := c.Login(ctx, w.worker, w.password); err != nil {
		return r, err
	}
	in0, out0 = l.bytes()
	req0 := l.requests
	t0 = elapsed()
	wall := time.Now()
	for attempt := 0; ; attempt++ {
		err := c.Sync(ctx)
		if err == nil {
			break
		}
		if attempt == 20 || ctx.Err() != nil {
			return r, fmt.Errorf("sync: %w", err)
		}
	}
	r.wall, r.allAt = time.Since(wall), elapsed()
	if r.openAt < 0 {
		r.openAt = r.allAt // ops come in sequence order: a record is whole only at the end
	}
	in, out := l.bytes()
	r.wire, r.requests, r.cuts, r.resent = in-in0+out-out0, l.requests-req0, l.cuts, l.resent
	st, err := c.Status(ctx)
	if err != nil {
		return r, err
	}
	r.pullPage, r.snapshotPage = st.PullPage, st.SnapshotPage
	if st.Records != len(w.records) {
		return r, fmt.Errorf("the device holds %d records; the team has %d", st.Records, len(w.records))
	}
	return r, w.check(ctx, c, cfg.sample)
}

// check compares sample records of the device (spread over the team's)
// with the server's, byte for byte.
func (w *world) check(ctx context.Context, c *fieldsync.Client, sample int) error {
	lead, err := w.login(ctx, w.lead, w.password)
	if err != nil {
		return err
	}
	step := max(len(w.records)/max(sample, 1), 1)
	for i := 0; i < len(w.records); i += step {
		id := w.records[i]
		got, err := c.RecordJSON(ctx, id, false)
		if err != nil {
			return fmt.Errorf("read record %s on the device: %w", id, err)
		}
		want, err := w.record(ctx, lead.AccessToken, id)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("record %s differs on the device:\n%s\nserver:\n%s", id, got, want)
		}
	}
	return nil
}

// record returns the server's GET /v1/records/{id} as token's user sees it.
func (w *world) record(ctx context.Context, token, id string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, w.base+"/v1/records/"+id, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/records/%s: HTTP %d %v", id, resp.StatusCode, err)
	}
	return body, nil
}

// writeTable prints the figures as a Markdown table.
func writeTable(out io.Writer, cfg config, rows []row) {
	fmt.Fprintf(out, "| link | compression | first sync | wire B/op | wire B/record | requests | open cases usable | everything in | cuts | bytes re-sent | wall time (measured) | pages settled |\n")
	fmt.Fprintf(out, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		link, how := "loopback", "measured"
		if r.slow {
			link, how = fmt.Sprintf("%g kbit/s, %s RTT, cut every %s", cfg.bandwidth/1000, cfg.rtt, mib(cfg.cut)), "computed"
		}
		comp, first, perRecord, pages := "off", "pull every op", "", fmt.Sprintf("pull %d", r.pullPage)
		if r.compress {
			comp = "zstd"
		}
		if r.snapshot {
			first = "snapshot, open cases first"
			perRecord = fmt.Sprintf("%.0f", float64(r.snapshotWire)/float64(r.records))
			pages = fmt.Sprintf("snapshot %d, pull %d", r.snapshotPage, r.pullPage)
		}
		fmt.Fprintf(out, "| %s | %s | %s | %.1f | %s | %d | %s (%s) | %s (%s) | %d | %s | %s | %s |\n", link, comp, first,
			float64(r.wire)/float64(r.ops), perRecord, r.requests, seconds(r.openAt), how, seconds(r.allAt), how, r.cuts, mib(r.resent),
			seconds(r.wall), pages)
	}
}

func seconds(d time.Duration) string {
	if d >= 100*time.Second {
		return fmt.Sprintf("%.0f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
