package feed

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/tapsettle/tapsettle/feed/embedded"
	"github.com/tapsettle/tapsettle/transit"
)

// readerFixture is a one-partition topic holding one tap per message,
// offset i holding taps[i].
type readerFixture struct {
	e      *embedded.Broker
	topic  string
	taps   []transit.Tap
	client *kafka.Client
}

func newReaderFixture(t *testing.T, n int) *readerFixture {
	t.Helper()
	const topic = "taps"
	e := startBroker(t, topic, 1)
	taps := makeTaps(n, 37)
	p, err := NewPublisher(PublisherConfig{Brokers: e.Addrs(), Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Publish(context.Background(), taps); err != nil {
		t.Fatal(err)
	}
	tr := Security{}.transport()
	t.Cleanup(tr.CloseIdleConnections)
	return &readerFixture{e: e, topic: topic, taps: taps,
		client: newClient(e.Addrs(), tr)}
}

func (f *readerFixture) open(t *testing.T, offset int64, cfg FetchConfig) *PartitionReader {
	t.Helper()
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := newPartitionReader(f.client, f.topic, 0, offset, cfg, testLogger(t))
	t.Cleanup(func() { r.Close() })
	return r
}

// TestPartitionReader reads a partition from several offsets with several
// buffer and fetch sizes: offsets are consecutive from the start, every
// message is the tap published there, Fetch never returns more than the
// buffer holds, and the high-water mark is the partition's end.
func TestPartitionReader(t *testing.T) {
	const n = 300
	f := newReaderFixture(t, n)
	tests := []struct {
		offset    int64
		wantFirst int64
		buf       int
		cfg       FetchConfig
	}{
		{offset: -1, wantFirst: 0, buf: 1},
		{offset: 0, wantFirst: 0, buf: 7, cfg: FetchConfig{MaxBytes: 4096, Prefetch: 1}},
		{offset: 150, wantFirst: 150, buf: 64},
		{offset: n - 1, wantFirst: n - 1, buf: 10},
		{offset: 10, wantFirst: 10, buf: 1000, cfg: FetchConfig{MaxBytes: 1024, Prefetch: 5}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("offset=%d/buf=%d/maxbytes=%d", tt.offset, tt.buf, tt.cfg.MaxBytes), func(t *testing.T) {
			r := f.open(t, tt.offset, tt.cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			buf := make([]Message, tt.buf)
			var dec Decoder
			next := tt.wantFirst
			for next < n {
				got, err := r.Fetch(ctx, buf)
				if err != nil {
					t.Fatalf("Fetch at %d: %v", next, err)
				}
				if got < 1 || got > len(buf) {
					t.Fatalf("Fetch returned %d messages for a buffer of %d", got, len(buf))
				}
				for i := range buf[:got] {
					m := &buf[i]
					if m.Offset != next {
						t.Fatalf("offset %d, want %d", m.Offset, next)
					}
					if m.HighWaterMark != n {
						t.Fatalf("offset %d: high-water mark %d, want %d", m.Offset, m.HighWaterMark, n)
					}
					taps := dec.Decode(nil, m.Value, nil)
					want := f.taps[next]
					if len(taps) != 1 || taps[0] != want || string(m.Key) != want.Card.String() || m.Control != "" {
						t.Fatalf("offset %d: key %q value %s, want tap %s", m.Offset, m.Key, m.Value, want.ID)
					}
					next++
				}
			}
		})
	}
}

// TestPartitionReaderWaits checks that Fetch on a caught-up reader blocks
// until a message is published, then returns it.
func TestPartitionReaderWaits(t *testing.T) {
	f := newReaderFixture(t, 5)
	r := f.open(t, 5, FetchConfig{MaxWait: 50 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan error, 1)
	buf := make([]Message, 8)
	go func() {
		n, err := r.Fetch(ctx, buf)
		if err == nil && (n != 1 || buf[0].Offset != 5) {
			err = fmt.Errorf("got %d messages, first at offset %d; want 1 at offset 5", n, buf[0].Offset)
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Fetch returned before anything was published: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	p, err := NewPublisher(PublisherConfig{Brokers: f.e.Addrs(), Topic: f.topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Publish(ctx, makeTaps(1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// TestPartitionReaderErrors covers how Fetch ends.
func TestPartitionReaderErrors(t *testing.T) {
	f := newReaderFixture(t, 5)
	buf := make([]Message, 4)

	t.Run("offset out of range", func(t *testing.T) {
		r := f.open(t, 50, FetchConfig{})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if _, err := r.Fetch(ctx, buf); !errors.Is(err, kafka.OffsetOutOfRange) {
			t.Fatalf("Fetch past the end returned %v, want kafka.OffsetOutOfRange", err)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		r := f.open(t, 5, FetchConfig{})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := r.Fetch(ctx, buf); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Fetch returned %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		r := f.open(t, 0, FetchConfig{})
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// Messages fetched before Close may still come out; then ErrClosed.
		for {
			_, err := r.Fetch(ctx, buf)
			if errors.Is(err, ErrClosed) {
				break
			}
			if err != nil {
				t.Fatalf("Fetch after Close returned %v, want ErrClosed", err)
			}
		}
		if err := r.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
	t.Run("unknown partition", func(t *testing.T) {
		r := newPartitionReader(f.client, "no-such-topic", 0, -1, FetchConfig{MaxBytes: 1 << 20, MaxWait: 10 * time.Millisecond, Prefetch: 1}, discardLogger)
		defer r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		// kafka-go reports an unknown topic as retriable: the reader
		// keeps trying (the topic may be on its way) until ctx ends.
		if _, err := r.Fetch(ctx, buf); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Fetch returned %v, want it to keep retrying until the deadline", err)
		}
	})
}

// TestPartitionReaderCloseBacklog closes a reader whose consumer stopped
// reading while the partition still had a backlog: every chunk is fetched
// and waiting, the fetching goroutine holds one more that ready has no room
// for, and Close must still return promptly (a SIGTERM must not hang on
// it).
func TestPartitionReaderCloseBacklog(t *testing.T) {
	f := newReaderFixture(t, 0)
	p, err := NewPublisher(PublisherConfig{Brokers: f.e.Addrs(), Topic: f.topic})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// One record batch per call: a response of at most MaxBytes holds one
	// or two of them, so the backlog spans many more responses than the
	// reader holds.
	for _, tap := range makeTaps(40, 7) {
		if err := p.Publish(context.Background(), []transit.Tap{tap}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := FetchConfig{MaxBytes: 1024, Prefetch: 1}
	cfg.EnsureDefaults()
	// Not f.open: its cleanup would call Close, the very call that hangs
	// when this test fails.
	r := newPartitionReader(f.client, f.topic, 0, 0, cfg, testLogger(t))
	// No Fetch: the consumer holds no chunk, so run fills ready, takes the
	// last free chunk and fills it too.
	waitFor(t, 20*time.Second, "the reader to fetch ahead until it is full", func() bool {
		return len(r.ready) == cap(r.ready) && len(r.free) == 0
	})
	time.Sleep(50 * time.Millisecond) // run is now past its fetch, at the send
	closed := make(chan struct{})
	go func() {
		r.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s while the reader held a backlog")
	}
	// What was fetched is still read, then ErrClosed.
	buf := make([]Message, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		n, err := r.Fetch(ctx, buf)
		if err != nil {
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("Fetch after Close: %v, want ErrClosed", err)
			}
			break
		}
		if n == 0 || buf[0].Offset < 0 {
			t.Fatalf("Fetch after Close returned %d messages", n)
		}
	}
}
