package bench

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"testing"
)

// childEnv makes the test binary, run as a child, a spawner ("spawner")
// or a process that touches the MiB its first argument says and exits
// ("touch") instead of running the tests.
const childEnv = "GO_TEST_BENCH_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "spawner":
		if err := ServeSpawns(os.Stdin, os.Stdout, touchCommand); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	case "touch":
		mib, _ := strconv.Atoi(os.Args[len(os.Args)-1])
		touch(mib)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// touchCommand is the command of a child that touches args[0] MiB.
func touchCommand(args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append([]string{"-test.run=^$"}, args...)...)
	cmd.Env = append(os.Environ(), childEnv+"=touch")
	return cmd, nil
}

var held []byte

// touch allocates mib MiB and writes every page of it, so that it is
// resident.
func touch(mib int) {
	held = make([]byte, mib<<20)
	for i := 0; i < len(held); i += 4096 {
		held[i] = 1
	}
}

// rssReported says whether this platform reports a child's peak RSS.
var rssReported = slices.Contains([]string{"linux", "darwin", "freebsd", "netbsd", "openbsd", "dragonfly"}, runtime.GOOS)

// TestSpawnerPeakRSS: a child started by the spawner reports its own
// peak RSS, not that of the process that asked for it. On Linux a child
// started by a process directly reports at least that process's peak
// (the kernel keeps the high-water mark of the address space vfork lent
// it across exec), which the control run shows.
func TestSpawnerPeakRSS(t *testing.T) {
	if !rssReported {
		t.Skip("this platform reports no peak RSS")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=spawner")
	cmd.Stderr = os.Stderr
	sp, err := StartSpawner(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()

	const big, small = 512, 64 // MiB
	touch(big)                 // this process grows after the spawner started
	defer func() { held = nil }()

	run, err := sp.Run("64")
	if err != nil {
		t.Fatal(err)
	}
	if run.ExitCode != 0 || run.Elapsed <= 0 {
		t.Fatalf("the child: %+v", run)
	}
	if mib := run.PeakRSS >> 20; mib < small || mib >= big {
		t.Errorf("a child that touched %d MiB, started by the spawner of a process of %d MiB: peak RSS %d MiB", small, big, mib)
	}
	// The control: the same child started by this process.
	c, err := touchCommand("64")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	direct, _ := peakRSS(c.ProcessState)
	t.Logf("peak RSS of a child touching %d MiB: %d MiB through the spawner, %d MiB started by this process of %d MiB",
		small, run.PeakRSS>>20, direct>>20, big)
	if err := sp.Close(); err != nil {
		t.Errorf("close the spawner: %v", err)
	}
}

// TestServeSpawns: the spawner replies to each request in turn with the
// child's output and exit status, and with the reason when it could not
// start it.
func TestServeSpawns(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	var req bytes.Buffer
	enc := json.NewEncoder(&req)
	for _, args := range [][]string{{"echo out; echo err >&2; exit 3"}, {"nostart"}, {"echo again"}} {
		if err := enc.Encode(spawnRequest{Args: args}); err != nil {
			t.Fatal(err)
		}
	}
	var rep bytes.Buffer
	err := ServeSpawns(&req, &rep, func(args ...string) (*exec.Cmd, error) {
		if args[0] == "nostart" {
			return exec.Command("/nonexistent/tapsettle"), nil
		}
		return exec.Command("sh", "-c", args[0]), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&rep)
	var got []spawnReply
	for dec.More() {
		var r spawnReply
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if len(got) != 3 {
		t.Fatalf("%d replies, want 3: %+v", len(got), got)
	}
	if r := got[0]; r.Error != "" || r.ExitCode != 3 || string(r.Stdout) != "out\n" || string(r.Stderr) != "err\n" || r.Elapsed <= 0 {
		t.Errorf("a child that failed: %+v", r)
	}
	if r := got[1]; r.Error == "" {
		t.Errorf("a child that could not start: %+v, want its error", r)
	}
	if r := got[2]; r.Error != "" || r.ExitCode != 0 || string(r.Stdout) != "again\n" || rssReported && r.PeakRSS <= 0 {
		t.Errorf("a child that succeeded: %+v", r)
	}
}
