package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/shmring/shmring/shm"
)

type rmOptions struct {
	force bool
}

var rmSpec = &cmdSpec[rmOptions]{
	name:  "rm",
	synop: "shmring rm [-f] PATH...",
	about: `
Rm removes ring files (a bare name means /dev/shm/NAME). It refuses a ring in
which a registered process is alive, and a file that is not a ring; -f removes
them anyway. A stale ring (every registered process dead) or an unused one is
removed. It reports on each path and exits 1 if it refused or failed any.

Processes that have a removed ring mapped keep using it: the memory is freed
when the last of them closes it, but no new process can open it by name. A
process that has opened a ring but not yet pushed or popped holds no record,
so rm cannot see it; nor can it see one that attaches between its check and
the removal.`,
	flags: func(fs *flag.FlagSet) *rmOptions {
		o := &rmOptions{}
		fs.BoolVar(&o.force, "f", false, "remove live rings and files that are not rings too")
		return o
	},
}

func init() {
	register(&command{name: "rm", summary: "remove rings no live process uses", usage: rmSpec.usage(), run: runRm})
}

func runRm(args []string, stdout, stderr io.Writer) int {
	o, rest, status, ok := rmSpec.parse(args, 1, -1, stdout, stderr)
	if !ok {
		return status
	}
	status = statusOK
	for _, path := range rest {
		p := shm.Resolve(path)
		why, err := rmCheck(p)
		if err != nil {
			status = failf(stderr, "rm", "%v", err)
			continue
		}
		if why != "" && !o.force {
			status = failf(stderr, "rm", "%s; not removed (-f removes it anyway)", why)
			continue
		}
		if err := shm.Remove(p); err != nil {
			status = failf(stderr, "rm", "%v", err)
			continue
		}
		fmt.Fprintf(stdout, "removed %s\n", p)
	}
	return status
}

// rmCheck returns why the file at p should not be removed without -f, or ""
// if it may be; or an error if it cannot be removed at all (it does not
// exist).
func rmCheck(p string) (string, error) {
	in, err := inspect(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err != nil {
		return err.Error(), nil
	}
	defer in.close()
	st, err := in.stats()
	if err != nil {
		return err.Error(), nil
	}
	var live []string
	for _, pr := range st.Processes {
		if pr.Alive {
			live = append(live, fmt.Sprintf("pid %d (%s)", pr.PID, role(pr)))
		}
	}
	if len(live) > 0 {
		return fmt.Sprintf("%s is in use by %s", p, strings.Join(live, ", ")), nil
	}
	return "", nil
}
