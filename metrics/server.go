package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Timeouts of the metrics server. A scrape of a few thousand series takes
// milliseconds; the bounds only stop a stuck client from holding a
// connection.
const (
	readHeaderTimeout = 5 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	// shutdownTimeout bounds how long Close waits for scrapes in flight.
	shutdownTimeout = 5 * time.Second
)

// Server is the HTTP server of /metrics, /healthz and /readyz.
type Server struct {
	srv       *http.Server
	ln        net.Listener
	done      chan struct{} // closed when Serve has returned
	closeOnce sync.Once
	closeErr  error
}

// Serve listens on addr and serves, until ctx ends or Close is called:
//
//   - /metrics: the metrics g gathers, in the Prometheus text or
//     OpenMetrics format as the scraper asks;
//   - /healthz: 200 while the process serves (liveness);
//   - /readyz: 200 when ready returns nil, else 503 with its error as the
//     body (readiness: joined the group, checkpoints succeeding). A nil
//     ready is always ready.
//
// Serve returns once the listener is bound, so Addr reports the port
// chosen for an addr ending in ":0". log receives server errors; nil
// discards them.
func Serve(ctx context.Context, addr string, g prometheus.Gatherer, ready func() error, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      errLog,
		ErrorHandling: promhttp.ContinueOnError, // serve what gathered; the error is logged
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		plain(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				plain(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
				return
			}
		}
		plain(w, http.StatusOK, "ready\n")
	})
	s := &Server{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: readHeaderTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			ErrorLog:          errLog,
		},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "addr", s.Addr(), "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

func plain(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

// Addr returns the address the server listens on, with the actual port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server: it stops accepting, lets scrapes in flight finish
// for up to 5 seconds, then closes every connection. It returns once the
// server has stopped; later calls return the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.closeErr = fmt.Errorf("metrics: shutdown: %w", err)
			_ = s.srv.Close()
		}
		<-s.done
	})
	return s.closeErr
}
