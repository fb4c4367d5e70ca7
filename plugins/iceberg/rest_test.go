package iceberg_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/plugins/iceberg"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
	"github.com/activedataflow/adf/sdk/sdktest"
)

// The REST catalog server is Apache Iceberg's own REST catalog fixture, the
// server the apache/iceberg-rest-fixture image runs
// (org.apache.iceberg.rest.RESTCatalogServer: Iceberg's RESTCatalogAdapter
// over a JdbcCatalog, in Jetty). Apache publishes it on Maven Central as the
// shaded, runnable main jar of org.apache.iceberg:iceberg-open-api (about
// 200 MB, Main-Class RESTCatalogServer). The test fetches it once with Maven
// (mvn dependency:copy) into /var/tmp/adf-iceberg-rest (override with
// ADF_ICEBERG_REST_DIR) under a file lock, checks its SHA-256, and runs it
// with the machine's java (17+)
// through testdata/RestCatalogLoopback.java (the fixture's own catalog,
// adapter and servlet, listening on 127.0.0.1 instead of every interface).
const (
	restFixtureVersion  = "1.10.1"
	restFixtureArtifact = "org.apache.iceberg:iceberg-open-api:" + restFixtureVersion + ":jar"
	// SHA-256 of that jar (its SHA-1 matches Maven Central's .sha1).
	restFixtureSHA256 = "09e6aef58984eaa58bf1e1bc5193ad023e929c6bfd38c82db7b83ffe825af724"
)

func restFixtureDir() string {
	if d := os.Getenv("ADF_ICEBERG_REST_DIR"); d != "" {
		return d
	}
	return "/var/tmp/adf-iceberg-rest"
}

// ensureRESTFixture returns the path of the fixture's jar, downloading it
// (under a file lock: parallel test processes) when missing.
func ensureRESTFixture(t *testing.T) string {
	t.Helper()
	dir := restFixtureDir()
	jar := filepath.Join(dir, "iceberg-open-api-"+restFixtureVersion+".jar")
	ok := jar + ".verified" // written once the SHA-256 matched
	verified := func() bool {
		_, e1 := os.Stat(ok)
		_, e2 := os.Stat(jar)
		return e1 == nil && e2 == nil
	}
	testkit.InstallOnce(t, filepath.Join(dir, "lock"), verified, func() {
		start := time.Now()
		sum, err := sha256File(jar)
		if err != nil || sum != restFixtureSHA256 {
			if sum, err = fetchArtifact(restFixtureArtifact, dir, jar); err != nil {
				t.Fatalf("fetch the Iceberg REST catalog fixture %s with Maven: %v (the test needs mvn and access to Maven Central once)", restFixtureArtifact, err)
			}
			if sum != restFixtureSHA256 {
				os.Remove(jar)
				t.Fatalf("%s has SHA-256 %s, want %s", restFixtureArtifact, sum, restFixtureSHA256)
			}
			t.Logf("fetched %s in %v", restFixtureArtifact, time.Since(start).Round(time.Millisecond))
		}
		if err := os.WriteFile(ok, []byte(sum+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	return jar
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fetchArtifact copies a Maven artifact into dir with the ordinary client
// (mvn dependency:copy, which needs no project) and returns the SHA-256 of
// the resulting file at path.
func fetchArtifact(artifact, dir, path string) (string, error) {
	cmd := exec.Command("mvn", "-q", "-B", "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
		"-Dartifact="+artifact, "-DoutputDirectory="+dir, "-Dmdep.overWriteReleases=true")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return sha256File(path)
}

// restCatalog is a running REST catalog server.
type restCatalog struct {
	uri, log string
}

// startRESTCatalog runs the fixture on a free port with a JDBC (SQLite)
// catalog database and the warehouse wh (file://...), both in dir, waits
// until GET /v1/config answers, and stops it when the test ends.
func startRESTCatalog(t *testing.T, dir, wh string) *restCatalog {
	t.Helper()
	jar := ensureRESTFixture(t)
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatal("the REST catalog test runs Apache Iceberg's REST catalog fixture, a Java program: install a JRE 17+ (java on PATH)")
	}
	launcher, err := filepath.Abs(filepath.Join("testdata", "RestCatalogLoopback.java"))
	if err != nil {
		t.Fatal(err)
	}
	var last error
	for try := 1; try <= 3; try++ { // another process may take the free port first
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		logPath := filepath.Join(dir, fmt.Sprintf("rest-catalog-%d.log", try))
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		// testdata/RestCatalogLoopback.java runs the fixture's catalog, adapter and
		// servlet as its main does, but listening on 127.0.0.1 only.
		cmd := exec.Command(java, "-Xmx512m", "-XX:+UseSerialGC", "-cp", jar, launcher)
		env := []string{}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "CATALOG_") {
				env = append(env, kv)
			}
		}
		// The fixture reads CATALOG_* as catalog properties (CATALOG_REST_PORT is
		// rest.port); its default catalog is a JdbcCatalog, here on SQLite.
		cmd.Env = append(env,
			"CATALOG_WAREHOUSE="+wh,
			"CATALOG_URI=jdbc:sqlite:"+filepath.Join(dir, "rest-catalog.db"),
			fmt.Sprintf("CATALOG_REST_PORT=%d", port))
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with the test binary
		start := time.Now()
		if err := cmd.Start(); err != nil {
			logf.Close()
			t.Fatalf("start the REST catalog: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); logf.Close(); close(exited) }()
		uri := fmt.Sprintf("http://127.0.0.1:%d/", port)
		if last = waitForREST(uri, exited, 60*time.Second); last == nil {
			t.Logf("REST catalog (Iceberg %s RESTCatalogServer, pid %d) up at %s in %v", restFixtureVersion, cmd.Process.Pid, uri, time.Since(start).Round(time.Millisecond))
			t.Cleanup(func() {
				cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(10 * time.Second):
					cmd.Process.Kill()
					<-exited
				}
			})
			return &restCatalog{uri: uri, log: logPath}
		}
		cmd.Process.Kill()
		<-exited
		out, _ := os.ReadFile(logPath)
		t.Logf("REST catalog attempt %d on port %d: %v\n%s", try, port, last, tail(out, 3000))
	}
	t.Fatalf("the REST catalog server did not start: %v", last)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitForREST(uri string, exited <-chan struct{}, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(uri + "v1/config")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), "defaults") {
				return nil
			}
			err = fmt.Errorf("GET /v1/config: %s %s", resp.Status, tail(body, 200))
		}
		select {
		case <-exited:
			return fmt.Errorf("the server exited: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", timeout, err)
		}
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// A real Iceberg REST catalog (Apache Iceberg's RESTCatalogServer, run from
// Maven Central's jar): the sink and the source through iceberg-go's REST
// client, in process (sdktest, read back with iceberg-go's REST client) and as
// plugin processes in flows run by the adf binary (CSV → Iceberg → JSON-lines,
// exact), then pyiceberg reads the same table through the same REST catalog.
func TestRESTCatalog(t *testing.T) {
	dir := t.TempDir()
	w := &warehouse{dir: dir, wh: "file://" + filepath.Join(dir, "warehouse")}
	srv := startRESTCatalog(t, dir, w.wh)
	w.uri = srv.uri
	defer func() {
		if t.Failed() {
			out, _ := os.ReadFile(srv.log)
			t.Logf("REST catalog log:\n%s", tail(out, 6000))
		}
	}()

	t.Run("sdktest", func(t *testing.T) {
		sdktest.TestSink(t, component(sdk.KindSink), sdktest.SinkOptions{
			Config:   w.config("rest_ns.conf", nil),
			ReadBack: func(t *testing.T) []string { return w.readRows(t, "rest_ns.conf") },
		})
		// The source reads whatever TestSink's scenarios left in the table.
		sdktest.TestSource(t, component(sdk.KindSource), sdktest.SourceOptions{Config: w.config("rest_ns.conf", nil), ExpectRows: int64(len(w.readRows(t, "rest_ns.conf")))})
	})

	// The crash windows of the two-phase commit, committed (and looked up
	// for idempotence) through the REST catalog.
	crashWindows(t, w, "rest_ns")

	t.Run("flow", func(t *testing.T) {
		const n = 300_000
		in, out := filepath.Join(dir, "orders.csv"), filepath.Join(dir, "out", "orders.jsonl")
		orders := testkit.WriteOrdersCSV(t, in, 1, n)
		a := newADF(t)
		load := csvToIceberg("csv_to_rest", in, w, "sales.orders", 2)
		load.Checkpoint = &flow.Checkpoint{Every: sdk.Duration(100 * time.Millisecond)} // several commits through the REST catalog
		s := run(t, a, load)
		if s.Written != n {
			t.Fatalf("sink wrote %d rows, want %d", s.Written, n)
		}
		s = run(t, a, icebergToJSONL("rest_to_jsonl", w, "sales.orders", nil, out, 2))
		if s.Read != n || s.Written != n {
			t.Fatalf("summary = %+v, want %d read and written", s, n)
		}
		testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out), testkit.Canon(orders))

		// The snapshots the sink committed through the REST catalog carry the
		// flow, the run and the checkpoint id; the table lives under the
		// REST catalog's warehouse.
		tb, closeCat := w.open(t, "sales.orders")
		defer closeCat()
		snaps := tb.Metadata().Snapshots()
		for _, s := range snaps {
			if s.Summary == nil || s.Summary.Properties[iceberg.SummaryFlow] != "csv_to_rest" || s.Summary.Properties[iceberg.SummaryCheckpoint] == "" {
				t.Fatalf("snapshot %d has summary %+v, want adf.flow=csv_to_rest and a checkpoint id", s.SnapshotID, s.Summary)
			}
		}
		if !strings.HasPrefix(tb.Location(), w.wh+"/") {
			t.Fatalf("table location %s is not under the warehouse %s", tb.Location(), w.wh)
		}
		t.Logf("%d snapshots committed through the REST catalog; table at %s", len(snaps), tb.Location())

		t.Run("pyiceberg", func(t *testing.T) { checkWithPyIceberg(t, w, "sales.orders", orders) })
	})
}
