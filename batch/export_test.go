package batch

import (
	"io"
	"path/filepath"

	"github.com/tapsettle/tapsettle/transit"
)

// SetAfterPartition sets a hook that s calls with its spill folder once
// its taps are partitioned, before they are priced.
func SetAfterPartition(s *Settle, f func(dir string)) { s.afterPartition = f }

// SetGroupShards makes s price groups of partitions with n shards (at
// most its own), whatever its budget's plan says.
func SetGroupShards(s *Settle, n int) { s.groupShards = n }

// SaveState saves state as the engine state of a state folder at dir whose
// days up to closed are closed, and returns the engine file's path.
func SaveState(dir string, cal *transit.Calendar, closed transit.Day, state []byte) (string, error) {
	sd, err := openState(dir, cal, false)
	if err != nil {
		return "", err
	}
	defer sd.release()
	write := func(w io.Writer) error { _, err := w.Write(state); return err }
	if err := sd.save(write, 0, 0, closed, cal, 7, "fp"); err != nil {
		return "", err
	}
	return filepath.Join(dir, sd.info.Engine), nil
}
