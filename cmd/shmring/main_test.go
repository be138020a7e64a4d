package main

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// helperEnv names the helper a re-executed test binary runs instead of the
// tests: the test binary impersonates the child processes the tests need.
const helperEnv = "SHMRING_CMD_TEST_HELPER"

// helpers are the child programs, by name. Each runs in a child process,
// reads its parameters from the environment, reports on stdout and returns
// its exit status. Test files add theirs from init functions.
var helpers = map[string]func() int{}

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		helper, ok := helpers[name]
		if !ok {
			known := make([]string, 0, len(helpers))
			for k := range helpers {
				known = append(known, k)
			}
			sort.Strings(known)
			fmt.Fprintf(os.Stderr, "%s=%q: no such helper (have %v)\n", helperEnv, name, known)
			os.Exit(2)
		}
		os.Exit(helper())
	}
	os.Exit(m.Run())
}

// helperCmd returns a command that runs the named helper in a child process,
// with env added to this process's environment.
func helperCmd(t *testing.T, name string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// Under the race detector a process waits a second at exit for other
	// threads' reports; a helper has none to wait for.
	race := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	cmd.Env = append(os.Environ(), helperEnv+"="+name, "GORACE="+race)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}
