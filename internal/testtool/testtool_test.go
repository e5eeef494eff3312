package testtool_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/internal/testtool"
)

// TestRequireFinds returns the program's path when it is in PATH.
func TestRequireFinds(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/tool", []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	if got := testtool.Require(t, "tool", "pkg", "this test"); got != dir+"/tool" {
		t.Fatalf("Require = %q, want %s/tool", got, dir)
	}
}

// TestRequireSkipsOutsideCI: without the program a test skips when CI is
// not set.
func TestRequireSkipsOutsideCI(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CI", "")
	var skipped bool
	t.Run("missing", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		testtool.Require(t, "no-such-tool", "no-such-package", "this test")
		t.Error("Require returned without the program")
	})
	if !skipped {
		t.Error("Require did not skip without the program")
	}
}

// TestRequireFailsInCI runs this test binary again with CI=true: the
// missing program must fail the test, naming what to install.
func TestRequireFailsInCI(t *testing.T) {
	if os.Getenv("TESTTOOL_CHILD") == "1" {
		testtool.Require(t, "no-such-tool", "no-such-package", "the child")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestRequireFailsInCI$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTTOOL_CHILD=1", "CI=true", "PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the child passed without the program under CI=true:\n%s", out)
	}
	if !strings.Contains(string(out), "apt-get install no-such-package") || !strings.Contains(string(out), "--- FAIL") {
		t.Fatalf("the child's failure does not say what to install:\n%s", out)
	}
}
