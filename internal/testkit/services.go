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
	"strings"
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
	c := exec.Command("bash", filepath.Join(RepoRoot(t), "scripts", "services.sh"), cmd)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("scripts/services.sh %s: %v\n%s", cmd, err, stderr.String())
	}
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimPrefix(sc.Text(), "export ")
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = strings.Trim(v, "'")
		}
	}
	return env
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
