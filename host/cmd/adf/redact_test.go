package main

// Redaction through the real adf binary (host/redact): configs returned by
// the flows API, run errors and backtraces (of a plugin that quotes its
// secrets in its errors), the serve start-up log with a keyword
// ADF_DATABASE_URL, adf migrate's output and errors, and errors adf run
// prints, for every form of secret: URL userinfo, keyword DSN, query
// parameter, Redis URL, secret map keys (as Iceberg's catalog_properties
// credential and token) and a plain secret field.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
)

// secretForms are leaky source configs holding one secret each (the values
// start with Pw), and the config the API must show.
var secretForms = []struct {
	name      string
	config    map[string]any
	shown     string
	runErrSub string
}{
	{"userinfo", map[string]any{"url": "postgres://app:PwUserinfo1@127.0.0.1:1/db"},
		`{"url":"postgres://app:xxxxx@127.0.0.1:1/db"}`, "login to postgres://app:xxxxx@127.0.0.1:1/db refused (token , properties map[])"},
	{"keyword", map[string]any{"url": "host=127.0.0.1 port=1 user=app password=PwKeyword2 dbname=db"},
		`{"url":"host=127.0.0.1 port=1 user=app password=xxxxx dbname=db"}`, "login to host=127.0.0.1 port=1 user=app password=xxxxx dbname=db refused"},
	{"keyword-quoted", map[string]any{"url": "host=127.0.0.1 password='Pw Quoted3' dbname=db"},
		`{"url":"host=127.0.0.1 password=xxxxx dbname=db"}`, "login to host=127.0.0.1 password=xxxxx dbname=db refused"},
	{"query", map[string]any{"url": "postgres://127.0.0.1:1/db?user=app&password=PwQuery4&sslmode=disable"},
		`{"url":"postgres://127.0.0.1:1/db?user=app\u0026password=xxxxx\u0026sslmode=disable"}`, "login to postgres://127.0.0.1:1/db?user=app&password=xxxxx&sslmode=disable refused"},
	{"redis", map[string]any{"url": "redis://:PwRedis5@127.0.0.1:1/0"},
		`{"url":"redis://:xxxxx@127.0.0.1:1/0"}`, "login to redis://:xxxxx@127.0.0.1:1/0 refused"},
	{"properties", map[string]any{"url": "http://127.0.0.1:1/catalog", "token": "PwToken6",
		"properties": map[string]any{"credential": "client:PwCredential7", "token": "PwPropToken8", "warehouse": "wh"}},
		`{"properties":{"credential":"xxxxx","token":"xxxxx","warehouse":"wh"},"token":"xxxxx","url":"http://127.0.0.1:1/catalog"}`,
		"login to http://127.0.0.1:1/catalog refused (token xxxxx, properties map[credential:xxxxx token:xxxxx warehouse:wh])"},
}

// assertNoPw fails when s holds any of the test's secrets.
func assertNoPw(t *testing.T, what, s string) {
	t.Helper()
	for _, pw := range []string{"PwUserinfo1", "PwKeyword2", "Pw Quoted3", "Quoted3", "PwQuery4", "PwRedis5", "PwToken6", "PwCredential7", "PwPropToken8", "KwStorePw9", "RunPw10", "RunTok11", "SqlPw12"} {
		if strings.Contains(s, pw) {
			t.Errorf("%s holds the secret %q:\n%s", what, pw, s)
		}
	}
}

// keywordDSN turns a PostgreSQL URL without a password into a keyword
// connection string with one.
func keywordDSN(t *testing.T, rawURL, password string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=disable",
		u.Hostname(), u.Port(), u.User.Username(), password, strings.TrimPrefix(u.Path, "/"))
}

func TestServeRedaction(t *testing.T) {
	dbURL := testkit.NewDatabase(t)
	dsn := keywordDSN(t, dbURL, "KwStorePw9")
	dataDir := realDir(t)
	h := svcStart(t, svcConfig{dataDir: dataDir, pluginDir: testkit.PluginDir(t, leakyPlugin), work: t.TempDir(), dbURL: dsn,
		args: []string{"--tick", "0", "--max-attempts", "1"}})
	// The start-up log line names the store without its password.
	shownDSN := strings.Replace(dsn, "KwStorePw9", "xxxxx", 1)
	if log := h.log(); !strings.Contains(log, `"store":"postgres `+shownDSN+`"`) {
		t.Errorf("the adf serving log line lacks \"store\":\"postgres %s\"\n%s", shownDSN, log)
	}
	for _, f := range secretForms {
		h.applyFlow(map[string]any{"name": f.name,
			"source": map[string]any{"type": "leaky", "config": f.config},
			"sink":   map[string]any{"type": "void"}})
	}
	code, body := h.api("GET", "/v1/flows", nil, nil)
	if code != 200 {
		t.Fatalf("GET /v1/flows: %d %s", code, body)
	}
	assertNoPw(t, "GET /v1/flows", body)
	var flows []store.FlowRecord
	if err := json.Unmarshal([]byte(body), &flows); err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{}
	for _, r := range flows {
		var cfg bytes.Buffer
		if err := json.Compact(&cfg, r.Flow.Source.Config); err != nil {
			t.Fatal(err)
		}
		shown[r.Flow.Name] = cfg.String()
	}
	runs := map[string]int64{}
	for _, f := range secretForms {
		if shown[f.name] != f.shown {
			t.Errorf("GET /v1/flows: flow %s's source config\n got %s\nwant %s", f.name, shown[f.name], f.shown)
		}
		var run struct{ ID int64 }
		if code, body := h.api("POST", "/v1/flows/"+f.name+"/runs", nil, &run); code != 202 {
			t.Fatalf("trigger %s: %d %s", f.name, code, body)
		}
		runs[f.name] = run.ID
	}
	for _, f := range secretForms {
		run := h.waitRunStatus(runs[f.name], 30*time.Second, "failed")
		_, body := h.api("GET", fmt.Sprintf("/v1/runs/%d", run.ID), nil, nil)
		assertNoPw(t, "GET /v1/runs/"+f.name, body)
		if !strings.Contains(run.ErrorMessage, f.runErrSub) || !strings.Contains(run.ErrorBacktrace, f.runErrSub) {
			t.Errorf("run of %s: error message %q and backtrace %q, want both to hold %q", f.name, run.ErrorMessage, run.ErrorBacktrace, f.runErrSub)
		}
		var pinned struct {
			Source struct{ Config json.RawMessage }
		}
		var cfg bytes.Buffer
		if err := json.Unmarshal(run.Config, &pinned); err != nil || json.Compact(&cfg, pinned.Source.Config) != nil || cfg.String() != f.shown {
			t.Errorf("run of %s: config %s, want the source config %s", f.name, run.Config, f.shown)
		}
	}
	_, body = h.api("GET", "/v1/runs", nil, nil)
	assertNoPw(t, "GET /v1/runs", body)
	// What the store keeps is redacted too, not only what the API shows.
	st := svcOpenStore(t, dbURL, dataDir)
	for name, id := range runs {
		run, err := st.GetRun(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		assertNoPw(t, "the stored error of run "+name, run.ErrorMessage+run.ErrorBacktrace)
	}
	assertNoPw(t, "the serve log", h.log())
}

func TestCLIRedaction(t *testing.T) {
	dbURL := testkit.NewDatabase(t)
	a := testkit.NewADF(t, leakyPlugin, sqlPlugin)
	t.Run("migrate", func(t *testing.T) {
		dsn := keywordDSN(t, dbURL, "KwStorePw9")
		r := a.Run(t, "migrate", "--database-url", dsn)
		want := "postgres store " + strings.Replace(dsn, "KwStorePw9", "xxxxx", 1) + " is up to date (applied now: "
		if r.Code != 0 || !strings.HasPrefix(r.Stdout, want) {
			t.Errorf("adf migrate:\n%s\nwant stdout starting %q", r, want)
		}
		assertNoPw(t, "adf migrate", r.Stdout+r.Stderr)
		// A store that cannot be reached: the printed error has no password.
		bad := strings.Replace(dsn, "port=", "port=1", 1)
		bad = strings.Replace(bad, "port=1"+strings.Split(strings.Split(dsn, "port=")[1], " ")[0], "port=1", 1)
		r = a.Run(t, "migrate", "--database-url", bad)
		want = "error: connect to postgres database " + strings.Replace(bad, "KwStorePw9", "xxxxx", 1) + ": "
		if r.Code != 1 || !strings.HasPrefix(r.Stderr, want) {
			t.Errorf("adf migrate of an unreachable store:\n%s\nwant stderr starting %q", r, want)
		}
		assertNoPw(t, "adf migrate of an unreachable store", r.Stdout+r.Stderr)
	})
	t.Run("run", func(t *testing.T) {
		// A plugin quoting its secrets: adf run prints the error redacted.
		a.Env = []string{"ADF_LOG_LEVEL=debug"}
		r := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, "leaky",
			"name: leaky\nsource: {type: leaky, config: {url: 'postgres://app:RunPw10@127.0.0.1:1/db', token: RunTok11}}\nsink: {type: void}\n"))
		want := ": login to postgres://app:xxxxx@127.0.0.1:1/db refused (token xxxxx, properties map[])\n"
		if r.Code != 1 || !strings.HasSuffix(r.Stderr, want) || !strings.Contains(r.Stderr, "\nerror: source") {
			t.Errorf("adf run of a leaky source:\n%s\nwant stderr ending %q", r, want)
		}
		assertNoPw(t, "adf run of a leaky source", r.Stdout+r.Stderr)
		// The PostgreSQL source cannot connect.
		a.Env = nil
		r = a.Run(t, "run", "--progress", "none", a.WriteFlow(t, "pg",
			"name: pg\nretry_deadline: 1s\nsource: {type: postgres, config: {url: 'postgres://app:SqlPw12@127.0.0.1:1/db', table: orders}}\nsink: {type: void}\n"))
		if r.Code != 1 || !strings.Contains(r.Stderr, "error: ") || !strings.Contains(r.Stderr, "127.0.0.1:1") {
			t.Errorf("adf run of an unreachable PostgreSQL source:\n%s", r)
		}
		assertNoPw(t, "adf run of an unreachable PostgreSQL source", r.Stdout+r.Stderr)
	})
}
