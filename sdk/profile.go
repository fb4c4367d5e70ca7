package sdk

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// ProfileDirEnv names a directory: when it is set, the adf host and every
// plugin process write a CPU profile of their whole life there, as
// <name>-<pid>.pprof, for `go tool pprof`. The host passes it on to the
// plugins it launches.
const ProfileDirEnv = "ADF_CPUPROFILE_DIR"

// StartCPUProfile starts the process's CPU profile when ProfileDirEnv is
// set and returns the function that writes it out; otherwise, or when the
// profile cannot be started (a note goes to stderr: profiling must never
// stop a flow), it returns a no-op.
func StartCPUProfile(name string) (stop func()) {
	dir := os.Getenv(ProfileDirEnv)
	if dir == "" {
		return func() {}
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", name, os.Getpid()))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: no CPU profile: %v\n", name, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "%s: no CPU profile in %s: %v\n", name, path, err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
