package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Results of a policy reload, the values of policy_reloads_total's label.
const (
	ReloadOK    = "ok"
	ReloadError = "error"
)

// policyMetrics are the metrics of the fare book in use and of its
// reloads (tapsettle run reloads its policies on SIGHUP and when the
// policy directory changes).
type policyMetrics struct {
	reloads     *prometheus.CounterVec
	info        *prometheus.GaugeVec
	successful  prometheus.Gauge
	lastSuccess prometheus.Gauge

	mu      sync.Mutex
	current string // the fingerprint info shows, under mu
}

// newPolicyMetrics creates the policy metrics and registers them with reg
// (none when reg is nil).
func newPolicyMetrics(reg prometheus.Registerer) *policyMetrics {
	p := &policyMetrics{
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "policy_reloads_total",
			Help: "Fare policy reloads (SIGHUP, or a change in the policy directory), by result: ok (the book was valid and is in use, or unchanged) or error (the running book stays; the log says why)."},
			[]string{"result"}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "policy_info",
			Help: "1, labelled with the fingerprint of the fare book the service prices with (fares.Book.Fingerprint)."},
			[]string{"fingerprint"}),
		// The pair Prometheus itself exports for its configuration
		// reloads (prometheus_config_last_reload_*).
		successful: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "policy_last_reload_successful",
			Help: "1 when the last policy load (at start, or a reload) succeeded, 0 when it failed and the service prices with an older book than the policy directory holds."}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "policy_last_reload_success_timestamp_seconds",
			Help: "When the fare policies were last loaded successfully (at start, or a reload), in Unix seconds."}),
	}
	for _, r := range []string{ReloadOK, ReloadError} {
		p.reloads.WithLabelValues(r) // both from the start, for increase()
	}
	if reg != nil {
		reg.MustRegister(p.reloads, p.info, p.successful, p.lastSuccess)
	}
	return p
}

// PolicyLoaded records that the service prices with the fare book of
// fingerprint fp, loaded at t: at start. A reload goes through
// PolicyReloaded.
func (m *Metrics) PolicyLoaded(fp string, t time.Time) {
	m.policy.loaded(fp, t)
}

// PolicyReloaded counts one policy reload done at t. A nil err means the
// service now prices with the book of fingerprint fp (possibly the same
// as before); otherwise the reload failed, the running book stays and fp
// is ignored.
func (m *Metrics) PolicyReloaded(fp string, t time.Time, err error) {
	p := m.policy
	if err != nil {
		p.reloads.WithLabelValues(ReloadError).Inc()
		p.successful.Set(0)
		return
	}
	p.reloads.WithLabelValues(ReloadOK).Inc()
	p.loaded(fp, t)
}

func (p *policyMetrics) loaded(fp string, t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if fp != p.current {
		// One series: the book in use. A sum over instances counts the
		// books in use across the group.
		p.info.DeleteLabelValues(p.current)
		p.info.WithLabelValues(fp).Set(1)
		p.current = fp
	}
	p.successful.Set(1)
	p.lastSuccess.Set(float64(t.Unix()))
}
