package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AdfPkg is the package of the adf command.
const AdfPkg = "host/cmd/adf"

// ADF is one adf installation for a test, used the way a user (or a third
// party's plugin tests) would: the adf binary, a plugins directory holding
// the given plugins, a data directory and a working directory. Plugin tests
// drive flows through it instead of importing the host.
type ADF struct {
	Bin, PluginDir, DataDir, Work string
	// Env is added to every command's environment (ADF_* of the test
	// process itself are not passed on).
	Env []string
}

// NewADF builds adf and the plugin packages (see Build) into a fresh
// installation.
func NewADF(t testing.TB, pluginPkgs ...string) *ADF {
	t.Helper()
	return &ADF{Bin: Build(t, AdfPkg), PluginDir: PluginDir(t, pluginPkgs...), DataDir: t.TempDir(), Work: t.TempDir()}
}

// Result is how an adf command ended.
type Result struct {
	// Code is the exit code, -1 when a signal ended the process.
	Code           int
	Stdout, Stderr string
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Summary is the last line `adf run` prints.
type Summary struct {
	Flow, Status                                   string
	Read, Written, Rejected, Checkpoints, Restarts int64
}

var summaryRE = regexp.MustCompile(`flow (\S+) run \S+: (success|failed) in \S+: (\d+) rows read, (\d+) written, (\d+) rejected .*; (\d+) checkpoints, (\d+) restarts`)

// Summary parses the run summary of `adf run`, failing the test without one.
func (r Result) Summary(t testing.TB) Summary {
	t.Helper()
	m := summaryRE.FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no summary line in the output of adf run\n%s", r)
	}
	n := func(s string) int64 {
		v, _ := strconv.ParseInt(s, 10, 64)
		return v
	}
	return Summary{Flow: m[1], Status: m[2], Read: n(m[3]), Written: n(m[4]), Rejected: n(m[5]), Checkpoints: n(m[6]), Restarts: n(m[7])}
}

// Command returns `adf args...` as a user would run it: in the working
// directory, with the plugins and data directories in the environment, and
// the temporary directory as a file root.
func (a *ADF) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, a.Bin, args...)
	cmd.Dir = a.Work
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ADF_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "ADF_PLUGIN_DIR="+a.PluginDir, "ADF_DATA_DIR="+a.DataDir)
	// Tests keep their files in t.TempDir() directories: the file roots
	// include the temporary directory (set ADF_FILE_ROOTS in Env to test
	// other roots; ADF_FILE_ROOTS= restores the defaults).
	cmd.Env = append(cmd.Env, "ADF_FILE_ROOTS="+os.TempDir())
	cmd.Env = append(cmd.Env, a.Env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs `adf args...` to its end (at most 5 minutes).
func (a *ADF) Run(t testing.TB, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := a.Command(ctx, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ctx.Err() != nil {
		t.Fatalf("adf %s timed out\n%s", strings.Join(args, " "), res)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	default:
		t.Fatalf("adf %s: %v\n%s", strings.Join(args, " "), err, res)
	}
	return res
}

// WriteFlow writes a flow document into the working directory and returns
// its path.
func (a *ADF) WriteFlow(t testing.TB, name, doc string) string {
	t.Helper()
	p := filepath.Join(a.Work, name+".yaml")
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// RunFlow runs a flow document once with `adf run` and fails the test
// unless it succeeds; it returns the run's summary.
func (a *ADF) RunFlow(t testing.TB, name, doc string) (Summary, Result) {
	t.Helper()
	r := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, name, doc))
	if r.Code != 0 {
		t.Fatalf("adf run %s failed\n%s", name, r)
	}
	return r.Summary(t), r
}

// Process is an adf command running in the background.
type Process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Start starts `adf args...` in the background; the test's cleanup kills it
// if it is still running.
func (a *ADF) Start(t testing.TB, args ...string) *Process {
	t.Helper()
	p := &Process{done: make(chan struct{})}
	p.cmd = a.Command(context.Background(), args...)
	p.cmd.Stdout = lockedWriter{&p.mu, &p.stdout}
	p.cmd.Stderr = lockedWriter{&p.mu, &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Pid is the adf process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the adf process.
func (p *Process) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Stderr is what the process wrote to stderr so far (its log).
func (p *Process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Wait waits for the process to end and returns how it ended.
func (p *Process) Wait(t testing.TB, timeout time.Duration) Result {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("adf did not exit within %s\nstderr:\n%s", timeout, p.Stderr())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	res := Result{Stdout: p.stdout.String(), Stderr: p.stderr.String()}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		res.Code = ee.ExitCode()
	} else if p.err != nil {
		t.Fatalf("wait for adf: %v", p.err)
	}
	return res
}

var pluginStartedRE = regexp.MustCompile(`plugin started: .*role=(\S+) pid=(\d+)`)

// PluginPids returns the pids of the plugin processes a run started, by
// role ("source", "sink", "transform:<type>"), from its debug log
// (ADF_LOG_LEVEL=debug); a restarted attempt's processes replace the
// earlier ones.
func PluginPids(log string) map[string]int {
	out := map[string]int{}
	for _, m := range pluginStartedRE.FindAllStringSubmatch(log, -1) {
		pid, _ := strconv.Atoi(m[2])
		out[m[1]] = pid
	}
	return out
}

// WaitFor polls cond every 20ms until it holds, failing the test after
// timeout with what diag says.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool, diag func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			msg := ""
			if diag != nil {
				msg = diag()
			}
			t.Fatalf("timed out after %s waiting for %s\n%s", timeout, what, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
