package notify

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantryops/gantry/state"
)

// Metrics count the dispatcher's attempts by provider and result, and the
// deliveries queued, for gantry run's /metrics.
type Metrics struct {
	attempts *prometheus.CounterVec
	queued   *prometheus.GaugeVec
}

// NewMetrics registers the notification metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_notifications_total",
			Help: "Notification attempts by provider and result: sent, retried (failed, to be tried again), dead (failed its last attempt).",
		}, []string{"provider", "result"}),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gantry_notifications_queued",
			Help: "Deliveries waiting to be sent (or retried), by provider, as of the dispatcher's last round.",
		}, []string{"provider"}),
	}
	reg.MustRegister(m.attempts, m.queued)
	return m
}

// attempt counts one attempt's result.
func (m *Metrics) attempt(provider string, r state.DeliveryResult) {
	if m == nil {
		return
	}
	result := "retried"
	switch {
	case r.Sent:
		result = "sent"
	case r.Dead:
		result = "dead"
	}
	m.attempts.WithLabelValues(provider, result).Inc()
}

// setQueued records the queued deliveries of each provider (none: 0).
func (m *Metrics) setQueued(providers []Provider, queued map[string]int) {
	if m == nil {
		return
	}
	for _, p := range providers {
		m.queued.WithLabelValues(p.Name()).Set(float64(queued[p.Name()]))
	}
}

// Counter is the attempts counter of provider and result (tests).
func (m *Metrics) Counter(provider, result string) prometheus.Counter {
	return m.attempts.WithLabelValues(provider, result)
}

// Queued is the queued gauge of provider (tests).
func (m *Metrics) Queued(provider string) prometheus.Gauge { return m.queued.WithLabelValues(provider) }
