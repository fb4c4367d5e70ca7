package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/activedataflow/adf/internal/testkit"
)

// misbehaving plugins: executables named like plugins that never become
// one, each leaving a child that holds the plugin's stdout and stderr.
// The marker in each child's command line lets the test find and end the
// children that escape the plugin's process group.
var misbehaving = map[string]string{
	// A bad handshake line, with a child in the plugin's process group.
	"adf-plugin-badshake": "sleep %[1]d &\nsleep 0.5\necho 'this is not a handshake'\nsleep %[1]d\n",
	// No handshake at all.
	"adf-plugin-silent": "sleep %[1]d &\nsleep %[1]d\n",
	// A bad handshake, with a child that left the process group (setsid).
	// (It answers after its child is surely out of the group.)
	"adf-plugin-escaped": "setsid sleep %[1]d &\nsleep 0.5\necho 'this is not a handshake'\nsleep %[1]d\n",
}

func misbehavingPlugins(t *testing.T, names ...string) (dir string, marker int) {
	t.Helper()
	dir = t.TempDir()
	marker = 6000 + os.Getpid()%1000
	for _, name := range names {
		script := "#!/bin/sh\n" + fmt.Sprintf(misbehaving[name], marker)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = exec.Command("pkill", "-KILL", "-f", fmt.Sprintf("^sleep %d$", marker)).Run() })
	return dir, marker
}

// A plugin that answers its handshake wrongly, or not at all, and leaves a
// child holding its output pipes does not hang adf: `adf plugins list`
// reports it as a problem and ends within the start deadline (10s) plus the
// kill grace, and the plugin's process group is gone afterwards.
func TestMisbehavingPluginDoesNotHang(t *testing.T) {
	bin := testkit.Build(t, adfPkg)
	for _, name := range []string{"adf-plugin-badshake", "adf-plugin-silent", "adf-plugin-escaped"} {
		t.Run(name, func(t *testing.T) {
			dir, marker := misbehavingPlugins(t, name)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "plugins", "list", "--plugin-dir", dir)
			cmd.Dir = t.TempDir()
			start := time.Now()
			out, _ := cmd.CombinedOutput()
			took := time.Since(start)
			if ctx.Err() != nil {
				t.Fatalf("adf plugins list hung for 60s with %s\n%s", name, out)
			}
			if took > 20*time.Second {
				t.Errorf("adf plugins list took %s with %s, want within the 10s start deadline plus grace", took, name)
			}
			if !strings.Contains(string(out), name) || !strings.Contains(string(out), "start plugin") {
				t.Errorf("the output does not name the plugin %s and why it failed:\n%s", name, out)
			}
			left, _ := exec.Command("pgrep", "-f", fmt.Sprintf("^sleep %d$", marker)).Output()
			n := len(strings.Fields(string(left)))
			if want := map[bool]int{true: 1, false: 0}[name == "adf-plugin-escaped"]; n != want {
				t.Errorf("%d of the plugin's children are left, want %d (only one that escaped the process group)", n, want)
			}
			t.Logf("%s: adf plugins list ended in %s", name, took.Round(100*time.Millisecond))
		})
	}
}

// Ctrl-C stops adf while a plugin hangs in its handshake.
func TestInterruptDuringHungPluginStart(t *testing.T) {
	bin := testkit.Build(t, adfPkg)
	dir, _ := misbehavingPlugins(t, "adf-plugin-silent")
	cmd := exec.Command(bin, "plugins", "list", "--plugin-dir", dir)
	cmd.Dir = t.TempDir()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(time.Second)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	select {
	case <-done:
		t.Logf("adf ended %s after SIGINT", time.Since(start).Round(100*time.Millisecond))
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("adf did not end within 15s of SIGINT while a plugin hung in its handshake")
	}
}
