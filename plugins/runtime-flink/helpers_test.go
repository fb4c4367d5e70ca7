package flink

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
)

// TestMain removes the directories the helpers share between tests.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// tempDirs are removed when the tests end.
var tempDirs []string

const helloGo = "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"

var (
	buildMu sync.Mutex
	binDir  string
	bins    = map[string]string{}
)

// helloBinary builds a hello-world for goos/goarch once per test process and
// returns its path.
func helloBinary(t *testing.T, goos, goarch string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	key := goos + "-" + goarch
	if p, ok := bins[key]; ok {
		return p
	}
	if binDir == "" {
		d, err := os.MkdirTemp("", "adf-flink-test-bins-")
		if err != nil {
			t.Fatal(err)
		}
		binDir = d
		tempDirs = append(tempDirs, d)
		if err := os.WriteFile(filepath.Join(d, "main.go"), []byte(helloGo), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "go.mod"), []byte("module hello\n\ngo 1.22\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(binDir, "hello-"+key)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = binDir
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", key, err, b)
	}
	bins[key] = out
	return out
}

// copyAs copies src to dir/name with mode 0755 and returns the path.
func copyAs(t *testing.T, src, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	fakeOnce sync.Once
	fakeJar  string
	fakeErr  string
)

// fakeBridgeJar compiles testdata/fakebridge (a stand-in FlowJob against the
// local Flink's flink-dist) into a jar once per test process.
func fakeBridgeJar(t *testing.T) string {
	t.Helper()
	fakeOnce.Do(func() {
		home := testkit.Flink(t, "env")["FLINK_HOME"]
		dist, _ := filepath.Glob(filepath.Join(home, "lib", "flink-dist-*.jar"))
		if len(dist) == 0 {
			fakeErr = "no flink-dist jar under " + home
			return
		}
		d, err := os.MkdirTemp("", "adf-flink-fakebridge-")
		if err != nil {
			fakeErr = err.Error()
			return
		}
		tempDirs = append(tempDirs, d)
		classes := filepath.Join(d, "classes")
		src := filepath.Join("testdata", "fakebridge", "io", "github", "activedataflow", "adf", "flink", "FlowJob.java")
		if b, err := exec.Command("javac", "--release", "17", "-d", classes, "-cp", dist[0], src).CombinedOutput(); err != nil {
			fakeErr = "javac: " + err.Error() + "\n" + string(b)
			return
		}
		// The jar tool, like Maven, writes directory entries deflated.
		fakeJar = filepath.Join(d, "fake-bridge.jar")
		if b, err := exec.Command("jar", "cf", fakeJar, "-C", classes, ".").CombinedOutput(); err != nil {
			fakeErr = "jar: " + err.Error() + "\n" + string(b)
		}
	})
	if fakeErr != "" {
		t.Fatal(fakeErr)
	}
	return fakeJar
}

// flowDoc is a minimal flow document named name.
func flowDoc(name string, extra string) []byte {
	s := `{"name": "` + name + `", "source": {"type": "file"}, "transforms": [{"type": "select"}], "sink": {"type": "postgres"}` + extra + `}`
	return []byte(s)
}

// components are the flow's components served by the given executables.
func components(source, transform, sink string) []sdk.RuntimeComponent {
	return []sdk.RuntimeComponent{
		{Kind: sdk.KindSource, Type: "file", Executable: source, Plugin: "file"},
		{Kind: sdk.KindTransform, Type: "select", Index: 0, Executable: transform, Plugin: "builtin"},
		{Kind: sdk.KindSink, Type: "postgres", Executable: sink, Plugin: "sql"},
	}
}

// errCode is the sdk code of err ("" when it is none).
func errCode(err error) string {
	es := sdk.AsErrors(err)
	if len(es) == 0 {
		return ""
	}
	codes := make([]string, len(es))
	for i, e := range es {
		codes[i] = e.Code
	}
	return strings.Join(codes, ",")
}

var osWriteFile = os.WriteFile

func asError(err error, target **sdk.Error) bool { return errors.As(err, target) }
