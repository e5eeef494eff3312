package durable

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestMissingDirs: the folders MkdirAll creates, and so must sync the
// parents of, are exactly the missing ones, deepest first.
func TestMissingDirs(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir  string
		want []string
	}{
		{"a", nil},
		{"a/b", []string{"a/b"}},
		{"a/b/c/", []string{"a/b/c", "a/b"}},
		{"x/y", []string{"x/y", "x"}},
	} {
		got, err := missingDirs(filepath.Join(root, tc.dir))
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, w := range tc.want {
			want = append(want, filepath.Join(root, w))
		}
		if !slices.Equal(got, want) {
			t.Errorf("missingDirs(%s) = %v, want %v", tc.dir, got, want)
		}
	}
	// WriteFile makes the missing folders, synced, and the file.
	path := filepath.Join(root, "x", "y", "f")
	if _, err := WriteFile(path, []byte("data"), true); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "data" {
		t.Fatalf("read back %q, %v", b, err)
	}
}

// TestMkdirAllOverAFile: a file where a folder belongs is an error of the
// folder step, not a folder that "exists" and fails later, less clearly.
func TestMkdirAllOverAFile(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "day")
	if err := os.WriteFile(blocker, []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := (Writer{}).MkdirAll(blocker, 0o750); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("MkdirAll over a file = %v, want ENOTDIR", err)
	}
}
