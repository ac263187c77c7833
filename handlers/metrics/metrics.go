// Package metrics is onnxserve's Prometheus metrics: Triton's
// nv_inference_* counters with their names and meanings, so that Triton's
// dashboards work unchanged, and what Triton lacks: latency histograms in
// seconds, batch sizes, requests by protocol, route and status, model
// state and memory, and the Go and process collectors. It observes the
// runtime's runs (runtime.Observer) and the core's requests
// (inference.Observer); the front ends count their own requests through
// HTTP and GRPC. It knows no HTTP framework and no gRPC.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/onnxserve/onnxserve/handlers/inference"
	"github.com/onnxserve/onnxserve/runtime"
)

// DefaultBuckets are the latency histograms' bucket bounds in seconds:
// from the tenth of a millisecond a small model answers in to the seconds
// a large batch may take.
var DefaultBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// batchBuckets are rows per ORT run: powers of two, as batch sizes are
// usually chosen.
var batchBuckets = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}

// Options configure the metrics.
type Options struct {
	// Buckets are the latency histograms' bounds in seconds; nil is
	// DefaultBuckets.
	Buckets []float64
}

// Metrics holds every metric of one server and its registry.
type Metrics struct {
	reg *prometheus.Registry

	success, failure, count, exec *prometheus.CounterVec
	requestUS, queueUS            *prometheus.CounterVec
	inputUS, inferUS, outputUS    *prometheus.CounterVec
	request, queue, compute       *prometheus.HistogramVec
	batch                         *prometheus.HistogramVec
	http, grpc                    *prometheus.CounterVec
	inflight                      *prometheus.GaugeVec
	httpInflight, grpcInflight    prometheus.Gauge
	routesMu                      sync.RWMutex
	routes                        map[routeCode]prometheus.Counter

	// models are each model version's metrics, bound to its labels once:
	// a lookup by pointer costs a request no label hashing.
	models sync.Map // *runtime.Model → *modelMetrics
}

// modelMetrics are one model version's metrics.
type modelMetrics struct {
	success, count, exec                        prometheus.Counter
	rejected, canceled, backend, other          prometheus.Counter
	requestUS, queueUS, inputUS, inferUS, outUS prometheus.Counter
	request, queue, compute, batch              prometheus.Observer
}

var modelLabels = []string{"model", "version"}

// New returns the metrics, registered with the Go and process collectors.
func New(opt Options) *Metrics {
	if opt.Buckets == nil {
		opt.Buckets = DefaultBuckets
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	histogram := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, modelLabels)
	}
	m := &Metrics{
		reg:       prometheus.NewRegistry(),
		success:   counter("nv_inference_request_success", "Number of successful inference requests, all batch sizes.", modelLabels...),
		failure:   counter("nv_inference_request_failure", "Number of failed inference requests, all batch sizes, by reason: REJECTED (queue full), CANCELED (client gone or deadline passed), BACKEND (ONNX Runtime failed), OTHER.", "model", "version", "reason"),
		count:     counter("nv_inference_count", "Number of inferences performed: the rows (batch) of successful requests.", modelLabels...),
		exec:      counter("nv_inference_exec_count", "Number of model executions (ONNX Runtime runs); nv_inference_count / nv_inference_exec_count is the mean batch.", modelLabels...),
		requestUS: counter("nv_inference_request_duration_us", "Cumulative inference request duration in microseconds, of successful requests.", modelLabels...),
		queueUS:   counter("nv_inference_queue_duration_us", "Cumulative time successful requests waited for a run slot or their batch, in microseconds.", modelLabels...),
		inputUS:   counter("nv_inference_compute_input_duration_us", "Cumulative compute input duration in microseconds (wrapping tensors for ONNX Runtime, merging batches), per successful request.", modelLabels...),
		inferUS:   counter("nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in microseconds (ONNX Runtime's run), per successful request.", modelLabels...),
		outputUS:  counter("nv_inference_compute_output_duration_us", "Cumulative compute output duration in microseconds (reading outputs back), per successful request.", modelLabels...),
		request:   histogram("onnxserve_request_duration_seconds", "Inference request duration of successful requests, in seconds.", opt.Buckets),
		queue:     histogram("onnxserve_queue_duration_seconds", "Time successful requests waited for a run slot or their batch, in seconds.", opt.Buckets),
		compute:   histogram("onnxserve_compute_duration_seconds", "Duration of one ONNX Runtime run with its input and output work, in seconds.", opt.Buckets),
		batch:     histogram("onnxserve_batch_size", "Rows per ONNX Runtime run.", batchBuckets),
		http:      counter("onnxserve_http_requests_total", "HTTP requests by route and status code.", "route", "code"),
		grpc:      counter("onnxserve_grpc_requests_total", "gRPC calls by method and status code.", "method", "code"),
		inflight:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "onnxserve_inflight_requests", Help: "Requests being served, by protocol."}, []string{"protocol"}),
	}
	m.httpInflight, m.grpcInflight = m.inflight.WithLabelValues(HTTPProtocol), m.inflight.WithLabelValues(GRPCProtocol)
	m.routes = map[routeCode]prometheus.Counter{}
	m.reg.MustRegister(m.success, m.failure, m.count, m.exec, m.requestUS, m.queueUS, m.inputUS, m.inferUS, m.outputUS,
		m.request, m.queue, m.compute, m.batch, m.http, m.grpc, m.inflight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Watch adds the metrics read from the core at each scrape: queued
// requests, model state and memory, the bytes requests hold.
func (m *Metrics) Watch(core *inference.Core) {
	m.reg.MustRegister(&models{core: core, metrics: m})
	budget := core.Budget()
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "onnxserve_inflight_bytes",
		Help: "Bytes that requests in flight hold (bodies, gRPC messages, decoded tensors), of --max-inflight-bytes."},
		func() float64 { return float64(budget.Held()) }))
	if limit := budget.Limit(); limit > 0 {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "onnxserve_inflight_bytes_limit",
			Help: "--max-inflight-bytes: the most bytes requests in flight may hold."},
			func() float64 { return float64(limit) }))
	}
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *Metrics) of(model *runtime.Model) *modelMetrics {
	if mm, ok := m.models.Load(model); ok {
		return mm.(*modelMetrics)
	}
	l := prometheus.Labels{"model": model.Name, "version": model.Version}
	fail := func(reason string) prometheus.Counter {
		return m.failure.WithLabelValues(model.Name, model.Version, reason)
	}
	mm := &modelMetrics{
		success: m.success.With(l), count: m.count.With(l), exec: m.exec.With(l),
		rejected: fail("REJECTED"), canceled: fail("CANCELED"), backend: fail("BACKEND"), other: fail("OTHER"),
		requestUS: m.requestUS.With(l), queueUS: m.queueUS.With(l), inputUS: m.inputUS.With(l), inferUS: m.inferUS.With(l), outUS: m.outputUS.With(l),
		request: m.request.With(l), queue: m.queue.With(l), compute: m.compute.With(l), batch: m.batch.With(l),
	}
	actual, _ := m.models.LoadOrStore(model, mm)
	return actual.(*modelMetrics)
}

// Ran counts one ORT run (runtime.Observer).
func (m *Metrics) Ran(model *runtime.Model, run runtime.Run) {
	mm := m.of(model)
	mm.exec.Inc()
	mm.compute.Observe((run.Input + run.Infer + run.Output).Seconds())
	mm.batch.Observe(float64(max(run.Rows, 1)))
}

// Served counts one inference request (inference.Observer): a success with
// its durations, or a failure by reason, as Triton counts them.
func (m *Metrics) Served(model *runtime.Model, r *inference.Record) {
	mm := m.of(model)
	if r.Err != nil {
		switch r.Err.Kind {
		case inference.Overloaded:
			mm.rejected.Inc()
		case inference.Cancelled, inference.DeadlineExceeded:
			mm.canceled.Inc()
		case inference.Internal:
			mm.backend.Inc()
		default:
			mm.other.Inc()
		}
		return
	}
	mm.success.Inc()
	mm.count.Add(float64(max(r.Rows, 1)))
	mm.requestUS.Add(us(r.Duration))
	mm.queueUS.Add(us(r.Queue))
	mm.inputUS.Add(us(r.Run.Input))
	mm.inferUS.Add(us(r.Run.Infer))
	mm.outUS.Add(us(r.Run.Output))
	mm.request.Observe(r.Duration.Seconds())
	mm.queue.Observe(r.Queue.Seconds())
}

func us(d time.Duration) float64 { return float64(d.Microseconds()) }

// HTTP counts one HTTP request on route ("" for one that matched none)
// answered with code. A route's counter for a code is looked up once and
// kept: a request pays a map read under a shared lock, no label hashing.
func (m *Metrics) HTTP(route string, code int) {
	if route == "" {
		route = "unmatched"
	}
	key := routeCode{route, code}
	m.routesMu.RLock()
	c, ok := m.routes[key]
	m.routesMu.RUnlock()
	if !ok {
		c = m.http.WithLabelValues(route, strconv.Itoa(code))
		m.routesMu.Lock()
		m.routes[key] = c
		m.routesMu.Unlock()
	}
	c.Inc()
}

type routeCode struct {
	route string
	code  int
}

// GRPC counts one gRPC call of method (its full name) that ended with
// code (its name, e.g. "OK").
func (m *Metrics) GRPC(method, code string) { m.grpc.WithLabelValues(method, code).Inc() }

// Protocols of the in-flight gauge.
const (
	HTTPProtocol = "http"
	GRPCProtocol = "grpc"
)

// Enter counts a request in flight on protocol until Leave.
func (m *Metrics) Enter(protocol string) { m.inflightOf(protocol).Inc() }

// Leave ends what Enter counted.
func (m *Metrics) Leave(protocol string) { m.inflightOf(protocol).Dec() }

func (m *Metrics) inflightOf(protocol string) prometheus.Gauge {
	if protocol == GRPCProtocol {
		return m.grpcInflight
	}
	return m.httpInflight
}
