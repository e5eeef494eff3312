// Package brokertest runs a test's Kafka broker in a child process: the
// test binary again, which its TestMain turns into a broker when it finds
// the variable Start set. A broker in a process of its own keeps its
// allocations and garbage collection out of what a benchmark measures, as
// in production.
//
// The package does not start the broker itself (embedded.Start, in package feed/embedded,
// and feed's own tests use this package): the child starts it and hands
// its addresses to Serve.
package brokertest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Start runs the test binary as a child process with env ("NAME=value")
// added to its environment, for its TestMain to start a broker and call
// Serve, and returns the addresses the child reports. The child stops when
// the test or benchmark ends.
func Start(tb testing.TB, env string) []string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("broker process: %v", err)
	}
	return strings.Split(strings.TrimSpace(line), ",")
}

// Serve is the child's side of Start: it prints the broker's addresses on
// the first line of standard output and returns when standard input is
// closed (when the parent's test ends, or the parent exits). The caller
// closes the broker after.
func Serve(addrs []string) {
	fmt.Println(strings.Join(addrs, ","))
	_, _ = io.Copy(io.Discard, os.Stdin)
}
