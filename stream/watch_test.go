package stream

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWatchDir: the policy directory's watch calls once per burst of
// changes to policy files, whether a file is written in place or
// replaced by a rename (as editors save), not for other names (an
// editor's swap file), and goes on after the directory is removed and
// made again.
func TestWatchDir(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan struct{}, 16)
	const debounce = 150 * time.Millisecond
	done, err := watchDir(ctx, dir, debounce, slog.New(slog.DiscardHandler), func() { calls <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// expect waits for n calls, then checks that no other comes within a
	// few debounce periods.
	expect := func(step string, n int) {
		t.Helper()
		for i := range n {
			select {
			case <-calls:
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: %d calls, want %d", step, i, n)
			}
		}
		select {
		case <-calls:
			t.Fatalf("%s: more than %d calls", step, n)
		case <-time.After(4 * debounce):
		}
	}

	for i := range 10 { // a burst: one call
		write("a.yaml", string(rune('a'+i)))
		time.Sleep(debounce / 10)
	}
	expect("a burst of writes", 1)

	write(".b.yaml.swp", "x") // an editor's swap file: not a policy
	write("notes.txt", "x")
	expect("other names", 0)

	write("b.yaml.tmp", "new") // an editor's save: write aside, rename over
	if err := os.Rename(filepath.Join(dir, "b.yaml.tmp"), filepath.Join(dir, "b.yml")); err != nil {
		t.Fatal(err)
	}
	expect("rename-replace", 1)

	if err := os.Symlink("a.yaml", filepath.Join(dir, "..data_tmp")); err != nil { // a ConfigMap's swap
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	expect("a ConfigMap's ..data swap", 1)

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	expect("directory removed", 1) // a reload that says the directory is gone
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Watched again within the retry interval (5 s); the call says so.
	select {
	case <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("no call after the directory came back")
	}
	write("c.yaml", "x")
	expect("a write after the directory came back", 1)

	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not end with its context")
	}
}
