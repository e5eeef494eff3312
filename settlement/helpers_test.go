package settlement

import (
	"bytes"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// writeAll writes every day of c under root and returns the days' folders.
func writeAll(t testing.TB, c *Collector, root string, opts WriteOptions) []string {
	t.Helper()
	var dirs []string
	for _, d := range c.Days() {
		day := c.Day(d)
		if err := day.Validate(); err != nil {
			t.Fatalf("Validate %s: %v", DirName(d), err)
		}
		if _, err := WriteDay(root, day, opts); err != nil {
			t.Fatalf("WriteDay %s: %v", DirName(d), err)
		}
		dirs = append(dirs, filepath.Join(root, DirName(d)))
	}
	return dirs
}

// readTree returns every file under root by slash path, as stored.
func readTree(t testing.TB, root string) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func decompress(t testing.TB, b []byte) []byte {
	t.Helper()
	d, err := zstd.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	out, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// plain returns the tree with .zst files decompressed and renamed without
// the suffix.
func plain(t testing.TB, tree map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(tree))
	for p, b := range tree {
		if s, ok := strings.CutSuffix(p, ".zst"); ok {
			out[s] = decompress(t, b)
		} else {
			out[p] = b
		}
	}
	return out
}

// rewrite replaces a file of a day folder with new content (compressed
// like the writer does for .zst) and re-seals the manifest, so that every
// checksum is consistent and only the content is wrong.
func rewrite(t testing.TB, dayDir, rel string, content []byte) {
	t.Helper()
	stored := content
	if strings.HasSuffix(rel, ".zst") {
		stored = compress(nil, content)
	}
	if err := os.WriteFile(filepath.Join(dayDir, filepath.FromSlash(rel)), stored, 0o640); err != nil {
		t.Fatal(err)
	}
	mp := filepath.Join(dayDir, ManifestName)
	data, err := os.ReadFile(mp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	f := m.File(rel)
	if f == nil {
		t.Fatalf("%s not in manifest", rel)
	}
	f.Size = int64(len(stored))
	f.SHA256 = sha256Sum(stored)
	if err := os.WriteFile(mp, m.Marshal(), 0o640); err != nil {
		t.Fatal(err)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
