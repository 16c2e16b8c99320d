package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the Prometheus series of one server: counts and latencies,
// never content or ids.
type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.HistogramVec
	ops         *prometheus.CounterVec
	pushSeconds prometheus.Histogram
	pulledOps   prometheus.Counter
	logins      *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fieldsync_http_request_duration_seconds", Help: "HTTP requests by route and status.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"method", "route", "status"}),
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fieldsync_pushed_ops_total", Help: "Pushed ops by result status and rejection code.",
		}, []string{"status", "code"}),
		pushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fieldsync_push_duration_seconds", Help: "Push latency including the durable commit.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		pulledOps: prometheus.NewCounter(prometheus.CounterOpts{Name: "fieldsync_pulled_ops_total", Help: "Ops served by pulls."}),
		logins:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fieldsync_logins_total", Help: "Logins by outcome."}, []string{"outcome"}),
	}
	m.registry.MustRegister(m.requests, m.ops, m.pushSeconds, m.pulledOps, m.logins,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) observeRequest(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Observe(d.Seconds())
}

// MetricsHandler serves GET /metrics in the Prometheus text format, for
// the metrics listener only (--metrics-addr): login failures and per-route
// counts are no business of the public API's callers.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	return mux
}
