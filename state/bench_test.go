package state

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tapsettle/tapsettle/internal/redistest"
)

// benchCheckpoint is a realistic steady-state checkpoint: 10,000 dirty cards
// of 200 bytes and 64 KiB of tap-id appends over four lists. It returns the
// checkpoint and its raw byte count (keys, values, blobs, meta).
func benchCheckpoint() (*Checkpoint, int64) {
	cp := &Checkpoint{Meta: make([]byte, 256)}
	raw := int64(len(cp.Meta))
	for i := range 10_000 {
		e := KV{Key: fmt.Appendf(nil, "card:%011d", i), Value: make([]byte, 200)}
		for j := range e.Value {
			e.Value[j] = byte(i + j)
		}
		cp.Cards = append(cp.Cards, e)
		raw += int64(len(e.Key) + len(e.Value))
	}
	for i := range 256 {
		a := Append{List: fmt.Sprintf("taps:day-%d", i%4), Blob: make([]byte, 256)}
		cp.Appends = append(cp.Appends, a)
		raw += int64(len(a.Blob))
	}
	return cp, raw
}

// BenchmarkCommit measures one Commit of benchCheckpoint per op. Every 32nd
// is sent as Full, as a caller compacting on LogBytes would, which keeps
// the log (and Redis memory) bounded over a long run.
func BenchmarkCommit(b *testing.B) {
	run := func(b *testing.B, s Store) {
		cp, raw := benchCheckpoint()
		if _, err := s.Load(context.Background(), 0); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(raw)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			cp.Seq = uint64(i + 1)
			cp.Offset = int64(i)
			cp.Full = cp.Seq%32 == 0
			if err := s.Commit(context.Background(), 0, cp); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, noSync := range []bool{false, true} {
		name := "local"
		if noSync {
			name = "local-nosync"
		}
		b.Run(name, func(b *testing.B) {
			s, err := NewLocal(b.TempDir(), LocalOptions{NoSync: noSync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			run(b, s)
		})
	}
	b.Run("redis", func(b *testing.B) {
		c := redis.NewClient(&redis.Options{Addr: redistest.Start(b).Addr()})
		defer c.Close()
		s, err := NewRedis(c, RedisOptions{Prefix: "bench", Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		run(b, s)
	})
}

// BenchmarkAppendRecord is the encoding alone: it must not allocate once
// the buffer has grown.
func BenchmarkAppendRecord(b *testing.B) {
	cp, raw := benchCheckpoint()
	cp.Seq = 1
	var buf []byte
	b.SetBytes(raw)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendRecord(buf[:0], cp)
	}
}

// BenchmarkLoad replays a log of 32 benchCheckpoints (one compaction cycle).
func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	s, err := NewLocal(dir, LocalOptions{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	cp, raw := benchCheckpoint()
	if _, err := s.Load(context.Background(), 0); err != nil {
		b.Fatal(err)
	}
	for seq := uint64(1); seq <= 31; seq++ {
		cp.Seq = seq
		if err := s.Commit(context.Background(), 0, cp); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(raw * 31)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Release(0); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Load(context.Background(), 0); err != nil {
			b.Fatal(err)
		}
	}
}
