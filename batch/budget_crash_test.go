package batch_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/transit"
)

// The child process of TestKilledRunSpillRemoved: settle a day under a
// tiny budget, and once its taps are partitioned write the spill folder's
// path to a file and wait to be killed.
const (
	crashChildEnv = "TAPSETTLE_TEST_SPILL_CHILD"
	crashInputEnv = "TAPSETTLE_TEST_SPILL_INPUT"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(spillChild(dir, strings.Split(os.Getenv(crashInputEnv), string(os.PathListSeparator))))
	}
	os.Exit(m.Run())
}

func spillChild(dir string, inputs []string) int {
	b, err := fares.Default()
	if err != nil {
		return 4
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return 4
	}
	cal, err := transit.NewCalendar(loc, 4*time.Hour)
	if err != nil {
		return 4
	}
	job := &batch.Settle{Book: b, Calendar: cal, OutDir: filepath.Join(dir, "out"), SkipSync: true,
		MemoryBudget: 256 << 10, SpillDir: filepath.Join(dir, "spill")}
	batch.SetAfterPartition(job, func(spill string) {
		if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(spill), 0o600); err != nil {
			os.Exit(3)
		}
		select {} // wait for the kill
	})
	if _, err := job.Run(context.Background(), inputs); err != nil {
		return 2
	}
	return 1 // the hook never returns
}

// TestKilledRunSpillRemoved: a run killed (SIGKILL) while its taps lie
// partitioned on disk leaves its spill folder; the next run in the same
// spill parent removes it, whether or not it partitions its own taps.
func TestKilledRunSpillRemoved(t *testing.T) {
	dir := t.TempDir()
	inputs, _ := twoDays(t, dir, 4_000)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashInputEnv+"="+strings.Join(inputs, string(os.PathListSeparator)))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var spill []byte
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if spill, err = os.ReadFile(filepath.Join(dir, "ready")); err == nil && len(spill) > 0 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the child exited before partitioning: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the child did not partition its taps in 2 minutes")
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	files, err := os.ReadDir(string(spill))
	if err != nil || len(files) < 2 {
		t.Fatalf("the killed run's spill folder %s: %v, %v; want its lock and run files", spill, files, err)
	}

	// The next run, in memory, removes it.
	b, cal := env(t)
	job := &batch.Settle{Book: b, Calendar: cal, OutDir: filepath.Join(dir, "out2"), SkipSync: true, SpillDir: filepath.Join(dir, "spill")}
	rep, err := job.Run(context.Background(), inputs)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Partitioned.Groups != 0 {
		t.Fatalf("the second run partitioned its taps: %+v", rep.Partitioned)
	}
	if _, err := os.Stat(string(spill)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the killed run's spill folder is still there: %v", err)
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "spill")); len(left) != 0 {
		t.Errorf("left in the spill folder: %v", left)
	}
}
