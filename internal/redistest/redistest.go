// Package redistest runs real redis-server processes for tests: each on its
// own loopback port and temporary folder, with the append-only file synced
// on every write so that a Stop/Restart (or a Kill) keeps the data, as a
// production server configured for durability would.
//
// Tests that only need some server call Addr, which uses the shared server
// named by $TEST_REDIS_ADDR when CI provides one. Tests that stop or
// restart the server call Start to get their own. Without redis-server in
// PATH and without $TEST_REDIS_ADDR the tests are skipped, except under
// CI=true, where that is a failure: CI must not pass by skipping.
package redistest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/internal/testtool"
)

// EnvAddr names the variable holding the address of a shared test server.
const EnvAddr = "TEST_REDIS_ADDR"

// Timeouts for process control. redis-server starts in milliseconds; the
// limits are generous for a loaded CI machine running tests under -race.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 10 * time.Second
	pollInterval = 10 * time.Millisecond
)

// Option configures Start.
type Option func(*config)

type config struct {
	password string
	args     []string
}

// WithPassword makes the server require AUTH with password (requirepass).
func WithPassword(password string) Option { return func(c *config) { c.password = password } }

// WithArgs appends raw redis-server arguments, such as "--maxmemory", "1mb".
func WithArgs(args ...string) Option { return func(c *config) { c.args = append(c.args, args...) } }

// Server is one redis-server process owned by a test.
type Server struct {
	tb   testing.TB
	bin  string
	cfg  config
	port int
	dir  string

	mu     sync.Mutex
	cmd    *exec.Cmd  // nil while stopped
	waitCh chan error // receives cmd.Wait's result
}

// Start runs a redis-server on a free loopback port with
// --save "" --appendonly yes --appendfsync always in a fresh t.TempDir, waits
// until it answers (INFO, from the process it started), and stops it when the test ends. It skips the test
// when redis-server is not installed (fails under CI=true).
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	bin := lookPath(tb)
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir()}
	for _, o := range opts {
		o(&s.cfg)
	}
	s.port = freePort(tb)
	if err := s.start(); err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(); err != nil {
			tb.Errorf("redistest: %v", err)
		}
	})
	return s
}

// Addr returns the address of a server for tests that do not stop it: the
// shared $TEST_REDIS_ADDR when set, else a new one from Start. Tests
// sharing a server must keep to their own keys (see Prefix).
func Addr(tb testing.TB) string {
	tb.Helper()
	if addr := os.Getenv(EnvAddr); addr != "" {
		return addr
	}
	return Start(tb).Addr()
}

// Prefix returns a key prefix unique to this test run, so that tests sharing
// a server never see each other's keys.
func Prefix(tb testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := strings.NewReplacer("/", ".", " ", "_", "{", "(", "}", ")").Replace(tb.Name())
	return "test:" + name + ":" + hex.EncodeToString(b[:])
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Password returns the password set with WithPassword, or "".
func (s *Server) Password() string { return s.cfg.password }

// Dir returns the server's data folder.
func (s *Server) Dir() string { return s.dir }

// Stop shuts the server down gracefully (SIGTERM: it flushes the
// append-only file) and waits for it to exit. Stopping a stopped server is a
// no-op.
func (s *Server) Stop() error { return s.stop(syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash would. With
// --appendfsync always every acknowledged write survives.
func (s *Server) Kill() error { return s.stop(syscall.SIGKILL) }

// Restart starts the server again on the same port and folder; the data
// comes back from the append-only file. It stops the server first if it runs.
func (s *Server) Restart() {
	s.tb.Helper()
	if err := s.Stop(); err != nil {
		s.tb.Fatalf("redistest: restart: %v", err)
	}
	if err := s.start(); err != nil {
		s.tb.Fatalf("redistest: restart: %v", err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return fmt.Errorf("server on %s already running", s.Addr())
	}
	logPath := filepath.Join(s.dir, "redis.log")
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "yes",
		"--appendfsync", "always",
		"--dir", s.dir,
		"--logfile", logPath,
		"--daemonize", "no",
	}
	if s.cfg.password != "" {
		args = append(args, "--requirepass", s.cfg.password)
	}
	args = append(args, s.cfg.args...)
	cmd := exec.Command(s.bin, args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(startTimeout)
	for {
		if readyPID(s.Addr(), s.cfg.password) == cmd.Process.Pid {
			s.cmd = cmd
			// Keep reaping: stop waits on the same channel.
			s.waitCh = exited
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server on port %d exited during start-up (%v); log:\n%s", s.port, err, tail(logPath))
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server (pid %d) did not answer on port %d within %v; log:\n%s", cmd.Process.Pid, s.port, startTimeout, tail(logPath))
		}
	}
}

func (s *Server) stop(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	cmd, exited := s.cmd, s.waitCh
	s.cmd, s.waitCh = nil, nil
	if err := cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal redis-server on %s: %w", s.Addr(), err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("redis-server on %s ignored %v for %v and was killed", s.Addr(), sig, stopTimeout)
	}
}

// readyPID asks the server on addr for its process id (INFO, server
// section) and returns it once the server has finished loading its
// append-only file (persistence section, loading:0); it returns 0 while
// nothing answers or the server still loads. Comparing the id with the
// process we started makes sure the test never talks to another server that
// happened to take the port first. Waiting for the load matters: INFO,
// WATCH, MULTI and EXEC are served while the file is replayed, and a
// transaction watching keys the load has not reached yet is aborted when it
// does.
func readyPID(addr, password string) int {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return 0
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	rd := bufio.NewReader(c)
	if password != "" {
		if _, err := fmt.Fprintf(c, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(password), password); err != nil {
			return 0
		}
		if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
			return 0
		}
	}
	// Plain INFO: it holds both the server and the persistence sections,
	// and servers before 7.0 refuse INFO with more than one section.
	if _, err := c.Write([]byte("*1\r\n$4\r\nINFO\r\n")); err != nil {
		return 0
	}
	head, err := rd.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		return 0 // not up yet
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil || n < 0 {
		return 0
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rd, body); err != nil {
		return 0
	}
	pid, loaded := 0, false
	for _, line := range strings.Split(string(body), "\r\n") {
		if v, ok := strings.CutPrefix(line, "process_id:"); ok {
			pid, _ = strconv.Atoi(v)
		}
		if v, ok := strings.CutPrefix(line, "loading:"); ok {
			loaded = v == "0"
		}
	}
	if !loaded {
		return 0
	}
	return pid
}

// lookPath finds redis-server or skips (fails under CI=true).
func lookPath(tb testing.TB) string {
	tb.Helper()
	return testtool.Require(tb, "redis-server", "redis-server",
		"the Redis tests (those that start, stop or kill their own server, even when $"+EnvAddr+" is set)")
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before redis-server binds; start-up then fails (the server exits,
// or the one answering has another process id) instead of testing a stranger.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tail returns the last lines of a log file for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}
