package state

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Read sizes for Load: large enough to take a partition's state in few round
// trips, small enough that no single reply blocks the server for long.
const (
	redisScanCount  = 4096 // HSCAN COUNT hint
	redisLRangeRuns = 64   // LRANGE commands per pipeline
)

// RedisOptions configures a Redis store.
type RedisOptions struct {
	// Prefix names the keys: partition p lives under "{Prefix:p}:...", e.g.
	// "tapsettle:taps:group" for a consumer group on topic taps. Required; it
	// must not contain '{' or '}', which would break the cluster hash tag.
	Prefix string
	// Logger receives ownership and fencing events. Default: slog.Default().
	// Client options (addresses, user names, passwords) are never logged.
	Logger *slog.Logger
}

// Redis keeps each partition's state in Redis, under one hash tag per
// partition so that it works unchanged on Redis Cluster. Ownership is a
// fencing token: Load INCRs the partition's owner key and remembers the new
// value, and every Commit checks, inside the same WATCH/MULTI/EXEC, that the
// token is still its own. Any Store that Loaded later has INCRed it, so an
// earlier owner's Commit fails with ErrFenced and changes nothing.
//
// The caller owns the client; Close does not close it. Give the client short
// dial and read timeouts: a Commit blocked on a dead server holds up the
// partition, while a quick ErrUnavailable lets the caller back off and retry.
type Redis struct {
	client redis.UniversalClient
	prefix string
	log    *slog.Logger

	mu     sync.Mutex
	parts  map[int]*redisPart
	closed bool

	// beforeExec, when set (by tests), runs between a Commit's reads and its
	// EXEC, where another client's write aborts the transaction.
	beforeExec func()
}

var _ Store = (*Redis)(nil)

// redisPart is one owned partition. mu serialises its Load and Commit; the
// buffers are reused across commits so that building a transaction allocates
// per command, not per card.
type redisPart struct {
	p    int
	keys redisKeys

	mu    sync.Mutex
	token int64 // 0: not loaded, or released

	args     []any     // arguments of every command of one transaction
	blobs    []blobArg // boxed byte slices; args point into it
	meta     []byte    // encoded meta value
	listKeys map[string]*string

	// Scratch of groupAppends.
	groupOf     map[string]int
	groupFirst  []int
	groupLen    []int
	groupEnd    []int
	groupFill   []int
	appendGroup []int
	order       []int
}

// blobArg lets a []byte travel in an []any without the allocation that
// boxing a slice header costs: args hold *blobArg pointers into a reused
// array, and go-redis writes them through encoding.BinaryMarshaler.
type blobArg struct{ b []byte }

// MarshalBinary returns the bytes unchanged.
func (a *blobArg) MarshalBinary() ([]byte, error) { return a.b, nil }

// maxCachedListKeys bounds the per-partition cache of list key strings; list
// names are the caller's (for example one per day), so the cache is simply
// reset when it grows past this.
const maxCachedListKeys = 4096

// NewRedis returns a Redis store using client. The client may be a plain
// client, a failover client or a cluster client.
func NewRedis(client redis.UniversalClient, opts RedisOptions) (*Redis, error) {
	if client == nil {
		return nil, fmt.Errorf("state: nil redis client: %w", ErrInvalid)
	}
	if opts.Prefix == "" {
		return nil, fmt.Errorf("state: redis key prefix is empty: %w", ErrInvalid)
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("state: redis key prefix %q contains a brace, which would break the hash tag: %w", opts.Prefix, ErrInvalid)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Redis{client: client, prefix: opts.Prefix, log: logger, parts: make(map[int]*redisPart)}, nil
}

// Load takes ownership of p by INCRing its owner token, then reads the meta
// key, the cards (HSCAN) and every list (LRANGE, pipelined). A Store that
// Loads p later fences this one. The reads span several round trips; they
// are consistent because only the owner writes and ownership was taken
// first, and Load checks at the end that the token is still its own (else
// ErrFenced). On error, this Store does not own p.
func (r *Redis) Load(ctx context.Context, p int) (*Snapshot, error) {
	if err := checkPartition(p); err != nil {
		return nil, err
	}
	pt, err := r.part(p)
	if err != nil {
		return nil, err
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	pt.token = 0
	token, err := r.client.Incr(ctx, pt.keys.owner).Result()
	if err != nil {
		return nil, r.fail("load", pt, err)
	}
	snap, err := r.read(ctx, pt, token)
	if err != nil {
		return nil, r.fail("load", pt, err)
	}
	pt.token = token
	r.log.Info("state: took partition ownership", "partition", p, "prefix", r.prefix, "token", token, "seq", snap.Seq)
	return snap, nil
}

// read reads p's state for Load.
func (r *Redis) read(ctx context.Context, pt *redisPart, token int64) (*Snapshot, error) {
	k := &pt.keys
	snap := newSnapshot()
	raw, err := r.client.Get(ctx, k.meta).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return nil, err
	default:
		if snap.Seq, snap.Offset, snap.Meta, err = decodeRedisMeta(raw); err != nil {
			return nil, fmt.Errorf("state: key %s: %v: %w", k.meta, err, ErrCorrupt)
		}
	}

	var cursor uint64
	for {
		var kv []string
		kv, cursor, err = r.client.HScan(ctx, k.cards, cursor, "", redisScanCount).Result()
		if err != nil {
			return nil, err
		}
		for i := 0; i+1 < len(kv); i += 2 {
			snap.Cards[kv[i]] = []byte(kv[i+1])
		}
		if cursor == 0 {
			break
		}
	}

	names, err := r.client.SMembers(ctx, k.lists).Result()
	if err != nil {
		return nil, err
	}
	for len(names) > 0 {
		batch := names[:min(len(names), redisLRangeRuns)]
		names = names[len(batch):]
		cmds := make([]*redis.StringSliceCmd, len(batch))
		if _, err := r.client.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, name := range batch {
				cmds[i] = pipe.LRange(ctx, k.list(name), 0, -1)
			}
			return nil
		}); err != nil {
			return nil, err
		}
		for i, name := range batch {
			vals := cmds[i].Val()
			if len(vals) == 0 {
				continue
			}
			blobs := make([][]byte, len(vals))
			for j, v := range vals {
				blobs[j] = []byte(v)
			}
			snap.Lists[name] = blobs
		}
	}

	owner, err := r.client.Get(ctx, k.owner).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	if owner != token {
		return nil, fmt.Errorf("state: partition %d: owner token is %d, ours %d: %w", pt.p, owner, token, ErrFenced)
	}
	return snap, nil
}

// part returns p's partition record, creating it.
func (r *Redis) part(p int) (*redisPart, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	pt := r.parts[p]
	if pt == nil {
		pt = &redisPart{p: p, keys: newRedisKeys(r.prefix, p), listKeys: make(map[string]*string)}
		r.parts[p] = pt
	}
	return pt, nil
}

// owned returns p's partition if this Store has loaded it.
func (r *Redis) owned(p int) (*redisPart, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	if pt := r.parts[p]; pt != nil {
		return pt, nil
	}
	return nil, fmt.Errorf("state: partition %d is not loaded by this store: %w", p, ErrFenced)
}

// Release forgets p's token: later Commits from this Store return ErrFenced.
// Nothing is written to Redis; the next owner's Load takes over.
func (r *Redis) Release(p int) error {
	r.mu.Lock()
	pt := r.parts[p]
	delete(r.parts, p)
	r.mu.Unlock()
	if pt != nil {
		pt.release()
	}
	return nil
}

// release forgets the token: later Commits fail with ErrFenced.
func (pt *redisPart) release() {
	pt.mu.Lock()
	pt.token = 0
	pt.mu.Unlock()
}

// Close releases every partition. It does not close the client.
func (r *Redis) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.closed = true
	parts := r.parts
	r.parts = nil
	r.mu.Unlock()
	for _, pt := range parts {
		pt.release()
	}
	return nil
}

// fail classifies err. Errors that already carry a sentinel pass through;
// WRONGTYPE means the keys hold something this package did not write
// (ErrCorrupt); every other error — network, timeout, a server that is
// loading, read-only or out of memory, a cancelled context — is transient
// (ErrUnavailable).
func (r *Redis) fail(op string, pt *redisPart, err error) error {
	for _, s := range []error{ErrFenced, ErrSeq, ErrCorrupt, ErrInvalid, ErrClosed} {
		if errors.Is(err, s) {
			if s == ErrFenced {
				r.log.Warn("state: partition fenced", "partition", pt.p, "prefix", r.prefix, "op", op)
			}
			return err
		}
	}
	var rerr redis.Error
	if errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "WRONGTYPE") {
		return fmt.Errorf("state: redis %s partition %d: %w: %w", op, pt.p, ErrCorrupt, err)
	}
	return fmt.Errorf("state: redis %s partition %d: %w: %w", op, pt.p, ErrUnavailable, err)
}
