//go:build unix

package fares

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Secrets that a policy file must never show in a problem report.
const (
	envSecret    = "hunter2-not-a-fare"
	shadowSecret = "$y$j9T$0123abcdefghijklmn$ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"
)

var (
	envFile    = "TAPSETTLE_REDIS_PASSWORD=" + envSecret + "\nTAPSETTLE_KAFKA_SASL_PASSWORD=" + envSecret + "\n"
	shadowFile = "root:" + shadowSecret + ":19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestPolicyFileContentNotShown: a "policy file" that holds an environment
// or password file, as a copy or as a symbolic link, is refused without
// its content in the report: values are described by kind, keys that are
// not names by length, and links leading outside the directory are not
// read at all.
func TestPolicyFileContentNotShown(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "tapsettle.env"), envFile)
	writeFile(t, filepath.Join(outside, "shadow"), shadowFile)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string // in the report
	}{
		{"env file copied", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "x.yaml"), envFile)
		}, "want a mapping, got text"},
		{"password file copied", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "x.yaml"), shadowFile)
		}, "<a key of"},
		{"link to an env file", func(t *testing.T, dir string) {
			symlink(t, filepath.Join(outside, "tapsettle.env"), filepath.Join(dir, "x.yaml"))
		}, "outside the policy directory: not read"},
		{"relative link to a password file", func(t *testing.T, dir string) {
			rel, err := filepath.Rel(dir, filepath.Join(outside, "shadow"))
			if err != nil {
				t.Fatal(err)
			}
			symlink(t, rel, filepath.Join(dir, "x.yml"))
		}, "outside the policy directory: not read"},
		{"link through a linked folder", func(t *testing.T, dir string) {
			symlink(t, outside, filepath.Join(dir, "..data"))
			symlink(t, filepath.Join("..data", "shadow"), filepath.Join(dir, "x.yaml"))
		}, "outside the policy directory: not read"},
		{"a value that is a secret", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "x.yaml"), "city: 330200\nversions:\n  - effective_from: 2020-01-01\n    bus:\n      fare: \""+envSecret+"\"\n")
		}, "want a whole number, got text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(t, dir)
			for name, err := range map[string]error{"Check": Check(dir), "Load": func() error { _, err := Load(dir); return err }()} {
				if err == nil {
					t.Fatalf("%s passed", name)
				}
				msg := err.Error()
				if strings.Contains(msg, envSecret) || strings.Contains(msg, shadowSecret) || strings.Contains(msg, "19000") {
					t.Errorf("%s shows the file's content:\n%s", name, msg)
				}
				if !strings.Contains(msg, tc.want) {
					t.Errorf("%s = %s\nwant %q in it", name, msg, tc.want)
				}
				var pe *Error
				if !errors.As(err, &pe) {
					t.Errorf("%s: not a *Error: %v", name, err)
				}
			}
		})
	}
}

// TestPolicyDirLinksInside: links that stay inside the directory are
// followed, as a Kubernetes ConfigMap volume lays its keys out
// (KEY -> ..data/KEY, ..data -> ..TIMESTAMP), and the directory itself
// may be a link. A link to a folder or to something other than a regular
// file is refused.
func TestPolicyDirLinksInside(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "override", "320500_suzhou.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "policies")
	writeFile(t, filepath.Join(dir, "..2026_01_02_03_04_05.123", "320500_suzhou.yaml"), string(src))
	symlink(t, "..2026_01_02_03_04_05.123", filepath.Join(dir, "..data"))
	symlink(t, filepath.Join("..data", "320500_suzhou.yaml"), filepath.Join(dir, "320500_suzhou.yaml"))
	linked := filepath.Join(root, "current")
	symlink(t, "policies", linked)
	for _, d := range []string{dir, linked} {
		if err := Check(d); err != nil {
			t.Errorf("Check(%s): %v", d, err)
		}
		if _, err := Load(d); err != nil {
			t.Errorf("Load(%s): %v", d, err)
		}
	}

	symlink(t, "..data", filepath.Join(dir, "folder.yaml"))
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = Check(dir)
	for _, want := range []string{"folder.yaml: invalid value: not a regular file", "fifo.yaml: invalid value: not a regular file"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check = %v, want %q", err, want)
		}
	}
}
