package feed

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tapsettle/tapsettle/feed/embedded"
	"github.com/tapsettle/tapsettle/internal/brokertest"
)

// brokerEnv, set to "topic:partitions", makes the test binary serve an
// embedded broker instead of running tests: benchmarks start one in a
// child process so that the allocations they report are the client's
// alone, not kfake's.
const brokerEnv = "FEED_TEST_BROKER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(brokerEnv); spec != "" {
		os.Exit(serveBroker(spec))
	}
	if spec := os.Getenv(memberEnv); spec != "" {
		os.Exit(runMember(spec))
	}
	os.Exit(m.Run())
}

// serveBroker runs a broker until standard input is closed, after
// printing its addresses on the first line of standard output (see
// brokertest.Serve).
func serveBroker(spec string) int {
	topic, n, _ := strings.Cut(spec, ":")
	partitions, err := strconv.Atoi(n)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s=%q: %v\n", brokerEnv, spec, err)
		return 2
	}
	e, err := embedded.Start(topic, partitions)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer e.Close()
	brokertest.Serve(e.Addrs())
	return 0
}

// startBrokerProcess starts an embedded broker in a child process and
// returns its addresses; the broker stops when the benchmark ends.
func startBrokerProcess(tb testing.TB, topic string, partitions int) []string {
	tb.Helper()
	return brokertest.Start(tb, fmt.Sprintf("%s=%s:%d", brokerEnv, topic, partitions))
}
