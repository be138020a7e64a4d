// Package childtest lets a test binary impersonate the child processes its
// tests start: the test starts os.Args[0] again with an environment variable
// that names a helper, and TestMain runs that helper instead of the tests.
// Cross-process behaviour is then tested with real processes, built from the
// same code as the tests.
package childtest

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// Main is the body of a TestMain: when the variable env names one of
// helpers, it runs that helper and exits with its status; otherwise it runs
// the tests, then the cleanups.
func Main(m *testing.M, env string, helpers map[string]func() int, cleanups ...func()) {
	if name := os.Getenv(env); name != "" {
		helper, ok := helpers[name]
		if !ok {
			known := make([]string, 0, len(helpers))
			for k := range helpers {
				known = append(known, k)
			}
			sort.Strings(known)
			fmt.Fprintf(os.Stderr, "%s=%q: no such helper (have %v)\n", env, name, known)
			os.Exit(2)
		}
		os.Exit(helper())
	}
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	os.Exit(code)
}

// Command returns a command that runs helper name in a child process, with
// extra added to this process's environment.
func Command(env, name string, extra ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"="+name, "GORACE="+NoRaceExitDelay())
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}

// NoRaceExitDelay is the GORACE value for a child: under the race detector
// a process waits a second at exit for other threads' reports, and a helper
// has none to wait for.
func NoRaceExitDelay() string {
	return strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
}
