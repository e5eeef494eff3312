package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/bench"
	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/feed/embedded"
	"github.com/tapsettle/tapsettle/ingest"
	"github.com/tapsettle/tapsettle/internal/testtool"
	"github.com/tapsettle/tapsettle/metrics"
	"github.com/tapsettle/tapsettle/transit"
)

// TestMetricsEndpointPromtool streams a small day through the service as
// run does (embedded broker, local state, the registry run serves), then
// scrapes /metrics over HTTP and has Prometheus's promtool lint the
// exposition ("promtool check metrics": names, units, help, types). It
// also checks the series an operator relies on: the build, the day
// closed, the checkpoint series of the backend in use only, and the size
// of taps_total (docs/operations.md). promtool is Debian's prometheus
// package: without it the test skips, under CI=true it fails.
func TestMetricsEndpointPromtool(t *testing.T) {
	promtool := testtool.Require(t, "promtool", "prometheus", "linting the /metrics output (promtool check metrics)")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := serviceEnv(t, slog.New(slog.DiscardHandler))
	cfg, book, cal, dir := e.cfg, e.book, e.cal, t.TempDir()

	day, _ := transit.ParseDay("2025-03-03")
	d, err := bench.Generate(book, cal, bench.GenOptions{Taps: 3000, Seed: 7, Day: day, Late: -1})
	if err != nil {
		t.Fatal(err)
	}
	input := filepath.Join(dir, "taps.csv.zst")
	if err := bench.WriteFile(input, ingest.FormatCSV, ingest.CompressionZstd, d); err != nil {
		t.Fatal(err)
	}
	last := max(day, cal.LastDay(d.Taps()))
	broker, err := embedded.Start(cfg.Kafka.Topic, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	if _, _, err := produce(ctx, broker.Addrs(), feed.Security{}, cfg.Kafka.Topic, 16, []string{input}, last.String(), e); err != nil {
		t.Fatal(err)
	}
	reg := serviceRegistry()
	svc, err := runService(ctx, e, broker.Addrs(), last, reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := metrics.Serve(ctx, "127.0.0.1:0", reg, svc.Ready, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	resp, err := http.Get("http://" + srv.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %v %v", resp.Status, err)
	}

	lint := exec.Command(promtool, "check", "metrics")
	lint.Stdin = bytes.NewReader(body)
	if out, err := lint.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	text := string(body)
	for _, want := range []string{
		fmt.Sprintf(`tapsettle_build_info{goversion="%s",revision="unknown",version="(devel)"} 1`, runtime.Version()),
		"tapsettle_day_closes_total ",
		"tapsettle_last_closed_day_end_timestamp_seconds ",
		`tapsettle_checkpoint_failures_total{backend="local"} 0`,
		`tapsettle_policy_info{fingerprint="` + book.Fingerprint() + `"} 1`,
		"tapsettle_policy_last_reload_successful 1",
		`tapsettle_policy_reloads_total{result="error"} 0`,
		"go_goroutines ", "process_cpu_seconds_total ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(text, `backend="redis"`) {
		t.Error(`/metrics of an instance on the local backend has backend="redis" series`)
	}
	// The day closed at its end: the next cut-off.
	end := regexp.MustCompile(`(?m)^tapsettle_last_closed_day_end_timestamp_seconds (\S+)$`).FindStringSubmatch(text)
	if end == nil {
		t.Error("no last_closed_day_end_timestamp_seconds sample")
	} else if v, err := strconv.ParseFloat(end[1], 64); err != nil || int64(v) != cal.Start(last+1).Unix() {
		t.Errorf("last_closed_day_end_timestamp_seconds = %s, want %d (the end of %v)", end[1], cal.Start(last+1).Unix(), last)
	}
	// Every participant, and "other", by 2 modes and 5 statuses, plus the
	// one series of out-of-range rows: 3,371 for the 336 participants.
	n := strings.Count(text, "\ntapsettle_taps_total{")
	if want := (len(book.Participants())+1)*10 + 1; n != want {
		t.Errorf("%d taps_total series, want %d", n, want)
	}
}
