package stream

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/tapsettle/tapsettle/fares"
)

// Live policy changes.
//
// tapsettle run reloads its fare policies on SIGHUP and when the policy
// directory changes (WatchPolicies). A reload compiles and checks the
// whole book (fares.Load) before anything changes: a directory with a
// problem leaves the running book in place. A valid book is handed to the
// partitions with SetBook, which never waits on pricing; each partition
// adopts it at its next batch, after a checkpoint of what it priced with
// the previous one (worker.adoptBook), so every segment's reference names
// the one book that priced its rows, and a day's files list every book
// that priced the day (settlement.PolicySet).

// DefaultReloadDebounce is how long the policy directory must stay
// unchanged after a change before WatchPolicies reloads: an editor's save,
// a copy of several files or a Kubernetes ConfigMap update is a burst of
// events, and one reload should follow it.
const DefaultReloadDebounce = 500 * time.Millisecond

// ReloadPolicies loads the fare policies of dir (fares.Load: the embedded
// policies with dir's files laid over them) and, when every file is
// valid, makes the book they compile the one the partitions price with
// from their next batch. On a problem the running book stays: the error,
// which is also logged with the files at fault, names each file, line and
// key, and never shows a file's content (fares.Error). dir "" means the
// embedded policies only, which cannot change: it logs that there is
// nothing to reload and returns nil. cause says what asked for the
// reload ("SIGHUP", "the policy directory changed"), for the log.
//
// Reloads are serialised, so the last one to return has read the latest
// files. Each is counted in the service's metrics.
func (s *Service) ReloadPolicies(dir, cause string) error {
	if dir == "" {
		s.log.Info("no policy directory (policies.dir) is configured: the embedded fare policies have nothing to reload", "cause", cause)
		return nil
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	running := s.book.Load()
	b, err := fares.Load(dir)
	now := time.Now()
	if err != nil {
		// Logged before counted: whoever sees the count (an alert, a
		// test) finds the reason already in the log.
		files, n := problemFiles(err)
		s.log.Error("fare policy reload failed: pricing goes on with the running book",
			"cause", cause, "dir", dir, "files", files, "problems", n, "policy", running.Fingerprint(), "err", err)
		if m := s.cfg.Metrics; m != nil {
			m.PolicyReloaded("", now, err)
		}
		return err
	}
	if m := s.cfg.Metrics; m != nil {
		m.PolicyReloaded(b.Fingerprint(), now, nil)
	}
	if b.Fingerprint() == running.Fingerprint() {
		// Same prices: keep the running book, so partitions do not cut a
		// segment for nothing.
		s.log.Info("fare policies reloaded: unchanged", "cause", cause, "dir", dir, "policy", running.Fingerprint())
		return nil
	}
	s.SetBook(b)
	s.log.Info("fare policies reloaded: each partition prices with the new book from its next batch",
		"cause", cause, "dir", dir, "policy", b.Fingerprint(), "previous", running.Fingerprint())
	return nil
}

// problemFiles returns the files that the problems of a failed load name
// (each once, in order), and the number of problems.
func problemFiles(err error) (files []string, n int) {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		n++
		var fe *fares.Error
		if errors.As(e, &fe) && !slices.Contains(files, fe.File) {
			files = append(files, fe.File)
		}
	}
	return files, n
}

// WatchPolicies reloads the fare policies (ReloadPolicies) once the
// policy files of dir have changed and then stayed unchanged for debounce
// (DefaultReloadDebounce when 0). It watches the directory, not its
// files, so that a file replaced by a rename (as editors save, and as a
// ConfigMap volume swaps its "..data" link) is seen; changes to other
// names (an editor's swap file) are not reloads. It returns once the
// directory is watched, or with the error that prevented it; the watch
// ends with ctx, when the returned channel is closed.
//
// A directory that is removed or renamed away is watched again once it is
// back (until then each attempt's reload fails, and says so). A
// directory that is itself a symbolic link is watched where it pointed
// when the watch began: retargeting the link needs a SIGHUP.
func (s *Service) WatchPolicies(ctx context.Context, dir string, debounce time.Duration) (<-chan struct{}, error) {
	return watchDir(ctx, dir, debounce, s.log, func() {
		_ = s.ReloadPolicies(dir, "the policy directory changed") // logged and counted
	})
}

// watchDir calls changed after each burst of changes to the policy files
// of dir (see WatchPolicies), on a goroutine of its own, until ctx ends.
func watchDir(ctx context.Context, dir string, debounce time.Duration, log *slog.Logger, changed func()) (<-chan struct{}, error) {
	if debounce <= 0 {
		debounce = DefaultReloadDebounce
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer w.Close()
		timer := time.NewTimer(0)
		if !timer.Stop() {
			<-timer.C
		}
		// lost: the directory itself went away; it is watched again once
		// it is back, and reported gone by one reload meanwhile.
		lost, reported := false, false
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == filepath.Clean(dir) && ev.Has(fsnotify.Remove|fsnotify.Rename) {
					log.Warn("the policy directory was removed or renamed: it is watched again once it is back", "dir", dir)
					lost, reported = true, false
				} else if ev.Op == fsnotify.Chmod || !policyName(filepath.Base(ev.Name)) {
					continue
				}
				timer.Reset(debounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				// An overflowed queue loses events: reload to be sure.
				log.Warn("watching the policy directory", "dir", dir, "err", err)
				timer.Reset(debounce)
			case <-timer.C:
				if lost {
					if err := w.Add(dir); err != nil {
						timer.Reset(max(debounce, 5*time.Second))
						if reported {
							continue
						}
						reported = true
					} else {
						lost = false
						log.Info("the policy directory is back and watched again", "dir", dir)
					}
				}
				changed()
			}
		}
	}()
	return done, nil
}

// policyName reports whether a change to the directory entry name can
// change the book: a policy file (*.yaml, *.yml), or one of the entries
// a Kubernetes ConfigMap volume swaps to update its files atomically
// ("..data", "..2025_03_04_...").
func policyName(name string) bool {
	ext := filepath.Ext(name)
	return ext == ".yaml" || ext == ".yml" || strings.HasPrefix(name, "..")
}
