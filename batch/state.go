package batch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/internal/durable"
	"github.com/tapsettle/tapsettle/transit"
)

// A state folder (settle --state DIR) carries the engine's journey state
// from one run of the batch job to the next, so that a clearing house can
// settle day by day and get the files of one run over all the days:
//
//	DIR/lock                         held while a run uses the folder
//	DIR/state.json                   what the state is; the commit point
//	DIR/engine-<YYYY-MM-DD>.state.zst   the engine's state after that day closed
//
// state.json names the engine file with its size and SHA-256; a run reads
// it, checks it, and after writing its day files writes the next engine
// file and then state.json, each atomically. A crash before state.json is
// replaced leaves the previous state in force: the run can be repeated
// and writes the same day files again.

const (
	stateFile     = "state.json"
	stateLockFile = "lock"
	// StateFormat is the version of state.json this build writes and
	// reads.
	StateFormat = 1
)

// StateInfo is state.json.
type StateInfo struct {
	Format int `json:"format"`
	// Closed is the last settlement day closed (YYYY-MM-DD): its files
	// and every earlier day's are written and never change.
	Closed string `json:"closed"`
	// Timezone and Cutoff are the calendar the days were cut with; a run
	// with another calendar is refused.
	Timezone string `json:"timezone"`
	Cutoff   string `json:"cutoff"`
	// DedupDays is the dedup window the state was written with.
	DedupDays int `json:"dedup_days"`
	// PolicyFingerprint identifies the fare book of the run that wrote it.
	PolicyFingerprint string `json:"policy_fingerprint"`
	// Engine names the engine state file, with its size and SHA-256.
	Engine       string `json:"engine"`
	EngineSize   int64  `json:"engine_size"`
	EngineSHA256 string `json:"engine_sha256"`
	// Carried counts the metro journeys open at Closed's cut-off, carried
	// into the next day.
	Carried int64 `json:"carried"`
	// Held counts the taps of days after Closed that the runs so far
	// read: they are priced when their day closes.
	Held    int64     `json:"held"`
	Written time.Time `json:"written"`
}

// ErrDayClosed is returned by a run with a state folder asked to close a
// day the state has closed already: settling a closed day again would
// change files already delivered.
var ErrDayClosed = errors.New("day already closed")

// stateDir is an open state folder: locked, its state.json read.
type stateDir struct {
	dir  string
	lock *os.File
	info *StateInfo // nil: a new folder
	sync bool
}

// openState locks dir, creating it if needed, and reads its state.json.
func openState(dir string, cal *transit.Calendar, sync bool) (*stateDir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("settle: state folder: %w", err)
	}
	lock, err := durable.Lock(filepath.Join(dir, stateLockFile))
	if errors.Is(err, durable.ErrLocked) {
		return nil, fmt.Errorf("settle: state folder %s is in use by another run", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("settle: lock state folder: %w", err)
	}
	sd := &stateDir{dir: dir, lock: lock, sync: sync}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		return sd, nil
	case err != nil:
		sd.release()
		return nil, fmt.Errorf("settle: %w", err)
	}
	var info StateInfo
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		sd.release()
		return nil, fmt.Errorf("settle: %s: %w", filepath.Join(dir, stateFile), err)
	}
	if err := info.check(cal); err != nil {
		sd.release()
		return nil, fmt.Errorf("settle: %s: %w", filepath.Join(dir, stateFile), err)
	}
	// The engine file is read once the inputs are (see router.price):
	// one cut short or missing is refused now, its checksum then.
	if fi, err := os.Stat(filepath.Join(dir, info.Engine)); err != nil || fi.Size() != info.EngineSize {
		sd.release()
		if err == nil {
			err = fmt.Errorf("%d bytes, state.json says %d", fi.Size(), info.EngineSize)
		}
		return nil, fmt.Errorf("settle: state: %s: %w", filepath.Join(dir, info.Engine), err)
	}
	sd.info = &info
	return sd, nil
}

func (s *StateInfo) check(cal *transit.Calendar) error {
	switch {
	case s.Format != StateFormat:
		return fmt.Errorf("format %d, this build reads %d", s.Format, StateFormat)
	case s.Timezone != cal.Location().String() || s.Cutoff != cutoffString(cal):
		return fmt.Errorf("days were cut at %s %s, this run cuts them at %s %s: a state carries over only under one calendar",
			s.Cutoff, s.Timezone, cutoffString(cal), cal.Location())
	case s.Engine != filepath.Base(s.Engine) || !strings.HasSuffix(s.Engine, ".state.zst"):
		return fmt.Errorf("engine file %q is not a state file of this folder", s.Engine)
	}
	if _, err := transit.ParseDay(s.Closed); err != nil {
		return fmt.Errorf("closed: %w", err)
	}
	return nil
}

func cutoffString(cal *transit.Calendar) string {
	c := cal.Cutoff()
	return fmt.Sprintf("%02d:%02d", int(c.Hours()), int(c.Minutes())%60)
}

// closed returns the last closed day, 0 for a new folder.
func (s *stateDir) closed() transit.Day {
	if s.info == nil {
		return 0
	}
	d, _ := transit.ParseDay(s.info.Closed) // checked by openState
	return d
}

// load reads the engine state into eng, checking its size and checksum.
func (s *stateDir) load(eng *engine.Engine) error {
	if s.info == nil {
		return nil
	}
	return s.read(eng.ReadState)
}

// read calls f with the engine state, decompressed as it is read; f
// returns the last closed day the state says. The file's size and
// checksum are checked once f has read it (the whole file, read as a
// stream, is never held: a partitioned run's state may be larger than
// its budget), and a mismatch is the error, whatever f made of the
// bytes.
func (s *stateDir) read(f func(io.Reader) (transit.Day, error)) error {
	path := filepath.Join(s.dir, s.info.Engine)
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("settle: state: %w", err)
	}
	defer file.Close()
	h := sha256.New()
	cr := &durable.CountWriter{W: h}
	src := io.TeeReader(file, cr)
	closed, ferr := func() (transit.Day, error) {
		zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			return 0, err
		}
		defer zr.Close()
		return f(zr)
	}()
	// The rest of the file, for its checksum.
	if _, err := io.Copy(io.Discard, src); err != nil {
		return fmt.Errorf("settle: state: %w", err)
	}
	if sum := h.Sum(nil); cr.N != s.info.EngineSize || hex.EncodeToString(sum) != s.info.EngineSHA256 {
		return fmt.Errorf("settle: state: %s: %d bytes with SHA-256 %x, state.json says %d bytes, %s",
			path, cr.N, sum, s.info.EngineSize, s.info.EngineSHA256)
	}
	if ferr != nil {
		return fmt.Errorf("settle: state: %s: %w", path, ferr)
	}
	if closed != s.closed() {
		return fmt.Errorf("settle: state: %s closes %v, state.json says %s", path, closed, s.info.Closed)
	}
	return nil
}

// save writes the engine state whose days up to closed are closed (write
// writes it, uncompressed; carried and held are its open journeys and
// held taps), and commits it by replacing state.json; the engine file it
// replaces is removed.
func (s *stateDir) save(write func(io.Writer) error, carried, held int64, closed transit.Day, cal *transit.Calendar, dedupDays int, fingerprint string) error {
	w := durable.Writer{Sync: s.sync, SyncEach: true, Mode: 0o644}
	name := "engine-" + closed.String() + ".state.zst"
	size, sum, err := w.Write(filepath.Join(s.dir, name), func(out io.Writer) error {
		zw, err := zstd.NewWriter(out, zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithEncoderLevel(zstd.SpeedFastest))
		if err != nil {
			return err
		}
		if err := write(zw); err != nil {
			zw.Close()
			return err
		}
		return zw.Close()
	})
	if err == nil {
		// The engine file's entry is durable before state.json names it.
		err = w.SyncDir(s.dir)
	}
	if err != nil {
		return fmt.Errorf("settle: write state: %w", err)
	}
	info := StateInfo{
		Format: StateFormat, Closed: closed.String(),
		Timezone: cal.Location().String(), Cutoff: cutoffString(cal),
		DedupDays: dedupDays, PolicyFingerprint: fingerprint,
		Engine: name, EngineSize: size, EngineSHA256: hex.EncodeToString(sum[:]),
		Carried: carried, Held: held, Written: time.Now().UTC().Truncate(time.Second),
	}
	js, err := json.MarshalIndent(&info, "", "  ")
	if err != nil {
		return fmt.Errorf("settle: write state: %w", err)
	}
	if _, _, err := w.Write(filepath.Join(s.dir, stateFile), func(out io.Writer) error {
		_, err := out.Write(append(js, '\n'))
		return err
	}); err != nil {
		return fmt.Errorf("settle: write state: %w", err)
	}
	if err := w.SyncDir(s.dir); err != nil {
		return fmt.Errorf("settle: write state: %w", err)
	}
	if s.info != nil && s.info.Engine != name {
		if err := os.Remove(filepath.Join(s.dir, s.info.Engine)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("settle: remove the state replaced: %w", err)
		}
	}
	s.info = &info
	return nil
}

func (s *stateDir) release() {
	if s != nil && s.lock != nil {
		_ = durable.Unlock(s.lock)
		s.lock = nil
	}
}
