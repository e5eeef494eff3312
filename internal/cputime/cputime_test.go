package cputime

import (
	"testing"
	"time"
)

func TestProcessCountsWork(t *testing.T) {
	before, ok := Process()
	if !ok {
		t.Skip("this platform does not report CPU time")
	}
	// Spin for 50 ms of wall time: at least some of it is CPU time.
	x := uint64(1)
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; {
		x = x*6364136223846793005 + 1442695040888963407
	}
	after, _ := Process()
	if d := after - before; d < 10*time.Millisecond {
		t.Fatalf("50 ms of spinning used %v of CPU time (x=%d)", d, x)
	}
}
