package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapsettle/tapsettle/config"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/feed/embedded"
)

// lockedBuffer is a log written by the service's goroutines and read by
// the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serviceEnv is the env run builds from the default configuration, with
// state and output in a temporary folder, no metrics listener, and log
// as its logger.
func serviceEnv(t *testing.T, log *slog.Logger) *env {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.State.Dir = filepath.Join(dir, "state")
	cfg.Output.Dir = filepath.Join(dir, "out")
	cfg.Metrics.Listen = "" // a test serves metrics itself, on a port of its choosing
	book, err := fares.Load(cfg.Policies.Dir)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := cfg.Calendar()
	if err != nil {
		t.Fatal(err)
	}
	return &env{cfg: &cfg, log: log, book: book, cal: cal}
}

// TestShutdownIsLogged: when run's context ends (SIGTERM, SIGINT), the
// log says it is shutting down and why, then that it stopped with its
// final checkpoints written.
func TestShutdownIsLogged(t *testing.T) {
	var logged lockedBuffer
	e := serviceEnv(t, slog.New(slog.NewTextHandler(&logged, nil)))
	broker, err := embedded.Start(e.cfg.Kafka.Topic, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := runService(ctx, e, broker.Addrs(), 0, prometheus.NewRegistry())
		done <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logged.String(), "streaming"); {
		if time.Now().After(deadline) {
			t.Fatalf("the service never started:\n%s", logged.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel(errors.New("terminated"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v\n%s", err, logged.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("the service did not stop:\n%s", logged.String())
	}
	out := logged.String()
	for _, want := range []string{"shutting down", "cause=terminated", "stopped: final checkpoints written"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
}

// TestRunWaitsForTopic: run started before its topic exists waits for it,
// saying so, instead of exiting with "Unknown Topic Or Partition", and
// streams once the topic is created.
func TestRunWaitsForTopic(t *testing.T) {
	var logged lockedBuffer
	e := serviceEnv(t, slog.New(slog.NewTextHandler(&logged, nil)))
	e.cfg.Kafka.Topic = "created-later"
	broker, err := embedded.Start("other", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := runService(ctx, e, broker.Addrs(), 0, prometheus.NewRegistry())
		done <- err
	}()
	waitLog := func(want string) {
		t.Helper()
		awaitLog(t, &logged, done, want)
	}
	waitLog("the topic does not exist yet")
	if err := feed.CreateTopic(ctx, broker.Addrs(), feed.Security{}, e.cfg.Kafka.Topic, 2); err != nil {
		t.Fatal(err)
	}
	waitLog("msg=streaming")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}
