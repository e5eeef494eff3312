package stream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapsettle/tapsettle/engine"
	"github.com/tapsettle/tapsettle/fares"
	"github.com/tapsettle/tapsettle/feed"
	"github.com/tapsettle/tapsettle/metrics"
	"github.com/tapsettle/tapsettle/settlement"
	"github.com/tapsettle/tapsettle/state"
	"github.com/tapsettle/tapsettle/stream/segment"
	"github.com/tapsettle/tapsettle/transit"
)

// Config configures a Service.
type Config struct {
	// Book is the compiled fare policy the service starts with
	// (Service.SetBook replaces it); Calendar the settlement calendar.
	Book     *fares.Book
	Calendar *transit.Calendar
	// Participants are the clearing participants ((*fares.Book).Participants).
	Participants []transit.Participant
	// Engine sets each partition's reorder window, batch size and dedup
	// horizon (Shards is ignored: a partition is one single writer).
	Engine engine.Options
	// Topic is the topic consumed; Partitions its partition count, which
	// says when every part of a day is present.
	Topic      string
	Partitions int
	// Store keeps the partitions' checkpoints. Its kind (local or redis)
	// labels the checkpoint metrics.
	Store state.Store
	// OutDir is this instance's output root: segments, parts, and the
	// days it can clear on its own.
	OutDir string
	// Ledger also writes the ledger of each day cleared.
	Ledger bool
	// CheckpointInterval and CheckpointTaps bound the work a crash can
	// lose: a partition checkpoints after this long or this many taps.
	CheckpointInterval time.Duration
	CheckpointTaps     int
	// CheckpointBytes bounds the memory of the rows and rejects a
	// partition holds between checkpoints (its segment before
	// compression): it checkpoints, after the message in hand, once they
	// reach this size. Default: DefaultCheckpointBytes; at most
	// segment.MaxSize/2.
	CheckpointBytes int
	// CompressSegments writes segments with an S2-compressed body
	// (segment.Builder.Compress).
	CompressSegments bool
	// CloseAfter is how far past a day's cut-off, in event time, a
	// partition closes the day when no close-day message came.
	// 0 disables closing by event time.
	CloseAfter time.Duration
	// ClearingInterval and ClearingTaps set the intraday clearing cycle
	// (see cycle.go): provisional files of the open days every interval,
	// or every so many taps checkpointed by this instance. 0 disables
	// each; KeepCycles (default DefaultKeepCycles) is how many cycles are
	// kept on disk.
	ClearingInterval time.Duration
	ClearingTaps     int64
	KeepCycles       int
	// KeepDays, when above 0, bounds the output folder: when a partition
	// closes day D, its parts of the days before D-KeepDays are removed,
	// with the segments only they referenced (sweep.go). 0 keeps them
	// all.
	KeepDays int
	// UntilClosed, when set, makes Run return once this instance has
	// written that day's files.
	UntilClosed transit.Day
	// Metrics, when set, receives the service's metrics.
	Metrics *metrics.Metrics
	// Log receives structured logs; nil discards them.
	Log *slog.Logger
	// SkipSync skips fsync of segments and day files (tests only).
	SkipSync bool
	// BeforeFetch is for benchmarks and tests; production leaves it nil.
	// When set, it is called on a partition's goroutine before each fetch
	// with the next offset the partition will consume, so that a benchmark
	// can hold partitions there and start a measurement at a known offset.
	BeforeFetch func(p int, next int64)
}

// Defaults.
const (
	DefaultCheckpointInterval = 2 * time.Second
	DefaultCheckpointTaps     = 200_000
	// DefaultCheckpointBytes: 200,000 rows take some 20 MB; rejects
	// count here alone.
	DefaultCheckpointBytes = 64 << 20
)

// Service is the streaming settlement service.
type Service struct {
	cfg     Config
	log     *slog.Logger
	owner   string // this process's mark in segment names
	backend string // the store's kind, for the checkpoint metrics' label

	// book is the fare book the partitions price with: each adopts a new
	// one at its next batch (worker.adoptBook). reloadMu serialises
	// reloads (reload.go).
	book     atomic.Pointer[fares.Book]
	reloadMu sync.Mutex

	mu      sync.Mutex
	cleared map[transit.Day]*settlement.Day
	done    chan struct{}
	doneSet bool

	// pubMu guards published alone: every checkpoint of every partition
	// publishes, and must not wait while mu is held through a day close.
	pubMu     sync.Mutex
	published map[int]published // by partition (cycle.go)
	cycleTaps atomic.Int64      // taps checkpointed since the last cycle
	cycleReq  chan struct{}     // asks runCycles for a cycle now

	failing  atomic.Bool // the last checkpoint attempt failed
	joined   atomic.Bool // a partition was claimed: the group is joined
	fatalErr atomic.Pointer[error]

	owned  atomic.Int32                // claims whose generation is current
	member atomic.Pointer[groupMember] // the running Group, when it tells membership
}

// New validates cfg and returns a service.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Book == nil || cfg.Calendar == nil:
		return nil, errors.New("stream: Book and Calendar are required")
	case cfg.Store == nil:
		return nil, errors.New("stream: Store is required")
	case cfg.Topic == "":
		return nil, errors.New("stream: Topic is required")
	case cfg.Partitions < 1:
		return nil, fmt.Errorf("stream: topic %s has %d partitions", cfg.Topic, cfg.Partitions)
	case cfg.OutDir == "":
		return nil, errors.New("stream: OutDir is required")
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = DefaultCheckpointInterval
	}
	if cfg.CheckpointTaps <= 0 {
		cfg.CheckpointTaps = DefaultCheckpointTaps
	}
	if cfg.CheckpointBytes <= 0 {
		cfg.CheckpointBytes = DefaultCheckpointBytes
	}
	if cfg.CheckpointBytes > segment.MaxSize/2 {
		return nil, fmt.Errorf("stream: CheckpointBytes %d, at most %d", cfg.CheckpointBytes, segment.MaxSize/2)
	}
	if cfg.KeepCycles <= 0 {
		cfg.KeepCycles = DefaultKeepCycles
	}
	if cfg.KeepDays < 0 {
		return nil, fmt.Errorf("stream: keep %d days of parts, want >= 0", cfg.KeepDays)
	}
	if cfg.ClearingInterval < 0 || cfg.ClearingTaps < 0 {
		return nil, fmt.Errorf("stream: clearing interval %v and taps %d, want >= 0", cfg.ClearingInterval, cfg.ClearingTaps)
	}
	cfg.Engine.Calendar = cfg.Calendar
	cfg.Engine.Shards = 1
	cfg.Engine.KeepCharges = true // corrections arrive on the topic
	cfg.Engine.EnsureDefaults()
	if err := cfg.Engine.Validate(); err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	backend := backendName(cfg.Store)
	if cfg.Metrics != nil {
		cfg.Metrics.SetBackend(backend)
	}
	var mark [4]byte
	if _, err := rand.Read(mark[:]); err != nil {
		return nil, err
	}
	if cfg.Metrics != nil {
		cfg.Metrics.PolicyLoaded(cfg.Book.Fingerprint(), time.Now())
	}
	s := &Service{
		cfg:       cfg,
		log:       log,
		owner:     hex.EncodeToString(mark[:]),
		backend:   backend,
		cleared:   map[transit.Day]*settlement.Day{},
		done:      make(chan struct{}),
		published: map[int]published{},
		cycleReq:  make(chan struct{}, 1),
	}
	s.book.Store(cfg.Book)
	return s, nil
}

// SetBook makes b the fare book the service prices with. It does not
// wait: each partition adopts it at its next batch, after a checkpoint of
// what it priced with the previous one, so that every tap of a batch, and
// every row of a segment, is priced by one book, and the segment's
// reference names it. ReloadPolicies loads and checks a book first; call
// SetBook directly only with a book known to be valid.
func (s *Service) SetBook(b *fares.Book) {
	if b != nil {
		s.book.Store(b)
	}
}

// Book returns the fare book the service prices with now (partitions
// between two batches may still price with the previous one).
func (s *Service) Book() *fares.Book { return s.book.Load() }

// Group is the consumer group a Service runs in (feed.Group).
type Group interface {
	Run(ctx context.Context, claim func(ctx context.Context, c *feed.Claim) error) error
}

// groupMember is a Group that tells whether it is in the group now
// (feed.Group.Member), which readiness uses.
type groupMember interface{ Member() bool }

// Joined records that this instance joined a generation of the consumer
// group, with or without partitions: it counts as joined for readiness,
// and the time it was out of the group is observed. Pass it as
// feed.GroupConfig.OnJoin, which calls it once per generation, so that an
// instance with no partition (more instances than partitions) is seen
// too.
func (s *Service) Joined(j feed.Join) {
	s.joined.Store(true)
	if m := s.cfg.Metrics; m != nil {
		m.ObserveGroupJoin(j.Joining)
	}
}

// own records that this instance owns partition p for the claim whose
// context is ctx. The ownership ends when ctx does (the generation ended: the partition is
// someone else's, whatever the claim still does) or when the returned
// function is called, whichever comes first; the function waits for the
// end to be recorded, so that a later claim of p cannot be overwritten.
func (s *Service) own(ctx context.Context, c *feed.Claim) (release func()) {
	p := c.Partition
	m := s.cfg.Metrics
	s.owned.Add(1)
	if m != nil {
		m.SetAssigned(p, true)
	}
	ended := make(chan struct{})
	end := func() {
		s.owned.Add(-1)
		if m != nil {
			m.SetAssigned(p, false)
		}
		close(ended)
	}
	stop := context.AfterFunc(ctx, end)
	return func() {
		if stop() {
			end()
		}
		<-ended
	}
}

// Run consumes the group's partitions until ctx is cancelled (then it
// checkpoints every partition and returns nil: a graceful shutdown), until
// UntilClosed's files are written, or until a fatal error.
func (s *Service) Run(ctx context.Context, g Group) error {
	if d := s.cfg.UntilClosed; d != 0 {
		written, err := s.alreadyWritten(d)
		if err != nil {
			return err
		}
		if written {
			s.log.Info("the day's files are already written; nothing to wait for", "day", settlement.DirName(d), "dir", filepath.Join(s.cfg.OutDir, settlement.DirName(d)))
			return nil
		}
	}
	s.sweepPartTemps()
	ctx, cancel := context.WithCancel(ctx)
	var cycles sync.WaitGroup
	defer func() {
		cancel()
		cycles.Wait() // no cycle outlives Run
	}()
	if s.cfg.ClearingInterval > 0 || s.cfg.ClearingTaps > 0 {
		cycles.Go(func() { s.runCycles(ctx) })
	}
	if m, ok := g.(groupMember); ok {
		s.member.Store(&m)
		defer s.member.Store(nil)
	}
	errc := make(chan error, 1)
	go func() { errc <- g.Run(ctx, s.claim) }()
	select {
	case err := <-errc:
		if p := s.fatalErr.Load(); p != nil {
			return *p
		}
		if err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	case <-s.done:
		cancel()
		err := <-errc
		if p := s.fatalErr.Load(); p != nil {
			return *p
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return nil
	}
}

// Ready reports whether the service is consuming and checkpointing: nil
// when ready, else why not (for /readyz).
func (s *Service) Ready() error {
	switch {
	case !s.joined.Load():
		return errors.New("not joined to the consumer group yet")
	case s.owned.Load() == 0 && !s.inGroup():
		return errors.New("owns no partition and is out of the consumer group (rebalancing or failing to rejoin)")
	case s.failing.Load():
		return errors.New("checkpoints are failing (state store unavailable?)")
	}
	return nil
}

// inGroup reports whether the running Group says it is in the group;
// without one that says, whether a partition was ever claimed.
func (s *Service) inGroup() bool {
	if m := s.member.Load(); m != nil {
		return (*m).Member()
	}
	return s.joined.Load()
}

// Cleared returns the days this instance has written, by day.
func (s *Service) Cleared() map[transit.Day]*settlement.Day {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[transit.Day]*settlement.Day, len(s.cleared))
	for d, v := range s.cleared {
		m[d] = v
	}
	return m
}

// alreadyWritten reports whether day d's files are in the output folder:
// written by an earlier process (its manifest, written last, is there), or
// writable now because every partition's part is (an earlier process
// stopped between its last part and the day's files). A day written
// before counts as closed, so --until-closed does not wait for close-day
// messages that were consumed long ago.
func (s *Service) alreadyWritten(d transit.Day) (bool, error) {
	_, err := os.Stat(filepath.Join(s.cfg.OutDir, settlement.DirName(d), settlement.ManifestName))
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("stream: look for day %s's files: %w", settlement.DirName(d), err)
	}
	if err := s.maybeClear(d); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.cleared[d]
	return ok, nil
}

// maybeClear writes day d's files when every partition's part is in this
// instance's output folder.
func (s *Service) maybeClear(d transit.Day) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cleared[d]; ok {
		return nil
	}
	files, err := filepath.Glob(filepath.Join(s.cfg.OutDir, partsDir, settlement.DirName(d), "p*.json"))
	if err != nil || len(files) < s.cfg.Partitions {
		return err
	}
	start := time.Now()
	day, _, err := Clear(d, []string{s.cfg.OutDir}, s.cfg.OutDir, ClearOptions{
		Participants: s.cfg.Participants,
		Calendar:     s.cfg.Calendar,
		Ledger:       s.cfg.Ledger,
		SkipSync:     s.cfg.SkipSync,
	})
	if errors.Is(err, os.ErrNotExist) {
		// Another instance wrote some of the segments (it owned a
		// partition before this one took it over): the clearing house
		// merges the instances' folders with Clear.
		s.log.Warn("every part of the day is here but not every segment: clear it with tapsettle clear over the instances' folders",
			"day", settlement.DirName(d), "err", err)
		return nil
	}
	if errors.Is(err, ErrMixedProducers) {
		// The instance was upgraded while the day closed: the clearing
		// house decides whether to merge the parts.
		s.log.Warn("the day's parts were closed by different builds: clear it with tapsettle clear --allow-mixed-producers if they price alike",
			"day", settlement.DirName(d), "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	s.cleared[d] = day
	s.log.Info("day cleared", "day", settlement.DirName(d), "records", day.Records, "elapsed", time.Since(start).Round(time.Millisecond))
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.DayClosed(d, s.cfg.Calendar.Start(d+1))
	}
	if s.cfg.UntilClosed != 0 && d >= s.cfg.UntilClosed && !s.doneSet {
		s.doneSet = true
		close(s.done)
	}
	return nil
}

func (s *Service) fatal(err error) {
	s.fatalErr.CompareAndSwap(nil, &err)
}

func (s *Service) segmentPath(name string) string {
	return filepath.Join(s.cfg.OutDir, segmentsDir, filepath.FromSlash(name))
}

// backendName is the label of a store's kind in the checkpoint metrics:
// the configuration's state.backend for the stores it names.
func backendName(st state.Store) string {
	switch st.(type) {
	case *state.Local:
		return "local"
	case *state.Redis:
		return "redis"
	}
	return fmt.Sprintf("%T", st)
}
