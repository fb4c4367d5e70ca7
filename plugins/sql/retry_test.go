package sql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// freePort returns a loopback port where nothing listens.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func smallCSV(t *testing.T) string {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(in, []byte("id,name\n1,a\n2,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return in
}

func toPostgres(name, in, url string) *flow.Flow {
	return &flow.Flow{
		Name:   name,
		Source: flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, in))},
		Sink:   flow.Component{Type: "postgres", Config: json.RawMessage(fmt.Sprintf(`{"url": %q, "table": "t", "create_table": true}`, url))},
	}
}

var restartLineRE = regexp.MustCompile(`attempt failed; restarting from the last checkpoint`)

// A PostgreSQL port where nothing listens: adf run retries with backoff
// for the flow's retry_deadline, then fails saying how long it tried, the
// cause and what to check.
func TestUnreachablePostgresFailsWithinDeadline(t *testing.T) {
	port := freePort(t)
	a := newADF(t)
	f := toPostgres("unreachable", smallCSV(t), fmt.Sprintf("postgres://app@127.0.0.1:%d/app?sslmode=disable", port))
	deadline := sdk.Duration(3 * time.Second)
	f.RetryDeadline = &deadline
	start := time.Now()
	r := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, f.Name, flowDoc(t, f)))
	took := time.Since(start)
	if r.Code == 0 {
		t.Fatalf("the run succeeded\n%s", r)
	}
	// Retrying stops at the deadline: what remains is the last attempt's
	// own time (a refused connection fails at once) and adf's start-up.
	if took < 3*time.Second || took > 13*time.Second {
		t.Fatalf("adf run failed after %s, want the retry_deadline of 3s (plus start-up)\n%s", took, r)
	}
	for _, want := range []string{
		"gave up after ",
		"(retry_deadline 3s): ",
		fmt.Sprintf("cannot reach PostgreSQL at 127.0.0.1:%d: ", port),
		"connection refused",
		fmt.Sprintf("; check that PostgreSQL is running at 127.0.0.1:%d and reachable from this host, and the host and port in url", port),
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the error does not say %q\n%s", want, r.Stderr)
		}
	}
	sum := r.Summary(t)
	if sum.Status != "failed" || sum.Restarts < 2 {
		t.Errorf("summary %+v: want a failed run restarted at least twice within 3s", sum)
	}
	if n := len(restartLineRE.FindAllString(r.Stderr, -1)); int64(n) != sum.Restarts {
		t.Errorf("%d restarts logged, the summary says %d", n, sum.Restarts)
	}
}

// PostgreSQL refuses the password: the run fails at once, with no retry,
// naming the field and what to check.
func TestRefusedPasswordFailsAtOnce(t *testing.T) {
	priv := testkit.NewPrivate(t, "sqlplugin-auth", 43)
	url := priv.PostgresURL()
	c := connect(t, url)
	// The test servers trust loopback; this one asks adf_auth for a
	// password (the first matching pg_hba.conf line wins).
	var hba string
	if err := c.QueryRow(context.Background(), "SHOW hba_file").Scan(&hba); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	line := "host all adf_auth 127.0.0.1/32 scram-sha-256\n"
	if !strings.HasPrefix(string(old), line) {
		if err := os.WriteFile(hba, append([]byte(line), old...), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	exec(t, c, "DROP ROLE IF EXISTS adf_auth")
	exec(t, c, "CREATE ROLE adf_auth LOGIN PASSWORD 'right-password'")
	exec(t, c, "SELECT pg_reload_conf()")
	u := strings.Replace(url, "postgres@", "adf_auth:wrong-password@", 1)
	if u == url {
		t.Fatalf("cannot put a user into %s", url)
	}
	a := newADF(t)
	f := toPostgres("refused", smallCSV(t), u)
	start := time.Now()
	r := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, f.Name, flowDoc(t, f)))
	if r.Code == 0 {
		t.Fatalf("the run succeeded with a wrong password\n%s", r)
	}
	host := strings.SplitN(strings.SplitN(url, "@", 2)[1], "/", 2)[0]
	for _, want := range []string{"error: sink: url: PostgreSQL at " + host + " refused the credentials: ", "SQLSTATE 28P01", "(check the user and password in url)"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the error does not say %q\n%s", want, r.Stderr)
		}
	}
	if strings.Contains(r.Stderr, "wrong-password") {
		t.Errorf("the output shows the password\n%s", r.Stderr)
	}
	if sum := r.Summary(t); sum.Restarts != 0 {
		t.Errorf("a refused password was retried %d times (in %s)", sum.Restarts, time.Since(start))
	}
}
