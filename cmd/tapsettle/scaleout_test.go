package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tapsettle/tapsettle/feed/embedded"
	"github.com/tapsettle/tapsettle/internal/redistest"
)

// Sizes of the scale-out test: a topic of 6 partitions read by 3
// instances, 2 each, so that a killed instance leaves partitions to take
// over; a day small enough for a 2-core machine to stream in seconds, long
// enough to be killed in the middle of.
const (
	scaleOutPartitions = 6
	scaleOutInstances  = 3
	scaleOutTaps       = 30000
)

// TestScaleOutProcesses is the scale-out of docs/streaming.md with real
// processes, as an operator runs it: the tapsettle binary, built from this
// tree, publishes a generated day with produce to a topic of 6 partitions
// on a broker (in this process, on a loopback port), three "tapsettle run"
// processes consume it in one consumer group with their state in Redis
// (the backend several instances share: a local state folder cannot
// follow a partition to another instance) and an output folder each; one
// is killed with SIGKILL in the middle of the stream, the survivors take
// its partitions over from their checkpoints and a replacement joins with
// the killed one's folder, as an orchestrator restarts a pod with its
// volume; then the rest of the day and its close-day message are published,
// "tapsettle clear" merges the three folders, and the merged days are
// byte-identical to "tapsettle settle" of the same file, every file of
// them, and pass "tapsettle verify".
func TestScaleOutProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it as separate processes")
	}
	redisAddr := redistest.Addr(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	tool := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tapsettle %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	// The day, and the batch job's files for it: the reference. No late
	// taps (a stream prices a tap later than the reorder window as it
	// comes, the batch job in order) and no malformed records (produce
	// keeps them out of the topic, settle counts them).
	day := filepath.Join(dir, "day.csv")
	tool("gen", "--taps", fmt.Sprint(scaleOutTaps), "--seed", "18", "--day", "2025-03-03", "--late", "0", "--malformed", "0", "-o", day)
	ref := filepath.Join(dir, "settled")
	tool("settle", "--ledger", "--out", ref, day)
	days := dayDirs(t, ref)
	if len(days) == 0 {
		t.Fatal("settle wrote no day")
	}
	last := days[len(days)-1]
	// Two thirds of the day before the kill, the rest after it: however
	// fast the instances are, the stream is not over when one dies. The
	// instances join the group first, so that each has its share of the
	// first part to checkpoint.
	head, tail := splitCSV(t, day, 2*scaleOutTaps/3)

	broker, err := embedded.Start("taps", scaleOutPartitions)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	brokers := broker.Addrs()[0]

	prefix := redistest.Prefix(t)
	instance := func(name, out string) *service {
		s := &service{name: name, cmd: exec.Command(bin, "run")}
		s.cmd.Dir = dir
		s.cmd.Env = append(cleanEnv(),
			"TAPSETTLE_KAFKA_BROKERS="+brokers,
			"TAPSETTLE_KAFKA_TOPIC=taps",
			"TAPSETTLE_KAFKA_GROUP=scale-out",
			// A dead member's partitions move after 2 s without heartbeats.
			"TAPSETTLE_KAFKA_SESSION_TIMEOUT=2s",
			"TAPSETTLE_STATE_BACKEND=redis",
			"TAPSETTLE_REDIS_ADDR="+redisAddr,
			"TAPSETTLE_REDIS_PREFIX="+prefix,
			"TAPSETTLE_OUTPUT_DIR="+out,
			"TAPSETTLE_OUTPUT_LEDGER=true",
			"TAPSETTLE_METRICS_LISTEN=127.0.0.1:0",
			// A checkpoint every 1,000 taps or 200 ms: the killed
			// instance leaves checkpoints to resume from.
			"TAPSETTLE_CHECKPOINT_INTERVAL=200ms",
			"TAPSETTLE_CHECKPOINT_TAPS=1000",
			"TAPSETTLE_CLEARING_INTERVAL=0",
		)
		s.cmd.Stderr = &s.log
		s.cmd.Stdout = &s.log
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		s.done = make(chan struct{})
		go func() { s.err = s.cmd.Wait(); close(s.done) }()
		t.Cleanup(func() {
			_ = s.cmd.Process.Kill()
			<-s.done
		})
		return s
	}
	outs := make([]string, scaleOutInstances)
	var running []*service
	for i := range outs {
		outs[i] = filepath.Join(dir, "out", string(rune('a'+i)))
		running = append(running, instance(outs[i], outs[i]))
	}
	// All three in one generation, each with partitions of its own.
	waitFor(t, running, 60*time.Second, "the three instances to share the partitions", func() bool {
		return coversAll(running, scaleOutPartitions, true)
	})
	victim := running[0]
	owned := victim.partitions()
	tool("produce", "--brokers", brokers, head)
	// Mid-stream: the victim has committed a checkpoint of each of its
	// partitions, which the group's offsets follow.
	waitFor(t, running, 60*time.Second, "the victim to checkpoint its partitions", func() bool {
		committed := committedOffsets(t, brokers, "scale-out", "taps", owned)
		for _, p := range owned {
			if committed[p] <= 0 {
				return false
			}
		}
		return true
	})
	survivors := running[1:]
	before := make([]int, len(survivors)) // the survivors' logs before the kill
	for i, s := range survivors {
		before[i] = len(s.log.String())
	}
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	// The group gives the killed instance's partitions to the survivors,
	// which resume each at its last checkpoint.
	waitFor(t, survivors, 60*time.Second, "the survivors to take the killed instance's partitions over from their checkpoints", func() bool {
		if !coversAll(survivors, scaleOutPartitions, false) {
			return false
		}
		for _, p := range owned {
			restored := false
			for i, s := range survivors {
				restored = restored || strings.Contains(s.log.String()[before[i]:], fmt.Sprintf(`msg="partition restored" partition=%d `, p))
			}
			if !restored {
				return false
			}
		}
		return true
	})
	// A replacement with the killed instance's folder joins the group.
	replacement := instance("replacement of "+outs[0], outs[0])
	running = append(survivors, replacement)
	waitFor(t, running, 60*time.Second, "the replacement to get partitions", func() bool {
		return coversAll(running, scaleOutPartitions, true)
	})
	tool("produce", "--brokers", brokers, "--close-day", last, tail)

	// Every partition's part of every day is in one of the folders.
	waitFor(t, running, 90*time.Second, "every part of every day", func() bool {
		for _, d := range days {
			found := map[string]bool{}
			for _, out := range outs {
				parts, _ := filepath.Glob(filepath.Join(out, "parts", d, "p*.json"))
				for _, p := range parts {
					found[filepath.Base(p)] = true
				}
			}
			if len(found) < scaleOutPartitions {
				return false
			}
		}
		return true
	})
	// The day was settled across the instances: its parts are spread
	// over more than one folder.
	spread := 0
	for _, out := range outs {
		if parts, _ := filepath.Glob(filepath.Join(out, "parts", days[0], "p*.json")); len(parts) > 0 {
			spread++
		}
	}
	if spread < 2 {
		t.Errorf("the parts of %s are all in one instance's folder", days[0])
	}
	for _, s := range running {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, s := range running {
		select {
		case <-s.done:
			if s.err != nil {
				t.Fatalf("%s: SIGTERM: exited with %v\n%s", s.name, s.err, s.log.String())
			}
		case <-time.After(40 * time.Second):
			t.Fatalf("%s did not exit within 40s of SIGTERM\n%s", s.name, s.log.String())
		}
		for _, bad := range []string{"level=ERROR", "without a final checkpoint", "checkpoint failed"} {
			if strings.Contains(s.log.String(), bad) {
				t.Errorf("%s logged %q\n%s", s.name, bad, s.log.String())
			}
		}
	}

	merged := filepath.Join(dir, "cleared")
	for _, d := range days {
		t.Log(strings.TrimSpace(tool(append([]string{"clear", "--ledger", "--day", d, "--out", merged}, outs...)...)))
	}
	n := sameFiles(t, merged, ref, days)
	t.Logf("killed the instance of partitions %v; %d files of %d day(s) byte-identical to settle's", owned, n, len(days))
	tool("verify", merged)
}

// service is one "tapsettle run" process of TestScaleOutProcesses.
type service struct {
	name string
	cmd  *exec.Cmd
	log  lockedBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit, once done is closed
}

func (s *service) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

var generationLine = regexp.MustCompile(`msg="feed: joined generation" .* generation=(\d+) .* partitions="?\[([0-9 ]*)\]`)

// generation returns the last consumer-group generation the service
// joined and the partitions it was given, from its log; 0 when none.
func (s *service) generation() (int, []int) {
	gen, parts := 0, []int(nil)
	sc := bufio.NewScanner(strings.NewReader(s.log.String()))
	for sc.Scan() {
		m := generationLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		fmt.Sscan(m[1], &gen)
		parts = parts[:0:0]
		for _, f := range strings.Fields(m[2]) {
			var p int
			fmt.Sscan(f, &p)
			parts = append(parts, p)
		}
	}
	return gen, parts
}

func (s *service) partitions() []int {
	_, p := s.generation()
	return p
}

// coversAll reports whether the services' last generations are one and
// the same, and their partitions together are the topic's n, each owned
// once; with each, every service owns at least one.
func coversAll(services []*service, n int, each bool) bool {
	seen := map[int]bool{}
	gen := -1
	for _, s := range services {
		g, parts := s.generation()
		if g == 0 || (gen >= 0 && g != gen) || (each && len(parts) == 0) {
			return false
		}
		gen = g
		for _, p := range parts {
			if seen[p] {
				return false
			}
			seen[p] = true
		}
	}
	return len(seen) == n
}

// waitFor polls cond until it holds, or fails the test after limit with
// what it waited for and the services' logs.
func waitFor(t *testing.T, services []*service, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
		for _, s := range services {
			if s.exited() {
				t.Fatalf("waiting for %s: %s exited\n%s", what, s.name, logs(services))
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s\n%s", limit, what, logs(services))
		}
	}
}

func logs(services []*service) string {
	var b strings.Builder
	for _, s := range services {
		fmt.Fprintf(&b, "--- %s\n%s", s.name, s.log.String())
	}
	return b.String()
}

// committedOffsets returns the group's committed offsets of the topic's
// partitions; -1 where there is none.
func committedOffsets(t *testing.T, brokers, group, topic string, partitions []int) map[int]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(brokers)}
	resp, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: partitions}})
	if err == nil {
		err = resp.Error
	}
	if err != nil {
		t.Fatalf("the group's offsets: %v", err)
	}
	m := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		if p.Error == nil {
			m[p.Partition] = p.CommittedOffset
		}
	}
	return m
}

// buildBinary builds the tapsettle command of this tree into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "tapsettle")
	// go test puts its own Go first in PATH.
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv is this process's environment without TAPSETTLE_ variables, so
// that the child's configuration is the test's alone.
func cleanEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "TAPSETTLE_") })
}

// dayDirs returns the settlement days (YYYY-MM-DD folders) under root, in
// order.
func dayDirs(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var days []string
	for _, e := range entries {
		if _, err := time.Parse(time.DateOnly, e.Name()); err == nil && e.IsDir() {
			days = append(days, e.Name())
		}
	}
	return days
}

// splitCSV writes the first n records of a CSV tap file and the rest into
// two files, each with the header, and returns their paths. Published one
// after the other they are the same sequence of messages per card.
func splitCSV(t *testing.T, path string, n int) (string, string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header, body, _ := bytes.Cut(data, []byte("\n"))
	cut := 0
	for i := 0; i < n; i++ {
		j := bytes.IndexByte(body[cut:], '\n')
		if j < 0 {
			t.Fatalf("%s holds fewer than %d records", path, n)
		}
		cut += j + 1
	}
	head, tail := path+".head.csv", path+".tail.csv"
	for name, part := range map[string][]byte{head: body[:cut], tail: body[cut:]} {
		b := append(append(slices.Clip(header), '\n'), part...)
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return head, tail
}

// sameFiles fails unless the days under got hold the same files as under
// want, byte for byte, and returns how many it compared.
func sameFiles(t *testing.T, got, want string, days []string) int {
	t.Helper()
	compared := 0
	for _, d := range days {
		list := func(root string) map[string]bool {
			names := map[string]bool{}
			err := filepath.WalkDir(filepath.Join(root, d), func(p string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					rel, _ := filepath.Rel(root, p)
					names[rel] = true
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return names
		}
		g, w := list(got), list(want)
		for name := range w {
			if !g[name] {
				t.Errorf("the cleared day lacks %s", name)
				continue
			}
			a, _ := os.ReadFile(filepath.Join(got, name))
			b, _ := os.ReadFile(filepath.Join(want, name))
			if !bytes.Equal(a, b) {
				t.Errorf("%s differs from settle's", name)
			}
			compared++
		}
		for name := range g {
			if !w[name] {
				t.Errorf("the cleared day has %s, which settle did not write", name)
			}
		}
	}
	if compared < 10 {
		t.Fatalf("compared only %d files", compared)
	}
	return compared
}
