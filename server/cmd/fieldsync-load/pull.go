package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/fieldsync/fieldsync/api"
)

// pullResult is the first pull's figures.
type pullResult struct {
	Limit int `json:"limit"`
	// Window* measure the first -pull ops (whole pages up to at least
	// that many): the figure the goal is about.
	WindowOps         int     `json:"window_ops"`
	WindowPages       int     `json:"window_pages"`
	WindowSeconds     float64 `json:"window_seconds"`
	WindowOpsPerSec   float64 `json:"window_ops_per_sec"`
	WindowHTTPSeconds float64 `json:"window_http_seconds"`
	// The whole pull, to the end of the feed.
	Ops              int     `json:"ops"`
	Pages            int     `json:"pages"`
	Seconds          float64 `json:"seconds"`
	OpsPerSec        float64 `json:"ops_per_sec"`
	HTTPSeconds      float64 `json:"http_seconds"`
	CPUSeconds       float64 `json:"process_cpu_seconds"`
	AnswerBytesPerOp float64 `json:"response_bytes_per_op"`
	WireBytesPerOp   float64 `json:"wire_bytes_per_op"`
	// The check against what was pushed.
	OwnOps     int `json:"own_ops"`
	Expected   int `json:"expected"`
	Duplicates int `json:"duplicates"`
	Missing    int `json:"missing"`
	Foreign    int `json:"foreign"`
}

// runPull logs a national supervisor in on a fresh device after the push
// phase and pulls the whole feed with limit pullLimit, decoding each page
// as a device does. The rate the goal is about is that of the first
// cfg.pull ops, end to end (request, transfer and the client's decoding);
// the time inside HTTP exchanges alone is reported beside it. Then it
// checks that every pushed op came back exactly once.
func runPull(ctx context.Context, c *client, w *world, cfg config, pushed map[string]bool, inProcess bool, failures *failureLog) (pullResult, error) {
	res := pullResult{Limit: pullLimit, Expected: len(pushed)}
	s, err := c.login(ctx, w.supervisor, w.password, "fresh supervisor tablet")
	if err != nil {
		return res, err
	}
	if cfg.pullCPUProfile != "" {
		stop, err := startProfile(cfg.pullCPUProfile)
		if err != nil {
			return res, err
		}
		defer stop()
	}
	in0, out0 := c.wire.snapshot()
	var pages [][]json.RawMessage
	var answerBytes int
	var httpTime time.Duration
	cursor := ""
	cpu0, start := processCPU(), time.Now()
	for {
		ex, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/sync/pull?cursor=%s&limit=%d", url.QueryEscape(cursor), pullLimit), s, nil)
		if err != nil {
			return res, fmt.Errorf("pull page %d: %w", res.Pages+1, err)
		}
		if ex.status != http.StatusOK {
			return res, fmt.Errorf("pull page %d: %w", res.Pages+1, newAPIError(ex.status, ex.body))
		}
		var page api.PullResponse
		if err := json.Unmarshal(ex.body, &page); err != nil {
			return res, fmt.Errorf("pull page %d: decode: %w", res.Pages+1, err)
		}
		httpTime += ex.elapsed
		answerBytes += len(ex.body)
		res.Pages++
		res.Ops += len(page.Ops)
		pages = append(pages, page.Ops)
		if res.WindowPages == 0 && (res.Ops >= cfg.pull || !page.More) {
			res.WindowPages, res.WindowOps = res.Pages, res.Ops
			res.WindowSeconds, res.WindowHTTPSeconds = time.Since(start).Seconds(), httpTime.Seconds()
		}
		cursor = page.Cursor
		if !page.More {
			break
		}
	}
	elapsed := time.Since(start)
	res.CPUSeconds = (processCPU() - cpu0).Seconds()
	in1, out1 := c.wire.snapshot()
	res.Seconds, res.HTTPSeconds = elapsed.Seconds(), httpTime.Seconds()
	res.OpsPerSec = float64(res.Ops) / res.Seconds
	res.WindowOpsPerSec = float64(res.WindowOps) / res.WindowSeconds
	if res.Ops > 0 {
		res.AnswerBytesPerOp = float64(answerBytes) / float64(res.Ops)
		res.WireBytesPerOp = float64(in1-in0+out1-out0) / float64(res.Ops)
	}

	// Every pushed op exactly once; on a shared server, others' ops may
	// come too, on this run's own server none may.
	seen := make(map[string]bool, len(pushed))
	for _, ops := range pages {
		for _, raw := range ops {
			var op struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				failures.add(1, "pulled op does not decode: %v", err)
				continue
			}
			switch {
			case !pushed[op.ID]:
				res.Foreign++
			case seen[op.ID]:
				res.Duplicates++
			default:
				seen[op.ID] = true
				res.OwnOps++
			}
		}
	}
	res.Missing = len(pushed) - res.OwnOps
	if res.Missing > 0 {
		failures.add(res.Missing, "the first pull returned %d of the %d pushed ops", res.OwnOps, len(pushed))
	}
	if res.Duplicates > 0 {
		failures.add(res.Duplicates, "the first pull returned %d ops more than once", res.Duplicates)
	}
	if inProcess && res.Foreign > 0 {
		failures.add(res.Foreign, "the first pull returned %d ops nobody pushed", res.Foreign)
	}
	return res, nil
}
