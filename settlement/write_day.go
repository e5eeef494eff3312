package settlement

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tapsettle/tapsettle/internal/durable"
	"github.com/tapsettle/tapsettle/transit"
)

// WriteDay validates d and writes its files to root/<day>/ (see the
// package documentation), returning the manifest it wrote last.
//
// Each file is written atomically (a temporary name, then a rename), and
// the manifest only after every data file is durable, so a folder with a
// manifest is complete. The data files are made durable together before
// any is renamed into place: with one syncfs(2) on Linux 5.8 and later,
// with one fsync per file (concurrently) elsewhere. Each folder is then
// synced once, and the manifest is written and synced on its own: a
// handful of syncs per day, whatever its number of clearing files. syncfs
// flushes every dirty file of the file system, other programs' too, so
// the output is best kept off a file system that others write heavily.
// Writing a day again replaces its files: the old manifest is removed
// (durably) first, and files of an earlier run that the new manifest does
// not list (an issuer whose cards no longer ride elsewhere, a ledger no
// longer asked for) are removed before the new manifest is written. Other
// files in the folder are left alone, and Verify reports them.
func WriteDay(root string, d *Day, opts WriteOptions) (*Manifest, error) {
	return writeDay(root, d, opts, durable.Writer{Sync: !opts.SkipSync, SyncEach: !durable.SyncFSReportsErrors})
}

// writeStep names a point between two phases of writeDay.
type writeStep int

const (
	// stepDurable: every data file is staged and durable; none is renamed.
	stepDurable writeStep = iota
	// stepInPlace: the data files are in place and their folders synced;
	// the manifest is not written yet.
	stepInPlace
)

// writeDay is WriteDay with the durability strategy chosen by out (its
// mode is set here).
func writeDay(root string, d *Day, opts WriteOptions, out durable.Writer) (*Manifest, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if opts.Ledger && !d.Ledger {
		return nil, fmt.Errorf("settlement: a ledger was asked for, but day %s was collected without Options.Ledger: %w", DirName(d.Day), ErrOptions)
	}
	out.Mode = os.FileMode(opts.fileMode())
	dir := filepath.Join(root, DirName(d.Day))
	clearingDir := filepath.Join(dir, ClearingDir)
	if err := prepareDayDir(dir, clearingDir, len(d.Bilateral) > 0, out); err != nil {
		return nil, err
	}
	// syncfs reports the write-back errors that happen after the
	// descriptor it is given was opened: open the folders before writing.
	var dirs []*os.File
	if out.Sync && !out.SyncEach {
		var err error
		if dirs, err = openDirs(dir, clearingDir); err != nil {
			return nil, err
		}
		defer func() {
			for _, f := range dirs {
				f.Close()
			}
		}()
	}

	files, stagedFiles, err := stageDay(dir, d, opts, out)
	committed := 0
	defer func() {
		for _, s := range stagedFiles[committed:] {
			s.Discard()
		}
	}()
	if err != nil {
		return nil, fmt.Errorf("write day %s: %w", DirName(d.Day), err)
	}
	if len(dirs) > 0 {
		if err := durable.SyncFS(dirs...); err != nil {
			return nil, fmt.Errorf("write day %s: %w", DirName(d.Day), err)
		}
	}
	if err := opts.fault(stepDurable); err != nil {
		return nil, err
	}
	for _, s := range stagedFiles {
		if err := s.Commit(); err != nil {
			return nil, fmt.Errorf("write day %s: %w", DirName(d.Day), err)
		}
		committed++
	}
	slices.SortFunc(files, func(a, b ManifestFile) int { return strings.Compare(a.Path, b.Path) })
	if err := removeStale(dir, files); err != nil {
		return nil, err
	}
	for _, sub := range []string{clearingDir, dir} {
		if err := out.SyncDir(sub); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if err := opts.fault(stepInPlace); err != nil {
		return nil, err
	}
	return writeManifest(dir, DirName(d.Day), files, out)
}

// prepareDayDir creates the day's folder (and its clearing folder when the
// day has clearing files) and removes, durably, the manifest of an earlier
// run: from here on no manifest exists, on disk either, until the new one
// is written, so a crash leaves a folder that Verify refuses.
func prepareDayDir(dir, clearingDir string, clearing bool, out durable.Writer) error {
	if err := out.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create day folder: %w", err)
	}
	switch err := os.Remove(filepath.Join(dir, ManifestName)); {
	case err == nil:
		if err := out.SyncDir(dir); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("remove the old manifest: %w", err)
	}
	if clearing {
		if err := out.MkdirAll(clearingDir, 0o750); err != nil {
			return fmt.Errorf("create clearing folder: %w", err)
		}
	}
	return nil
}

// openDirs opens the day folder and, if it exists, the clearing folder,
// for durable.SyncFS. On error it closes what it opened.
func openDirs(dir, clearingDir string) ([]*os.File, error) {
	var dirs []*os.File
	for _, p := range []string{dir, clearingDir} {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) && p == clearingDir {
			continue
		}
		if err != nil {
			for _, d := range dirs {
				d.Close()
			}
			return nil, fmt.Errorf("open %s to sync it: %w", p, err)
		}
		dirs = append(dirs, f)
	}
	return dirs, nil
}

// writeManifest writes the manifest listing files, last, and syncs the
// folder.
func writeManifest(dir, day string, files []ManifestFile, out durable.Writer) (*Manifest, error) {
	m := &Manifest{Day: day, Files: files}
	data := m.Marshal()
	if _, _, err := out.Write(filepath.Join(dir, ManifestName), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}); err != nil {
		return nil, err
	}
	if err := out.SyncDir(dir); err != nil {
		return nil, err
	}
	return m, nil
}

// stageDay writes every data file of the day under a temporary name, on
// up to opts.concurrency() goroutines, and returns their manifest entries
// and staged files in job order. On error the files staged so far are
// still returned, for the caller to discard.
func stageDay(dir string, d *Day, opts WriteOptions, out durable.Writer) ([]ManifestFile, []durable.Staged, error) {
	jobs := dayJobs(dir, d, opts)
	files := make([]ManifestFile, len(jobs))
	stagedFiles := make([]durable.Staged, len(jobs))
	errs := make([]error, len(jobs))
	var failed atomic.Bool
	var wg sync.WaitGroup
	// The clearing files of spilled rows are one merge, issuer by issuer,
	// beside the other jobs.
	var cfiles []ManifestFile
	var cstaged []durable.Staged
	var cerr error
	if d.rowsSpilled() {
		wg.Go(func() {
			cfiles, cstaged, cerr = stageSpilledClearing(dir, d, opts, out)
			if cerr != nil {
				failed.Store(true)
			}
		})
	}
	sem := make(chan struct{}, opts.concurrency())
	for i, j := range jobs {
		sem <- struct{}{}
		if failed.Load() {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			mf := ManifestFile{Path: j.path}
			var err error
			stagedFiles[i], mf.Size, mf.SHA256, err = out.Stage(filepath.Join(dir, filepath.FromSlash(j.path)), func(w io.Writer) error {
				return j.write(w, &mf)
			})
			files[i], errs[i] = mf, err
			if err != nil {
				failed.Store(true)
			}
		})
	}
	wg.Wait()
	files, stagedFiles = append(files, cfiles...), append(stagedFiles, cstaged...)
	// A failed or skipped job left a zero staged entry; Discard ignores it.
	return files, stagedFiles, errors.Join(append(errs, cerr)...)
}

// dayJob writes one file and fills in its records and totals.
type dayJob struct {
	path  string
	write func(w io.Writer, mf *ManifestFile) error
}

func dayJobs(dir string, d *Day, opts WriteOptions) []dayJob {
	jobs := []dayJob{{
		path: SummaryName,
		write: func(w io.Writer, mf *ManifestFile) error {
			mf.Records = d.Records
			setTotals(mf, d.Totals)
			s := NewSummary(d, opts.PolicyFingerprint, opts.producer())
			s.Policies = opts.Policies
			// The books' counts come from the caller: a summary whose
			// counts the day does not bear out would fail Verify later.
			if err := s.checkPolicies(); err != nil {
				return fmt.Errorf("settlement: WriteOptions.Policies: %w", err)
			}
			_, err := w.Write(compress(nil, s.Marshal()))
			return err
		},
	}, {
		path: RejectsName,
		write: func(w io.Writer, mf *ManifestFile) error {
			n, err := writeRejects(w, d)
			mf.Records = n
			return err
		},
	}}
	if opts.Ledger {
		jobs = append(jobs, dayJob{
			path: LedgerName,
			write: func(w io.Writer, mf *ManifestFile) error {
				mf.Records = d.RowCount()
				setTotals(mf, d.Totals)
				workers := min(opts.concurrency(), runtime.GOMAXPROCS(0))
				if d.rowsSpilled() {
					return writeSpilledLedger(w, d, workers)
				}
				return writeLedger(w, d.Rows, workers)
			},
		})
	}
	if d.rowsSpilled() {
		return jobs // the clearing files: stageSpilledClearing
	}
	// d.Bilateral lists the pairs, sorted: index the rows by pair, class
	// and mode, the order of the batches.
	pairAt := make(map[uint64]int, len(d.Bilateral))
	for j, b := range d.Bilateral {
		pairAt[pairKey(b.Issuer, b.Acquirer)] = j
	}
	// A counting sort: the rows' indexes, 4 bytes a row, in one slice
	// allocated once, batch by batch; start[k] is where batch k's begin.
	start := make([]int, len(d.Bilateral)*batchSlots+1)
	slot := func(r *transit.Priced) int { return pairAt[pairKey(r.Issuer, r.City)]*batchSlots + batchSlot(r) }
	for i := range d.Rows {
		if r := &d.Rows[i]; isClearing(r) && r.Interregional() {
			start[slot(r)+1]++
		}
	}
	for k := 1; k < len(start); k++ {
		start[k] += start[k-1]
	}
	order := make([]int32, start[len(start)-1])
	next := slices.Clone(start[:len(start)-1])
	for i := range d.Rows {
		if r := &d.Rows[i]; isClearing(r) && r.Interregional() {
			k := slot(r)
			order[next[k]] = int32(i)
			next[k]++
		}
	}
	for lo, hi := range runs(d.Bilateral, issuerOf) {
		issuer := d.Bilateral[lo].Issuer
		path := ClearingPath(issuer)
		jobs = append(jobs, dayJob{
			path: path,
			write: func(w io.Writer, mf *ManifestFile) error {
				cw := newClearingWriter(w, filepath.Dir(filepath.Join(dir, filepath.FromSlash(path))), clearingHeader(d, issuer, opts))
				for _, i := range order[start[lo*batchSlots]:start[hi*batchSlots]] {
					if err := cw.addRow(&d.Rows[i]); err != nil {
						cw.discard()
						return err
					}
				}
				return closeClearing(cw, mf)
			},
		})
	}
	return jobs
}

// batchSlots is the number of batches of one (issuer, acquirer) pair:
// one per class and mode.
const batchSlots = int(numClasses-1) * int(transit.NumModes-1)

// batchSlot is the place of row r's batch among its pair's, in batch
// order. r is a valid clearing row (Day.Validate): a bus or metro row.
func batchSlot(r *transit.Priced) int {
	return int(classOf(r.Status)-1)*int(transit.NumModes-1) + int(r.Mode-1)
}

// clearingHeader is the file header of issuer's clearing file of d.
func clearingHeader(d *Day, issuer transit.City, opts WriteOptions) FileHeader {
	return FileHeader{Day: d.Day, Issuer: issuer, PolicyFingerprint: opts.PolicyFingerprint, Producer: opts.producer()}
}

// closeClearing closes cw, writing the file, and puts its records and
// totals in mf.
func closeClearing(cw *clearingWriter, mf *ManifestFile) error {
	c, err := cw.close()
	if err != nil {
		return err
	}
	mf.Records = c.Details
	setTotals(mf, Amounts{Count: c.Details, Gross: c.Gross, Discount: c.Discount, Charged: c.Charged})
	return nil
}

func setTotals(mf *ManifestFile, a Amounts) {
	mf.HasTotals = true
	mf.Gross, mf.Discount, mf.Charged = a.Gross, a.Discount, a.Charged
}

// removeStale removes the files of an earlier run that files does not
// list, and temporary files of interrupted runs. Only names this package
// writes are touched.
func removeStale(dir string, files []ManifestFile) error {
	keep := make(map[string]bool, len(files))
	for _, f := range files {
		keep[f.Path] = true
	}
	for _, sub := range []string{"", ClearingDir} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", dir, err)
		}
		for _, e := range entries {
			rel := e.Name()
			if sub != "" {
				rel = sub + "/" + rel
			}
			stale := e.Type().IsRegular() && !keep[rel] && (knownPath(rel) || strings.HasPrefix(e.Name(), durable.TempPrefix))
			if !stale {
				continue
			}
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
				return fmt.Errorf("remove stale file: %w", err)
			}
		}
	}
	return nil
}
