//go:build linux

package shmring_test

// Dead only on proof: processes hidden from each other are alive. Each test
// runs a child as root in a mount namespace of its own (CLONE_NEWNS), which
// mounts over /proc either a fresh proc with hidepid=2 (other users'
// processes vanish from it) or an empty tmpfs (no /proc at all), and in that
// world starts the processes of the test as two unprivileged users:
//
//	parent (the test): makes the ring file (mode 0666) and a copy of this
//	  binary that the users may run
//	└─ env-hidden, root, own mount namespace: mounts over /proc, then runs
//	   ├─ env-hold, uid A: takes the role (or an MPMC claim) and holds it
//	   │  until its stdin closes
//	   └─ env-probe, uid B: says what it can see of the holder, then tries
//	      the holder's role (MPMC: looks at the claim and pushes against it)
//
// The probe cannot see the holder in /proc and may not signal it (EPERM):
// it must take it for alive. After env-hidden kills and reaps the holder,
// a second probe must take the role over (kill says ESRCH): hiding does not
// stop recovery from a real death.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/shmring/shmring/internal/childtest"
	"github.com/shmring/shmring/ring"
	"github.com/shmring/shmring/shm"
)

func init() {
	helpers["env-hidden"] = helperEnvHidden
	helpers["env-hold"] = helperEnvHold
	helpers["env-probe"] = helperEnvProbe
}

// Users the children run as; any uids work, these are nobody's neighbours.
const (
	uidA = 65534
	uidB = 65533
)

func TestDeadOnlyOnProof(t *testing.T) {
	tests := []struct {
		name       string
		kind       string
		proc       string // what covers /proc: hidepid or tmpfs
		uidA, uidB int
		want       map[string]string // reports of env-hidden
	}{
		{"SPSC hidepid=2", "spsc", "hidepid", uidA, uidB, map[string]string{
			"probe.holder_stat": "absent", "probe.holder_kill": "EPERM", "probe.self_stat": "ok",
			"probe.push": "busy", "after.push": "ok",
		}},
		{"SPSC empty /proc", "spsc", "tmpfs", uidA, uidB, map[string]string{
			"probe.holder_stat": "absent", "probe.holder_kill": "EPERM", "probe.self_stat": "absent",
			"probe.push": "busy", "after.push": "ok",
		}},
		// kill says the pid exists, /proc has nothing on it.
		{"SPSC empty /proc, one user", "spsc", "tmpfs", uidA, uidA, map[string]string{
			"probe.holder_stat": "absent", "probe.holder_kill": "ok", "probe.self_stat": "absent",
			"probe.push": "busy", "after.push": "ok",
		}},
		{"MPMC hidepid=2", "mpmc", "hidepid", uidA, uidB, map[string]string{
			"probe.holder_stat": "absent", "probe.holder_kill": "EPERM", "probe.self_stat": "ok",
			"probe.reading": "1", "probe.stuck": "0", "probe.holder_alive": "true",
			"probe.pushed": "0", "hold.popped": "1",
		}},
		{"MPMC empty /proc", "mpmc", "tmpfs", uidA, uidB, map[string]string{
			"probe.holder_stat": "absent", "probe.holder_kill": "EPERM", "probe.self_stat": "absent",
			"probe.reading": "1", "probe.stuck": "0", "probe.holder_alive": "true",
			"probe.pushed": "0", "hold.popped": "1",
		}},
	}
	requireNamespaces(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, bin := sharedDir(t)
			path := filepath.Join(dir, "ring")
			kind := ring.SPSC
			if tt.kind == "mpmc" {
				kind = ring.MPMC
			}
			makeSharedRing(t, path, ring.Config{Kind: kind, Capacity: 2, SlotSize: msgMax})

			ctx := testContext(t, testTimeout())
			c := newChild(ctx, t, "env-hidden", "bin="+bin, "ring="+path, "kind="+tt.kind, "proc="+tt.proc,
				"uida="+strconv.Itoa(tt.uidA), "uidb="+strconv.Itoa(tt.uidB))
			c.cmd.SysProcAttr.Unshareflags = syscall.CLONE_NEWNS
			rep := c.start().wait()
			if why := rep["skip"]; why != "" {
				t.Skip(why)
			}
			for k, v := range tt.want {
				assert.Equal(t, v, rep[k], "%s (all reports: %v)", k, rep)
			}
			t.Logf("reports: %v", rep)
		})
	}
}

// requireNamespaces skips the test unless this process may make mount
// namespaces, mount file systems and run processes as other users: root,
// outside a container that forbids it.
func requireNamespaces(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts over /proc in a mount namespace and runs children as other users")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if err := cmd.Run(); errors.Is(err, syscall.EPERM) {
		t.Skip("may not make a mount namespace here (unshare: EPERM)")
	} else if err != nil {
		t.Fatalf("a child in a mount namespace of its own: %v", err)
	}
}

// sharedDir returns a temporary directory that every user may enter, and
// in it a copy of this test binary that every user may run (the go command
// builds tests in a directory only its user can enter).
func sharedDir(t *testing.T) (dir, bin string) {
	t.Helper()
	dir = t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	bin = filepath.Join(dir, "shmring.test")
	if err := os.Link(os.Args[0], bin); err != nil {
		src, err := os.Open(os.Args[0])
		require.NoError(t, err)
		defer src.Close()
		dst, err := os.OpenFile(bin, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
		require.NoError(t, err)
		_, err = io.Copy(dst, src)
		require.NoError(t, err)
		require.NoError(t, dst.Close())
	}
	require.NoError(t, os.Chmod(bin, 0o755))
	return dir, bin
}

// makeSharedRing formats a ring of cfg in a new file at path that every
// user may read and write.
func makeSharedRing(t *testing.T, path string, cfg ring.Config) {
	t.Helper()
	size, err := ring.Size(cfg)
	require.NoError(t, err)
	reg, err := shm.Create(path, size, shm.Perm(0o666))
	require.NoError(t, err)
	defer reg.Close()
	r, err := ring.Format(reg.Bytes(), cfg)
	require.NoError(t, err)
	require.NoError(t, r.Close())
}

// helperEnvHidden runs as root in a mount namespace of its own: it covers
// /proc (proc=hidepid: a proc with hidepid=2; proc=tmpfs: an empty tmpfs),
// starts env-hold as uida and env-probe as uidb on the ring, and reports
// what they reported, prefixed hold. and probe. Then, on an SPSC ring, it
// kills and reaps the holder and reports a second probe's, prefixed after.;
// on an MPMC ring it lets the holder finish (hold.popped).
//
//	bin   the binary to run the users' processes from
//
// Reports skip=<why> and exits 0 if it may not mount here.
func helperEnvHidden(a args) int {
	// Unshareflags has made the mounts private already; say so again, so
	// that nothing below can reach the parent's namespace.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return usagef("make mounts private: %v", err)
	}
	var err error
	switch a.str("proc", "") {
	case "hidepid":
		err = unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "hidepid=2")
	case "tmpfs":
		err = unix.Mount("tmpfs", "/proc", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=16k,mode=0755")
	default:
		return usagef("proc=%q: want hidepid or tmpfs", a.str("proc", ""))
	}
	if errors.Is(err, unix.EPERM) {
		report("skip", fmt.Sprintf("may not mount over /proc here: %v", err))
		return exitOK
	}
	if err != nil {
		return usagef("mount over /proc: %v", err)
	}

	bin, path, kind := a.str("bin", ""), a.str("ring", ""), a.str("kind", "")
	hold, err := startAs(bin, a.int("uida", uidA), "env-hold", "ring="+path, "kind="+kind)
	if err != nil {
		return usagef("%v", err)
	}
	defer hold.kill()
	if err := hold.awaitLine("held=1"); err != nil {
		return usagef("%v", err)
	}
	relay("hold.", hold.reports)

	probe := func(prefix string) int {
		out, err := runAs(bin, a.int("uidb", uidB), "env-probe", "ring="+path, "kind="+kind,
			"holder="+strconv.Itoa(hold.cmd.Process.Pid))
		if err != nil {
			return usagef("%v", err)
		}
		relay(prefix, out)
		return exitOK
	}
	if code := probe("probe."); code != exitOK {
		return code
	}
	if kind == "mpmc" {
		if err := hold.finish(); err != nil {
			return usagef("%v", err)
		}
		relay("hold.", hold.reports)
		return exitOK
	}
	// Killed and reaped: kill(pid, 0) says ESRCH now (no zombie either).
	hold.kill()
	return probe("after.")
}

// helperEnvHold takes the ring's producer role (SPSC: one push) or an MPMC
// read claim (it fills the ring and pops one message with PopFunc), reports
// held=1 and holds on until its stdin closes. MPMC: then reports popped=N.
func helperEnvHold(a args) int {
	r, code := openRing(a)
	if r == nil {
		return code
	}
	defer r.Close()
	msg := fillMsg(make([]byte, msgMax), 1, 0)
	if a.str("kind", "") == "spsc" {
		if err := r.TryPush(msg); err != nil {
			return failf("push: %v", err)
		}
		report("held", 1)
		_, _ = io.Copy(io.Discard, os.Stdin)
		return exitOK
	}
	for i := 0; i < r.Config().Capacity; i++ {
		if err := r.TryPush(msg); err != nil {
			return failf("push %d: %v", i, err)
		}
	}
	n, err := r.TryPopFunc(1, func([]byte) {
		report("held", 1) // inside the claim
		_, _ = io.Copy(io.Discard, os.Stdin)
	})
	if err != nil {
		return failf("pop: %v", err)
	}
	report("popped", n)
	return exitOK
}

// helperEnvProbe reports what it sees of the holder and of itself in /proc
// (holder_stat, self_stat: ok or absent), what kill(holder, 0) says
// (holder_kill: ok, EPERM, ESRCH), and then SPSC: push=ok|busy|<error> for
// a try at the producer role; MPMC: the slots claimed for reading
// (reading), those judged stuck (stuck), whether the holder's record is
// judged alive (holder_alive), and how many of 10000 pushes against the
// held claim got through (pushed), with recovery of stuck claims as eager
// as Options allow.
func helperEnvProbe(a args) int {
	holder := a.int("holder", 0)
	seen := func(p string) string {
		if _, err := os.ReadFile(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "absent"
			}
			return err.Error()
		}
		return "ok"
	}
	report("self_stat", seen("/proc/self/stat"))
	report("holder_stat", seen(fmt.Sprintf("/proc/%d/stat", holder)))
	switch err := unix.Kill(holder, 0); err {
	case nil:
		report("holder_kill", "ok")
	default:
		report("holder_kill", unix.ErrnoName(err.(syscall.Errno)))
	}

	r, code := openRing(a)
	if r == nil {
		return code
	}
	defer r.Close()
	msg := fillMsg(make([]byte, msgMax), 2, 0)
	if a.str("kind", "") == "spsc" {
		switch err := r.TryPush(msg); {
		case err == nil:
			report("push", "ok")
		case errors.Is(err, ring.ErrBusy):
			report("push", "busy")
		default:
			report("push", err)
		}
		return exitOK
	}
	r.SetOptions(ring.Options{Grace: time.Nanosecond})
	st := r.SlotStates()
	report("reading", st.Reading)
	report("stuck", st.Stuck)
	for _, p := range r.Stats().Processes {
		if p.PID == holder {
			report("holder_alive", p.Alive)
		}
	}
	pushed := 0
	for i := 0; i < 10000; i++ {
		switch err := r.TryPush(msg); {
		case err == nil:
			pushed++
		case !errors.Is(err, ring.ErrFull):
			return failf("push against a held claim: %v", err)
		}
	}
	report("pushed", pushed)
	return exitOK
}

// relay reports each of vals with prefix before its key.
func relay(prefix string, vals map[string]string) {
	for k, v := range vals {
		report(prefix+k, v)
	}
}

// grandchild is a helper process that env-hidden runs as another user.
type grandchild struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   *bufio.Scanner
	stderr  strings.Builder
	reports map[string]string
	done    bool
}

// userCmd returns a command that runs helper name of the binary bin as uid.
func userCmd(bin string, uid int, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), helperEnv+"="+name, "GORACE="+childtest.NoRaceExitDelay())
	cmd.Dir = filepath.Dir(bin)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)},
		Pdeathsig:  syscall.SIGKILL,
	}
	return cmd
}

// startAs starts helper name as uid, with pipes to its stdin and stdout.
func startAs(bin string, uid int, name string, args ...string) (*grandchild, error) {
	g := &grandchild{cmd: userCmd(bin, uid, name, args...), reports: map[string]string{}}
	var err error
	if g.stdin, err = g.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := g.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	g.cmd.Stderr = &g.stderr
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s as uid %d: %w", name, uid, err)
	}
	g.lines = bufio.NewScanner(out)
	return g, nil
}

// awaitLine reads the child's reports until the line want.
func (g *grandchild) awaitLine(want string) error {
	for g.lines.Scan() {
		line := g.lines.Text()
		if k, v, ok := strings.Cut(line, "="); ok {
			g.reports[k] = v
		}
		if line == want {
			return nil
		}
	}
	err := g.cmd.Wait()
	g.done = true
	return fmt.Errorf("%s exited (%v) before reporting %s: %s", g.cmd.Args, err, want, g.stderr.String())
}

// finish closes the child's stdin, reads the rest of its reports and waits
// for it to exit with status 0.
func (g *grandchild) finish() error {
	g.stdin.Close()
	for g.lines.Scan() {
		if k, v, ok := strings.Cut(g.lines.Text(), "="); ok {
			g.reports[k] = v
		}
	}
	err := g.cmd.Wait()
	g.done = true
	if err != nil {
		return fmt.Errorf("%s: %v: %s", g.cmd.Args, err, g.stderr.String())
	}
	return nil
}

// kill kills the child and reaps it, if it has not been reaped yet.
func (g *grandchild) kill() {
	if g.done {
		return
	}
	_ = g.cmd.Process.Kill()
	_ = g.cmd.Wait()
	g.done = true
}

// runAs runs helper name as uid to the end and returns its reports; it
// fails unless the helper exits with status 0.
func runAs(bin string, uid int, name string, args ...string) (map[string]string, error) {
	cmd := userCmd(bin, uid, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s as uid %d: %v: %s", name, uid, err, stderr.String())
	}
	vals := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vals[k] = v
		}
	}
	return vals, nil
}
