package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/tapsettle/tapsettle/internal/durable"
)

// File names inside a partition folder.
const (
	logName  = "log"     // the partition's log: header, then records
	tmpName  = "log.tmp" // a log being rewritten; renamed over logName when durable
	lockName = "lock"    // holds the ownership lock; never has content
	partFmt  = "p%04d"   // partition folder: p0000, p0001, ...
	dirPerm  = 0o755
	filePerm = 0o644
	// bufKeep is the largest encode buffer a partition keeps between commits.
	// Steady-state checkpoints (a few MB) reuse their buffer; the rare huge
	// Full checkpoint does not pin its buffer for the life of the partition.
	bufKeep = 16 << 20
)

// LocalOptions configures a Local store. The zero value is the production
// configuration.
type LocalOptions struct {
	// NoSync skips fsync. Tests only: a machine crash (not a process crash)
	// may then lose acknowledged commits.
	NoSync bool
	// Logger receives warnings about recovered torn tails. Default: slog.Default().
	Logger *slog.Logger
}

// Local keeps each partition's state in an append-only log under
// dir/p<NNNN>/. It is the default backend: one fdatasync per Commit, no
// network, state survives process kills (and machine crashes unless NoSync).
//
// Ownership is an exclusive flock on dir/p<NNNN>/lock taken by Load; a second
// Store value (in this or another process) that Loads the partition meanwhile
// gets ErrLocked. A killed process's locks are released by the kernel.
// Commit from a Store that does not own the partition returns ErrFenced.
type Local struct {
	dir  string
	opts LocalOptions
	log  *slog.Logger

	mu     sync.Mutex
	parts  map[int]*localPart
	closed bool

	// syncHook, when non-nil, replaces the data sync of log files; tests use
	// it to inject I/O failures.
	syncHook func(*os.File) error
}

var _ Store = (*Local)(nil)

// localPart is one owned partition. mu serialises Load, Commit and Release
// of the partition; size is also read by LogBytes without mu.
type localPart struct {
	p    int
	dir  string
	path string

	mu       sync.Mutex
	lock     *os.File // holds the ownership lock while open
	f        *os.File // the log, opened read-write; nil while no log exists
	seq      uint64   // last committed Seq
	broken   bool     // a write or sync failed: rewrite the log before the next Commit
	released bool
	buf      []byte // encode buffer, reused across commits

	size atomic.Int64 // bytes of the log that hold committed records
}

// NewLocal returns a Local store rooted at dir, creating dir if needed.
func NewLocal(dir string, opts LocalOptions) (*Local, error) {
	if dir == "" {
		return nil, fmt.Errorf("state: local state directory is empty: %w", ErrInvalid)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	l := &Local{dir: dir, opts: opts, log: logger, parts: make(map[int]*localPart)}
	if err := l.mkdir(dir); err != nil {
		return nil, fmt.Errorf("state: create state directory: %w", err)
	}
	return l, nil
}

// mkdir creates dir (and its parents) if needed and, when it created it,
// syncs the parent so that the new entry survives a machine crash: a log
// synced inside a folder whose own entry was lost would be lost with it.
func (l *Local) mkdir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return err
	}
	return l.syncDir(filepath.Dir(dir))
}

// Load replays partition p's log and takes ownership of p. It truncates a
// torn tail left by a crash mid-write (logging a warning) and returns a
// *CorruptError (ErrCorrupt) for damage anywhere else. If another Store
// value holds p it returns ErrLocked. On error, this Store does not own p.
// Loading a partition this Store already owns re-reads it.
func (l *Local) Load(ctx context.Context, p int) (*Snapshot, error) {
	if err := checkPartition(p); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("state: load partition %d: %w", p, err)
	}
	pt, err := l.acquire(p)
	if err != nil {
		return nil, err
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.released {
		return nil, fmt.Errorf("state: load partition %d: released while loading: %w", p, ErrFenced)
	}
	snap, err := l.open(pt)
	if err != nil {
		l.forget(pt)
		_ = pt.closeLocked()
		return nil, err
	}
	return snap, nil
}

// acquire returns p's partition, taking its lock if this Store does not hold it yet.
func (l *Local) acquire(p int) (*localPart, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if pt := l.parts[p]; pt != nil {
		return pt, nil
	}
	dir := filepath.Join(l.dir, fmt.Sprintf(partFmt, p))
	if err := l.mkdir(dir); err != nil {
		return nil, fmt.Errorf("state: partition %d: %w: %w", p, ErrUnavailable, err)
	}
	lockPath := filepath.Join(dir, lockName)
	lock, err := durable.Lock(lockPath)
	if err != nil {
		if errors.Is(err, durable.ErrLocked) {
			return nil, fmt.Errorf("state: partition %d: %s: %w", p, lockPath, ErrLocked)
		}
		return nil, fmt.Errorf("state: partition %d: lock %s: %w: %w", p, lockPath, ErrUnavailable, err)
	}
	pt := &localPart{p: p, dir: dir, path: filepath.Join(dir, logName), lock: lock}
	l.parts[p] = pt
	return pt, nil
}

// owned returns p's partition if this Store owns it.
func (l *Local) owned(p int) (*localPart, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if pt := l.parts[p]; pt != nil {
		return pt, nil
	}
	return nil, fmt.Errorf("state: partition %d is not loaded by this store: %w", p, ErrFenced)
}

// forget removes pt from the map if it is still there.
func (l *Local) forget(pt *localPart) {
	l.mu.Lock()
	if l.parts[pt.p] == pt {
		delete(l.parts, pt.p)
	}
	l.mu.Unlock()
}

// open (re)opens pt's log and replays it. pt.mu is held.
func (l *Local) open(pt *localPart) (*Snapshot, error) {
	if pt.f != nil {
		_ = pt.f.Close()
		pt.f = nil
	}
	pt.seq, pt.broken = 0, false
	pt.size.Store(0)
	// A leftover temporary file is a rewrite that never completed its
	// rename, so it was never acknowledged.
	if err := os.Remove(filepath.Join(pt.dir, tmpName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("state: partition %d: %w: %w", pt.p, ErrUnavailable, err)
	}
	f, err := os.OpenFile(pt.path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return newSnapshot(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("state: partition %d: %w: %w", pt.p, ErrUnavailable, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("state: partition %d: stat %s: %w: %w", pt.p, pt.path, ErrUnavailable, err)
	}
	res, err := replay(f, st.Size(), pt.path)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	if res.tornAt >= 0 {
		l.log.Warn("state: truncating torn tail of partition log",
			"partition", pt.p, "file", pt.path, "offset", res.tornAt,
			"dropped_bytes", res.fileSize-res.tornAt, "reason", res.tornReason, "seq", res.snap.Seq)
		if err := f.Truncate(res.tornAt); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("state: partition %d: truncate torn tail of %s: %w: %w", pt.p, pt.path, ErrUnavailable, err)
		}
		if err := l.sync(f); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("state: partition %d: sync %s: %w: %w", pt.p, pt.path, ErrUnavailable, err)
		}
	}
	pt.f, pt.seq = f, res.snap.Seq
	pt.size.Store(res.good)
	return res.snap, nil
}

// Commit appends cp to p's log and fdatasyncs it; a Full checkpoint (or the
// first one) is written to a new file that replaces the log atomically. A
// checkpoint whose Seq equals the committed Seq is taken as a retry and
// returns nil without writing. After a failed write or sync the next Commit
// first rewrites the log from what is readable, so no acknowledged commit
// depends on pages whose write-back failed.
func (l *Local) Commit(ctx context.Context, p int, cp *Checkpoint) error {
	if err := validate(p, cp); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("state: commit partition %d seq %d: %w: %w", p, cp.Seq, ErrUnavailable, err)
	}
	pt, err := l.owned(p)
	if err != nil {
		return err
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.released {
		return fmt.Errorf("state: partition %d was released: %w", p, ErrFenced)
	}
	if pt.broken {
		if err := l.recover(pt); err != nil {
			return err
		}
	}
	switch {
	case cp.Seq == pt.seq:
		return nil // a retry of the committed checkpoint
	case cp.Seq != pt.seq+1:
		return &SeqError{Partition: p, Stored: pt.seq, Got: cp.Seq}
	}
	if cp.Full || pt.f == nil {
		err = l.rewrite(pt, cp)
	} else {
		err = l.append(pt, cp)
	}
	if cap(pt.buf) > bufKeep {
		pt.buf = nil
	}
	return err
}

// append writes cp at the end of the log. pt.mu is held.
func (l *Local) append(pt *localPart, cp *Checkpoint) error {
	pt.buf = appendRecord(pt.buf[:0], cp)
	size := pt.size.Load()
	// WriteAt at the known end rather than O_APPEND: after a failure the
	// recovery knows exactly which bytes were acknowledged.
	if _, err := pt.f.WriteAt(pt.buf, size); err != nil {
		pt.broken = true
		return fmt.Errorf("state: partition %d seq %d: write %s: %w: %w", pt.p, cp.Seq, pt.path, ErrUnavailable, err)
	}
	if err := l.sync(pt.f); err != nil {
		pt.broken = true
		return fmt.Errorf("state: partition %d seq %d: sync %s: %w: %w", pt.p, cp.Seq, pt.path, ErrUnavailable, err)
	}
	pt.seq = cp.Seq
	pt.size.Store(size + int64(len(pt.buf)))
	return nil
}

// rewrite replaces the log with a new file holding only cp: write a temporary
// file, sync it, rename it over the log, sync the folder. A crash at any
// point leaves either the old log or the new one, both complete. pt.mu is held.
func (l *Local) rewrite(pt *localPart, cp *Checkpoint) error {
	pt.buf = appendRecord(appendFileHeader(pt.buf[:0]), cp)
	tmp := filepath.Join(pt.dir, tmpName)
	fail := func(what string, err error) error {
		return fmt.Errorf("state: partition %d seq %d: %s: %w: %w", pt.p, cp.Seq, what, ErrUnavailable, err)
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return fail("create "+tmp, err)
	}
	abandon := func(what string, err error) error {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fail(what, err) // the old log is untouched and still current
	}
	if _, err := f.Write(pt.buf); err != nil {
		return abandon("write "+tmp, err)
	}
	if err := l.sync(f); err != nil {
		return abandon("sync "+tmp, err)
	}
	if err := os.Rename(tmp, pt.path); err != nil {
		return abandon("rename "+tmp, err)
	}
	if pt.f != nil {
		_ = pt.f.Close()
	}
	pt.f = f
	pt.size.Store(int64(len(pt.buf)))
	if err := l.syncDir(pt.dir); err != nil {
		// The rename may not survive a machine crash: do not acknowledge,
		// and make the next Commit rewrite again (and sync the folder).
		pt.broken = true
		return fail("sync folder "+pt.dir, err)
	}
	pt.seq = cp.Seq
	return nil
}

// recover runs after a failed write or sync. It re-reads the log and writes
// what it holds to a fresh file, so that from now on nothing depends on the
// pages whose write-back failed (after a failed fsync Linux may have dropped
// them while reporting later fsyncs as successful). The checkpoint whose
// write failed may turn out to be complete; then it is kept and the caller's
// retry of it returns nil. pt.mu is held.
func (l *Local) recover(pt *localPart) error {
	snap, err := l.open(pt)
	if err != nil {
		pt.broken = true
		return err
	}
	if pt.f == nil {
		return nil // no log: nothing was ever acknowledged
	}
	if snap.Seq == 0 {
		// A log with a header and no record: the first write failed.
		_ = pt.f.Close()
		pt.f = nil
		pt.size.Store(0)
		if err := os.Remove(pt.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			pt.broken = true
			return fmt.Errorf("state: partition %d: remove empty log: %w: %w", pt.p, ErrUnavailable, err)
		}
		return nil
	}
	if err := l.rewrite(pt, snap.fullCheckpoint()); err != nil {
		pt.broken = true
		return err
	}
	l.log.Info("state: rewrote partition log after an I/O failure", "partition", pt.p, "file", pt.path, "seq", pt.seq)
	return nil
}

// Release closes p's log and lock, so another Store can Load it. Releasing a
// partition this Store does not own is a no-op.
func (l *Local) Release(p int) error {
	l.mu.Lock()
	pt := l.parts[p]
	delete(l.parts, p)
	l.mu.Unlock()
	if pt == nil {
		return nil
	}
	return pt.close()
}

// Close releases every partition. Later calls return ErrClosed.
func (l *Local) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	parts := l.parts
	l.parts = nil
	l.mu.Unlock()
	var errs []error
	for _, pt := range parts {
		errs = append(errs, pt.close())
	}
	return errors.Join(errs...)
}

// LogBytes returns the size of p's log in bytes, or 0 if this Store does not
// own p. A caller sends a Full checkpoint when the log has grown to a few
// times the size of the live state, which compacts it.
func (l *Local) LogBytes(p int) int64 {
	l.mu.Lock()
	pt := l.parts[p]
	l.mu.Unlock()
	if pt == nil {
		return 0
	}
	return pt.size.Load()
}

// close releases the partition's files and lock.
func (pt *localPart) close() error {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.closeLocked()
}

// closeLocked is close with pt.mu held.
func (pt *localPart) closeLocked() error {
	if pt.released {
		return nil
	}
	pt.released = true
	var errs []error
	if pt.f != nil {
		errs = append(errs, pt.f.Close())
		pt.f = nil
	}
	if pt.lock != nil {
		errs = append(errs, durable.Unlock(pt.lock))
		pt.lock = nil
	}
	pt.buf = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("state: release partition %d: %w", pt.p, err)
	}
	return nil
}

// sync makes f's data durable (fdatasync where available).
func (l *Local) sync(f *os.File) error {
	if l.syncHook != nil {
		return l.syncHook(f)
	}
	if l.opts.NoSync {
		return nil
	}
	return durable.Datasync(f)
}

// syncDir makes a rename in dir durable.
func (l *Local) syncDir(dir string) error {
	if l.opts.NoSync {
		return nil
	}
	return durable.SyncDir(dir)
}
