package main

import (
	"os"
	"os/exec"
	"testing"
)

// childMainEnv, set to 1 in a child of the test binary, makes it run
// tapsettle's main with its arguments instead of the tests. It is not a
// TAPSETTLE_ variable, which the configuration would refuse as unknown.
const childMainEnv = "GO_TEST_TAPSETTLE_MAIN"

// TestMain runs main in a child started by selfCommand (bench's settle
// children): the test binary is not tapsettle, so the tests point
// selfCommand at the test binary with childMainEnv set.
func TestMain(m *testing.M) {
	if os.Getenv(childMainEnv) == "1" {
		os.Args = append([]string{"tapsettle"}, os.Args[1:]...)
		main() // exits with 1 on an error
		os.Exit(0)
	}
	selfCommand = func(args ...string) (*exec.Cmd, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(exe, args...)
		cmd.Env = append(os.Environ(), childMainEnv+"=1")
		return cmd, nil
	}
	os.Exit(m.Run())
}
