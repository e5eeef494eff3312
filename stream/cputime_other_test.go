//go:build !unix

package stream

import (
	"testing"
	"time"
)

// cpuTime is not measured here: BenchmarkStream's cpu-ns/tap reads 0.
func cpuTime(*testing.B) time.Duration { return 0 }
