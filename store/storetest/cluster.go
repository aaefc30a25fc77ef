package storetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clusterCommandTimeout bounds each initdb and pg_ctl run, so that a stuck server fails the
// test instead of hanging it.
const clusterCommandTimeout = time.Minute

// Cluster is a throwaway PostgreSQL server that a test owns: its own data directory, its own
// port on 127.0.0.1, trust authentication for the user postgres. Tests use it when they must
// stop and restart the database, which they may never do to a shared server. Its methods
// are not safe for concurrent use.
type Cluster struct {
	bin  string // directory holding initdb and pg_ctl
	dir  string // temporary directory holding everything below; removed at cleanup
	data string
	sock string
	log  string
	port int
	// asUser is the account the server runs as: "postgres" when the test runs as root,
	// since initdb refuses root, or "" to run it as the test's own user.
	asUser string
}

// StartCluster creates a PostgreSQL cluster in a temporary directory, starts it and returns
// it. The cluster is stopped and its directory removed when t ends. Without PostgreSQL's
// server binaries t is skipped, or failed under RequireAll (see MissingPeer).
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		MissingPeer(t, "a throwaway PostgreSQL cluster needs initdb and pg_ctl under "+
			"/usr/lib/postgresql/*/bin or on PATH (install the postgresql package)")
		return nil
	}
	c := &Cluster{bin: bin}
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		c.asUser = "postgres"
		uid, gid = accountIDs(t, c.asUser)
	}
	c.makeDirs(t, uid, gid)
	t.Cleanup(c.remove)

	c.initdb(t)
	c.port = freePort(t)
	c.Start(t)
	return c
}

// URL is the connection URL of the cluster's postgres database as user postgres.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Start starts the server on its port and data directory and returns once it accepts
// connections. Starting a running cluster fails t.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off",
		c.port, c.sock)
	if err := c.pgctl("-D", c.data, "-l", c.log, "-w", "-o", opts, "start"); err != nil {
		t.Fatalf("start postgres cluster: %v\n%s", err, c.logTail())
	}
}

// Stop shuts the server down in fast mode, which ends open sessions, and returns once it
// has exited. The data stays for a later Start.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if err := c.pgctl("-D", c.data, "-m", "fast", "-w", "stop"); err != nil {
		t.Fatalf("stop postgres cluster: %v\n%s", err, c.logTail())
	}
}

// makeDirs creates the cluster's directory under the system temporary directory rather
// than t.TempDir, whose parent only root may enter when the server runs as postgres. With
// uid set, the directory is handed to that account.
func (c *Cluster) makeDirs(t testing.TB, uid, gid int) {
	t.Helper()
	dir, err := os.MkdirTemp("", "certctl-pg-")
	if err != nil {
		t.Fatalf("create cluster directory: %v", err)
	}
	c.dir = dir
	c.data = filepath.Join(dir, "data")
	c.sock = dir
	c.log = filepath.Join(dir, "postgres.log")
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("open cluster directory: %v", err)
	}
	if uid < 0 {
		return
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("hand cluster directory to %s: %v", c.asUser, err)
	}
}

func (c *Cluster) initdb(t testing.TB) {
	t.Helper()
	err := c.run(filepath.Join(c.bin, "initdb"), "-D", c.data, "-A", "trust",
		"-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	if err != nil {
		t.Fatalf("initdb: %v", err)
	}
}

// remove stops the server, which may already be stopped, and deletes its directory.
func (c *Cluster) remove() {
	if _, err := os.Stat(filepath.Join(c.data, "postmaster.pid")); err == nil {
		c.pgctl("-D", c.data, "-m", "immediate", "-w", "stop")
	}
	os.RemoveAll(c.dir)
}

func (c *Cluster) pgctl(args ...string) error {
	return c.run(filepath.Join(c.bin, "pg_ctl"), args...)
}

// run runs a PostgreSQL program, as c.asUser when set, in the cluster's directory (the
// test's working directory may be closed to that account).
func (c *Cluster) run(prog string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), clusterCommandTimeout)
	defer cancel()
	if c.asUser != "" {
		args = append([]string{"-u", c.asUser, "--", prog}, args...)
		prog = "runuser"
	}
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = c.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(prog), strings.Join(args, " "),
			err, out)
	}
	return nil
}

// logTail returns the end of the server log, to explain a failed start or stop.
func (c *Cluster) logTail() string {
	b, err := os.ReadFile(c.log)
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	const keep = 2000
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return "server log ends:\n" + string(b)
}

// postgresBin returns the directory of the newest installed PostgreSQL server binaries, or
// "" when there are none.
func postgresBin() string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	best, bestVersion := "", []int(nil)
	for _, m := range matches {
		bin := filepath.Dir(m)
		v := versionParts(filepath.Base(filepath.Dir(bin)))
		if best == "" || newer(v, bestVersion) {
			best, bestVersion = bin, v
		}
	}
	if best != "" {
		return best
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// versionParts splits a version such as "15" or "9.6" into its numbers; parts that are
// not numbers count as zero.
func versionParts(s string) []int {
	var v []int
	for _, part := range strings.Split(s, ".") {
		n, _ := strconv.Atoi(part)
		v = append(v, n)
	}
	return v
}

// newer reports whether version a is later than version b.
func newer(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return len(a) > len(b)
}

// accountIDs returns the user and group IDs of the named account, or skips t (see
// MissingPeer) when there is no such account.
func accountIDs(t testing.TB, name string) (int, int) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		MissingPeer(t, "running PostgreSQL as root needs the "+name+" account "+
			"(install the postgresql package): "+err.Error())
		return -1, -1
	}
	uid, errU := strconv.Atoi(u.Uid)
	gid, errG := strconv.Atoi(u.Gid)
	if errU != nil || errG != nil {
		t.Fatalf("account %s has non-numeric IDs %q and %q", name, u.Uid, u.Gid)
	}
	return uid, gid
}

// freePort returns a TCP port on 127.0.0.1 that nothing listened on a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
