package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// InstallOnce prepares a test fixture that parallel test processes share:
// unless ready() holds, it takes the exclusive file lock at lockPath and,
// unless ready() holds by then (another process installed it meanwhile),
// runs install while holding it.
func InstallOnce(t testing.TB, lockPath string, ready func() bool, install func()) {
	t.Helper()
	if ready() {
		return
	}
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close() // closing releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if !ready() {
		install()
	}
}

// PythonVenv returns the python of the virtual environment venv in which
// check (Python code, e.g. "import pyarrow.parquet") runs, creating the
// environment and installing packages from PyPI with pip when it does not,
// under a file lock beside it (test processes run in parallel). The
// independent readers of the tests (pyarrow, pyiceberg) come this way: CI
// needs python3 with the venv module, and PyPI on the first run only.
func PythonVenv(t testing.TB, venv, check string, packages ...string) string {
	t.Helper()
	py := filepath.Join(venv, "bin", "python")
	ok := func() bool { return exec.Command(py, "-c", check).Run() == nil }
	InstallOnce(t, venv+".lock", ok, func() {
		start := time.Now()
		if _, err := os.Stat(py); err != nil {
			if out, err := exec.Command("python3", "-m", "venv", venv).CombinedOutput(); err != nil {
				t.Fatalf("python3 -m venv %s: %v\n%s (the test's independent reader needs python3 with the venv module)", venv, err, out)
			}
		}
		args := append([]string{"install", "--quiet"}, packages...)
		if out, err := exec.Command(filepath.Join(venv, "bin", "pip"), args...).CombinedOutput(); err != nil {
			t.Fatalf("pip install %v: %v\n%s (the test's independent reader needs access to PyPI once)", packages, err, out)
		}
		if !ok() {
			t.Fatalf("%q still fails in %s after pip install %v", check, venv, packages)
		}
		t.Logf("installed %v into %s in %v", packages, venv, time.Since(start).Round(time.Second))
	})
	return py
}
