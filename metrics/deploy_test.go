package metrics

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/tapsettle/tapsettle/internal/testtool"
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
	m.SetBackend("local")
	m.ObserveCheckpoint("local", time.Millisecond, nil)
	m.ObserveBatch(time.Millisecond)
	m.DayClosed(mustDay("2025-03-04"), time.Unix(1741118400, 0))
	m.PolicyLoaded("sha256:aa", time.Unix(1741118400, 0))
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

// family returns the metric family a series name in a query belongs to:
// the name itself, or for a histogram's _bucket, _sum and _count series
// the histogram's name. ok is false when the package exports no such
// family.
func family(fams map[string]dto.MetricType, series string) (name string, ok bool) {
	if _, ok := fams[series]; ok {
		return series, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		b := strings.TrimSuffix(series, suffix)
		if b != series && fams[b] == dto.MetricType_HISTOGRAM {
			return b, true
		}
	}
	return series, false
}

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
					base, ok := family(fams, n)
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
		"tapsettle_checkpoint_duration_seconds", "tapsettle_batch_duration_seconds", "tapsettle_open_journeys", "tapsettle_day_closes_total",
		"tapsettle_last_closed_day_end_timestamp_seconds", "tapsettle_build_info"} {
		if _, ok := fams[want]; !ok {
			t.Errorf("package metrics lacks %s", want)
		}
	}
}

// TestPrometheusConfig checks deploy/prometheus.yml scrapes the three
// instances of the worked example in docs/operations.md and loads the
// alerting rules.
func TestPrometheusConfig(t *testing.T) {
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "../deploy/prometheus.yml", &cfg)
	if !slices.Equal(cfg.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("prometheus.yml loads rule files %v, want [alerts.yml]", cfg.RuleFiles)
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

// alertRules is the part of a Prometheus rule file the tests read.
type alertRules struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert       string
			Expr        string
			Labels      map[string]string
			Annotations map[string]string
		}
	}
}

// TestAlertRules keeps deploy/alerts.yml in step with the package and its
// own tests: every expression names only metrics the package exports,
// every alert has a severity the docs define, a summary and a
// description, and deploy/alerts_test.yml tests every alert both firing
// and silent. That the expressions are valid PromQL and fire when they
// should is TestAlertRulesPromtool's part.
func TestAlertRules(t *testing.T) {
	var rules alertRules
	readYAML(t, "../deploy/alerts.yml", &rules)
	fams := families(t)
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || alerts[r.Alert] {
				t.Errorf("group %s: alert name %q empty or given twice", g.Name, r.Alert)
			}
			alerts[r.Alert] = true
			if sev := r.Labels["severity"]; sev != "page" && sev != "warning" {
				t.Errorf("%s: severity %q, want page or warning", r.Alert, sev)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: no summary or description", r.Alert)
			}
			names := metricName.FindAllString(r.Expr, -1)
			if len(names) == 0 && !strings.Contains(r.Expr, `up{job="tapsettle"}`) {
				t.Errorf("%s: %s names no tapsettle metric", r.Alert, r.Expr)
			}
			for _, n := range names {
				if _, ok := family(fams, n); !ok {
					t.Errorf("%s: %s is not a metric of package metrics", r.Alert, n)
				}
			}
		}
	}
	if len(alerts) == 0 {
		t.Fatal("deploy/alerts.yml holds no alert")
	}

	var tests struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string
				ExpAlerts []any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		}
	}
	readYAML(t, "../deploy/alerts_test.yml", &tests)
	if !slices.Equal(tests.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("alerts_test.yml tests %v, want [alerts.yml]", tests.RuleFiles)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if !alerts[a.Alertname] {
				t.Errorf("alerts_test.yml tests %s, which alerts.yml does not define", a.Alertname)
			}
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	for a := range alerts {
		if !fires[a] || !silent[a] {
			t.Errorf("alerts_test.yml does not test %s both firing and silent", a)
		}
	}
}

// TestAlertRulesPromtool has Prometheus's own promtool check the
// configuration and the rules and run the rules' unit tests
// (deploy/alerts_test.yml). It needs promtool (Debian package
// prometheus): without it the test skips, except under CI=true.
func TestAlertRulesPromtool(t *testing.T) {
	promtool := testtool.Require(t, "promtool", "prometheus", "the alert rules' unit tests")
	for _, args := range [][]string{
		{"check", "config", "prometheus.yml"}, // also checks the rule files it loads
		{"test", "rules", "alerts_test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "../deploy"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// readYAML decodes the YAML file at path into v.
func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
