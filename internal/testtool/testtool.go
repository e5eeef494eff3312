// Package testtool finds the programs that tests run beside the Go code
// (redis-server, kcat, promtool). A test without its program skips with a
// message that says what to install, except under CI=true, where a missing
// program is a failure: CI must not pass by skipping.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// Require returns the path of program name. Without it in PATH the test
// skips, or under CI=true fails, saying which Debian package brings it and
// what it is needed for.
func Require(tb testing.TB, name, pkg, neededFor string) string {
	tb.Helper()
	bin, err := exec.LookPath(name)
	if err == nil {
		return bin
	}
	msg := name + " is not in PATH (apt-get install " + pkg + "), needed for " + neededFor + ": " + err.Error()
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}
