package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// Group defaults. RebalanceTimeout defaults to SessionTimeout, and
// HeartbeatInterval to at most a third of it.
const (
	DefaultSessionTimeout    = 30 * time.Second
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultJoinGroupBackoff  = time.Second
)

// coordinatorTimeout is the network timeout of a request to the group
// coordinator; a JoinGroup may take RebalanceTimeout more, a SyncGroup
// SessionTimeout more (kafka-go adds them).
const coordinatorTimeout = 5 * time.Second

// GroupConfig configures a Group. The zero value of each optional field
// means its default.
type GroupConfig struct {
	// Brokers are the bootstrap brokers, "host:port". Required.
	Brokers []string
	// Topic is the tap feed's topic. Required.
	Topic string
	// GroupID names the consumer group whose members share the
	// partitions and whose committed offsets they resume from. Required.
	GroupID string
	// Security configures TLS and SASL. Default: plaintext.
	Security Security
	// SessionTimeout is how long the coordinator waits for a heartbeat
	// before it declares a member dead and gives its partitions to the
	// others. It must lie within the brokers'
	// group.min.session.timeout.ms and group.max.session.timeout.ms
	// (6 s and 30 min on Kafka). Default: DefaultSessionTimeout.
	SessionTimeout time.Duration
	// RebalanceTimeout is how long the coordinator waits for every member
	// to rejoin after a rebalance starts; a member's claims must return
	// within it, and Run waits no longer for them when it stops. It also
	// bounds recovery: a member killed while it was joining stays in the
	// group until a rebalance completes, so a restarted member's join can
	// wait this long, then the dead member's session, before it is
	// answered (kafka-go's own default, 30 s, made such restarts take a
	// minute). Default: SessionTimeout.
	RebalanceTimeout time.Duration
	// HeartbeatInterval is how often a member heartbeats; it is also how
	// soon a member learns of a rebalance. At most a third of
	// SessionTimeout is the usual choice. Default: the smaller of
	// DefaultHeartbeatInterval and SessionTimeout/3.
	HeartbeatInterval time.Duration
	// JoinGroupBackoff is the pause before rejoining after a failed join
	// (a network error, the coordinator moving), which adds to the time a
	// member is out of the group. Default: DefaultJoinGroupBackoff.
	JoinGroupBackoff time.Duration
	// Fetch tunes the PartitionReaders that claims open.
	Fetch FetchConfig
	// OnJoin, when set, is called once for every generation this member
	// joins, before the generation's claims start, with or without
	// partitions: a member that joins with none has no claim to report
	// its join time (Claim.Joining), which is what the time to rejoin
	// after a restart or a rebalance is measured with. It runs on the
	// group's goroutine and must return promptly.
	OnJoin func(Join)
	// Logger receives generations and retried errors (info, warn) and
	// kafka-go's diagnostics (debug). Default: discard.
	Logger *slog.Logger
}

// EnsureDefaults fills the fields left zero with their defaults.
func (c *GroupConfig) EnsureDefaults() {
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.RebalanceTimeout == 0 {
		c.RebalanceTimeout = c.SessionTimeout
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = min(DefaultHeartbeatInterval, c.SessionTimeout/3)
	}
	if c.JoinGroupBackoff == 0 {
		c.JoinGroupBackoff = DefaultJoinGroupBackoff
	}
	c.Fetch.EnsureDefaults()
	if c.Logger == nil {
		c.Logger = discardLogger
	}
}

// Validate reports the first invalid field.
func (c *GroupConfig) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("feed: group: Brokers is empty")
	case c.Topic == "":
		return errors.New("feed: group: Topic is empty")
	case c.GroupID == "":
		return errors.New("feed: group: GroupID is empty")
	case c.SessionTimeout < time.Millisecond:
		return fmt.Errorf("feed: group: SessionTimeout %v, want at least 1ms", c.SessionTimeout)
	case c.RebalanceTimeout < time.Millisecond:
		return fmt.Errorf("feed: group: RebalanceTimeout %v, want at least 1ms", c.RebalanceTimeout)
	case c.HeartbeatInterval < time.Millisecond || c.HeartbeatInterval >= c.SessionTimeout:
		return fmt.Errorf("feed: group: HeartbeatInterval %v, want at least 1ms and below SessionTimeout %v", c.HeartbeatInterval, c.SessionTimeout)
	case c.JoinGroupBackoff < 0:
		return fmt.Errorf("feed: group: negative JoinGroupBackoff %v", c.JoinGroupBackoff)
	}
	return c.Fetch.Validate()
}

// Group is a member of a Kafka consumer group over the feed topic: the
// coordinator spreads the topic's partitions over the members, and Run
// hands each partition this member gets to a claim function.
type Group struct {
	cfg    GroupConfig
	dialer *kafka.Dialer
	tr     *kafka.Transport
	client *kafka.Client // fetches for the claims' PartitionReaders

	mu      sync.Mutex
	closed  bool
	stop    context.CancelFunc // cancels the running Run; nil when none
	stopped chan struct{}      // closed when the running Run returns

	// member is set while this member holds a generation: from its
	// assignment until the generation ends.
	member atomic.Bool
	// outSince is when this member last lost its generation (or Run
	// started), in Unix nanoseconds: where the next Claim.Joining counts
	// from.
	outSince atomic.Int64
}

// Member reports whether this member is in the group now: it holds a
// generation, with or without partitions. It is false before the first
// generation, from the end of each generation until the next one is
// assigned (a rebalance), and after Run returns.
func (g *Group) Member() bool { return g.member.Load() }

// NewGroup returns a Group for cfg. It does not connect: Run does.
func NewGroup(cfg GroupConfig) (*Group, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr := cfg.Security.transport()
	return &Group{
		cfg:    cfg,
		dialer: cfg.Security.dialer(),
		tr:     tr,
		client: newClient(cfg.Brokers, tr),
	}, nil
}

// Run joins the group and consumes until ctx is cancelled, Close is
// called, or it fails.
//
// For every generation (one assignment of partitions to the members),
// Run calls claim in a new goroutine for each partition assigned to this
// member. A claim's ctx is cancelled when the generation ends (another
// member joined or left) or Run stops; the claim should then commit what
// it has finished, close its readers and return promptly, within
// RebalanceTimeout. A claim that returns early ends the generation for
// every claim of this member (kafka-go's rule), and the member rejoins.
// Run waits for all claims of a generation to return before it joins the
// next one, so a partition is never claimed twice by one member.
//
// Run returns nil when ctx is cancelled or Close is called, once every
// claim has returned and the member has left the group. It waits
// RebalanceTimeout at most for the claims: past that it returns an error
// and leaves them running, so that a wedged claim cannot hang a shutdown. It returns an
// error when a claim returns one, other than an error wrapping
// context.Canceled, context.DeadlineExceeded or ErrRebalanced, and when
// joining fails with a Kafka error that retrying cannot cure
// (authorization, SASL, a session timeout the brokers refuse). Joining
// errors that may pass (network, coordinator moving) are logged and
// retried after JoinGroupBackoff. After Run returns, it may be called
// again; it joins as a new member.
func (g *Group) Run(ctx context.Context, claim func(ctx context.Context, c *Claim) error) error {
	g.mu.Lock()
	switch {
	case g.closed:
		g.mu.Unlock()
		return ErrClosed
	case g.stop != nil:
		g.mu.Unlock()
		return errors.New("feed: group: Run is already running")
	}
	ctx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	g.stop, g.stopped = stop, stopped
	g.mu.Unlock()
	g.outSince.Store(time.Now().UnixNano())
	defer func() {
		g.member.Store(false)
		stop()
		g.mu.Lock()
		g.stop, g.stopped = nil, nil
		g.mu.Unlock()
		close(stopped)
	}()

	log := g.cfg.Logger.With("group", g.cfg.GroupID, "topic", g.cfg.Topic)
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                g.cfg.GroupID,
		Brokers:           g.cfg.Brokers,
		Dialer:            g.dialer,
		Topics:            []string{g.cfg.Topic},
		Timeout:           coordinatorTimeout,
		HeartbeatInterval: g.cfg.HeartbeatInterval,
		SessionTimeout:    g.cfg.SessionTimeout,
		RebalanceTimeout:  g.cfg.RebalanceTimeout,
		JoinGroupBackoff:  g.cfg.JoinGroupBackoff,
		StartOffset:       kafka.FirstOffset,
		Logger:            kafkaLogger(log, slog.LevelDebug, "kafka-group"),
		ErrorLogger:       kafkaLogger(log, slog.LevelDebug, "kafka-group"),
	})
	if err != nil {
		return fmt.Errorf("feed: group %s: %w", g.cfg.GroupID, err)
	}

	var (
		claims   sync.WaitGroup
		failOnce sync.Once
		failure  error
	)
	fail := func(err error) {
		failOnce.Do(func() { failure = err })
		stop()
	}
	var joinErr error
	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if !isRetriable(err) {
				joinErr = fmt.Errorf("feed: group %s: join: %w", g.cfg.GroupID, err)
				break
			}
			// Every member's rejoin after a rebalance starts is answered
			// with RebalanceInProgress once: routine, not a warning.
			level := slog.LevelWarn
			if isRebalanceError(err) {
				level = slog.LevelDebug
			}
			log.Log(ctx, level, "feed: joining the group failed; retrying", "err", err)
			continue
		}
		g.startClaims(ctx, gen, log, claim, &claims, fail)
	}
	// Claims commit their final offsets while the generation is still
	// ours; only then does Close leave the group.
	returned := make(chan struct{})
	go func() {
		claims.Wait()
		close(returned)
	}()
	timer := time.NewTimer(g.cfg.RebalanceTimeout)
	defer timer.Stop()
	select {
	case <-returned:
	case <-timer.C:
		// kafka-go's Close waits for the generation's functions, the
		// wedged claims among them: leave it to them.
		go cg.Close()
		g.tr.CloseIdleConnections()
		err := fmt.Errorf("feed: group %s: claims still running %v after the stop; leaving them", g.cfg.GroupID, g.cfg.RebalanceTimeout)
		log.Error("feed: stopping", "err", err)
		return errors.Join(failure, err)
	}
	cg.Close()
	g.tr.CloseIdleConnections()
	if failure != nil {
		return failure
	}
	return joinErr
}

// startClaims runs claim for each partition of gen assigned to this
// member.
func (g *Group) startClaims(ctx context.Context, gen *kafka.Generation, log *slog.Logger,
	claim func(context.Context, *Claim) error, claims *sync.WaitGroup, fail func(error)) {
	assigned := gen.Assignments[g.cfg.Topic]
	ids := make([]int, len(assigned))
	for i, a := range assigned {
		ids[i] = a.ID
	}
	slices.Sort(ids)
	joining := time.Duration(time.Now().UnixNano() - g.outSince.Load())
	log.Info("feed: joined generation", "generation", gen.ID, "member", gen.MemberID, "partitions", ids, "joining", joining)
	g.member.Store(true)
	if g.cfg.OnJoin != nil {
		g.cfg.OnJoin(Join{Generation: gen.ID, Partitions: ids, Joining: joining})
	}
	// Out of the group from the generation's end, which Start's ctx
	// tells: a member without partitions has no claim to tell it.
	gen.Start(func(genCtx context.Context) {
		<-genCtx.Done()
		g.member.Store(false)
		g.outSince.Store(time.Now().UnixNano())
	})
	for _, a := range assigned {
		c := &Claim{
			Topic:      g.cfg.Topic,
			Partition:  a.ID,
			Committed:  max(a.Offset, -1), // kafka-go reports "none" as FirstOffset (-2)
			Generation: gen.ID,
			Joining:    joining,
			gen:        gen,
			group:      g,
		}
		claims.Add(1)
		gen.Start(func(genCtx context.Context) {
			defer claims.Done()
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			defer context.AfterFunc(genCtx, cancel)()
			err := claim(cctx, c)
			c.finish()
			switch {
			case err == nil, errors.Is(err, ErrRebalanced):
			case cctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)):
			default:
				fail(fmt.Errorf("feed: group %s: claim of %s/%d in generation %d: %w", g.cfg.GroupID, c.Topic, c.Partition, c.Generation, err))
			}
		})
	}
}

// Close stops a running Run, waits for it to return, and releases the
// connections. Run returns ErrClosed afterwards.
func (g *Group) Close() error {
	g.mu.Lock()
	g.closed = true
	stop, stopped := g.stop, g.stopped
	g.mu.Unlock()
	if stop != nil {
		stop()
		<-stopped
	}
	g.tr.CloseIdleConnections()
	return nil
}

// Join is a generation this member joined (GroupConfig.OnJoin).
type Join struct {
	// Generation is the group generation joined.
	Generation int32
	// Partitions are the partitions of the feed topic assigned to this
	// member in the generation, in increasing order; empty when the group
	// has more members than the topic has partitions.
	Partitions []int
	// Joining is how long this member was out of the group before the
	// generation was assigned: since its previous generation ended, or
	// since Run started (the same as its claims' Claim.Joining).
	Joining time.Duration
}

// Claim is one partition assigned to this member for one generation.
type Claim struct {
	// Topic and Partition name the partition.
	Topic     string
	Partition int
	// Committed is the group's committed offset for the partition (the
	// next offset to read), or -1 when the group has none.
	Committed int64
	// Generation is the group generation the claim belongs to.
	Generation int32
	// Joining is how long this member was out of the group before the
	// generation was assigned: since its previous generation ended, or
	// since Run started. Every claim of a generation has the same.
	Joining time.Duration

	gen   *kafka.Generation
	group *Group

	mu      sync.Mutex
	done    bool
	readers []*PartitionReader
}

// Commit synchronously commits next, the offset of the next message to
// process, as the group's position in this partition. A commit that the
// coordinator refuses because the generation is over wraps ErrRebalanced:
// the partition's next owner resumes from the last accepted commit, so
// the messages since then are read again (at-least-once).
func (c *Claim) Commit(next int64) error {
	if next < 0 {
		return fmt.Errorf("feed: commit %s/%d: negative offset %d", c.Topic, c.Partition, next)
	}
	err := c.gen.CommitOffsets(map[string]map[int]int64{c.Topic: {c.Partition: next}})
	switch {
	case err == nil:
		return nil
	case isRebalanceError(err):
		return fmt.Errorf("feed: commit %s/%d offset %d in generation %d: %w: %w", c.Topic, c.Partition, next, c.Generation, ErrRebalanced, err)
	default:
		return fmt.Errorf("feed: commit %s/%d offset %d in generation %d: %w", c.Topic, c.Partition, next, c.Generation, err)
	}
}

// Open returns a reader of the claim's partition from offset, the next
// offset to read; a negative offset means the earliest retained (pass
// Committed to resume where the group left off). Readers still open when
// the claim function returns are closed then.
func (c *Claim) Open(offset int64) (*PartitionReader, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return nil, ErrClosed
	}
	r := newPartitionReader(c.group.client, c.Topic, c.Partition, offset, c.group.cfg.Fetch, c.group.cfg.Logger)
	c.readers = append(c.readers, r)
	return r, nil
}

// finish closes the readers the claim function left open.
func (c *Claim) finish() {
	c.mu.Lock()
	c.done = true
	readers := c.readers
	c.readers = nil
	c.mu.Unlock()
	for _, r := range readers {
		r.Close()
	}
}
