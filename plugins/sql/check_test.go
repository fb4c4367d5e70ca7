package sql_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
)

// checkWarnings decodes a config the way the plugin does and returns what
// its Check finds.
func checkWarnings(t *testing.T, kind sdk.Kind, cfg string) []string {
	t.Helper()
	v, err := component(t, kind).DecodeConfig([]byte(cfg))
	if err != nil {
		t.Fatalf("config %s: %v", cfg, err)
	}
	c, ok := v.(sdk.Checker)
	if !ok {
		t.Fatalf("%T is not an sdk.Checker", v)
	}
	var out []string
	for _, w := range c.Check(context.Background()) {
		out = append(out, w.Code+": "+w.Error())
	}
	return out
}

const notFound = " not found in DNS (check the host name; the flow cannot connect until it resolves where the flow runs)"

func TestCheckURL(t *testing.T) {
	t.Setenv("PGHOST", "")
	t.Setenv("PGPORT", "")
	noSocket := t.TempDir()
	cases := []struct {
		name, url string
		want      []string
	}{
		{"resolves", "postgres://app@localhost:5432/db", nil},
		{"ip address", "postgres://app@127.0.0.1:5432/db", nil},
		{"ipv6 address", "postgres://app@[::1]:5432/db", nil},
		{"unknown host, password kept out", "postgres://app:s3cret@no-such-host.invalid:5432/db",
			[]string{`not_found: url: host "no-such-host.invalid"` + notFound}},
		{"fallback hosts", "postgres://app@127.0.0.1:5432,no-such-host.invalid:5433,also-missing.invalid:5434/db",
			[]string{`not_found: url: host "no-such-host.invalid"` + notFound, `not_found: url: host "also-missing.invalid"` + notFound}},
		{"keyword/value string", "host=no-such-host.invalid dbname=db user=app",
			[]string{`not_found: url: host "no-such-host.invalid"` + notFound}},
		{"unix socket", "postgres://app@/db?host=" + url.QueryEscape(noSocket),
			[]string{fmt.Sprintf("not_found: url: no PostgreSQL socket %s (no server listens on it now; name the host in the URL (postgres://user@host:5432/db) if the server is not local)",
				filepath.Join(noSocket, ".s.PGSQL.5432"))}},
		{"unusable", "postgres://app:s3cret@localhost:5432/db?sslmode=sometimes",
			[]string{"invalid_config: url: the PostgreSQL client cannot use this URL: cannot parse `postgres://app:xxxxx@localhost:5432/db?sslmode=sometimes`: failed to configure TLS (sslmode is invalid)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := fmt.Sprintf(`{"url": %q, "table": "t"}`, c.url)
			for _, kind := range []sdk.Kind{sdk.KindSink, sdk.KindSource} {
				got := checkWarnings(t, kind, cfg)
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("%s warnings:\n%q\nwant:\n%q", kind, got, c.want)
				}
				for _, w := range got {
					if strings.Contains(w, "s3cret") {
						t.Errorf("warning shows the password: %s", w)
					}
				}
			}
		})
	}
	// A socket that is there is no warning.
	if err := os.WriteFile(filepath.Join(noSocket, ".s.PGSQL.5432"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := checkWarnings(t, sdk.KindSink, fmt.Sprintf(`{"url": %q, "table": "t"}`, "postgres://app@/db?host="+url.QueryEscape(noSocket))); got != nil {
		t.Errorf("warnings %q for a socket that exists", got)
	}
}

// `adf validate` shows the warnings with the component's place in the flow
// and accepts the flow; `adf run` shows them and runs: the fallback host
// that does not resolve is never needed, the first host takes the rows.
func TestWarningsInValidateAndRun(t *testing.T) {
	dir := t.TempDir()
	base := testkit.NewDatabase(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Host += ",no-such-host.invalid:5432"
	in := filepath.Join(dir, "in.csv")
	writeOrders(t, in, genOrders(1, 10, 1))
	a := newADF(t)
	doc := flowDoc(t, csvToPostgres("warned", in, u.String(), `"table": "orders", "create_table": true`, 1))
	path := a.WriteFlow(t, "warned", doc)
	wantWarning := `warning: sink.config.url: host "no-such-host.invalid"` + notFound + "\n"

	r := a.Run(t, "validate", path)
	if r.Code != 0 || r.Stderr != wantWarning || r.Stdout != "flow warned is valid (1 warning(s): what they name must be there when it runs)\n" {
		t.Fatalf("adf validate: want exit 0, the warning on stderr and the flow valid\n%s", r)
	}
	r = a.Run(t, "run", "--progress", "none", path)
	if r.Code != 0 || !strings.HasPrefix(r.Stderr, wantWarning) {
		t.Fatalf("adf run: want the warning first and the run to succeed\n%s", r)
	}
	if s := r.Summary(t); s.Status != "success" || s.Written != 10 {
		t.Errorf("summary %+v, want 10 rows written", s)
	}
}
