package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"sync"
	"time"

	"github.com/fieldsync/fieldsync/api"
	"github.com/fieldsync/fieldsync/sync/protocol"
)

// ingestResult is the push phase's figures.
type ingestResult struct {
	Devices           int     `json:"devices"`
	Teams             int     `json:"teams"`
	Batch             int     `json:"batch"`
	Ops               int     `json:"ops"`
	Pushes            int     `json:"pushes"`
	Applied           int     `json:"applied"`
	Failed            int     `json:"failed"`
	Retries           int64   `json:"retries_429"`
	Seconds           float64 `json:"seconds"`
	OpsPerSec         float64 `json:"ops_per_sec"`
	CPUSeconds        float64 `json:"process_cpu_seconds"`
	P50Millis         float64 `json:"push_p50_ms"`
	P99Millis         float64 `json:"push_p99_ms"`
	MaxMillis         float64 `json:"push_max_ms"`
	RequestBytesPerOp float64 `json:"request_bytes_per_op"`
	AnswerBytesPerOp  float64 `json:"response_bytes_per_op"`
	WireBytesPerOp    float64 `json:"wire_bytes_per_op"`
}

// pushOutcome is one push's answer, kept raw and checked after the clock
// stops.
type pushOutcome struct {
	ex  exchange
	err error
}

// runIngest has every device push its batches, one at a time as a device
// does, all devices at once, and then checks every op's result. The
// request bodies were built before the clock starts and the answers are
// decoded after it stops, so on a shared machine the client takes as
// little CPU from the server as it can.
func runIngest(ctx context.Context, c *client, w *world, cfg config, failures *failureLog) (ingestResult, map[string]bool, error) {
	res := ingestResult{Devices: len(w.devices), Teams: len(w.teams), Batch: cfg.batch}
	outcomes := make([][]pushOutcome, len(w.devices))
	for i, d := range w.devices {
		outcomes[i] = make([]pushOutcome, len(d.batches))
		res.Pushes += len(d.batches)
		for _, b := range d.batches {
			res.Ops += len(b.ids)
			res.RequestBytesPerOp += float64(len(b.body))
		}
	}
	if cfg.cpuProfile != "" {
		stop, err := startProfile(cfg.cpuProfile)
		if err != nil {
			return res, nil, err
		}
		defer stop()
	}
	if cfg.trace != "" {
		stop, err := startTrace(cfg.trace)
		if err != nil {
			return res, nil, err
		}
		defer stop()
	}
	retries0 := c.retries.Load()
	in0, out0 := c.wire.snapshot()
	ready := make(chan struct{})
	var wg sync.WaitGroup
	for i, d := range w.devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ready
			for j, b := range d.batches {
				ex, err := c.do(ctx, http.MethodPost, "/v1/sync/push", d.s, b.body)
				outcomes[i][j] = pushOutcome{ex: ex, err: err}
				if err != nil && ctx.Err() != nil {
					return
				}
			}
		}()
	}
	cpu0, start := processCPU(), time.Now()
	close(ready)
	wg.Wait()
	elapsed := time.Since(start)
	res.CPUSeconds = (processCPU() - cpu0).Seconds()
	in1, out1 := c.wire.snapshot()
	res.Retries = c.retries.Load() - retries0
	if err := ctx.Err(); err != nil {
		return res, nil, err
	}

	var lat []time.Duration
	var answerBytes int
	applied := make(map[string]bool, res.Ops)
	for i, d := range w.devices {
		for j, b := range d.batches {
			o := outcomes[i][j]
			answerBytes += len(o.ex.body)
			n := checkPush(d, j, b, o, applied, failures)
			res.Applied += n
			res.Failed += len(b.ids) - n
			if o.err == nil {
				lat = append(lat, o.ex.elapsed)
			}
		}
	}
	slices.Sort(lat)
	res.Seconds = elapsed.Seconds()
	res.OpsPerSec = float64(res.Applied) / elapsed.Seconds()
	res.P50Millis, res.P99Millis, res.MaxMillis = millis(percentile(lat, 50)), millis(percentile(lat, 99)), millis(percentile(lat, 100))
	res.RequestBytesPerOp /= float64(res.Ops)
	res.AnswerBytesPerOp = float64(answerBytes) / float64(res.Ops)
	res.WireBytesPerOp = float64(in1-in0+out1-out0) / float64(res.Ops)
	return res, applied, nil
}

// checkPush checks one push's answer: a 200 with one result per op, in
// order, each applied. It adds the applied ops' ids to applied, returns
// how many there were and logs the rest.
func checkPush(d *device, j int, b batch, o pushOutcome, applied map[string]bool, failures *failureLog) int {
	where := fmt.Sprintf("device %d push %d", d.idx+1, j+1)
	if o.err != nil {
		failures.add(len(b.ids), "%s: %v", where, o.err)
		return 0
	}
	if o.ex.status != http.StatusOK {
		failures.add(len(b.ids), "%s: %v", where, newAPIError(o.ex.status, o.ex.body))
		return 0
	}
	var pr api.PushResponse
	if err := json.Unmarshal(o.ex.body, &pr); err != nil {
		failures.add(len(b.ids), "%s: the answer does not decode: %v", where, err)
		return 0
	}
	if len(pr.Results) != len(b.ids) {
		failures.add(len(b.ids), "%s: %d results for %d ops", where, len(pr.Results), len(b.ids))
		return 0
	}
	n := 0
	for k, r := range pr.Results {
		switch {
		case r.ID != b.ids[k]:
			failures.add(1, "%s: result %d names op %s, expected %s", where, k, r.ID, b.ids[k])
		case r.Status != protocol.StatusApplied:
			failures.add(1, "%s: op %s %s %s: %s", where, r.ID, r.Status, r.Code, r.Message)
		case r.HLC == "":
			failures.add(1, "%s: op %s applied without its stored hlc", where, r.ID)
		default:
			applied[r.ID] = true
			n++
		}
	}
	return n
}

// percentile returns the p-th percentile (nearest rank) of sorted d.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	rank := int(float64(len(d))*p/100+0.999999) - 1
	return d[min(max(rank, 0), len(d)-1)]
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// startProfile starts a CPU profile into path and returns its stop.
func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start the CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// startTrace starts an execution trace into path and returns its stop.
func startTrace(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create the trace: %w", err)
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start the trace: %w", err)
	}
	return func() {
		trace.Stop()
		f.Close()
	}, nil
}

// failureLog counts failed ops and keeps the first messages.
type failureLog struct {
	count    int
	messages []string
}

const keptFailures = 20

func (f *failureLog) add(ops int, format string, args ...any) {
	f.count += ops
	if len(f.messages) < keptFailures {
		f.messages = append(f.messages, fmt.Sprintf(format, args...))
	}
}
