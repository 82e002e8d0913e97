package runner

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gantryops/gantry/engine"
	"github.com/gantryops/gantry/gate"
	"github.com/gantryops/gantry/plan"
)

// Metrics are the Prometheus metrics of `gantry run`, on a registry of
// their own (no global state).
type Metrics struct {
	// Registry holds every metric below plus the Go and process collectors.
	Registry *prometheus.Registry

	reconciles    *prometheus.CounterVec
	planDuration  *prometheus.HistogramVec
	applyDuration *prometheus.HistogramVec
	changes       *prometheus.GaugeVec
	pending       *prometheus.GaugeVec
	lastSuccess   *prometheus.GaugeVec
	drift         *prometheus.GaugeVec
	requests      *prometheus.CounterVec
	webhooks      *prometheus.CounterVec
}

// NewMetrics registers gantry's metrics on a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_reconciles_total",
			Help: "Reconciles by stack, the phase they ended in (render, plan, gate, apply) and their result (the reconcile outcome).",
		}, []string{"stack", "phase", "result"}),
		planDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gantry_plan_duration_seconds",
			Help:    "How long planning took.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}, []string{"stack"}),
		applyDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gantry_apply_duration_seconds",
			Help:    "How long applying took, readiness wait included.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 10),
		}, []string{"stack"}),
		changes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gantry_plan_changes",
			Help: "Changes of the stack's last plan, by action (create, update, adopt, replace, delete).",
		}, []string{"stack", "action"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gantry_pending_approvals",
			Help: "Plans of the stack waiting for approval (0 or 1).",
		}, []string{"stack"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gantry_last_success_timestamp_seconds",
			Help: "When the stack last reconciled without error (Unix time).",
		}, []string{"stack"}),
		drift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gantry_drift_detected",
			Help: "Objects of the stack's last plan that changed out of band.",
		}, []string{"stack"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_api_requests_total",
			Help: "Kubernetes API requests made by reconciles (watches excluded).",
		}, []string{"stack"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_webhooks_total",
			Help: "Webhook deliveries by result (triggered, ignored, unauthorized, too-large, bad-request).",
		}, []string{"result"}),
	}
	m.Registry.MustRegister(m.reconciles, m.planDuration, m.applyDuration, m.changes, m.pending, m.lastSuccess, m.drift, m.requests, m.webhooks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe records one reconcile.
func (m *Metrics) observe(res *engine.ReconcileResult, phase engine.Phase, err error, now float64) {
	result := string(res.Outcome)
	if err != nil {
		result = string(failedOutcome(res))
	}
	m.reconciles.WithLabelValues(res.Stack, string(phase), result).Inc()
	m.requests.WithLabelValues(res.Stack).Add(float64(res.Requests))
	if res.PlanDuration > 0 {
		m.planDuration.WithLabelValues(res.Stack).Observe(res.PlanDuration.Seconds())
	}
	if res.ApplyDuration > 0 {
		m.applyDuration.WithLabelValues(res.Stack).Observe(res.ApplyDuration.Seconds())
	}
	if res.Plan != nil {
		counts := map[plan.Action]int{}
		for _, c := range res.Plan.Changes {
			counts[c.Action]++
		}
		for _, a := range []plan.Action{plan.ActionCreate, plan.ActionUpdate, plan.ActionAdopt, plan.ActionReplace, plan.ActionDelete} {
			m.changes.WithLabelValues(res.Stack, string(a)).Set(float64(counts[a]))
		}
		m.drift.WithLabelValues(res.Stack).Set(float64(res.Drift))
	}
	if err == nil && res.Outcome != gate.Locked {
		pending := 0.0
		if res.Outcome == gate.Pending {
			pending = 1
		}
		m.pending.WithLabelValues(res.Stack).Set(pending)
		m.lastSuccess.WithLabelValues(res.Stack).Set(now)
	}
}

// Webhook counts one webhook delivery by its result (triggered, ignored,
// unauthorized, bad-request, too-large, busy, ...).
func (m *Metrics) Webhook(result string) { m.webhooks.WithLabelValues(result).Inc() }
