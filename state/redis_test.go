package state

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tapsettle/tapsettle/internal/redistest"
)

// fastClient fails fast when the server is gone, as production clients
// should be configured: a Commit must come back with ErrUnavailable quickly.
func fastClient(t *testing.T, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond,
		PoolTimeout:  500 * time.Millisecond,
		MaxRetries:   -1, // no retries inside go-redis: the caller retries
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newRedisStore(t *testing.T, c redis.UniversalClient, prefix string) *Redis {
	t.Helper()
	s, err := NewRedis(c, RedisOptions{Prefix: prefix, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestRedisOutage stops the server under a committing store: the Commit
// fails quickly with ErrUnavailable, and after a restart the retry of the
// same checkpoint succeeds and the data is there (the AOF kept it).
func TestRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	prefix := redistest.Prefix(t)
	s := newRedisStore(t, fastClient(t, srv.Addr()), prefix)
	g, m := newGen(11), newModel()
	load(t, s, 0)
	cp := g.next(1, 0)
	commit(t, s, 0, cp)
	m.apply(cp)

	for _, stop := range []struct {
		name string
		do   func() error
	}{{"graceful stop", srv.Stop}, {"kill", srv.Kill}} {
		if err := stop.do(); err != nil {
			t.Fatal(err)
		}
		cp := g.next(m.seq+1, 0)
		start := time.Now()
		err := s.Commit(context.Background(), 0, cp)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%s: Commit with the server down = %v, want ErrUnavailable", stop.name, err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s: failing Commit took %v", stop.name, took)
		}
		srv.Restart()
		// The pool may still hold connections to the old process; the
		// caller's retry loop (bounded here) gets through.
		for try := 0; ; try++ {
			err = s.Commit(context.Background(), 0, cp)
			if err == nil {
				break
			}
			if !errors.Is(err, ErrUnavailable) || try == 10 {
				t.Fatalf("%s: retry %d after restart: %v", stop.name, try, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		m.apply(cp)
	}
	if err := s.Release(0); err != nil {
		t.Fatal(err)
	}
	m.check(t, "after outages", load(t, newRedisStore(t, fastClient(t, srv.Addr()), prefix), 0))
}

// TestRedisCommitAborted: a change to a watched key between a Commit's
// reads and its EXEC discards the transaction. With the owner token still
// ours (a server replaying its append-only file touches the keys it loads)
// the Commit is retryable, ErrUnavailable, and the retry applies it once;
// with another store's Load in between it is ErrFenced.
func TestRedisCommitAborted(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	direct := fastClient(t, addr)
	s := newRedisStore(t, fastClient(t, addr), prefix)
	g, m := newGen(12), newModel()
	load(t, s, 0)
	cp := g.next(1, 0)
	commit(t, s, 0, cp)
	m.apply(cp)

	meta := s.parts[0].keys.meta
	s.beforeExec = func() {
		// Rewrite the meta key with its own value: nothing changes but the
		// key is touched.
		v, err := direct.Get(context.Background(), meta).Bytes()
		if err == nil {
			err = direct.Set(context.Background(), meta, v, 0).Err()
		}
		if err != nil {
			t.Errorf("touch %s: %v", meta, err)
		}
	}
	cp = g.next(2, 0)
	err := s.Commit(context.Background(), 0, cp)
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrFenced) {
		t.Fatalf("Commit aborted by a touched key = %v, want ErrUnavailable", err)
	}
	s.beforeExec = nil
	commit(t, s, 0, cp)
	m.apply(cp)

	// Another store takes the partition between the reads and EXEC.
	other := newRedisStore(t, fastClient(t, addr), prefix)
	s.beforeExec = func() { load(t, other, 0) }
	err = s.Commit(context.Background(), 0, g.next(3, 0))
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("Commit with another store's Load before EXEC = %v, want ErrFenced", err)
	}
	m.check(t, "after the fenced commit", load(t, newRedisStore(t, fastClient(t, addr), prefix), 0))
}

// cutProxy forwards TCP connections to a server and, while armed, cuts a
// connection right after forwarding an EXEC to the server: the
// transaction runs, its reply never arrives. It serves loopback only and
// ends with the test.
type cutProxy struct {
	ln     net.Listener
	target string
	armed  atomic.Bool
	cuts   atomic.Int64
	wg     sync.WaitGroup
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(func() { _ = ln.Close(); p.wg.Wait() })
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.relay(c) })
	}
}

func (p *cutProxy) relay(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	// cut is set before an EXEC goes to the server, so its reply can only
	// arrive after it: the reply relay drops that reply and reports it,
	// and only then is the client's connection closed. The transaction
	// has run on the server by the time the client sees the close.
	var cut atomic.Bool
	replied := make(chan struct{})
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 && cut.Load() {
				close(replied)
				return
			}
			if n > 0 {
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = c.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			exec := p.armed.Load() && bytes.Contains(bytes.ToLower(buf[:n]), []byte("\r\nexec\r\n"))
			if exec {
				cut.Store(true)
				p.cuts.Add(1)
			}
			if _, werr := s.Write(buf[:n]); werr != nil {
				return
			}
			if exec {
				select {
				case <-replied:
				case <-time.After(5 * time.Second):
				}
				_ = c.(*net.TCPConn).SetLinger(0)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestRedisReplyLost: EXEC is applied but its reply is lost. The Commit
// fails with ErrUnavailable; the retry of the same checkpoint returns nil
// and does not apply it a second time.
func TestRedisReplyLost(t *testing.T) {
	addr := redistest.Addr(t)
	proxy := startCutProxy(t, addr)
	prefix := redistest.Prefix(t)
	s := newRedisStore(t, fastClient(t, proxy.ln.Addr().String()), prefix)
	direct := fastClient(t, addr)
	m := newModel()
	load(t, s, 0)
	for seq := uint64(1); seq <= 3; seq++ {
		cp := &Checkpoint{Seq: seq, Offset: int64(seq), Cards: []KV{{Key: []byte("k"), Value: []byte{byte(seq)}}},
			Appends: []Append{{List: "taps", Blob: []byte{byte(seq)}}}}
		proxy.armed.Store(seq == 2)
		err := s.Commit(context.Background(), 0, cp)
		if seq == 2 {
			if !errors.Is(err, ErrUnavailable) || proxy.cuts.Load() != 1 {
				t.Fatalf("Commit with the reply cut = %v (cuts %d), want ErrUnavailable", err, proxy.cuts.Load())
			}
			// The transaction did run: the stored seq is already 2.
			raw, gerr := direct.Get(context.Background(), newRedisKeys(prefix, 0).meta).Bytes()
			if gerr != nil {
				t.Fatal(gerr)
			}
			if stored, _, _, _ := decodeRedisMeta(raw); stored != 2 {
				t.Fatalf("stored seq after the cut EXEC = %d, want 2 (the test did not lose a reply)", stored)
			}
			proxy.armed.Store(false)
			err = s.Commit(context.Background(), 0, cp)
		}
		if err != nil {
			t.Fatalf("Commit(seq %d): %v", seq, err)
		}
		m.apply(cp)
	}
	if n := len(m.lists["taps"]); n != 3 {
		t.Fatalf("model has %d taps", n)
	}
	m.check(t, "after lost reply", load(t, newRedisStore(t, direct, prefix), 0))
}

// TestRedisFencedMidTransaction: another owner takes the partition between
// the fencing check and EXEC. WATCH makes EXEC discard the transaction, so
// nothing of the stale checkpoint lands.
func TestRedisFencedMidTransaction(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	ca := fastClient(t, addr)
	a := newRedisStore(t, ca, prefix)
	b := newRedisStore(t, fastClient(t, addr), prefix)
	m := newModel()
	load(t, a, 0)
	cp := &Checkpoint{Seq: 1, Appends: []Append{{List: "l", Blob: []byte("1")}}}
	commit(t, a, 0, cp)
	m.apply(cp)

	var once sync.Once
	ca.AddHook(multiHook{before: func() {
		once.Do(func() { m.check(t, "takeover", load(t, b, 0)) })
	}})
	stale := &Checkpoint{Seq: 2, Cards: []KV{{Key: []byte("k"), Value: []byte("stale")}},
		Appends: []Append{{List: "l", Blob: []byte("stale")}}}
	if err := a.Commit(context.Background(), 0, stale); !errors.Is(err, ErrFenced) {
		t.Fatalf("Commit racing a takeover = %v, want ErrFenced", err)
	}
	if err := b.Release(0); err != nil {
		t.Fatal(err)
	}
	m.check(t, "after the race", load(t, b, 0))
}

// multiHook calls before just ahead of every MULTI/EXEC pipeline.
type multiHook struct{ before func() }

func (h multiHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h multiHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return next
}
func (h multiHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "multi" {
			h.before()
		}
		return next(ctx, cmds)
	}
}

// TestRedisKeys: every key of a partition carries the partition's hash tag
// (one cluster slot), and nothing is written outside the prefix.
func TestRedisKeys(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	c := fastClient(t, addr)
	s := newRedisStore(t, c, prefix)
	for p := range 2 {
		load(t, s, p)
		commit(t, s, p, &Checkpoint{Seq: 1, Meta: []byte("m"), Cards: []KV{{Key: []byte("k"), Value: []byte("v")}},
			Appends: []Append{{List: "a b:c", Blob: []byte("1")}, {List: "d", Blob: []byte("2")}}})
	}
	var all []string
	iter := c.Scan(context.Background(), 0, "*"+prefix+"*", 1000).Iterator()
	for iter.Next(context.Background()) {
		all = append(all, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, p := range []string{"0", "1"} {
		base := "{" + prefix + ":" + p + "}"
		for _, k := range []string{":meta", ":cards", ":lists", ":owner", ":l:a b:c", ":l:d"} {
			want[base+k] = true
		}
	}
	if len(all) != len(want) {
		t.Errorf("keys %v, want %v", all, keys(want))
	}
	for _, k := range all {
		if !want[k] {
			t.Errorf("unexpected key %q", k)
		}
	}
}

// TestRedisCorruptMeta: a meta value this package did not write is ErrCorrupt.
func TestRedisCorruptMeta(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	c := fastClient(t, addr)
	s := newRedisStore(t, c, prefix)
	load(t, s, 0)
	if err := c.Set(context.Background(), newRedisKeys(prefix, 0).meta, "garbage", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(context.Background(), 0, &Checkpoint{Seq: 1}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Commit over corrupt meta = %v, want ErrCorrupt", err)
	}
	if _, err := s.Load(context.Background(), 0); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Load of corrupt meta = %v, want ErrCorrupt", err)
	}
}

// TestRedisNoSecretsInLogs runs a store against a password-protected server
// with every log level on and through a fencing and an outage: neither the
// user name nor the password may appear in the logs.
func TestRedisNoSecretsInLogs(t *testing.T) {
	const password = "pw-8f3c1d-very-secret"
	srv := redistest.Start(t, redistest.WithPassword(password))
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	open := func() *Redis {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "default", Password: password,
			DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, MaxRetries: -1})
		t.Cleanup(func() { _ = c.Close() })
		s, err := NewRedis(c, RedisOptions{Prefix: "secrets", Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := open(), open()
	load(t, a, 0)
	commit(t, a, 0, &Checkpoint{Seq: 1})
	load(t, b, 0)
	errFenced := a.Commit(context.Background(), 0, &Checkpoint{Seq: 2})
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	errDown := b.Commit(context.Background(), 0, &Checkpoint{Seq: 2})
	if !errors.Is(errFenced, ErrFenced) || !errors.Is(errDown, ErrUnavailable) {
		t.Fatalf("errors %v and %v, want ErrFenced and ErrUnavailable", errFenced, errDown)
	}
	if logs.Len() == 0 {
		t.Fatal("nothing was logged: the test checks nothing")
	}
	for _, text := range []string{logs.String(), errFenced.Error(), errDown.Error()} {
		if strings.Contains(text, password) {
			t.Errorf("password leaked: %s", text)
		}
	}
}

// TestNewRedisOptions checks the option validation.
func TestNewRedisOptions(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for _, prefix := range []string{"", "a{b", "a}b"} {
		if _, err := NewRedis(c, RedisOptions{Prefix: prefix}); !errors.Is(err, ErrInvalid) {
			t.Errorf("prefix %q: %v, want ErrInvalid", prefix, err)
		}
	}
	if _, err := NewRedis(nil, RedisOptions{Prefix: "x"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil client: %v, want ErrInvalid", err)
	}
}
