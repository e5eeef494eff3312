package batch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tapsettle/tapsettle/internal/durable"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/transit"
)

// ErrOutputInUse is returned by a run whose OutDir already holds
// settlement days the run owns (see Settle.Force).
var ErrOutputInUse = errors.New("output folder holds an earlier run's days")

// ownedDays returns the day folders (YYYY-MM-DD, undated) under out that
// a run owns: every one for a run without a state folder; with one, those
// after the state's last closed day closed (the days up to it are earlier
// runs' of the same state, and never change) and undated (a run with a
// state never writes it: it books unreadable times in its last day).
// Other entries are not the run's and are left alone.
func ownedDays(out string, state bool, closed transit.Day) ([]string, error) {
	entries, err := os.ReadDir(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("settle: output folder: %w", err)
	}
	var owned []string
	for _, e := range entries {
		d, err := settlement.ParseDirName(e.Name())
		if err != nil {
			continue
		}
		if !state || d == settlement.Undated || d > closed {
			owned = append(owned, e.Name())
		}
	}
	return owned, nil
}

// claimOutput checks that the run may write OutDir: it owns its day
// folders (ownedDays), so an earlier run's there would be mixed with
// its own (a stale undated/ whose summary counts records this run never
// read, or days this run does not write). Without Force it refuses them;
// with Force it returns them for replaceOutput to remove.
func (s *Settle) claimOutput(state bool, closed transit.Day) ([]string, error) {
	if s.OutDir == "" {
		return nil, nil
	}
	owned, err := ownedDays(s.OutDir, state, closed)
	if err != nil || len(owned) == 0 || s.Force {
		return owned, err
	}
	scope := "a run owns its output folder's days"
	if state {
		scope = fmt.Sprintf("a run with a state folder owns the days after the state's last closed day, %v", closed)
	}
	return nil, fmt.Errorf("settle: %s already holds %s from an earlier run (%s): give an empty or new folder, or --force to replace them: %w",
		s.OutDir, strings.Join(owned, ", "), scope, ErrOutputInUse)
}

// replaceOutput removes the day folders claimOutput returned, durably,
// once the run has priced everything and is about to write.
func (s *Settle) replaceOutput(owned []string) error {
	for _, name := range owned {
		if err := os.RemoveAll(filepath.Join(s.OutDir, name)); err != nil {
			return fmt.Errorf("settle: replace %s: %w", name, err)
		}
	}
	if len(owned) == 0 || s.SkipSync {
		return nil
	}
	return durable.SyncDir(s.OutDir)
}
