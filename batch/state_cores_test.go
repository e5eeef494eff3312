package batch_test

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/tapsettle/tapsettle/batch"
	"github.com/tapsettle/tapsettle/transit"
)

// TestSaveStateSameBytesAnyCores: the engine state file is compressed on
// every core, and its bytes are the same whatever their number (a state
// folder copied between machines, or a run redone, gives the same file).
func TestSaveStateSameBytesAnyCores(t *testing.T) {
	_, cal := env(t)
	closed, _ := transit.ParseDay("2025-03-03")
	// A few megabytes of state-like records: compressible, not uniform.
	var state bytes.Buffer
	for i := range 200_000 {
		fmt.Fprintf(&state, "card %019d city %06d taps %d fen %d\n", i*7919%1_000_003, 110100+i%97*100, i%5, i*31%700)
	}
	files := map[int][]byte{}
	for _, procs := range []int{1, 2, 4} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			path, err := batch.SaveState(t.TempDir(), cal, closed, state.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if files[procs], err = os.ReadFile(path); err != nil {
				t.Fatal(err)
			}
		}()
	}
	for _, procs := range []int{2, 4} {
		if !bytes.Equal(files[procs], files[1]) {
			t.Errorf("the state file at GOMAXPROCS=%d differs from the one at 1 (%d and %d bytes)", procs, len(files[procs]), len(files[1]))
		}
	}
}
