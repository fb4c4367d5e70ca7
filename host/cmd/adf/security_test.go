package main

// Integration tests of the API's hardening against a real `adf serve`:
// token roles and the audit trail, the failed-authentication limit, the
// body limit, the HTTP timeouts, internal errors answered with an id only,
// and the sampled, bounded heartbeat log.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/activedataflow/adf/host/access"
	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
)

// secReq is one request of the security tests.
type secReq struct {
	method, path string
	token        string // Authorization: Bearer, unless empty
	from         string // source loopback address; empty: any
	body         io.Reader
	header       map[string]string
}

// secResp is its answer.
type secResp struct {
	code   int
	header http.Header
	body   string
	err    struct {
		Error        string `json:"error"`
		Message      string `json:"message"`
		RequiredRole string `json:"required_role"`
		ID           string `json:"id"`
	}
}

func (h *svcHost) call(r secReq) secResp {
	h.t.Helper()
	req, err := http.NewRequest(r.method, h.url+r.path, r.body)
	if err != nil {
		h.t.Fatal(err)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	c := http.DefaultClient
	if r.from != "" {
		c = svcClient(r.from)
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v\n%s", r.method, r.path, err, h.log())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := secResp{code: resp.StatusCode, header: resp.Header, body: string(b)}
	if resp.StatusCode >= 400 {
		_ = json.Unmarshal(b, &out.err)
	}
	return out
}

func jsonBody(t *testing.T, v any) io.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

// logLines returns the JSON log lines of the host whose message is msg.
func (h *svcHost) logLines(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(h.log(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["@message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// metric returns the value of one sample of the host's /metrics.
func (h *svcHost) metric(sample string) string {
	h.t.Helper()
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return ""
}

// Roles: a viewer reads (configs redacted) and may not trigger or write; an
// operator (configured hashed) triggers runs and reads rejected records but
// may not write flows; the admin does everything. 403s name the role
// needed; no or an unknown token is 401; the admin token in
// X-Heartbeat-Token is not accepted. Every authenticated write, refused
// ones included, is in GET /v1/audit (newest first, token ids not tokens)
// and in the log. Ten failed authentications a minute from an address,
// then 429 for it; a valid token from it still passes; failures are logged
// once per client and reason.
func TestServeRolesAndAudit(t *testing.T) {
	const (
		adminTok = "admin-tok-0123456789"
		opTok    = "operator-tok-0123456789"
		viewTok  = "viewer-tok-0123456789"
	)
	for _, dialect := range []string{"postgres", "sqlite"} {
		t.Run(dialect, func(t *testing.T) {
			dbURL := ""
			if dialect == "postgres" {
				dbURL = testkit.NewDatabase(t)
			}
			work, dataDir := t.TempDir(), t.TempDir()
			h := svcStart(t, svcConfig{dataDir: dataDir, pluginDir: testkit.PluginDir(t, testkit.FilePlugin, "plugins/sql/cmd/adf-plugin-sql"),
				work: work, dbURL: dbURL, adminToken: adminTok,
				env:  []string{"ADF_OPERATOR_TOKENS=other-op-tok-0123," + access.HashToken(opTok), "ADF_VIEWER_TOKENS=" + viewTok},
				args: []string{"--tick", "0"}})
			in := svcCSV(t, filepath.Join(work, "in.csv"), 2)
			beat := map[string]any{"name": "beat",
				"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
				"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(work, "out.jsonl")}}}
			pg := map[string]any{"name": "pg",
				"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
				"sink":   map[string]any{"type": "postgres", "config": map[string]any{"url": "postgres://app:s3cret@no-such-host.invalid:5432/db", "table": "t"}}}
			if r := h.call(secReq{method: "POST", path: "/v1/flows", token: adminTok, body: jsonBody(t, beat)}); r.code != 201 {
				t.Fatalf("admin creates beat: %d %s", r.code, r.body)
			}
			if r := h.call(secReq{method: "POST", path: "/v1/flows", token: adminTok, body: jsonBody(t, pg)}); r.code != 201 {
				t.Fatalf("admin creates pg: %d %s", r.code, r.body)
			}

			// Viewer: reads, redacted.
			for _, path := range []string{"/v1/flows", "/v1/flows/beat/runs", "/v1/runs", "/v1/plugins"} {
				if r := h.call(secReq{method: "GET", path: path, token: viewTok}); r.code != 200 {
					t.Errorf("viewer GET %s: %d %s, want 200", path, r.code, r.body)
				}
			}
			var rec store.FlowRecord
			r := h.call(secReq{method: "GET", path: "/v1/flows/pg", token: viewTok})
			if err := json.Unmarshal([]byte(r.body), &rec); r.code != 200 || err != nil {
				t.Fatalf("viewer GET /v1/flows/pg: %d %s (%v)", r.code, r.body, err)
			}
			var sinkCfg map[string]any
			_ = json.Unmarshal(rec.Flow.Sink.Config, &sinkCfg)
			if sinkCfg["url"] != "postgres://app:xxxxx@no-such-host.invalid:5432/db" || strings.Contains(r.body, "s3cret") {
				t.Errorf("viewer sees sink config %s, want the URL's password redacted", rec.Flow.Sink.Config)
			}
			forbidden := []struct {
				method, path, token, role, tokenRole string
			}{
				{"POST", "/v1/flows/beat/runs", viewTok, "operator", "viewer"},
				{"PUT", "/v1/flows/beat", viewTok, "admin", "viewer"},
				{"GET", "/v1/audit", viewTok, "admin", "viewer"},
				{"GET", "/v1/runs/1/rejected", viewTok, "operator", "viewer"},
				{"DELETE", "/v1/flows/pg", opTok, "admin", "operator"},
			}
			for _, f := range forbidden {
				r := h.call(secReq{method: f.method, path: f.path, token: f.token, body: jsonBody(t, beat)})
				env := map[string]string{"admin": "ADF_ADMIN_TOKEN", "operator": "ADF_OPERATOR_TOKENS"}[f.role]
				msg := fmt.Sprintf("%s %s needs the %s role; this token has the %s role (tokens of the %s role are configured in %s)", f.method, f.path, f.role, f.tokenRole, f.role, env)
				if r.code != 403 || r.err.Error != "forbidden" || r.err.RequiredRole != f.role || r.err.Message != msg {
					t.Errorf("%s %s as %s: %d %s, want 403 forbidden naming the %s role", f.method, f.path, f.tokenRole, r.code, r.body, f.role)
				}
			}
			// Operator: triggers, reads rejected records.
			var run store.Run
			r = h.call(secReq{method: "POST", path: "/v1/flows/beat/runs", token: opTok})
			if err := json.Unmarshal([]byte(r.body), &run); r.code != 202 || err != nil || run.FlowName != "beat" {
				t.Fatalf("operator triggers beat: %d %s", r.code, r.body)
			}
			if r := h.call(secReq{method: "GET", path: fmt.Sprintf("/v1/runs/%d/rejected", run.ID), token: opTok}); r.code != 200 ||
				!strings.Contains(strings.Join(strings.Fields(r.body), ""), `"records":[]`) {
				t.Errorf("operator reads rejected records: %d %s, want 200 with no records", r.code, r.body)
			}
			if r := h.call(secReq{method: "DELETE", path: "/v1/flows/pg", token: adminTok}); r.code != 204 {
				t.Errorf("admin deletes pg: %d %s", r.code, r.body)
			}
			// 401s.
			for _, c := range []struct {
				name   string
				req    secReq
				reason string
			}{
				{"admin token in X-Heartbeat-Token", secReq{method: "GET", path: "/v1/flows", header: map[string]string{"X-Heartbeat-Token": adminTok}}, "missing_token"},
				{"no token", secReq{method: "POST", path: "/v1/flows/beat/runs"}, "missing_token"},
				{"unknown token", secReq{method: "DELETE", path: "/v1/flows/beat", token: "not-a-token-0123"}, "bad_token"},
			} {
				r := h.call(c.req)
				if r.code != 401 || r.err.Error != c.reason || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: %d %s, want 401 %s", c.name, r.code, r.body, c.reason)
				}
			}
			if r := h.call(secReq{method: "GET", path: "/v1/flows", header: map[string]string{"X-Heartbeat-Token": adminTok}}); r.err.Message != "a token is required (Authorization: Bearer <token>)" {
				t.Errorf("401 message %q, want it to name Authorization: Bearer only", r.err.Message)
			}

			// The audit trail, newest first.
			type entry struct{ method, path, target, role, token string }
			want := []entry{
				{"DELETE", "/v1/flows/pg", "pg", "admin", adminTok},
				{"POST", "/v1/flows/beat/runs", "beat", "operator", opTok},
				{"DELETE", "/v1/flows/pg", "pg", "operator", opTok},
				{"PUT", "/v1/flows/beat", "beat", "viewer", viewTok},
				{"POST", "/v1/flows/beat/runs", "beat", "viewer", viewTok},
				{"POST", "/v1/flows", "pg", "admin", adminTok},
				{"POST", "/v1/flows", "beat", "admin", adminTok},
			}
			status := []int{204, 202, 403, 403, 403, 201, 201}
			var audit []store.AuditEntry
			r = h.call(secReq{method: "GET", path: "/v1/audit", token: adminTok})
			if err := json.Unmarshal([]byte(r.body), &audit); r.code != 200 || err != nil || len(audit) != len(want) {
				t.Fatalf("GET /v1/audit: %d %s (%v), want %d entries", r.code, r.body, err, len(want))
			}
			for i, w := range want {
				a := audit[i]
				if a.Method != w.method || a.Path != w.path || a.Target != w.target || a.Role != w.role || a.TokenID != access.TokenID(w.token) ||
					len(a.TokenID) != 12 || a.Status != status[i] || a.ClientAddr != "127.0.0.1" || !strings.HasPrefix(a.RemoteAddr, "127.0.0.1:") ||
					time.Since(a.Time) > time.Minute || (i > 0 && a.ID >= audit[i-1].ID) {
					t.Errorf("audit entry %d: %+v, want %s %s target %s by %s (token id %s), status %d", i, a, w.method, w.path, w.target, w.role, access.TokenID(w.token), status[i])
				}
			}
			if r := h.call(secReq{method: "GET", path: "/v1/audit?limit=2", token: adminTok}); !strings.Contains(r.body, `"target": "pg"`) || strings.Count(r.body, `"id":`) != 2 {
				t.Errorf("GET /v1/audit?limit=2: %s, want the 2 newest", r.body)
			}
			if lines := h.logLines("api audit"); len(lines) != len(want) || lines[0]["target"] != "beat" || lines[0]["role"] != "admin" || lines[0]["status"] != 201.0 {
				t.Errorf("%d api audit log lines (first %v), want %d", len(lines), lines, len(want))
			}

			// Failed authentications: 10 a minute per address.
			for i := 1; i <= 10; i++ {
				if r := h.call(secReq{method: "GET", path: "/v1/flows", token: "guess-0123456789", from: "127.0.0.6"}); r.code != 401 {
					t.Fatalf("failure %d from 127.0.0.6: %d %s, want 401", i, r.code, r.body)
				}
			}
			r = h.call(secReq{method: "GET", path: "/v1/flows", token: "guess-0123456789", from: "127.0.0.6"})
			if r.code != 429 || r.err.Error != "too_many_failures" || r.header.Get("Retry-After") != "6" ||
				r.err.Message != "too many failed authentications from this address; retry after 6 s" {
				t.Errorf("11th failure: %d Retry-After %q %s, want 429 too_many_failures, Retry-After 6", r.code, r.header.Get("Retry-After"), r.body)
			}
			if r := h.call(secReq{method: "GET", path: "/v1/flows", token: viewTok, from: "127.0.0.6"}); r.code != 200 {
				t.Errorf("valid token from the limited address: %d %s, want 200", r.code, r.body)
			}
			if r := h.call(secReq{method: "GET", path: "/v1/flows", token: "guess-0123456789", from: "127.0.0.7"}); r.code != 401 {
				t.Errorf("failure from another address: %d %s, want 401", r.code, r.body)
			}
			var refused []string
			for _, l := range h.logLines("API request refused") {
				if l["client"] == "127.0.0.6" {
					refused = append(refused, fmt.Sprint(l["reason"]))
				}
			}
			if fmt.Sprint(refused) != "[bad_token too_many_failures]" {
				t.Errorf("refusals of 127.0.0.6 logged: %v, want one line per reason", refused)
			}
			for sample, v := range map[string]string{`adf_api_auth_failures_total{reason="bad_token"}`: "12",
				`adf_api_auth_failures_total{reason="missing_token"}`: "3", `adf_api_auth_failures_total{reason="too_many_failures"}`: "1"} {
				if got := h.metric(sample); got != v {
					t.Errorf("%s = %q, want %s", sample, got, v)
				}
			}
			for _, tok := range []string{adminTok, opTok, viewTok} {
				if strings.Contains(h.log(), tok) {
					t.Errorf("the host's log shows a token")
				}
			}
		})
	}
}

// Bodies over 4 MiB get 413 and nothing is saved, with or without a
// Content-Length (a flow document whose first 4 MiB are a valid flow of
// another meaning). A client sending its body a byte a second is answered
// 408 and disconnected within the read timeout; one sending its headers a
// byte a second is disconnected. The refused writes are audited.
func TestServeBodyLimitAndTimeouts(t *testing.T) {
	const adminTok = "admin-tok-0123456789"
	work := t.TempDir()
	h := svcStart(t, svcConfig{dataDir: t.TempDir(), pluginDir: testkit.PluginDir(t, testkit.FilePlugin), work: work, adminToken: adminTok,
		args: []string{"--tick", "0", "--http-read-timeout", "2s"}})
	in := svcCSV(t, filepath.Join(work, "in.csv"), 2)
	doc := fmt.Sprintf("name: big\nsource: {type: file, config: {path: %q}}\nsink: {type: file, config: {path: %q}}\n",
		in, filepath.Join(work, "out.jsonl")) + strings.Repeat("# padding\n", 5<<20/10) + "enabled: false\n"
	if len(doc) <= 5<<20 {
		t.Fatalf("document of %d bytes, want over 5 MiB", len(doc))
	}
	for _, c := range []struct {
		name string
		body io.Reader
	}{
		{"with Content-Length", strings.NewReader(doc)},
		{"chunked", io.MultiReader(strings.NewReader(doc))}, // no length: sent chunked
	} {
		r := h.call(secReq{method: "POST", path: "/v1/flows", token: adminTok, body: c.body})
		msg := "the request body is over the limit of 4194304 bytes (4 MiB); nothing was saved: send a smaller document"
		if r.code != 413 || r.err.Error != "body_too_large" || r.err.Message != msg {
			t.Errorf("5 MiB body %s: %d %s, want 413 body_too_large", c.name, r.code, r.body)
		}
	}
	if r := h.call(secReq{method: "GET", path: "/v1/flows/big", token: adminTok}); r.code != 404 {
		t.Errorf("GET /v1/flows/big after the 413s: %d %s, want 404 (nothing saved)", r.code, r.body)
	}

	dial := func() net.Conn {
		c, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// Slow body: headers at once, then a byte a second.
	c := dial()
	start := time.Now()
	fmt.Fprintf(c, "POST /v1/flows HTTP/1.1\r\nHost: adf\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n", adminTok)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < 20; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("slow body: no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	var eb struct{ Error, Message string }
	_ = json.Unmarshal(b, &eb)
	if resp.StatusCode != 408 || eb.Error != "request_timeout" || elapsed < 1900*time.Millisecond || elapsed > 3500*time.Millisecond {
		t.Errorf("slow body: %d %s after %s, want 408 request_timeout after the 2s read timeout", resp.StatusCode, b, elapsed)
	}
	if n, err := br.Read(make([]byte, 1)); n != 0 || !closed(err) || time.Since(start) > 4*time.Second {
		t.Errorf("slow body: after the 408 the connection read %d bytes, %v after %s, want it closed", n, err, time.Since(start))
	}
	// Slow headers.
	c = dial()
	start = time.Now()
	fmt.Fprint(c, "GET /healthz HTTP/1.1\r\n")
	go func() {
		for i := 0; i < 20; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			if _, err := c.Write([]byte("X")); err != nil {
				return
			}
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if elapsed := time.Since(start); !closed(err) || elapsed < 1900*time.Millisecond || elapsed > 3500*time.Millisecond {
		t.Errorf("slow headers: read %q, %v after %s, want the connection closed after the 2s header timeout", got, err, elapsed)
	}
	if strings.Contains(string(got), " 200 ") {
		t.Errorf("slow headers: answered %q, want no answer or an error", got)
	}

	var audit []store.AuditEntry
	if code, body := h.api("GET", "/v1/audit", nil, &audit); code != 200 || len(audit) != 3 ||
		audit[0].Status != 408 || audit[1].Status != 413 || audit[2].Status != 413 || audit[0].Path != "/v1/flows" || audit[1].Target != "" {
		t.Errorf("audit trail: %d %s, want the 408 and the two 413s", code, body)
	}
}

// closed reports whether a read error means the peer closed the connection
// (EOF, or a reset when it closed with unread data).
func closed(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// An internal error (the database refuses connections) is answered 500
// with an error id only, on the API and on the heartbeat endpoint: no host,
// port, user or database name; the log has the driver's error under that
// id.
func TestServeInternalErrorsHidden(t *testing.T) {
	const adminTok, hbTok = "admin-tok-0123456789", "hb-tok-0123456789"
	dbURL := testkit.NewDatabase(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	h := svcStart(t, svcConfig{dataDir: t.TempDir(), pluginDir: testkit.PluginDir(t, testkit.FilePlugin), work: t.TempDir(), dbURL: dbURL,
		adminToken: adminTok, env: []string{"ADF_HEARTBEAT_TOKENS=" + hbTok}, args: []string{"--tick", "0"}})
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testkit.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, testkit.PostgresURL(t))
		if err == nil {
			_, _ = c.Exec(ctx, "ALTER DATABASE "+dbName+" ALLOW_CONNECTIONS true")
			c.Close(ctx)
		}
	})
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+dbName+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", dbName); err != nil {
		t.Fatal(err)
	}
	idForm := regexp.MustCompile(`^[0-9a-f]{16}$`)
	for _, c := range []secReq{
		{method: "GET", path: "/v1/flows", token: adminTok},
		{method: "POST", path: "/v1/heartbeat", token: hbTok},
	} {
		r := h.call(c)
		keys := map[string]any{}
		_ = json.Unmarshal([]byte(r.body), &keys)
		if r.code != 500 || r.err.Error != "internal error" || !idForm.MatchString(r.err.ID) || len(keys) != 3 ||
			r.err.Message != "internal error; the host's log has the details under id "+r.err.ID {
			t.Errorf("%s %s with the database down: %d %s, want 500 with an error id only", c.method, c.path, r.code, r.body)
			continue
		}
		for _, leak := range []string{u.Port(), u.Hostname(), "user=", "postgres", dbName, "SQLSTATE"} {
			if strings.Contains(r.body, leak) {
				t.Errorf("%s %s: the answer shows %q: %s", c.method, c.path, leak, r.body)
			}
		}
		var logged []string
		for _, l := range strings.Split(h.log(), "\n") {
			if strings.Contains(l, `"error_id":"`+r.err.ID+`"`) {
				logged = append(logged, l)
			}
		}
		if len(logged) != 1 || !strings.Contains(logged[0], "SQLSTATE") || !strings.Contains(logged[0], `"path":"`+c.path+`"`) {
			t.Errorf("%s %s: log lines with error id %s: %q, want one with the driver's error", c.method, c.path, r.err.ID, logged)
		}
	}
}

// 2,000 refused heartbeats (10 without a token, then 1,990 over the rate)
// leave 2 rows, whose requests columns count them; the metrics count every
// request; the log has one line per outcome. Rows older than the retention
// (default 7 days) are deleted at start, younger ones kept.
func TestServeHeartbeatLogBounded(t *testing.T) {
	for _, dialect := range []string{"postgres", "sqlite"} {
		t.Run(dialect, func(t *testing.T) {
			dbURL := ""
			if dialect == "postgres" {
				dbURL = testkit.NewDatabase(t)
			}
			dataDir := t.TempDir()
			ctx := context.Background()
			st, err := store.Open(ctx, dbURL, dataDir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			for _, age := range []time.Duration{8 * 24 * time.Hour, 6 * 24 * time.Hour} {
				if err := st.LogHeartbeat(ctx, now.Add(-age), "10.0.0.1:1", "10.0.0.1", "http", 401, fmt.Sprintf("old_%dd", age/(24*time.Hour)), store.HeartbeatResult{}); err != nil {
					t.Fatal(err)
				}
			}
			st.Close()
			h := svcStart(t, svcConfig{dataDir: dataDir, pluginDir: testkit.PluginDir(t, testkit.FilePlugin), work: t.TempDir(), dbURL: dbURL,
				adminToken: "admin-tok-0123", env: []string{"ADF_HEARTBEAT_TOKENS=hb-tok-0123"},
				args: []string{"--tick", "0", "--heartbeat-rate", "0.001", "--heartbeat-burst", "10"}})
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.5")}}
			client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
			codes := map[int]int{}
			for i := 0; i < 2000; i++ {
				resp, err := client.Post(h.url+"/v1/heartbeat", "", nil)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				codes[resp.StatusCode]++
			}
			if fmt.Sprint(codes) != "map[401:10 429:1990]" {
				t.Errorf("answers %v, want 10 401s then 1990 429s", codes)
			}
			st = svcOpenStore(t, dbURL, dataDir)
			want := "[{10.0.0.1 401 old_6d 1} {127.0.0.5 401 missing_token 10} {127.0.0.5 429 rate_limited 1990}]"
			var got string
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				rows, err := st.HeartbeatLog(ctx, 100)
				if err != nil {
					t.Fatal(err)
				}
				var short []string
				for _, r := range rows {
					short = append(short, fmt.Sprintf("{%s %d %s %d}", r.ClientAddr, r.Status, r.Outcome, r.Requests))
				}
				got = "[" + strings.Join(short, " ") + "]"
				if got == want || time.Now().After(deadline) {
					break
				}
			}
			if got != want {
				t.Errorf("heartbeat log %s, want %s", got, want)
			}
			for sample, v := range map[string]string{`adf_heartbeats_total{outcome="missing_token"}`: "10", `adf_heartbeats_total{outcome="rate_limited"}`: "1990"} {
				if got := h.metric(sample); got != v {
					t.Errorf("%s = %q, want %s", sample, got, v)
				}
			}
			var outcomes []string
			for _, l := range h.logLines("heartbeat") {
				if l["client"] == "127.0.0.5" {
					outcomes = append(outcomes, fmt.Sprint(l["outcome"]))
				}
			}
			if fmt.Sprint(outcomes) != "[missing_token rate_limited]" {
				t.Errorf("heartbeat log lines of 127.0.0.5: %v, want one per outcome", outcomes)
			}
		})
	}
}
