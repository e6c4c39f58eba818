// Package pgtest gives tests a real PostgreSQL: one throwaway cluster per
// test binary (initdb in a temporary folder, listening on 127.0.0.1 and a
// socket in that folder, stopped and removed when the tests end) and a
// fresh database per test, dropped when the test ends.
//
// A package whose tests use it runs them through Main:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// The cluster runs as an unprivileged user when the tests run as root (as
// CI does): PostgreSQL refuses to run as root. Without PostgreSQL's
// binaries the tests fail with a message saying so; `make test` installs
// them (mk/postgres.mk).
package pgtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cluster is a running throwaway PostgreSQL.
type Cluster struct {
	dir      string // removed by Stop
	port     int
	password string // of the superuser, over TCP
	proc     *exec.Cmd
	exited   chan struct{}
	logPath  string
	settings []string // -c after the defaults (Start)
}

// Superuser is the cluster's superuser role.
const Superuser = "visitrack"

// Bindir finds PostgreSQL's server binaries: pg_config's bindir, else the
// newest /usr/lib/postgresql/*/bin (Debian's layout), else the PATH.
func Bindir() (string, error) {
	has := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "initdb"))
		return err == nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); has(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, dir := range dirs {
		if has(dir) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL's binaries (initdb, postgres) are not installed: " +
		"`make test` installs them (apt-get install postgresql), or run `make postgres-tools`")
}

// pgVersion is the major version in a /usr/lib/postgresql/<v>/bin path.
func pgVersion(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// Start initialises and starts a cluster in a new temporary folder.
// fsync is off: a throwaway cluster need not survive a power cut, and the
// tests run several times faster without it. settings ("name=value")
// come after these and win: a benchmark of durable writes passes
// "fsync=on", "synchronous_commit=on", "full_page_writes=on".
func Start(ctx context.Context, settings ...string) (*Cluster, error) {
	bin, err := Bindir()
	if err != nil {
		return nil, err
	}
	cred, err := unprivileged()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "visitrack-pg-")
	if err != nil {
		return nil, fmt.Errorf("postgres test cluster: %w", err)
	}
	c := &Cluster{dir: dir, logPath: filepath.Join(dir, "postgres.log"), settings: settings}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return nil, fmt.Errorf("postgres test cluster: %w", err)
	}
	c.password = hex.EncodeToString(pw)
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("postgres test cluster: %w", err)
	}
	if cred != nil {
		if err := chownAll(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("postgres test cluster: give %s to the postgres user: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", Superuser,
		"--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.Env = []string{"LC_ALL=C", "PATH=" + bin + ":/usr/bin:/bin"}
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("postgres test cluster: initdb: %w\n%s", err, out)
	}
	// A port that was free a moment ago; a race with another process
	// makes postgres fail to bind, and the start is tried again.
	var lastErr error
	for try := 0; try < 5; try++ {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("postgres test cluster: %w", err)
		}
		if lastErr = c.run(ctx, bin, data, port, cred); lastErr == nil {
			ok = true
			return c, nil
		}
	}
	return nil, lastErr
}

// run starts postgres on port and waits until it accepts connections.
func (c *Cluster) run(ctx context.Context, bin, data string, port int, cred *syscall.Credential) error {
	logf, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("postgres test cluster: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(port), "-c", "unix_socket_directories="+c.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=64MB", "-c", "log_min_messages=warning")
	for _, set := range c.settings {
		cmd.Args = append(cmd.Args, "-c", set)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{"LC_ALL=C"}
	// Pdeathsig: a test binary killed mid-run takes its cluster with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres test cluster: start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			conn.Close()
			c.port, c.proc, c.exited = port, cmd, exited
			return c.waitReady(ctx)
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(c.logPath)
			return fmt.Errorf("postgres test cluster: postgres exited at start:\n%s", log)
		case <-ctx.Done():
			cmd.Process.Kill()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			return errors.New("postgres test cluster: postgres did not accept connections within 30 s")
		}
	}
}

// waitReady waits until the server answers queries: it accepts TCP
// connections a moment before it finished starting.
func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := c.open("postgres")
		if err == nil {
			err = db.PingContext(ctx)
			db.Close()
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres test cluster: not ready: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the cluster down (a fast shutdown) and removes its folder.
func (c *Cluster) Stop() error {
	if c.proc != nil {
		c.proc.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			c.proc.Process.Kill()
			<-c.exited
		}
	}
	return os.RemoveAll(c.dir)
}

// Log returns what the server logged so far, for a failing test.
func (c *Cluster) Log() string {
	b, _ := os.ReadFile(c.logPath)
	return string(bytes.TrimSpace(b))
}

// Port returns the TCP port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// URL returns a postgres:// URL of database name as the superuser.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, c.password, c.port, name)
}

// unprivileged returns the credentials to run PostgreSQL with: none when
// the tests do not run as root, else the postgres user Debian's package
// makes, or nobody.
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("postgres test cluster: running as root, and neither a postgres nor a nobody user exists to run PostgreSQL as")
}

func chownAll(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(path, uid, gid)
	})
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
