package metrics

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestPolicyMetrics: the book loaded at start is the one policy_info
// shows; a reload that succeeds moves it (one series, the book in use)
// and the success timestamp, and counts ok; one that fails counts an
// error and clears policy_last_reload_successful until a reload succeeds,
// leaving the book and the timestamp as they were.
func TestPolicyMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, nil)
	check := func(step string, info map[string]float64, ok, failed, successful, at float64) {
		t.Helper()
		if got := series(t, reg, "tapsettle_policy_info"); !maps.Equal(got, info) {
			t.Errorf("%s: policy_info = %v, want %v", step, got, info)
		}
		if got := series(t, reg, "tapsettle_policy_reloads_total"); got["result=ok"] != ok || got["result=error"] != failed || len(got) != 2 {
			t.Errorf("%s: policy_reloads_total = %v, want ok %v, error %v", step, got, ok, failed)
		}
		if got := series(t, reg, "tapsettle_policy_last_reload_successful")[""]; got != successful {
			t.Errorf("%s: policy_last_reload_successful = %v, want %v", step, got, successful)
		}
		if got := series(t, reg, "tapsettle_policy_last_reload_success_timestamp_seconds")[""]; got != at {
			t.Errorf("%s: policy_last_reload_success_timestamp_seconds = %v, want %v", step, got, at)
		}
	}
	m.PolicyLoaded("sha256:aa", time.Unix(1000, 0))
	check("start", map[string]float64{"fingerprint=sha256:aa": 1}, 0, 0, 1, 1000)
	m.PolicyReloaded("sha256:bb", time.Unix(2000, 0), errors.New("bad file"))
	check("failed reload", map[string]float64{"fingerprint=sha256:aa": 1}, 0, 1, 0, 1000)
	m.PolicyReloaded("sha256:bb", time.Unix(3000, 0), nil)
	check("reload", map[string]float64{"fingerprint=sha256:bb": 1}, 1, 1, 1, 3000)
	m.PolicyReloaded("sha256:bb", time.Unix(4000, 0), nil)
	check("unchanged reload", map[string]float64{"fingerprint=sha256:bb": 1}, 2, 1, 1, 4000)
}
