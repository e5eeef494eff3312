package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/tapsettle/tapsettle/transit"
)

// families returns the type of every metric family the package exports,
// each made to hold at least one series.
func families(t *testing.T) map[string]dto.MetricType {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := New(reg, []transit.City{ningbo})
	c := m.NewCounts(0)
	c.Row(ningbo, transit.ModeBus, transit.StatusCharged)
	c.Messages(1, 1)
	c.Publish()
	c.SetLag(1)
	c.SetOpen(1, 1)
	m.SetAssigned(0, true)
	m.ObserveCheckpoint("local", time.Millisecond, nil)
	m.ObserveBatch(time.Millisecond)
	m.DayClosed(mustDay("2025-03-04"))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dto.MetricType{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf.GetType()
	}
	return out
}

type dashboard struct {
	SchemaVersion int `json:"schemaVersion"`
	UID           string
	Templating    struct {
		List []struct {
			Name, Type string
			Query      any
		}
	}
	Panels []panel
}

type panel struct {
	ID         int
	Type       string
	Title      string
	Datasource *struct{ Type, UID string }
	Targets    []struct{ Expr, RefID string }
	Panels     []panel // a collapsed row's panels
}

var metricName = regexp.MustCompile(`\btapsettle_[a-z0-9_]+`)

// TestGrafanaDashboard keeps deploy/grafana/tapsettle.json in step with
// the package: every metric an expression names exists (histograms through
// their _bucket, _sum and _count series), every metric is on a panel, and
// every panel queries the dashboard's Prometheus data source variable.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana/tapsettle.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("tapsettle.json: %v", err)
	}
	if d.SchemaVersion < 36 || d.UID == "" {
		t.Errorf("schemaVersion = %d, uid = %q", d.SchemaVersion, d.UID)
	}
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && v.Query == "prometheus" {
			hasDS = true
		}
	}
	if !hasDS {
		t.Error("no Prometheus data source variable named datasource")
	}

	fams := families(t)
	used := map[string]bool{}
	ids := map[int]bool{}
	var check func(ps []panel)
	check = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.Type == "row" {
				check(p.Panels)
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q does not use the ${datasource} variable", p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				names := metricName.FindAllString(tg.Expr, -1)
				if len(names) == 0 {
					t.Errorf("panel %q query %s names no tapsettle metric", p.Title, tg.RefID)
				}
				for _, n := range names {
					base, ok := n, false
					if _, ok = fams[n]; !ok {
						for _, suffix := range []string{"_bucket", "_sum", "_count"} {
							b := strings.TrimSuffix(n, suffix)
							if b != n && fams[b] == dto.MetricType_HISTOGRAM {
								base, ok = b, true
							}
						}
					}
					if !ok {
						t.Errorf("panel %q: %s is not a metric of package metrics", p.Title, n)
					}
					used[base] = true
				}
			}
		}
	}
	check(d.Panels)
	for name := range fams {
		if !used[name] {
			t.Errorf("%s is on no panel of the dashboard", name)
		}
	}
	for _, want := range []string{"tapsettle_taps_total", "tapsettle_rejects_total", "tapsettle_consumer_lag",
		"tapsettle_checkpoint_duration_seconds", "tapsettle_batch_duration_seconds", "tapsettle_open_journeys", "tapsettle_days_closed_total"} {
		if _, ok := fams[want]; !ok {
			t.Errorf("package metrics lacks %s", want)
		}
	}
}

// TestPrometheusConfig checks deploy/prometheus.yml scrapes the three
// instances of the worked example in docs/operations.md.
func TestPrometheusConfig(t *testing.T) {
	raw, err := os.ReadFile("../deploy/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName != "tapsettle" || sc.MetricsPath != "/metrics" {
			t.Errorf("scrape config %q path %q", sc.JobName, sc.MetricsPath)
		}
		for _, s := range sc.StaticConfigs {
			targets = append(targets, s.Targets...)
		}
	}
	want := []string{"127.0.0.1:9464", "127.0.0.1:9465", "127.0.0.1:9466"}
	if !slices.Equal(targets, want) {
		t.Errorf("targets = %v, want %v", targets, want)
	}
}
