package settlement

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
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
	editManifest(t, dayDir, func(m *Manifest) {
		f := m.File(rel)
		if f == nil {
			t.Fatalf("%s not in manifest", rel)
		}
		f.Size = int64(len(stored))
		f.SHA256 = sha256Sum(stored)
	})
}

// editManifest rewrites the manifest of a day folder as edit leaves it.
func editManifest(t testing.TB, dayDir string, edit func(m *Manifest)) {
	t.Helper()
	mp := filepath.Join(dayDir, ManifestName)
	data, err := os.ReadFile(mp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	if err := os.WriteFile(mp, m.Marshal(), 0o640); err != nil {
		t.Fatal(err)
	}
}

// checkSpilledWrite ends a spill test: the tree written under root must
// be want, the in-memory collector's, byte for byte, and pass Verify, and
// closing c must leave spillDir empty.
func checkSpilledWrite(t *testing.T, c *Collector, root, spillDir string, want map[string][]byte) {
	t.Helper()
	got := readTree(t, root)
	if !reflect.DeepEqual(got, want) {
		for p := range want {
			if !bytes.Equal(got[p], want[p]) {
				t.Errorf("%s differs from the in-memory collector's", p)
			}
		}
		t.FailNow()
	}
	if err := Verify(root); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(spillDir); len(left) != 0 {
		t.Errorf("left in the spill folder: %v", left)
	}
}

// checkVerifyError requires Verify(dir) to fail with a *VerifyError naming
// wantRel (relative to dir) and record wantLine, wrapping wantErr, whose
// text holds wantText.
func checkVerifyError(t *testing.T, dir string, wantRel string, wantLine int, wantErr error, wantText string) {
	t.Helper()
	err := Verify(dir)
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("Verify = %v, want a *VerifyError", err)
	}
	if want := filepath.Join(dir, filepath.FromSlash(wantRel)); ve.File != want || ve.Record != wantLine || !errors.Is(err, wantErr) || !strings.Contains(err.Error(), wantText) {
		t.Errorf("Verify = %v\nwant file %s, record %d, %v, %q", err, want, wantLine, wantErr, wantText)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
