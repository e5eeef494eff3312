//go:build race

package batch_test

// raceEnabled reports whether the race detector is on: it slows decoding
// several times over, so the memory tests settle smaller inputs.
const raceEnabled = true
