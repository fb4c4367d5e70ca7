package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// version is the release this binary is, set at build time:
//
//	go build -ldflags "-X main.version=1.4.0" ./host/cmd/adf
//
// Without it, the module version from the build info is used (a binary
// built by `go install ...@v1.4.0` knows it), else "devel".
var version = ""

// versionString is what `adf --version` prints after "adf ": the version,
// the Go release it was built with and, when the build info has them, the
// VCS revision and whether the tree had uncommitted changes.
func versionString() string {
	v := version
	info, ok := debug.ReadBuildInfo()
	if v == "" && ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	if v == "" {
		v = "devel"
	}
	parts := []string{runtime.Version()}
	if ok {
		var rev, modified, at string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			case "vcs.time":
				at = s.Value
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if modified == "true" {
				rev += "-dirty"
			}
			parts = append(parts, "revision "+rev)
		}
		if at != "" {
			parts = append(parts, "committed "+at)
		}
	}
	return v + " (" + strings.Join(parts, ", ") + ")"
}
