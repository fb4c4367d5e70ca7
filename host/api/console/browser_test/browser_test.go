// Package browser_test drives the web console of a real `adf serve` (the
// adf binary and the file plugin built from this tree, on SQLite in a
// fresh data directory) in a real headless Chromium through the DevTools
// protocol (chromedp): log in, see the flows, trigger a run and watch its
// live counters, page through rejected records, cancel a long run, and
// check that a flow's markup-looking description stays text. It writes the
// screenshots of docs/screenshots/.
package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/activedataflow/adf/internal/testkit"
)

// xssDescription is a flow description that runs script if it is ever
// parsed as HTML.
const xssDescription = `<img src=x onerror=alert(1)>`

const (
	adminToken     = "console-admin-0123456789"
	viewerToken    = "console-viewer-0123456789"
	heartbeatToken = "console-heartbeat-0123456789"
)

// chromium returns the path of Debian's Chromium, installing the package
// (apt-get install -y chromium, as root) once per machine when it is
// missing; parallel test processes take a file lock around the install.
func chromium(t *testing.T) string {
	t.Helper()
	find := func() string {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
		}
		return ""
	}
	testkit.InstallOnce(t, filepath.Join(os.TempDir(), "adf-test-chromium.lock"), func() bool { return find() != "" }, func() {
		install := func() ([]byte, error) {
			cmd := exec.Command("apt-get", "install", "-y", "--no-install-recommends", "chromium")
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			return cmd.CombinedOutput()
		}
		if out, err := install(); err != nil {
			// A fresh machine may have no package lists yet.
			if upd, uerr := exec.Command("apt-get", "update").CombinedOutput(); uerr != nil {
				t.Fatalf("apt-get install chromium: %v\n%s\napt-get update: %v\n%s", err, out, uerr, upd)
			}
			if out, err := install(); err != nil {
				t.Fatalf("apt-get install -y chromium: %v\n%s", err, out)
			}
		}
	})
	p := find()
	if p == "" {
		t.Fatal("chromium is not on PATH after installing the Debian package chromium")
	}
	return p
}

// host is one `adf serve` process.
type host struct {
	t       *testing.T
	url     string
	work    string
	logPath string
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve starts `adf serve` on SQLite with the admin token and the file
// plugin, and waits until /readyz answers 200.
func serve(t *testing.T) *host {
	t.Helper()
	work := t.TempDir()
	addr := freeAddr(t)
	cmd := exec.Command(testkit.Build(t, testkit.AdfPkg), "serve", "--listen", addr, "--tick", "1s", "--lease-ttl", "3s")
	cmd.Dir = work
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ADF_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "ADF_PLUGIN_DIR="+testkit.PluginDir(t, testkit.FilePlugin), "ADF_DATA_DIR="+filepath.Join(work, "adf-data"),
		"ADF_ADMIN_TOKEN="+adminToken, "ADF_VIEWER_TOKENS="+viewerToken, "ADF_HEARTBEAT_TOKENS="+heartbeatToken,
		"ADF_FILE_ROOTS="+os.TempDir(), "ADF_LOG_LEVEL=info")
	logf, err := os.CreateTemp(t.TempDir(), "serve-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	})
	h := &host{t: t, url: "http://" + addr, work: work, logPath: logf.Name()}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(h.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return h
			}
		}
		select {
		case err := <-done:
			t.Fatalf("adf serve exited: %v\n%s", err, h.log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("adf serve not ready after 60s\n%s", h.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *host) log() string {
	b, _ := os.ReadFile(h.logPath)
	return string(b)
}

// api sends an admin request and decodes a 2xx answer into out.
func (h *host) api(method, path string, body, out any) int {
	h.t.Helper()
	code, b := testkit.CallAPI(h.t, h.url, adminToken, method, path, body, out)
	if code/100 != 2 {
		h.t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	return code
}

type run struct {
	ID              int64  `json:"id"`
	Status          string `json:"status"`
	RecordsRejected int64  `json:"records_rejected"`
	ErrorMessage    string `json:"error_message"`
}

func (h *host) trigger(flow string) run {
	h.t.Helper()
	var r run
	h.api("POST", "/v1/flows/"+flow+"/runs", nil, &r)
	return r
}

func (h *host) waitRun(id int64, statuses ...string) run {
	h.t.Helper()
	var r run
	testkit.WaitFor(h.t, 60*time.Second, fmt.Sprintf("run %d to be %v", id, statuses), func() bool {
		h.api("GET", fmt.Sprintf("/v1/runs/%d", id), nil, &r)
		for _, s := range statuses {
			if r.Status == s {
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("run %+v\n%s", r, h.log()) })
	return r
}

// writeCSV writes a CSV of n orders (id,name,amount) to path; every
// badEvery-th data row (when > 0) has a fourth field, which the file
// source rejects.
func writeCSV(t *testing.T, path string, first, n, badEvery int) {
	t.Helper()
	if err := csvFile(path, first, n, badEvery); err != nil {
		t.Fatal(err)
	}
}

// csvFile is writeCSV's work, for goroutines (which must not call
// t.Fatal).
func csvFile(path string, first, n, badEvery int) error {
	var b strings.Builder
	b.WriteString("id,name,amount\n")
	for i := first; i < first+n; i++ {
		if badEvery > 0 && (i-first+1)%badEvery == 0 {
			fmt.Fprintf(&b, "%d,bad%d,1,extra\n", i, i)
			continue
		}
		fmt.Fprintf(&b, "%d,n%d,%d\n", i, i, i%1000)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	// Written beside the directory and renamed into it: a continuous
	// source must never see a half-written file.
	tmp := filepath.Join(filepath.Dir(filepath.Dir(path)), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// browser is one headless Chromium tab, with the JavaScript dialogs that
// opened in it recorded (and dismissed).
type browser struct {
	t       *testing.T
	ctx     context.Context
	mu      sync.Mutex
	dialogs []string
	errors  []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// The assertions read numbers as en-US formats them (50,000).
		chromedp.Flag("lang", "en-US"),
		chromedp.Env("LANG=en_US.UTF-8"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}
	// The first Run starts the browser, with no deadline (a deadline on it
	// would stop the browser with it).
	if _, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride,
		emulation.SetDeviceMetricsOverrideParams{Width: 1280, Height: 800, DeviceScaleFactor: 1}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	opened := make(chan struct{}, 16)
	if err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(ev.Type)+": "+ev.Message)
			b.mu.Unlock()
			select {
			case opened <- struct{}{}:
			default:
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.mu.Lock()
			b.errors = append(b.errors, fmt.Sprintf("%s:%d: %s", d.URL, d.LineNumber+1, msg))
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	// A dialog blocks the page until it is answered; the listener may not
	// send commands itself, so this goroutine dismisses them.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-opened:
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
			}
		}
	}()
	return b
}

// do runs actions with a deadline, failing the test with what on error.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v\npage text:\n%s\nscript errors: %v", what, err, b.pageText(), b.scriptErrors())
	}
}

// pageText is the text of the page body, for failure messages.
func (b *browser) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v\npage text:\n%s", expr, err, b.pageText())
	}
	return v
}

// eval evaluates a JavaScript expression into out (JSON-decoded).
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	raw := eval[[]byte](b, expr)
	if err := json.Unmarshal(raw, out); err != nil {
		b.t.Fatalf("evaluate %s: %s: %v", expr, raw, err)
	}
}

// text is the trimmed textContent of the first element matching the CSS
// selector sel ("" when there is none).
func (b *browser) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(eval[string](b, fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)))
}

// waitText polls until the text of sel satisfies cond, and returns it.
func (b *browser) waitText(sel, what string, cond func(string) bool) string {
	b.t.Helper()
	var last string
	testkit.WaitFor(b.t, 60*time.Second, what, func() bool {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel)))
		if err != nil {
			return false
		}
		last = strings.TrimSpace(s)
		return cond(last)
	}, func() string {
		return fmt.Sprintf("%s is %q\npage text:\n%s\nscript errors: %v", sel, last, b.pageText(), b.scriptErrors())
	})
	return last
}

func (b *browser) scriptErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

func (b *browser) dialogsOpened() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

// screenshot writes the viewport as docs/screenshots/name.png, checking
// it is a 1280x800 PNG under 150 KiB.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil || cfg.Width != 1280 || cfg.Height != 800 {
		b.t.Fatalf("screenshot %s: %v, %dx%d, want a 1280x800 PNG", name, err, cfg.Width, cfg.Height)
	}
	if len(buf) > 150<<10 {
		b.t.Errorf("screenshot %s is %d bytes, want at most 150 KiB", name, len(buf))
	}
	dir := filepath.Join(testkit.RepoRoot(b.t), "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// count parses a formatted number ("12,345") from a counter's text.
func count(t *testing.T, s string) int64 {
	t.Helper()
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		t.Fatalf("counter %q is no number: %v", s, err)
	}
	return n
}

// TestConsole is an operator's session in the console against a real host.
func TestConsole(t *testing.T) {
	h := serve(t)
	// The page is served with a CSP that allows no inline script.
	resp, err := http.Get(h.url + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("GET /console/: %d, CSP %q: want 200 with script-src 'self' (is the console mounted at GET /console/?)",
			resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}

	in := filepath.Join(h.work, "in")
	// orders: a scheduled flow with a few finished runs (the ticker runs it
	// once; two triggers more) for the list's sparkline and the flow
	// page's chart.
	writeCSV(t, filepath.Join(in, "orders", "orders.csv"), 1, 50000, 0)
	orders := func(description string) map[string]any {
		return map[string]any{"name": "orders", "description": description, "schedule": map[string]any{"every": "1h"},
			"source": map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(in, "orders", "orders.csv")}},
			"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(h.work, "out", "orders.jsonl")}}}
	}
	h.api("POST", "/v1/flows", orders("orders of the day"), nil)
	// A second version, for the version history's diff.
	h.api("PUT", "/v1/flows/orders", orders("orders of the day, to JSON lines"), nil)
	// rejects: 600 rows of which every fifth is malformed: 120 rejected
	// records, three pages of 50.
	writeCSV(t, filepath.Join(in, "rejects", "rows.csv"), 1, 600, 5)
	h.api("POST", "/v1/flows", map[string]any{"name": "rejects", "on_error": "dead_letter",
		"source": map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(in, "rejects", "rows.csv")}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(h.work, "out", "rejects.jsonl")}}}, nil)
	// failing: the same malformed rows under on_error: fail.
	h.api("POST", "/v1/flows", map[string]any{"name": "failing",
		"source": map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(in, "rejects", "rows.csv")}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(h.work, "out", "failing.jsonl")}}}, nil)
	// stream: a continuous flow whose description is markup; it reads the
	// files the test keeps adding until it is cancelled.
	streamDir := filepath.Join(in, "stream")
	if err := os.MkdirAll(streamDir, 0o755); err != nil {
		t.Fatal(err)
	}
	h.api("POST", "/v1/flows", map[string]any{"name": "stream", "description": xssDescription, "checkpoint": map[string]any{"every": "1s"},
		"source": map[string]any{"type": "file", "config": map[string]any{"path": streamDir, "mode": "continuous", "discover_interval": "100ms"}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(h.work, "out", "stream") + "/"}}}, nil)

	for i := 0; i < 2; i++ {
		h.waitRun(h.trigger("orders").ID, "success")
	}
	rej := h.waitRun(h.trigger("rejects").ID, "success", "failed")
	if rej.Status != "success" || rej.RecordsRejected != 120 {
		t.Fatalf("rejects run %+v, want success with 120 rejected records\n%s", rej, h.log())
	}

	// One heartbeat, for the heartbeat log.
	hb, err := http.NewRequest("POST", h.url+"/v1/heartbeat", nil)
	if err != nil {
		t.Fatal(err)
	}
	hb.Header.Set("Authorization", "Bearer "+heartbeatToken)
	if resp, err := http.DefaultClient.Do(hb); err != nil || resp.StatusCode != 200 {
		t.Fatalf("heartbeat: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	failed := h.waitRun(h.trigger("failing").ID, "success", "failed")
	if failed.Status != "failed" {
		t.Fatalf("failing run %+v, want failed", failed)
	}

	b := newBrowser(t)

	t.Run("bad token explains 401", func(t *testing.T) {
		b.t = t
		b.do("open the login page", chromedp.Navigate(h.url+"/"), chromedp.WaitVisible(chromedp.ID("#token")))
		b.do("log in with a bad token", chromedp.SendKeys(chromedp.ID("#token"), "not-the-token"), chromedp.Click(chromedp.ID("#login")))
		msg := b.waitText("#login-msg", "the login's error", func(s string) bool { return s != "" })
		for _, want := range []string{"401", "ADF_ADMIN_TOKEN", "admin-token"} {
			if !strings.Contains(msg, want) {
				t.Errorf("login error %q does not mention %q", msg, want)
			}
		}
		if page := b.text("main"); !strings.Contains(page, "403 Forbidden") || !strings.Contains(page, "ADF_OPERATOR_TOKENS") {
			t.Errorf("login page does not explain 403 and the operator tokens:\n%s", page)
		}
		// A saved token the host no longer accepts sends the operator back
		// to the login, which says why.
		b.do("open the flows with a stale token", chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem("adf-token", "stale-token")`),
			chromedp.Navigate(h.url+"/console/#/flows"))
		b.waitText("#login-msg", "the stale token's explanation", func(s string) bool { return strings.Contains(s, "401") })
	})

	t.Run("log in and see the flows", func(t *testing.T) {
		b.t = t
		b.do("log in", chromedp.SetValue(chromedp.ID("#token"), adminToken), chromedp.Click(chromedp.ID("#login")),
			chromedp.WaitVisible(chromedp.CSS(`#flows-table tr[data-flow="stream"]`)))
		var stored string
		b.eval(`sessionStorage.getItem("adf-token")`, &stored)
		if stored != adminToken {
			t.Errorf("sessionStorage holds %q, want the token", stored)
		}
		for _, f := range []string{"orders", "rejects", "stream"} {
			b.waitText(fmt.Sprintf(`#flows-table tr[data-flow=%q] .flow-link`, f), "flow "+f+" listed", func(s string) bool { return s == f })
		}
		if d := b.text(`#flows-table tr[data-flow="stream"] .flow-desc`); d != xssDescription {
			t.Errorf("stream's description shows as %q, want the text %q", d, xssDescription)
		}
		b.waitText(`#flows-table tr[data-flow="orders"]`, "orders' row to show its schedule and a sparkline of its runs",
			func(s string) bool { return strings.Contains(s, "every 1h") && strings.Contains(s, "/s") })
		var spark int
		b.eval(`document.querySelectorAll('#flows-table tr[data-flow="orders"] svg.spark polyline').length`, &spark)
		if spark != 1 {
			t.Errorf("orders' row has %d sparkline polylines, want 1", spark)
		}
		// Times are relative, with the exact time on hover.
		var title string
		b.eval(`document.querySelector('#flows-table tr[data-flow="orders"] time').title`, &title)
		if !strings.Contains(title, "T") || !strings.Contains(title, "Z)") {
			t.Errorf("a time's hover text %q, want the exact time with its ISO form", title)
		}
		b.screenshot("flows")
	})

	t.Run("flow page", func(t *testing.T) {
		b.t = t
		b.do("open orders", chromedp.Click(chromedp.CSS(`#flows-table tr[data-flow="orders"] .flow-link`)),
			chromedp.WaitVisible(chromedp.CSS(`#runs-table tbody tr`)))
		runs := b.waitText("#runs-table tbody", "three successful runs", func(s string) bool { return strings.Count(s, "success") >= 3 })
		if !strings.Contains(runs, "50,000") {
			t.Errorf("runs table %q does not show 50000 rows as 50,000", runs)
		}
		var bars int
		b.eval(`document.querySelectorAll("#flow-chart rect").length`, &bars)
		if bars < 3 {
			t.Errorf("rows/s chart has %d bars, want one per finished run (3)", bars)
		}
		if cfg := b.text("#flow-config"); !strings.Contains(cfg, "orders.csv") {
			t.Errorf("config %q does not show the source path", cfg)
		}
		// The version history compares v1 with v2 by default: the
		// description line changed.
		b.waitText("#versions-table", "two versions", func(s string) bool { return strings.Contains(s, "v1") && strings.Contains(s, "v2") })
		if del, add := b.text("#diff .del"), b.text("#diff .add"); !strings.Contains(del, `"orders of the day"`) || !strings.Contains(add, `"orders of the day, to JSON lines"`) {
			t.Errorf("diff v1..v2: removed %q, added %q; want the description's old and new line", del, add)
		}
		b.screenshot("flow")
		// Disable, then enable again.
		b.do("disable", chromedp.Click(chromedp.ID("disable")), chromedp.WaitVisible(chromedp.ID("enable")))
		b.waitText("h1", "the flow to show disabled", func(s string) bool { return strings.Contains(s, "disabled") })
		var rec struct {
			Enabled *bool `json:"enabled"`
		}
		h.api("GET", "/v1/flows/orders", nil, &rec)
		if rec.Enabled == nil || *rec.Enabled {
			t.Errorf("after Disable the flow record says enabled %v, want false", rec.Enabled)
		}
		b.do("enable", chromedp.Click(chromedp.ID("enable")), chromedp.WaitVisible(chromedp.ID("disable")))
		b.waitText("h1", "the flow to show enabled", func(s string) bool { return strings.Contains(s, "enabled") })
		// Both were changes of the flow document: versions 3 and 4.
		b.waitText("#versions-table", "the history to show v4", func(s string) bool { return strings.Contains(s, "v4") })
	})

	var streamRun int64
	stop := make(chan struct{})
	var feeding sync.WaitGroup
	feedErr := make(chan error, 1)
	t.Cleanup(func() {
		close(stop)
		feeding.Wait()
		select {
		case err := <-feedErr:
			t.Errorf("adding input files to the stream: %v", err)
		default:
		}
	})
	t.Run("trigger and watch live counters", func(t *testing.T) {
		b.t = t
		b.do("open stream", chromedp.Navigate(h.url+"/console/#/flows/stream"), chromedp.WaitVisible(chromedp.ID("#trigger")))
		if d := b.text("#flow-description"); d != xssDescription {
			t.Errorf("flow page description %q, want the text %q", d, xssDescription)
		}
		b.do("trigger", chromedp.Click(chromedp.ID("#trigger")), chromedp.WaitVisible(chromedp.ID("#open-triggered")))
		b.do("open the run", chromedp.Click(chromedp.ID("#open-triggered")), chromedp.WaitVisible(chromedp.ID("#c-read")))
		var hash string
		b.eval(`location.hash`, &hash)
		id, err := strconv.ParseInt(strings.TrimPrefix(hash, "#/runs/"), 10, 64)
		if err != nil {
			t.Fatalf("run page at %q: %v", hash, err)
		}
		streamRun = id
		h.waitRun(id, "in_progress")
		feeding.Add(1)
		go func() {
			defer feeding.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(250 * time.Millisecond):
				}
				if err := csvFile(filepath.Join(streamDir, fmt.Sprintf("part-%05d.csv", i)), i*200+1, 200, 0); err != nil {
					feedErr <- err
					return
				}
			}
		}()
		first := count(t, b.waitText("#c-read .v", "rows read to rise above 0", func(s string) bool { return strings.Trim(s, "0–") != "" }))
		b.waitText("#c-read .v", "rows read to rise further while the page stays open", func(s string) bool {
			return count(t, s) > first
		})
		// The counters come from the live progress, not the stored run.
		b.waitText("#c-rate .k", "a live rate", func(s string) bool { return strings.EqualFold(s, "Rows/s now") })
		b.waitText("#splits", "the split assignment", func(s string) bool { return strings.Contains(s, "reader 0:") && strings.Contains(s, "finished") })
		b.waitText("#run-status", "status in progress", func(s string) bool { return s == "in progress" })
		var points int
		testkit.WaitFor(t, 30*time.Second, "the rows/s chart to draw a line", func() bool {
			b.eval(`document.querySelectorAll("#run-chart polyline").length`, &points)
			return points == 1
		}, nil)
		// Checkpoints every second: the live checkpoint counter moves too.
		b.waitText("#c-checkpoints .v", "two checkpoints", func(s string) bool { return s != "–" && count(t, s) >= 2 })
		b.screenshot("run")
	})

	t.Run("cancel a long run", func(t *testing.T) {
		b.t = t
		if streamRun == 0 {
			t.Fatal("no stream run to cancel")
		}
		// One run of a flow at a time: a second trigger is refused, naming
		// the run in the way.
		b.do("open stream", chromedp.Navigate(h.url+"/console/#/flows/stream"), chromedp.WaitVisible(chromedp.ID("trigger")))
		b.do("trigger again", chromedp.Click(chromedp.ID("trigger")))
		msg := b.waitText("#flow-msg", "the refused trigger", func(s string) bool { return s != "" })
		if !strings.Contains(msg, "Not started") || !strings.Contains(msg, fmt.Sprintf("#%d", streamRun)) {
			t.Errorf("second trigger answered %q, want it refused naming run #%d", msg, streamRun)
		}
		b.do("back to the run", chromedp.Navigate(fmt.Sprintf("%s/console/#/runs/%d", h.url, streamRun)), chromedp.WaitVisible(chromedp.ID("cancel")))
		b.do("cancel", chromedp.Click(chromedp.ID("#cancel")))
		b.waitText("#run-status", "the run to be cancelled", func(s string) bool { return s == "cancelled" })
		if r := h.waitRun(streamRun, "cancelled"); r.Status != "cancelled" {
			t.Errorf("stored run %+v, want cancelled", r)
		}
		var buttons int
		b.eval(`document.querySelectorAll("#cancel").length`, &buttons)
		if buttons != 0 {
			t.Error("a cancelled run still offers a cancel button")
		}
	})

	t.Run("page through rejected records", func(t *testing.T) {
		b.t = t
		b.do("open the rejects run", chromedp.Navigate(fmt.Sprintf("%s/console/#/runs/%d", h.url, rej.ID)),
			chromedp.WaitVisible(chromedp.ID("#rejected-table")))
		if r := b.waitText("#rejected-range", "page 1", func(s string) bool { return strings.HasPrefix(s, "1–50") }); !strings.Contains(r, "120") {
			t.Errorf("range %q, want 1–50 of 120", r)
		}
		firstPos := func() string { return b.text("#rejected-table tbody tr:first-child .position") }
		p1 := firstPos()
		if !strings.Contains(p1, "rows.csv:") {
			t.Errorf("first rejected record's position %q, want rows.csv:<line>", p1)
		}
		b.do("next page", chromedp.Click(chromedp.ID("#rejected-next")))
		b.waitText("#rejected-range", "page 2", func(s string) bool { return strings.HasPrefix(s, "51–100") })
		if p2 := firstPos(); p2 == p1 {
			t.Errorf("page 2 starts with the same record as page 1 (%s)", p1)
		}
		b.do("next page", chromedp.Click(chromedp.ID("#rejected-next")))
		b.waitText("#rejected-range", "page 3", func(s string) bool { return strings.HasPrefix(s, "101–120") })
		var disabled bool
		b.eval(`document.getElementById("rejected-next").disabled`, &disabled)
		if !disabled {
			t.Error("Next is enabled on the last page")
		}
		b.do("previous page", chromedp.Click(chromedp.ID("#rejected-prev")))
		b.waitText("#rejected-range", "page 2 again", func(s string) bool { return strings.HasPrefix(s, "51–100") })
	})

	t.Run("a failed run shows its error", func(t *testing.T) {
		b.t = t
		b.do("open the failed run", chromedp.Navigate(fmt.Sprintf("%s/console/#/runs/%d", h.url, failed.ID)),
			chromedp.WaitVisible(chromedp.ID("error-message")))
		if msg := b.text("#error-message"); !strings.Contains(msg, "wrong number of fields") || !strings.Contains(msg, "rows.csv:6") {
			t.Errorf("error shown as %q, want the stored error naming rows.csv:6 (the fifth data row)", msg)
		}
		if b.text("#run-status") != "failed" {
			t.Errorf("status %q, want failed", b.text("#run-status"))
		}
	})

	t.Run("recent runs of all flows", func(t *testing.T) {
		b.t = t
		b.do("open runs", chromedp.Navigate(h.url+"/console/#/runs"), chromedp.WaitVisible(chromedp.CSS(`#runs-table tr[data-run]`)))
		text := b.text("#runs-table")
		for _, want := range []string{"orders", "rejects", "failing", "stream", "cancelled", "failed"} {
			if !strings.Contains(text, want) {
				t.Errorf("recent runs do not show %q:\n%s", want, text)
			}
		}
	})

	t.Run("plugins", func(t *testing.T) {
		b.t = t
		b.do("open plugins", chromedp.Navigate(h.url+"/console/#/plugins"), chromedp.WaitVisible(chromedp.CSS(`.component[data-type="file"]`)))
		page := b.text("main")
		for _, want := range []string{"Delivery", "Default", "path", "exactly once"} {
			if !strings.Contains(page, want) {
				t.Errorf("plugins page has no %q", want)
			}
		}
		b.screenshot("plugins")
	})

	t.Run("heartbeat log", func(t *testing.T) {
		b.t = t
		b.do("open heartbeats", chromedp.Navigate(h.url+"/console/#/heartbeats"), chromedp.WaitVisible(chromedp.ID("heartbeats-table")))
		if row := b.text("#heartbeats-table tbody tr"); !strings.Contains(row, "ok") || !strings.Contains(row, "200") {
			t.Errorf("heartbeat row %q, want the ok heartbeat with status 200", row)
		}
	})

	t.Run("delete a flow with an active run", func(t *testing.T) {
		b.t = t
		idle := filepath.Join(in, "idle")
		if err := os.MkdirAll(idle, 0o755); err != nil {
			t.Fatal(err)
		}
		h.api("POST", "/v1/flows", map[string]any{"name": "doomed",
			"source": map[string]any{"type": "file", "config": map[string]any{"path": idle, "mode": "continuous", "discover_interval": "100ms"}},
			"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(h.work, "out", "doomed") + "/"}}}, nil)
		active := h.trigger("doomed")
		h.waitRun(active.ID, "in_progress")
		b.do("open doomed", chromedp.Navigate(h.url+"/console/#/flows/doomed"), chromedp.WaitVisible(chromedp.ID("delete")))
		b.do("delete", chromedp.Click(chromedp.ID("delete")), chromedp.WaitVisible(chromedp.ID("delete-confirm")))
		b.do("confirm", chromedp.Click(chromedp.ID("delete-confirm")), chromedp.WaitVisible(chromedp.ID("delete-cancel-runs")))
		if msg := b.text("#flow-msg"); !strings.Contains(msg, fmt.Sprintf("#%d", active.ID)) {
			t.Errorf("the refusal %q does not name the active run #%d", msg, active.ID)
		}
		b.do("cancel the runs and delete", chromedp.Click(chromedp.ID("delete-cancel-runs")),
			chromedp.WaitVisible(chromedp.ID("flows-table")))
		if n := eval[int](b, `document.querySelectorAll('#flows-table tr[data-flow="doomed"]').length`); n != 0 {
			t.Error("the deleted flow is still listed")
		}
		h.waitRun(active.ID, "cancelled")
	})

	t.Run("a viewer is told which role is needed", func(t *testing.T) {
		b.t = t
		b.do("log out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("token")))
		b.do("log in as viewer", chromedp.SetValue(chromedp.ID("token"), viewerToken), chromedp.Click(chromedp.ID("login")),
			chromedp.WaitVisible(chromedp.CSS(`#flows-table tr[data-flow="orders"]`)))
		b.do("open orders", chromedp.Navigate(h.url+"/console/#/flows/orders"), chromedp.WaitVisible(chromedp.ID("trigger")))
		b.do("trigger", chromedp.Click(chromedp.ID("trigger")))
		msg := b.waitText("#flow-msg", "the refusal", func(s string) bool { return s != "" })
		if !strings.Contains(msg, "403") || !strings.Contains(msg, "operator") {
			t.Errorf("viewer's trigger answer %q, want a 403 that names the operator role", msg)
		}
		b.do("open the rejects run", chromedp.Navigate(fmt.Sprintf("%s/console/#/runs/%d", h.url, rej.ID)))
		b.waitText("#rejected", "the rejected records' refusal", func(s string) bool { return strings.Contains(s, "operator") })
	})

	t.Run("markup stays text", func(t *testing.T) {
		b.t = t
		b.do("open the flows", chromedp.Navigate(h.url+"/console/#/flows"), chromedp.WaitVisible(chromedp.CSS(`#flows-table tr[data-flow="stream"]`)))
		var imgs int
		b.eval(`document.querySelectorAll("img").length`, &imgs)
		if imgs != 0 {
			t.Errorf("%d img elements in the page: a description was parsed as HTML", imgs)
		}
		if d := b.dialogsOpened(); len(d) != 0 {
			t.Errorf("JavaScript dialogs opened: %v", d)
		}
		if e := b.scriptErrors(); len(e) != 0 {
			t.Errorf("uncaught script errors: %v", e)
		}
	})
}
