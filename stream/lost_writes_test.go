package stream

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tapsettle/tapsettle/internal/redistest"
)

// snapshotScript returns every key matching ARGV[1] with its DUMP, as
// key, value, key, value...: in one script, so that the copy is one
// moment of the server (a commit is one MULTI/EXEC, never half in it).
var snapshotScript = redis.NewScript(`
local out = {}
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
	out[#out+1] = k
	out[#out+1] = redis.call('DUMP', k)
end
return out`)

// rollbackScript deletes every key matching ARGV[1] and restores the
// key, value pairs that follow it: a Redis that came back from an older
// append-only file, in one step for the service's commits.
var rollbackScript = redis.NewScript(`
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
	redis.call('DEL', k)
end
for i = 2, #ARGV, 2 do
	redis.call('RESTORE', ARGV[i], 0, ARGV[i+1], 'REPLACE')
end
return #ARGV / 2`)

// TestRedisLostWrites pins what docs/operations.md says of a Redis that
// lost acknowledged writes ("A Redis that lost acknowledged writes"). The
// service's Redis keys are copied once it has a checkpoint of every
// partition, and put back (the keys created since deleted) once it has
// committed more, while it runs, as if Redis had restarted from an older
// append-only file; then the rest of the day is published. The next
// commit of a partition that had moved on finds a stored seq that its
// checkpoint does not follow: the process exits with status 1, promptly,
// having logged "does not follow stored seq" and written no day's files.
// A second process on the same state and output folder restores that
// partition from the older checkpoint, replays from Kafka and writes the
// day's files byte-identical to the batch job's.
func TestRedisLostWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes against redis-server")
	}
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	spec := "redis:" + addr + "/" + prefix
	keys := "{" + prefix + ":*" // the service's keys: "{prefix:p}:..."
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	ctx := context.Background()

	// Half the day first: the rollback comes while the second half is
	// unpublished, so every partition has checkpoints still to commit.
	f := newFixture(t, newEnv(t), 40000)
	b, pub := startBroker(t, 16)
	half := len(f.taps) / 2
	if err := pub.Publish(ctx, f.taps[:half]); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := child(t, b.Addrs()[0], spec, out, 0)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
		}
	}()
	stderr := func() string { return cmd.Stderr.(*syncBuffer).String() }
	owned := func() int { return strings.Count(stderr(), "took partition ownership") }
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
			if len(done) > 0 || time.Now().After(deadline) {
				t.Fatalf("the child exited or a minute passed before %s\n%s", what, stderr())
			}
		}
	}

	// The copy: once the child owns every partition (no Load, which
	// raises the fencing token, comes between the copy and the rollback)
	// and has committed a checkpoint of each.
	metas := make([]string, partitions)
	for p := range metas {
		metas[p] = "{" + prefix + ":" + strconv.Itoa(p) + "}:meta"
	}
	waitFor("a checkpoint of every partition", func() bool {
		n, err := client.Exists(ctx, metas...).Result()
		return err == nil && n == partitions && owned() == partitions
	})
	snap, err := snapshotScript.Run(ctx, client, nil, keys).StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	copied := map[string]string{}
	for i := 0; i < len(snap); i += 2 {
		copied[snap[i]] = snap[i+1]
	}
	for _, k := range metas {
		if _, ok := copied[k]; !ok {
			t.Fatalf("the copy lacks %s", k)
		}
	}
	// Lose the writes once some partition has committed since the copy
	// (its meta key moved on), then publish the rest of the day: that
	// partition's next commit finds the older checkpoint.
	var moved []string
	waitFor("a checkpoint after the copy", func() bool {
		moved = moved[:0]
		for _, k := range metas {
			if v, err := client.Dump(ctx, k).Result(); err == nil && v != copied[k] {
				moved = append(moved, k)
			}
		}
		return len(moved) > 0
	})
	args := append([]any{keys}, anys(snap)...)
	if _, err := rollbackScript.Run(ctx, client, nil, args...).Result(); err != nil {
		t.Fatal(err)
	}
	if n := owned(); n != partitions {
		t.Fatalf("the child took partition ownership %d times, not once each: a rebalance raced the rollback\n%s", n, stderr())
	}
	publishDay(t, pub, f.taps[half:], f.last)

	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("after the rollback the child exited with %v, want status 1\n%s", err, stderr())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the child was still running 30s after Redis lost its writes\n%s", stderr())
	}
	log := stderr()
	m := regexp.MustCompile(`partition (\d+): checkpoint seq (\d+) does not follow stored seq (\d+)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("the child's log does not name the sequence problem\n%s", log)
	}
	got, _ := strconv.Atoi(m[2])
	stored, _ := strconv.Atoi(m[3])
	if stored == 0 || got <= stored+1 {
		t.Fatalf("seq %d against stored seq %d is not the rollback to a checkpoint of every partition\n%s", got, stored, log)
	}
	if _, err := os.Stat(filepath.Join(out, f.last.String())); err == nil {
		t.Fatalf("the failed child wrote the day's files\n%s", log)
	}
	t.Logf("partition %s: checkpoint seq %d, stored seq %d after the rollback", m[1], got, stored)

	// The operator starts it again: it resumes from the stored (older)
	// checkpoints and settles the day as if nothing had happened.
	again := child(t, b.Addrs()[0], spec, out, f.last)
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	finished := make(chan error, 1)
	go func() { finished <- again.Wait() }()
	select {
	case err := <-finished:
		if err != nil {
			t.Fatalf("restart: %v\n%s", err, again.Stderr)
		}
	case <-time.After(2 * time.Minute):
		_ = again.Process.Kill()
		<-finished
		t.Fatalf("the restarted child did not finish\n%s", again.Stderr)
	}
	restored := logMarks(again.Stderr.(*syncBuffer).String(), "partition restored")
	if r, ok := restored[m[1]]; !ok || r[0] != m[3] {
		t.Fatalf("partition %s restored at %v, want the stored checkpoint %d\n%s", m[1], r, stored, again.Stderr)
	}
	sameTree(t, out, f.batch, f, true)
}

// anys converts script results back into arguments.
func anys(s []string) []any {
	a := make([]any, len(s))
	for i, v := range s {
		a[i] = v
	}
	return a
}
