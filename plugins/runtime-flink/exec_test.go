package flink

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/activedataflow/adf/sdk"
)

func TestCheckExecutable(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "adf-plugin-sql")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec /opt/real-plugin \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	py := filepath.Join(dir, "adf-plugin-py")
	if err := os.WriteFile(py, []byte("#!/usr/bin/env python3\nprint(1)\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "notes")
	if err := os.WriteFile(text, []byte("just text"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, code, want string
	}{
		{"linux-amd64", helloBinary(t, "linux", "amd64"), "", ""},
		{"darwin", helloBinary(t, "darwin", "arm64"), sdk.CodeInvalidConfig, "is a macOS (Mach-O) executable, not a Linux amd64 executable"},
		{"arm64", helloBinary(t, "linux", "arm64"), sdk.CodeInvalidConfig, "is a Linux arm64 executable, not a Linux amd64 executable"},
		{"windows", helloBinary(t, "windows", "amd64"), sdk.CodeInvalidConfig, "is a Windows (PE) executable"},
		{"script", script, sdk.CodeInvalidConfig, "is a shell script, not a Linux amd64 executable: a Flink TaskManager can only run a plugin binary built for linux/amd64 (GOOS=linux GOARCH=amd64)"},
		{"python", py, sdk.CodeInvalidConfig, "is a script (#!/usr/bin/env python3)"},
		{"text", text, sdk.CodeInvalidConfig, "is not an executable (no ELF header)"},
		{"missing", filepath.Join(dir, "nope"), sdk.CodeNotFound, "does not exist"},
		{"dir", dir, sdk.CodeInvalidConfig, "is not a regular file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkExecutable(sdk.RuntimeComponent{Kind: sdk.KindSink, Type: "postgres", Executable: c.path, Plugin: "sql"})
			if c.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted %s", c.path)
			}
			if err.Code != c.code || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), `sink "postgres": `+c.path) {
				t.Fatalf("got [%s] %v; want [%s] containing %q", err.Code, err, c.code, c.want)
			}
		})
	}
	err := checkExecutable(sdk.RuntimeComponent{Kind: sdk.KindTransform, Type: "select", Index: 2, Executable: filepath.Join(dir, "adf-transforms")})
	if err == nil || !strings.Contains(err.Error(), `transforms[2] "select"`) || !strings.Contains(err.Error(), "scripts/build-plugins.sh") {
		t.Fatalf("missing adf-transforms: %v", err)
	}
}
