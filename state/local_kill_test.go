//go:build unix

package state

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envKillChild, when set to a folder, turns TestLocalSurvivesKill into the
// child: it commits to that folder in a loop and reports each commit.
const envKillChild = "TAPSETTLE_STATE_KILL_CHILD"

// Bounds for the child, so that it ends even if its parent dies.
const (
	killChildMaxCommits = 200_000
	killChildMaxTime    = 30 * time.Second
)

// killCheckpoint is the child's checkpoint for seq: a pure function of seq,
// so the parent can compute the state after any prefix. Every 25th is a Full
// (a rewrite by rename); values are large enough that a kill can land inside
// a write.
func killCheckpoint(seq uint64) *Checkpoint {
	cp := &Checkpoint{Seq: seq, Offset: int64(seq) * 7, Meta: fmt.Appendf(nil, "meta-%d", seq)}
	if seq%25 == 0 {
		cp.Full = true
		for i := range 10 {
			cp.Cards = append(cp.Cards, KV{Key: fmt.Appendf(nil, "c%02d", i), Value: fmt.Appendf(nil, "full-%d-%d", seq, i)})
		}
		cp.Appends = []Append{{List: "l0", Blob: fmt.Appendf(nil, "f%d", seq)}}
		return cp
	}
	cp.Cards = []KV{
		{Key: fmt.Appendf(nil, "c%02d", seq%16), Value: fmt.Appendf(nil, "v%d", seq)},
		{Key: []byte("big"), Value: bytes.Repeat(fmt.Appendf(nil, "%d,", seq), 2000)},
	}
	if seq%7 == 0 {
		cp.Drops = []string{"l1"}
	}
	cp.Appends = []Append{{List: fmt.Sprintf("l%d", seq%3), Blob: fmt.Appendf(nil, "b%d", seq)}}
	return cp
}

// TestLocalSurvivesKill re-runs the test binary as a child that commits in
// a loop, printing each Seq once Commit has returned, and SIGKILLs it at
// varying moments. Every time, Load must see a consistent prefix of the
// child's checkpoints whose Seq is at least the last one reported.
func TestLocalSurvivesKill(t *testing.T) {
	if dir := os.Getenv(envKillChild); dir != "" {
		runKillChild(t, dir)
		return
	}
	dir := t.TempDir()
	var last uint64
	for round, after := range []int{1, 7, 30, 3, 60} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLocalSurvivesKill$", "-test.count=1")
		cmd.Env = append(os.Environ(), envKillChild+"="+dir)
		var stderr, output bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		reported, seen := last, 0
		killed := false
		for sc.Scan() {
			seq, ok := strings.CutPrefix(sc.Text(), "committed ")
			if !ok {
				output.WriteString(sc.Text() + "\n") // the child's test output
				continue
			}
			n, err := strconv.ParseUint(seq, 10, 64)
			if err != nil {
				t.Fatalf("child printed %q", sc.Text())
			}
			reported = n
			if seen++; seen == after && !killed {
				// Kill while the child is in the middle of its next commit
				// (or between commits: both must be safe).
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		_ = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child ended after %d commits without being killed; output:\n%s%s", round, seen, output.String(), stderr.String())
		}
		if reported <= last {
			t.Fatalf("round %d: child reported no progress (last %d)", round, last)
		}
		s, err := NewLocal(dir, LocalOptions{Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		snap := load(t, s, 0)
		if snap.Seq < reported {
			t.Fatalf("round %d: Load has seq %d, but the child reported seq %d committed", round, snap.Seq, reported)
		}
		m := newModel()
		for seq := uint64(1); seq <= snap.Seq; seq++ {
			m.apply(killCheckpoint(seq))
		}
		m.check(t, fmt.Sprintf("round %d (seq %d, reported %d)", round, snap.Seq, reported), snap)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		last = snap.Seq
	}
}

// runKillChild is the child: commit the next checkpoints until killed.
func runKillChild(t *testing.T, dir string) {
	s, err := NewLocal(dir, LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := s.Load(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(killChildMaxTime)
	for seq := snap.Seq + 1; seq <= snap.Seq+killChildMaxCommits && time.Now().Before(deadline); seq++ {
		if err := s.Commit(context.Background(), 0, killCheckpoint(seq)); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(os.Stdout, "committed %d\n", seq)
	}
}
