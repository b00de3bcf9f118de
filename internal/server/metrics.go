package server

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values used by Metrics. Callers pass the outcome constants to
// ObserveRequest; the others are produced by the Observe methods themselves.
const (
	OutcomeAllowed = "allowed" // the request was answered and the object admitted
	OutcomeDenied  = "denied"  // the request was answered and the object refused
	OutcomeError   = "error"   // the request could not be answered (bad input, internal failure)
	// OutcomeAnswered is a Gatekeeper provider request answered with a
	// report per image: Gatekeeper, not hallmark, decides.
	OutcomeAnswered = "answered"

	DecisionAllowed             = "allowed"
	DecisionDenied              = "denied"
	DecisionAllowedWithWarnings = "allowed_with_warnings"
)

// verificationBuckets span a cache hit (tens of microseconds, all in the
// first bucket) to a cold verification against a slow registry, up to past
// Gatekeeper's 3 s budget and near the 10 s default webhook timeout, so the
// histogram shows both the warm path the p99 target is about and how close
// cold verifications get to the deadline.
var verificationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Metrics records hallmark's Prometheus metrics. Its methods are what the CLI
// wires into the hooks of admission, cache and oci, so that those packages
// stay free of Prometheus. All methods are safe for concurrent use, and a nil
// *Metrics discards every observation, so hooks need no nil checks.
//
// Label cardinality is bounded by design: endpoint, outcome, mode, decision,
// verdict, cached and result take a handful of fixed values; code is an HTTP
// status; host is what the registry client reports, a configured host
// pattern or "other" (oci.Options.OnResponse), never a host as a pod spec
// names it.
type Metrics struct {
	requests      *prometheus.CounterVec
	decisions     *prometheus.CounterVec
	verifications *prometheus.HistogramVec
	cacheLookups  *prometheus.CounterVec
	// cacheHits and cacheMisses are cacheLookups' two series, resolved once:
	// a hit is counted on every cached answer.
	cacheHits, cacheMisses prometheus.Counter
	registry               *prometheus.CounterVec
	generation             prometheus.Gauge
	reloads                *prometheus.CounterVec
	auditObjects           *prometheus.GaugeVec
	auditFindings          *prometheus.GaugeVec
	auditLastRun           prometheus.Gauge
	auditLeader            prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg. A nil reg
// leaves them unregistered, which tests use to observe without exporting.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallmark_admission_requests_total",
			Help: "Admission requests answered, by endpoint and outcome (allowed, denied, error).",
		}, []string{"endpoint", "outcome"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallmark_admission_decisions_total",
			Help: "Admission decisions, by enforcement mode and decision (allowed, denied, allowed_with_warnings).",
		}, []string{"mode", "decision"}),
		verifications: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hallmark_image_verification_duration_seconds",
			Help:    "Time to reach a verdict for one image, by verdict and whether it came from the cache.",
			Buckets: verificationBuckets,
		}, []string{"verdict", "cached"}),
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallmark_verification_cache_lookups_total",
			Help: "Verification cache lookups, by result (hit, miss).",
		}, []string{"result"}),
		registry: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallmark_registry_requests_total",
			Help: `Requests to registries, by registry host and HTTP status code ("0" when no response arrived).`,
		}, []string{"host", "code"}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hallmark_config_generation",
			Help: "Generation of the configuration in force; it increases with every successful reload.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallmark_config_reloads_total",
			Help: "Configuration reload attempts, by result (success, failure).",
		}, []string{"result"}),
		auditObjects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hallmark_audit_objects",
			Help: "Pods and workloads read by the last periodic audit, by compliance (compliant, noncompliant).",
		}, []string{"compliance"}),
		auditFindings: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hallmark_audit_images",
			Help: "Images of pods and workloads in the last periodic audit, by verdict (pass, fail, skipped).",
		}, []string{"verdict"}),
		auditLastRun: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hallmark_audit_last_run_timestamp_seconds",
			Help: "When the last periodic audit finished, in Unix seconds; 0 before the first.",
		}),
		auditLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hallmark_audit_leader",
			Help: "1 while this replica runs the periodic audit (it holds the audit lease, or no lease is used), else 0.",
		}),
	}
	// Series with a closed set of label values start at zero, so a rate()
	// or an alert on failures works before the first failure happens.
	m.cacheHits = m.cacheLookups.WithLabelValues("hit")
	m.cacheMisses = m.cacheLookups.WithLabelValues("miss")
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.decisions, m.verifications, m.cacheLookups, m.registry, m.generation, m.reloads,
			m.auditObjects, m.auditFindings, m.auditLastRun, m.auditLeader} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// ObserveRequest counts one admission request. endpoint names the route
// (such as "validate", "mutate", "gatekeeper_verify"), never the raw request
// path, which a client controls; outcome is OutcomeAllowed, OutcomeDenied,
// OutcomeAnswered or OutcomeError.
func (m *Metrics) ObserveRequest(endpoint, outcome string) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(endpoint, outcome).Inc()
}

// CountRequests wraps h and counts its requests under endpoint: a request
// refused before an answer (status 400 or more) as OutcomeError and, unless
// answered is empty, every other one under answered. Handlers that count
// their decisions themselves (the webhooks) pass "". The status comes from
// the recorder the server's own middleware put in front, when there is one.
func (m *Metrics) CountRequests(endpoint, answered string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recorderFor(w)
		h.ServeHTTP(rec, r)
		switch {
		case rec.status >= 400:
			m.ObserveRequest(endpoint, OutcomeError)
		case answered != "":
			m.ObserveRequest(endpoint, answered)
		}
	})
}

// ObserveDecision counts one admission decision made in mode ("deny" or
// "audit"). An allowed decision that carries warnings (audit mode letting an
// unverified image in) is counted apart from a clean allow, since that is
// the number an operator watches before switching to deny.
func (m *Metrics) ObserveDecision(mode string, allowed, warnings bool) {
	if m == nil {
		return
	}
	d := DecisionDenied
	switch {
	case allowed && warnings:
		d = DecisionAllowedWithWarnings
	case allowed:
		d = DecisionAllowed
	}
	m.decisions.WithLabelValues(mode, d).Inc()
}

// ObserveImage records how long reaching the verdict for one image took, and
// whether the verdict came from the cache.
func (m *Metrics) ObserveImage(verdict string, cached bool, d time.Duration) {
	if m == nil {
		return
	}
	m.verifications.WithLabelValues(verdict, strconv.FormatBool(cached)).Observe(d.Seconds())
}

// ObserveCacheLookup counts one verification cache lookup.
func (m *Metrics) ObserveCacheLookup(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.cacheHits.Inc()
	} else {
		m.cacheMisses.Inc()
	}
}

// ObserveRegistryResponse counts one request to a registry. host is the
// label the registry client reports (a configured pattern, or "other");
// status is the HTTP status code, or 0
// when no response arrived (connection refused, timeout, TLS failure).
func (m *Metrics) ObserveRegistryResponse(host string, status int) {
	if m == nil {
		return
	}
	m.registry.WithLabelValues(host, strconv.Itoa(status)).Inc()
}

// SetGeneration records the generation of the configuration now in force.
func (m *Metrics) SetGeneration(n uint64) {
	if m == nil {
		return
	}
	m.generation.Set(float64(n))
}

// ObserveReload counts one configuration reload attempt.
func (m *Metrics) ObserveReload(ok bool) {
	if m == nil {
		return
	}
	r := "failure"
	if ok {
		r = "success"
	}
	m.reloads.WithLabelValues(r).Inc()
}

// ObserveAudit records the outcome of one periodic audit: how many objects
// were compliant and not, and how many images had each verdict ("pass",
// "fail", "skipped"). The gauges hold the last audit's numbers.
func (m *Metrics) ObserveAudit(compliant, noncompliant int, images map[string]int, at time.Time) {
	if m == nil {
		return
	}
	m.auditObjects.WithLabelValues("compliant").Set(float64(compliant))
	m.auditObjects.WithLabelValues("noncompliant").Set(float64(noncompliant))
	for _, v := range []string{"pass", "fail", "skipped"} {
		m.auditFindings.WithLabelValues(v).Set(float64(images[v]))
	}
	m.auditLastRun.Set(float64(at.Unix()))
}

// SetAuditLeader records whether this replica runs the periodic audit. A
// replica that stops running it drops the last audit's object and image
// gauges, so that only the replica auditing now reports them.
func (m *Metrics) SetAuditLeader(leading bool) {
	if m == nil {
		return
	}
	if leading {
		m.auditLeader.Set(1)
		return
	}
	m.auditLeader.Set(0)
	m.auditObjects.Reset()
	m.auditFindings.Reset()
}
