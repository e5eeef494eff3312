package fares

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/tapsettle/tapsettle/transit"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (review, then go test -run %s -update):\n--- got\n%s\n--- want\n%s", path, t.Name(), got, want)
	}
}

// TestDescribeGolden pins the human-readable rules of `tapsettle policy
// show`, for Ningbo, for a default city and for the default template.
func TestDescribeGolden(t *testing.T) {
	b := mustDefault(t)
	for _, tt := range []struct {
		file string
		p    *Policy
	}{
		{"describe_ningbo.golden", b.Policy(transit.Ningbo, march1)},
		{"describe_default_suzhou.golden", b.Policy(320500, march1)},
		{"describe_template.golden", b.Template()[0]},
	} {
		var buf bytes.Buffer
		if err := tt.p.Describe(&buf); err != nil {
			t.Fatal(err)
		}
		golden(t, tt.file, buf.Bytes())
	}
}

// TestFingerprintGolden pins the fingerprint of the embedded data. It
// changes when a policy, a city or the synthetic network generator changes
// (and so, potentially, a fare): such a change must be deliberate.
func TestFingerprintGolden(t *testing.T) {
	golden(t, "default_fingerprint.golden", []byte(mustDefault(t).Fingerprint()+"\n"))
}

// TestDescribeError: Describe reports the writer's error.
func TestDescribeError(t *testing.T) {
	if err := mustDefault(t).Policy(transit.Ningbo, march1).Describe(failWriter{}); err == nil {
		t.Error("Describe swallowed a write error")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, os.ErrClosed }
