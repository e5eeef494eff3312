package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"
)

// On Linux a child's rusage maxrss is never below the peak RSS of the
// process that started it: Go starts a child with vfork, in the parent's
// address space, and the kernel keeps that space's high-water mark
// across exec (exec_mmap, setmax_mm_hiwater_rss). A child that the bench
// started itself, after generating the day and running the engine over
// it, would report the bench's peak, not its own. So the bench starts a
// spawner first, while it is still small, and has it start the children
// and report their rusage: their floor is then the spawner's peak, that
// of the same binary doing nothing, below any settle run's.

// ChildRun is a child process that ran to its end, as the spawner saw it.
type ChildRun struct {
	Stdout, Stderr []byte
	// ExitCode is the child's exit status, -1 when it was killed by a
	// signal.
	ExitCode int
	// Elapsed is the wall time from its start to its end, CPU its user
	// and system time.
	Elapsed, CPU time.Duration
	// PeakRSS is its peak resident set size in bytes (rusage maxrss), 0
	// where the platform does not report it.
	PeakRSS int64
}

// spawnRequest and spawnReply are the spawner's protocol: a JSON line
// each way per child.
type spawnRequest struct {
	Args []string `json:"args"`
}

type spawnReply struct {
	ChildRun
	// Error is why the child could not be started (not its exit status).
	Error string `json:"error,omitempty"`
}

// ServeSpawns is the spawner's side: for each request read from r it
// starts the command that command returns for the request's arguments,
// waits for it and writes its ChildRun to w, until r ends.
func ServeSpawns(r io.Reader, w io.Writer, command func(args ...string) (*exec.Cmd, error)) error {
	dec, enc := json.NewDecoder(r), json.NewEncoder(w)
	for {
		var req spawnRequest
		if err := dec.Decode(&req); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("bench: spawner: read a request: %w", err)
		}
		if err := enc.Encode(spawn(command, req.Args)); err != nil {
			return fmt.Errorf("bench: spawner: write a reply: %w", err)
		}
	}
}

// spawn runs one child for ServeSpawns.
func spawn(command func(args ...string) (*exec.Cmd, error), args []string) spawnReply {
	cmd, err := command(args...)
	if err != nil {
		return spawnReply{Error: err.Error()}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return spawnReply{Error: err.Error()}
	}
	var exit *exec.ExitError
	if err := cmd.Wait(); err != nil && !errors.As(err, &exit) {
		return spawnReply{Error: err.Error()}
	}
	st := cmd.ProcessState
	run := ChildRun{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: st.ExitCode(),
		Elapsed: time.Since(start), CPU: st.UserTime() + st.SystemTime()}
	run.PeakRSS, _ = peakRSS(st)
	return spawnReply{ChildRun: run}
}

// Spawner starts child processes for the bench from a process of its
// own (see the note at the top of this file). Its methods may be called
// from one goroutine at a time.
type Spawner struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	enc  *json.Encoder
	dec  *json.Decoder
	once sync.Once
}

// StartSpawner starts cmd as a spawner: a process that runs ServeSpawns
// on its standard input and output. Start it before the process grows.
func StartSpawner(cmd *exec.Cmd) (*Spawner, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: start the spawner: %w", err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: start the spawner: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start the spawner: %w", err)
	}
	return &Spawner{cmd: cmd, in: in, enc: json.NewEncoder(in), dec: json.NewDecoder(out)}, nil
}

// Run has the spawner run a child with args and returns it once it has
// ended, whatever its exit status.
func (s *Spawner) Run(args ...string) (ChildRun, error) {
	if err := s.enc.Encode(spawnRequest{Args: args}); err != nil {
		return ChildRun{}, fmt.Errorf("bench: the spawner: %w", err)
	}
	var rep spawnReply
	if err := s.dec.Decode(&rep); err != nil {
		return ChildRun{}, fmt.Errorf("bench: the spawner's reply: %w", err)
	}
	if rep.Error != "" {
		return ChildRun{}, fmt.Errorf("bench: the spawner could not run %q: %s", args, rep.Error)
	}
	return rep.ChildRun, nil
}

// Close ends the spawner: its input closed, it returns.
func (s *Spawner) Close() error {
	var err error
	s.once.Do(func() {
		err = s.in.Close()
		if werr := s.cmd.Wait(); werr != nil && err == nil {
			err = fmt.Errorf("bench: the spawner: %w", werr)
		}
	})
	return err
}
