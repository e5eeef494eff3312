package brokertest

import (
	"os"
	"slices"
	"testing"
)

// childEnv makes the test binary the child of TestStartServe: Serve with
// made-up addresses instead of a broker.
const childEnv = "BROKERTEST_CHILD"

var childAddrs = []string{"127.0.0.1:9092", "127.0.0.1:9093"}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		Serve(childAddrs)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestStartServe: Start returns the addresses the child's Serve printed,
// and the child ends when the test does (the cleanup waits for it).
func TestStartServe(t *testing.T) {
	if got := Start(t, childEnv+"=1"); !slices.Equal(got, childAddrs) {
		t.Errorf("Start = %q, want %q", got, childAddrs)
	}
}
