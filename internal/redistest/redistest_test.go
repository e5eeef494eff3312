package redistest_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tapsettle/tapsettle/internal/redistest"
)

func client(t *testing.T, addr, password string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestServerSurvivesRestart: data written before Stop or Kill is there
// after Restart, on the same address (the append-only file is synced on
// every write), and the server really is down in between.
func TestServerSurvivesRestart(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	for i, stop := range []func() error{srv.Stop, srv.Kill} {
		key := "k" + string(rune('0'+i))
		if err := client(t, srv.Addr(), "").Set(ctx, key, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if err := stop(); err != nil {
			t.Fatalf("stopping a stopped server: %v", err)
		}
		if err := client(t, srv.Addr(), "").Ping(ctx).Err(); err == nil {
			t.Fatal("PING answered while the server is stopped")
		}
		srv.Restart()
		for _, k := range []string{"k0", key} {
			if got, err := client(t, srv.Addr(), "").Get(ctx, k).Result(); err != nil || got != "v" {
				t.Fatalf("after restart %d, %s = %q, %v", i, k, got, err)
			}
		}
	}
	if _, err := os.Stat(srv.Dir()); err != nil {
		t.Fatal(err)
	}
}

// TestPassword: WithPassword makes the server refuse clients without it.
func TestPassword(t *testing.T) {
	srv := redistest.Start(t, redistest.WithPassword("pw"))
	ctx := context.Background()
	err := client(t, srv.Addr(), "").Ping(ctx).Err()
	if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without password = %v, want NOAUTH", err)
	}
	if err := client(t, srv.Addr(), srv.Password()).Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestAddrUsesEnv: $TEST_REDIS_ADDR wins over starting a server.
func TestAddrUsesEnv(t *testing.T) {
	t.Setenv(redistest.EnvAddr, "127.0.0.1:1")
	if got := redistest.Addr(t); got != "127.0.0.1:1" {
		t.Fatalf("Addr = %q", got)
	}
}

// TestPrefixUnique: prefixes differ between calls and carry no braces,
// which would break the stores' hash tags.
func TestPrefixUnique(t *testing.T) {
	a, b := redistest.Prefix(t), redistest.Prefix(t)
	if a == b || strings.ContainsAny(a, "{}") || !strings.Contains(a, "TestPrefixUnique") {
		t.Fatalf("prefixes %q and %q", a, b)
	}
}

// TestWithArgs passes raw server arguments through.
func TestWithArgs(t *testing.T) {
	srv := redistest.Start(t, redistest.WithArgs("--maxmemory", "1mb", "--maxmemory-policy", "noeviction"))
	c := client(t, srv.Addr(), "")
	err := c.Set(context.Background(), "big", strings.Repeat("x", 2<<20), 0).Err()
	var rerr redis.Error
	if !errors.As(err, &rerr) || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("SET over maxmemory = %v, want OOM", err)
	}
}

// TestStartSkipsWithoutServer: without redis-server and without a shared
// server, Start skips (outside CI) with a message saying what to install.
func TestStartSkipsWithoutServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CI", "")
	t.Setenv(redistest.EnvAddr, "")
	for name, start := range map[string]func(testing.TB){
		"Start": func(tb testing.TB) { redistest.Start(tb) },
		"Addr":  func(tb testing.TB) { redistest.Addr(tb) },
	} {
		var skipped bool
		t.Run(name, func(t *testing.T) {
			defer func() { skipped = t.Skipped() }()
			start(t)
		})
		if !skipped {
			t.Errorf("%s did not skip without redis-server", name)
		}
	}
}
