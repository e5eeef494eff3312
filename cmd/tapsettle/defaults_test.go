package main

import (
	"testing"

	"github.com/tapsettle/tapsettle/config"
	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/stream"
)

// TestConfigDefaultsMatchPackages: a default is written twice, in config
// (what a user who sets nothing gets, documented per key) and in the
// package that uses it (what a caller of the package that passes zero
// gets). config does not import those packages, to stay a small leaf, so
// this test, in the one package that imports both, keeps the two copies
// equal.
func TestConfigDefaultsMatchPackages(t *testing.T) {
	c := config.Default()
	for _, d := range []struct {
		key           string
		config, other any
	}{
		{"engine.batch_size", c.Engine.BatchSize, engine.DefaultBatchSize},
		{"engine.window", c.Engine.Window, engine.DefaultWindow},
		{"checkpoint.interval", c.Checkpoint.Interval, stream.DefaultCheckpointInterval},
		{"checkpoint.taps", c.Checkpoint.Taps, stream.DefaultCheckpointTaps},
		{"clearing.keep", c.Clearing.Keep, stream.DefaultKeepCycles},
	} {
		if d.config != d.other {
			t.Errorf("%s: config's default is %v, the package's %v", d.key, d.config, d.other)
		}
	}
}
