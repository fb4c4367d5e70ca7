package testkit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var servicesEnv map[string]string

// Services runs scripts/services.sh CMD (start, restart-postgres,
// restart-redis, stop-postgres, stop-redis), which installs PostgreSQL and
// Redis when missing and starts them on loopback ports. It returns the
// variables the script prints.
func Services(t testing.TB, cmd string) map[string]string {
	t.Helper()
	return exports(script(t, "services.sh", cmd))
}

func serviceURL(t testing.TB, key string) string {
	t.Helper()
	if v := os.Getenv(key); v != "" {
		return v
	}
	mu.Lock()
	defer mu.Unlock()
	if servicesEnv == nil {
		servicesEnv = Services(t, "start")
	}
	v := servicesEnv[key]
	if v == "" {
		t.Fatalf("scripts/services.sh did not print %s", key)
	}
	return v
}

// PostgresURL is the URL of the test PostgreSQL server, started by
// scripts/services.sh when ADF_TEST_DATABASE_URL is not set.
func PostgresURL(t testing.TB) string { return serviceURL(t, "ADF_TEST_DATABASE_URL") }

// RedisURL is the URL of the test Redis server, started by
// scripts/services.sh when ADF_TEST_REDIS_URL is not set.
func RedisURL(t testing.TB) string { return serviceURL(t, "ADF_TEST_REDIS_URL") }

// NewDatabase creates an empty PostgreSQL database for one test, dropped at
// the end of the test, and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	base := PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "adf_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Private is a PostgreSQL and Redis pair of one test's own, on ports of
// their own, which the test may restart or stop without disturbing tests
// running in parallel against the shared servers.
type Private struct {
	t         testing.TB
	dir       string
	env       []string
	redisOnly bool
	Env       map[string]string
}

// Private servers listen below Linux's ephemeral port range (32768-60999):
// a port in it may be held at that moment as the local end of some client
// connection, and the server then fails to bind.
const (
	privatePGPort    = 24300
	privateRedisPort = 24400
)

// RedisOnly starts only the private Redis (PostgresURL is then empty).
func RedisOnly() PrivateOption {
	return func(p *Private) { p.redisOnly = true }
}

// PrivateOption configures NewPrivate.
type PrivateOption func(*Private)

// RedisAOF starts the private Redis with its append-only file on
// (appendfsync everysec; ADF_TEST_REDIS_AOF=1 for scripts/services.sh), so
// that RestartRedis, and KillRedis followed by StartRedis, keep its data.
// Without it Redis keeps nothing across a restart.
func RedisAOF() PrivateOption {
	return func(p *Private) { p.env = append(p.env, "ADF_TEST_REDIS_AOF=1") }
}

// NewPrivate starts a private PostgreSQL and Redis named name (one name per
// test; port offset 1..50 distinguishes them) and stops them when the test
// ends.
func NewPrivate(t testing.TB, name string, offset int, opts ...PrivateOption) *Private {
	t.Helper()
	if offset < 1 || offset > 50 {
		t.Fatalf("private services offset %d out of 1..50", offset)
	}
	p := &Private{t: t, dir: "/var/tmp/adf-services-" + name, env: []string{
		"ADF_SERVICES_DIR=/var/tmp/adf-services-" + name,
		"ADF_TEST_PG_PORT=" + itoa(privatePGPort+offset),
		"ADF_TEST_REDIS_PORT=" + itoa(privateRedisPort+offset),
	}}
	for _, o := range opts {
		o(p)
	}
	if p.redisOnly {
		p.Env = p.run("start-redis")
		t.Cleanup(func() { p.run("stop-redis") })
		return p
	}
	p.Env = p.run("start")
	t.Cleanup(func() { p.run("stop") })
	return p
}

func itoa(i int) string { return strconv.Itoa(i) }

func (p *Private) run(cmd string) map[string]string {
	p.t.Helper()
	c := exec.Command("bash", filepath.Join(RepoRoot(p.t), "scripts", "services.sh"), cmd)
	c.Env = append(os.Environ(), p.env...)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		p.t.Fatalf("scripts/services.sh %s: %v\n%s", cmd, err, stderr.String())
	}
	return exports(out)
}

// PostgresURL of the private server.
func (p *Private) PostgresURL() string { return p.Env["ADF_TEST_DATABASE_URL"] }

// RedisURL of the private server.
func (p *Private) RedisURL() string { return p.Env["ADF_TEST_REDIS_URL"] }

// RestartPostgres stops and starts the private PostgreSQL (fast shutdown:
// open connections are dropped).
func (p *Private) RestartPostgres() { p.run("restart-postgres") }

// RestartRedis stops (SHUTDOWN) and starts the private Redis; its data is
// kept only with RedisAOF.
func (p *Private) RestartRedis() { p.run("restart-redis") }

// KillRedis kills the private redis-server with SIGKILL (its pid from the
// pidfile scripts/services.sh gives it) and waits until it is gone; open
// connections are reset. StartRedis starts it again.
func (p *Private) KillRedis() {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.dir, "redis", "redis.pid"))
	if err != nil {
		p.t.Fatalf("read the private Redis pidfile: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		p.t.Fatalf("private Redis pidfile holds %q, not a pid", b)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		p.t.Fatalf("kill -9 the private Redis (pid %d): %v", pid, err)
	}
	for i := 0; i < 500 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil {
		p.t.Fatalf("private Redis (pid %d) still running 5s after SIGKILL", pid)
	}
}

// StartRedis starts the private servers that are not running (after
// KillRedis or StopPostgres).
func (p *Private) StartRedis() { p.run("start-redis") }

// StopPostgres stops the private PostgreSQL.
func (p *Private) StopPostgres() { p.run("stop-postgres") }

// StartPostgres starts it again.
func (p *Private) StartPostgres() { p.run("start") }

var flinkEnv map[string]string

// FlinkURL is the REST URL of the test Flink cluster, started once (it is
// idempotent) by scripts/flink-local.sh when ADF_FLINK_URL is not set.
func FlinkURL(t testing.TB) string {
	t.Helper()
	if v := os.Getenv("ADF_FLINK_URL"); v != "" {
		return v
	}
	mu.Lock()
	defer mu.Unlock()
	if flinkEnv == nil {
		flinkEnv = Flink(t, "start")
	}
	v := flinkEnv["ADF_FLINK_URL"]
	if v == "" {
		t.Fatal("scripts/flink-local.sh start did not print ADF_FLINK_URL")
	}
	return v
}

// Flink runs scripts/flink-local.sh CMD (start, taskmanager-pid,
// restart-taskmanager, ...) and returns the variables it prints; Output
// holds its whole standard output.
func Flink(t testing.TB, cmd string) map[string]string {
	t.Helper()
	out := script(t, "flink-local.sh", cmd)
	env := exports(out)
	env["Output"] = strings.TrimSpace(string(out))
	return env
}

var bridgeJar string

// BridgeJar builds the Flink bridge jar with scripts/build-bridge.sh (quick
// when it is up to date) once per test process, and puts a copy beside the
// binaries Build makes, where the runtime-flink plugin looks for it by
// default. It returns the copy's path.
func BridgeJar(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if bridgeJar != "" {
		return bridgeJar
	}
	script(t, "build-bridge.sh")
	jar, err := os.ReadFile(filepath.Join(RepoRoot(t), "plugins", "runtime-flink", "bridge", "target", "adf-flink-bridge.jar"))
	if err != nil {
		t.Fatalf("scripts/build-bridge.sh made no jar: %v", err)
	}
	if err := ensureBinDir(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "adf-flink-bridge.jar")
	if err := os.WriteFile(p, jar, 0o644); err != nil {
		t.Fatal(err)
	}
	bridgeJar = p
	return p
}

// script runs scripts/NAME args... from the repository root and returns its
// standard output; it fails the test with the script's standard error.
func script(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	c := exec.Command("bash", append([]string{filepath.Join(RepoRoot(t), "scripts", name)}, args...)...)
	c.Dir = RepoRoot(t)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("scripts/%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// exports reads the `export K='v'` lines a services script prints.
func exports(out []byte) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok {
			env[k] = strings.Trim(v, "'")
		}
	}
	return env
}

// LockFlink holds a lock on the test Flink cluster until the test ends:
// shared for a test that only runs jobs, exclusive for one that kills or
// restarts the cluster's TaskManagers (test packages run in parallel
// processes; a TaskManager kill must not hit another test's jobs).
func LockFlink(t testing.TB, exclusive bool) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "adf-flink-tests.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		t.Fatalf("lock the test Flink cluster: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
}
