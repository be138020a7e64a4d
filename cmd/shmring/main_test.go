package main

import (
	"os/exec"
	"testing"

	"github.com/shmring/shmring/internal/childtest"
)

// helperEnv names the helper a re-executed test binary runs instead of the
// tests: the test binary impersonates the child processes the tests need.
const helperEnv = "SHMRING_CMD_TEST_HELPER"

// helpers are the child programs, by name. Each runs in a child process,
// reads its parameters from the environment, reports on stdout and returns
// its exit status. Test files add theirs from init functions.
var helpers = map[string]func() int{}

func TestMain(m *testing.M) { childtest.Main(m, helperEnv, helpers) }

// helperCmd returns a command that runs the named helper in a child process,
// with env added to this process's environment.
func helperCmd(t *testing.T, name string, env ...string) *exec.Cmd {
	t.Helper()
	return childtest.Command(helperEnv, name, env...)
}
