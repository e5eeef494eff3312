package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/feed/embedded"
)

// runUntilLogged starts run's service on an embedded broker with e, and
// returns a function that waits until the log says want, and one that
// stops the service and waits for it.
func runUntilLogged(t *testing.T, e *env, logged *lockedBuffer, reg *prometheus.Registry) (waitLog func(want string), stop func()) {
	t.Helper()
	broker, err := embedded.Start(e.cfg.Kafka.Topic, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := runService(ctx, e, broker.Addrs(), 0, reg)
		done <- err
	}()
	waitLog = func(want string) {
		t.Helper()
		awaitLog(t, logged, done, want)
	}
	return waitLog, func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run: %v\n%s", err, logged.String())
		}
	}
}

// TestRunReloadsPolicies: run reloads its fare policies on SIGHUP (the
// process survives it) and when a policy file of policies.dir changes,
// logging the cause and counting each reload; with the embedded policies
// only, SIGHUP says there is nothing to reload.
func TestRunReloadsPolicies(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		var logged lockedBuffer
		e := serviceEnv(t, slog.New(slog.NewTextHandler(&logged, nil)))
		waitLog, stop := runUntilLogged(t, e, &logged, prometheus.NewRegistry())
		waitLog("msg=streaming") // SIGHUP is handled from before this line
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLog("the embedded fare policies have nothing to reload")
		stop()
	})
	t.Run("policies.dir", func(t *testing.T) {
		var logged lockedBuffer
		e := serviceEnv(t, slog.New(slog.NewTextHandler(&logged, nil)))
		dir := t.TempDir()
		policy := func(fare string) {
			t.Helper()
			body := "city: 340100\nversions:\n  - effective_from: 2020-01-01\n    source: \"ours: test\"\n    bus:\n      fare: " + fare + "\n      source: \"ours: test\"\n"
			if err := os.WriteFile(filepath.Join(dir, "hefei.yaml"), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		policy("200")
		book, err := fares.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		e.cfg.Policies.Dir, e.book = dir, book
		reg := prometheus.NewRegistry()
		waitLog, stop := runUntilLogged(t, e, &logged, reg)
		waitLog("watching the policy directory")
		waitLog("msg=streaming")
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLog(`msg="fare policies reloaded: unchanged" cause=SIGHUP`)
		policy("300")
		waitLog(`msg="fare policies reloaded: each partition prices with the new book from its next batch" cause="the policy directory changed"`)
		stop()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		reloads := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() == "tapsettle_policy_reloads_total" {
				for _, m := range mf.GetMetric() {
					reloads[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
		if reloads["ok"] != 2 || reloads["error"] != 0 {
			t.Errorf("policy_reloads_total = %v, want 2 ok and no error", reloads)
		}
	})
}

// awaitLog waits, up to 30 s, until a service's log (logged) says want,
// failing the test if the service returns first (done) or never says it.
func awaitLog(t *testing.T, logged *lockedBuffer, done <-chan error, want string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logged.String(), want); {
		select {
		case err := <-done:
			t.Fatalf("run returned %v before logging %q:\n%s", err, want, logged.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q:\n%s", want, logged.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
