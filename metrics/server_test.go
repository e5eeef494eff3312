package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapsettle/tapsettle/transit"
)

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body), resp.Header
}

func TestServe(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, []transit.City{ningbo})
	c := m.NewCounts(0)
	c.Row(ningbo, transit.ModeBus, transit.StatusCharged)
	c.Publish()

	var notReady atomic.Pointer[error]
	joining := errors.New("not joined to the consumer group yet")
	notReady.Store(&joining)
	ready := func() error {
		if p := notReady.Load(); p != nil {
			return *p
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := Serve(ctx, "127.0.0.1:0", reg, ready, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "http://" + s.Addr()
	if strings.HasSuffix(s.Addr(), ":0") {
		t.Fatalf("Addr = %s, want the bound port", s.Addr())
	}

	code, body, h := get(t, base+"/healthz")
	if code != http.StatusOK || body != "ok\n" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("/healthz = %d %q %v", code, body, h)
	}
	code, body, _ = get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "not joined") {
		t.Errorf("/readyz before ready = %d %q, want 503 with the reason", code, body)
	}
	notReady.Store(nil)
	code, body, _ = get(t, base+"/readyz")
	if code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz when ready = %d %q, want 200", code, body)
	}
	code, body, h = get(t, base+"/metrics")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") ||
		!strings.Contains(body, `tapsettle_taps_total{city="330200",mode="bus",status="charged"} 1`) {
		t.Errorf("/metrics = %d %s\n%.400s", code, h.Get("Content-Type"), body)
	}
	code, _, _ = get(t, base+"/nothing")
	if code != http.StatusNotFound {
		t.Errorf("/nothing = %d, want 404", code)
	}
	resp, err := http.Post(base+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", resp.StatusCode)
	}

	// Cancelling the context stops the server: the port refuses.
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepting after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after the context ended = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestServeNilReadyAndClose(t *testing.T) {
	s, err := Serve(context.Background(), "127.0.0.1:0", prometheus.NewRegistry(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, _ := get(t, "http://"+s.Addr()+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz with a nil ready = %d, want 200", code)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Error("server still accepting after Close")
	}
}

func TestServeListenErrors(t *testing.T) {
	s, err := Serve(context.Background(), "127.0.0.1:0", prometheus.NewRegistry(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, addr := range []string{s.Addr(), "127.0.0.1:99999", "not an address"} {
		if s2, err := Serve(context.Background(), addr, prometheus.NewRegistry(), nil, nil); err == nil {
			s2.Close()
			t.Errorf("Serve(%q) succeeded", addr)
		} else if !strings.Contains(err.Error(), addr) {
			t.Errorf("Serve(%q) error %v does not name the address", addr, err)
		}
	}
}
