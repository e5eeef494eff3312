package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Process is what a run in a child process reports beside its Result:
// the memory it took, which a run inside the measuring process cannot
// tell apart from the measurer's own (the generated day, the engine
// runs before it, the garbage not yet collected).
type Process struct {
	// PeakRSS is the child's peak resident set size in bytes (its
	// rusage's maxrss), 0 where the platform does not report it.
	PeakRSS int64
	// Budget is the --memory-budget the child ran with, in bytes.
	Budget int64
	// Groups and PartitionBytes say how the child partitioned its taps
	// to disk (Spilled): the groups of partitions priced, and the
	// partitions' size on disk (its settle document's "partitioned"); 0
	// for a child that priced them in memory.
	Groups         int
	PartitionBytes int64
}

// Spilled says the child partitioned its taps to disk: a run priced in
// memory prices no group of partitions.
func (p *Process) Spilled() bool { return p.Groups > 0 }

// SettleProcess measures settle of the file in a child process, from
// outside: run runs tapsettle with the arguments it is given in a child
// process (Spawner.Run, whose children's peak RSS is theirs alone). The
// child settles the file into a folder of the file's that is removed
// afterwards, with budget as its --memory-budget, without the ledger or a
// state folder, and writes its settle document (--output json), which
// says whether it spilled. Its wall time counts the
// process's start (the fare book loaded, the configuration read) and its
// fsyncs, which Settle's does not; its CPU time is the child's, user and
// system.
func (f *DayFile) SettleProcess(run func(args ...string) (ChildRun, error), budget int64, name string) (Result, error) {
	out := filepath.Join(f.dir, "out-process")
	if err := os.RemoveAll(out); err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(out)
	c, err := run("settle", "--out", out, "--memory-budget", strconv.FormatInt(budget, 10),
		"--ledger=false", "--state=", "--output", "json", f.path)
	if err != nil {
		return Result{}, err
	}
	if c.ExitCode != 0 {
		return Result{}, fmt.Errorf("bench: settle in a child process: exit status %d\n%s", c.ExitCode, bytes.TrimSpace(c.Stderr))
	}
	var doc struct {
		Records     *int64 `json:"records"`
		Partitioned struct {
			Groups int   `json:"groups"`
			Bytes  int64 `json:"bytes"`
		} `json:"partitioned"`
	}
	if err := json.Unmarshal(c.Stdout, &doc); err != nil || doc.Records == nil {
		return Result{}, fmt.Errorf("bench: settle in a child process wrote no settle document with its records (%v): %.200q", err, c.Stdout)
	}
	p := &Process{Budget: budget, PeakRSS: c.PeakRSS, Groups: doc.Partitioned.Groups, PartitionBytes: doc.Partitioned.Bytes}
	return Result{Name: name, Taps: *doc.Records, Elapsed: c.Elapsed, CPU: c.CPU, Process: p}, nil
}
