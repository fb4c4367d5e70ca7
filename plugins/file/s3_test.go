package file_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/sdktest"
)

// The tests in this file run flows against MinIO (testkit.MinIO): s3://
// paths of the source and the sink.

// putObject uploads data as bucket/key.
func putObject(t *testing.T, s testkit.S3, bucket, key string, data []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

// getObject downloads bucket/key.
func getObject(t *testing.T, s testkit.S3, bucket, key string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := s.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// s3Keys is the s3 config member with the server's credentials.
func s3Keys(s testkit.S3) string {
	return fmt.Sprintf(`"s3": {"access_key_id": %q, "secret_access_key": %q}`, s.AccessKey, s.SecretKey)
}

// s3Query is the URL query naming the server.
func s3Query(s testkit.S3) string {
	return fmt.Sprintf("?endpoint=%s&use_path_style=true&region=%s", s.Endpoint, s.Region)
}

// TestS3SourceCSV: 300k CSV rows in three objects on S3, read through a
// glob with byte-range splits by four readers into a local JSON-lines file:
// every row exactly once; an object the glob does not match is not read.
func TestS3SourceCSV(t *testing.T) {
	s := testkit.MinIO(t)
	bucket := s.NewBucket(t)
	a := fileADF(t)
	var want []string
	for i := 0; i < 3; i++ {
		local := filepath.Join(a.Work, fmt.Sprintf("orders-%d.csv", i))
		want = append(want, testkit.Canon(testkit.WriteOrdersCSV(t, local, 1+i*100000, 100000))...)
		data, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		putObject(t, s, bucket, fmt.Sprintf("in/orders-%d.csv", i), data)
	}
	putObject(t, s, bucket, "in/other.csv", []byte("id,name,amount,ts\n0,x,1.00,2026-01-01T00:00:00Z\n"))
	putObject(t, s, bucket, "input-not-matched/orders-9.csv", []byte("id,name,amount,ts\n0,x,1.00,2026-01-01T00:00:00Z\n"))
	out := filepath.Join(a.Work, "out.jsonl")
	src := fmt.Sprintf("s3://%s/in/orders-*.csv%s", bucket, s3Query(s))
	doc := fmt.Sprintf(`{"name": "s3-src", "parallelism": 4, "source": {"type": "file", "config": {"path": %q, "split_size": 1048576, %s}},
"sink": {"type": "file", "config": {"path": %q}}}`, src, s3Keys(s), out)
	res := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, "s3-src", doc))
	if res.Code != 0 {
		t.Fatalf("adf run failed\n%s", res)
	}
	testkit.SameRows(t, testkit.ReadOrdersJSONL(t, out), want)
	if strings.Contains(res.Stderr, s.SecretKey) || strings.Contains(res.Stdout, s.SecretKey) {
		t.Errorf("the secret key is in the run's output")
	}
}

// s3Parts downloads the part objects under prefix (in canonical rows: JSON
// lines parsed, Parquet read back through the file source from S3) and
// fails on any other key there.
func s3Rows(t *testing.T, a *testkit.ADF, s testkit.S3, bucket, prefix, ext string) []string {
	t.Helper()
	var parts []string
	for _, k := range s.Keys(t, bucket, prefix) {
		base := k[strings.LastIndexByte(k, '/')+1:]
		if !strings.HasPrefix(base, "part-") || !strings.HasSuffix(base, ext) {
			t.Errorf("unexpected object %s under %s (a temporary object left over?)", k, prefix)
			continue
		}
		parts = append(parts, k)
	}
	if len(parts) == 0 {
		t.Fatalf("no part objects under s3://%s/%s", bucket, prefix)
	}
	if ext == ".jsonl" {
		local := filepath.Join(a.Work, "download-"+strings.ReplaceAll(prefix, "/", "_")+".jsonl")
		var all []byte
		for _, k := range parts {
			all = append(all, getObject(t, s, bucket, k)...)
		}
		writeFile(t, local, string(all))
		return testkit.ReadOrdersJSONL(t, local)
	}
	// Parquet: read with the file source itself, on S3.
	out := filepath.Join(a.Work, "readback-"+strings.ReplaceAll(prefix, "/", "_")+".jsonl")
	name := "readback-" + strings.ReplaceAll(strings.TrimSuffix(prefix, "/"), "/", "-")
	doc := fmt.Sprintf(`{"name": %q, "parallelism": 2, "source": {"type": "file", "config": {"path": %q, %s}},
"sink": {"type": "file", "config": {"path": %q}}}`, name, fmt.Sprintf("s3://%s/%s%s", bucket, prefix, s3Query(s)), s3Keys(s), out)
	res := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, name, doc))
	if res.Code != 0 {
		t.Fatalf("reading the Parquet parts back failed\n%s", res)
	}
	return testkit.ReadOrdersJSONL(t, out)
}

// TestS3SinkDirectory: 200k local CSV rows into an S3 prefix as JSON-lines
// and as Parquet part objects, checkpointing often: the parts hold every
// row exactly once and no temporary object is left. Parquet parts are read
// back by the file source from S3 (row-group splits over ranged reads).
func TestS3SinkDirectory(t *testing.T) {
	s := testkit.MinIO(t)
	bucket := s.NewBucket(t)
	a := fileADF(t)
	in := filepath.Join(a.Work, "orders.csv")
	want := testkit.Canon(testkit.WriteOrdersCSV(t, in, 1, 200000))
	for _, tc := range []struct{ format, partition string }{{"jsonl", ""}, {"parquet", ""}, {"parquet", "name"}} {
		name := "s3-sink-" + tc.format
		extra := ""
		if tc.partition != "" {
			name += "-by-" + tc.partition
			extra = fmt.Sprintf(`, "partition_by": [%q]`, tc.partition)
		}
		t.Run(name, func(t *testing.T) {
			prefix := name + "/"
			dst := fmt.Sprintf("s3://%s/%s%s", bucket, prefix, s3Query(s))
			doc := fmt.Sprintf(`{"name": %q, "parallelism": 2, "source": {"type": "file", "config": {"path": %q, "split_size": 1048576}},
"sink": {"type": "file", "config": {"path": %q, "format": %q, "row_group_size": 20000, %s%s}}, "checkpoint": {"every": "200ms"}}`, name, in, dst, tc.format, s3Keys(s), extra)
			res := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, name, doc))
			if res.Code != 0 {
				t.Fatalf("adf run failed\n%s", res)
			}
			testkit.SameRows(t, s3Rows(t, a, s, bucket, prefix, "."+tc.format), want)
			if tc.partition != "" {
				dirs := map[string]bool{}
				for _, k := range s.Keys(t, bucket, prefix) {
					rel := strings.TrimPrefix(k, prefix)
					if !strings.HasPrefix(rel, tc.partition+"=") || !strings.Contains(rel, "/part-") {
						t.Errorf("part %s is not in a %s=<value>/ partition", k, tc.partition)
					}
					dirs[rel[:strings.IndexByte(rel, '/')]] = true
				}
				if len(dirs) != 5 || !dirs["name=smith%2C%20jr"] {
					t.Errorf("partitions %v, want the 5 names (name=smith%%2C%%20jr among them)", dirs)
				}
			}
		})
	}
}

// TestS3SinkFaults: the S3 sink killed (SIGKILL) after a checkpoint is
// saved and while committing the last one; the run restarts: the parts
// hold exactly the input, and no temporary object is left.
func TestS3SinkFaults(t *testing.T) {
	s := testkit.MinIO(t)
	bucket := s.NewBucket(t)
	a := fileADF(t)
	in := filepath.Join(a.Work, "orders.csv")
	want := testkit.Canon(testkit.WriteOrdersCSV(t, in, 1, 60000))
	for _, tc := range []struct {
		fault, format string
		single        bool
	}{
		{"saved@2:sink", "jsonl", false},
		{"committing@final:sink", "jsonl", false},
		{"saved@2:sink", "parquet", false},
		{"committing@final:sink", "parquet", false},
		{"saved@2:sink", "csv", true},
		{"precommitted@3:sink", "jsonl", true},
		{"committing@final:sink", "csv", true},
		{"saved@2:sink", "parquet", true},
		{"committing@final:sink", "parquet", true},
		{"saved@2:sink", "jsonl-by-name", false},
	} {
		name := strings.NewReplacer("@", "-", ":", "-").Replace(tc.fault + "-" + tc.format)
		if tc.single {
			name += "-single"
		}
		t.Run(name, func(t *testing.T) {
			prefix := name + "/"
			dst := fmt.Sprintf("s3://%s/%s%s", bucket, prefix, s3Query(s))
			if tc.single {
				dst = fmt.Sprintf("s3://%s/%sout.%s%s", bucket, prefix, tc.format, s3Query(s))
			}
			format, extra := tc.format, ""
			if f, ok := strings.CutSuffix(format, "-by-name"); ok {
				format, extra = f, `, "partition_by": ["name"]`
			}
			doc := fmt.Sprintf(`{"name": %q, "parallelism": 2, "source": {"type": "file", "config": {"path": %q, "split_size": 262144, "batch_size": 2000}},
"sink": {"type": "file", "config": {"path": %q, "format": %q, "row_group_size": 10000, %s%s}}, "checkpoint": {"every": "20ms"}, "max_restarts": 5}`, name, in, dst, format, s3Keys(s), extra)
			fa := *a
			fa.Env = append(slices.Clone(a.Env), "ADF_FAULT="+tc.fault)
			res := fa.Run(t, "run", "--progress", "none", fa.WriteFlow(t, name, doc))
			if res.Code != 0 {
				t.Fatalf("adf run failed\n%s", res)
			}
			if !strings.Contains(res.Stderr, "fault injection: killing a process") {
				t.Fatalf("fault %s never fired\n%s", tc.fault, res)
			}
			if tc.single {
				testkit.SameRows(t, s3Single(t, a, s, bucket, prefix+"out."+tc.format), want)
				return
			}
			testkit.SameRows(t, s3Rows(t, a, s, bucket, prefix, "."+format), want)
		})
	}
}

// s3Single reads a single output object (CSV, JSON lines or Parquet) in
// canonical rows, through a flow from it to a local JSON-lines file, and
// fails if any other key is beside it.
func s3Single(t *testing.T, a *testkit.ADF, s testkit.S3, bucket, key string) []string {
	t.Helper()
	dir := key[:strings.LastIndexByte(key, '/')+1]
	if keys := s.Keys(t, bucket, dir); !slices.Equal(keys, []string{key}) {
		t.Errorf("keys under %s: %q, want only %s (temporary objects left over?)", dir, keys, key)
	}
	out := filepath.Join(a.Work, "single-"+strings.ReplaceAll(key, "/", "_")+".jsonl")
	name := "readback-" + strings.NewReplacer("/", "-", ".", "-").Replace(key)
	doc := fmt.Sprintf(`{"name": %q, "source": {"type": "file", "config": {"path": %q, %s}},
"sink": {"type": "file", "config": {"path": %q}}}`, name, fmt.Sprintf("s3://%s/%s%s", bucket, key, s3Query(s)), s3Keys(s), out)
	res := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, name, doc))
	if res.Code != 0 {
		t.Fatalf("reading %s back failed\n%s", key, res)
	}
	return testkit.ReadOrdersJSONL(t, out)
}

// TestS3SourceContinuous: a continuous source on an S3 glob picks up an
// object put while the flow runs; a stop (SIGINT) ends the run cleanly
// and the output holds both objects' rows exactly once.
func TestS3SourceContinuous(t *testing.T) {
	s := testkit.MinIO(t)
	bucket := s.NewBucket(t)
	a := fileADF(t)
	put := func(name string, first, n int) []string {
		local := filepath.Join(a.Work, name)
		rows := testkit.Canon(testkit.WriteOrdersCSV(t, local, first, n))
		data, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		putObject(t, s, bucket, "in/"+name, data)
		return rows
	}
	want := put("a.csv", 1, 1000)
	out := filepath.Join(a.Work, "out") + "/"
	src := fmt.Sprintf("s3://%s/in/*.csv%s", bucket, s3Query(s))
	doc := fmt.Sprintf(`{"name": "s3-cont", "parallelism": 2, "source": {"type": "file", "config": {"path": %q, "mode": "continuous", "discover_interval": "200ms", %s}},
"sink": {"type": "file", "config": {"path": %q}}, "checkpoint": {"every": "100ms"}}`, src, s3Keys(s), out)
	p := a.Start(t, "run", "--progress", "none", a.WriteFlow(t, "s3-cont", doc))
	rows := func() []string {
		parts, _ := filepath.Glob(filepath.Join(out, "part-*.jsonl"))
		var all []string
		for _, part := range parts {
			all = append(all, testkit.ReadOrdersJSONL(t, part)...)
		}
		return all
	}
	waitRows := func(n int) {
		t.Helper()
		testkit.WaitFor(t, 60*time.Second, fmt.Sprintf("%d rows published", n), func() bool { return len(rows()) >= n },
			func() string { return fmt.Sprintf("%d rows published\n%s", len(rows()), p.Stderr()) })
	}
	waitRows(1000)
	want = append(want, put("b.csv", 1001, 500)...)
	waitRows(1500)
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	res := p.Wait(t, time.Minute)
	if res.Code != 0 {
		t.Fatalf("adf run failed\n%s", res)
	}
	testkit.SameRows(t, rows(), want)
}

// TestObjectStoreConfig: object-store paths are validated (no
// partition_by there yet; s3:// parameters are known ones), the
// format comes from the key, not the query, and the credentials are
// secrets.
func TestObjectStoreConfig(t *testing.T) {
	tests := []struct {
		kind sdk.Kind
		cfg  string
		want []string
	}{
		{sdk.KindSource, `{"path": "s3://b/in/*.csv?endpoint=http://127.0.0.1:9000&use_path_style=true&region=us-east-1"}`, nil},
		{sdk.KindSource, `{"path": "s3://b/in/data.parquet?endpoint=http://127.0.0.1:9000", "schema": [{"name": "a", "type": "int64"}]}`, []string{"schema: Parquet files carry their own schema; remove schema"}},
		{sdk.KindSource, `{"path": "s3://b/in/*.csv?bogus=1"}`, []string{`path: unknown URL parameter "bogus" of an s3:// path (known: endpoint, region, use_path_style; credentials go in the s3 config keys)`}},
		{sdk.KindSource, `{"path": "s3://b/in/*.csv?use_path_style=maybe"}`, []string{`path: URL parameter use_path_style="maybe" is not true or false`}},
		{sdk.KindSource, `{"path": "s3:///in/*.csv"}`, []string{`path: URL "s3:///in/*.csv" names no bucket (write s3://bucket/prefix/...)`}},
		{sdk.KindSource, `{"path": "s3://b/in/", "s3": {"access_key_id": "AK"}}`, []string{`s3: set both access_key_id and secret_access_key, or neither (for the AWS credential chain)`}},
		{sdk.KindSource, `{"path": "gs://b/in/x.jsonl"}`, nil},
		{sdk.KindSink, `{"path": "s3://b/out/?endpoint=http://127.0.0.1:9000"}`, nil},
		{sdk.KindSink, `{"path": "s3://b/out.csv?endpoint=http://127.0.0.1:9000"}`, nil},
		{sdk.KindSink, `{"path": "azblob://c/out/", "partition_by": ["a"]}`, nil},
		{sdk.KindSink, `{"path": "azblob://c/out.csv", "partition_by": ["a"]}`, []string{`partition_by: needs a directory output: end path in / (got "azblob://c/out.csv")`}},
		{sdk.KindSource, `{"path": "gs://b/in/", "gcs": {"endpoint": "http://127.0.0.1:4443", "anonymous": true}}`, nil},
		{sdk.KindSource, `{"path": "gs://b/in/?anonymous=true", "gcs": {"anonymous": true}}`, []string{`path: a gs:// path with gcs config keys takes no URL parameters (got "anonymous=true"): set them in gcs`}},
		{sdk.KindSource, `{"path": "gs://b/in/", "gcs": {"anonymous": true, "credentials_json": "{}"}}`, []string{`gcs: anonymous and credentials_json exclude each other`}},
		{sdk.KindSink, `{"path": "azblob://c/out/", "azblob": {"key": "k"}}`, []string{`azblob.account: name the storage account (or the endpoint of its blob service)`}},
		{sdk.KindSink, `{"path": "azblob://c/out/", "azblob": {"account": "a", "key": "k", "sas_token": "sv=1"}}`, []string{`azblob: set key or sas_token, not both`}},
		{sdk.KindSink, `{"path": "azblob://c/out/", "azblob": {"endpoint": "http://127.0.0.1:10000/dev", "key": "k"}}`, []string{`azblob.account: a shared key needs the account it belongs to`}},
	}
	for _, tc := range tests {
		if got := configErrors(t, tc.kind, tc.cfg); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s:\n got %q\nwant %q", tc.kind, tc.cfg, got, tc.want)
		}
	}
	for _, kind := range []sdk.Kind{sdk.KindSource, sdk.KindSink} {
		cfg := `{"path": "s3://b/out/", "s3": {"endpoint": "http://127.0.0.1:9000", "access_key_id": "AK", "secret_access_key": "SK"},
"gcs": {"endpoint": "http://127.0.0.1:4443", "credentials_json": "{}"}, "azblob": {"account": "a", "key": "k", "sas_token": "s", "endpoint": "http://127.0.0.1:10000/a"}}`
		secret, connect := map[string]bool{}, map[string]bool{}
		for _, f := range sdk.AnnotatedFields(component(t, kind).ConfigSchema(), []byte(cfg)) {
			if f.Secret {
				secret[f.Field] = true
			}
			if f.Connect {
				connect[f.Field] = true
			}
		}
		wantSecret := map[string]bool{"s3.access_key_id": true, "s3.secret_access_key": true, "gcs.credentials_json": true, "azblob.key": true, "azblob.sas_token": true}
		wantConnect := map[string]bool{"s3.endpoint": true, "gcs.endpoint": true, "azblob.endpoint": true}
		if !maps.Equal(secret, wantSecret) || !maps.Equal(connect, wantConnect) {
			t.Errorf("%s: secret fields %v, connect fields %v; want %v and %v", kind, secret, connect, wantSecret, wantConnect)
		}
	}
}

// TestObjectStoreConformance: the SDK's source and sink conformance suites
// on object-store paths: the source on file:// (fileblob) and on S3, the
// directory sink on S3 (its two-phase scenarios: restores, repeated
// commits, discarded unsaved checkpoints).
func TestObjectStoreConformance(t *testing.T) {
	var csv strings.Builder
	csv.WriteString("id,name,amount\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&csv, "%d,\"n, %d\",%d.5\n", i, i, i)
	}
	t.Run("source-file-url", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "a.csv"), csv.String())
		writeFile(t, filepath.Join(dir, "b.csv"), "id,name,amount\n1,x,2.5\n")
		cfg := fmt.Sprintf(`{"path": %q, "split_size": 50000, "batch_size": 700}`, "file://"+dir+"/")
		sdktest.TestSource(t, component(t, sdk.KindSource), sdktest.SourceOptions{Config: []byte(cfg), Parallelism: 3, ExpectRows: 20001})
	})
	s := testkit.MinIO(t)
	bucket := s.NewBucket(t)
	t.Run("source-s3", func(t *testing.T) {
		putObject(t, s, bucket, "conf-in/a.csv", []byte(csv.String()))
		putObject(t, s, bucket, "conf-in/b.csv", []byte("id,name,amount\n1,x,2.5\n"))
		cfg := fmt.Sprintf(`{"path": %q, "split_size": 50000, "batch_size": 700, %s}`, fmt.Sprintf("s3://%s/conf-in%s", bucket, s3Query(s)), s3Keys(s))
		sdktest.TestSource(t, component(t, sdk.KindSource), sdktest.SourceOptions{Config: []byte(cfg), Parallelism: 3, ExpectRows: 20001})
	})
	t.Run("sink-s3", func(t *testing.T) {
		dl := t.TempDir()
		cfg := fmt.Sprintf(`{"path": %q, %s}`, fmt.Sprintf("s3://%s/conf-out/%s", bucket, s3Query(s)), s3Keys(s))
		sdktest.TestSink(t, component(t, sdk.KindSink), sdktest.SinkOptions{
			Config: []byte(cfg),
			ReadBack: func(t *testing.T) []string {
				var paths []string
				for i, k := range s.Keys(t, bucket, "conf-out/") {
					if !strings.HasPrefix(k, "conf-out/part-") {
						continue
					}
					p := filepath.Join(dl, fmt.Sprintf("%d.jsonl", i))
					writeFile(t, p, string(getObject(t, s, bucket, k)))
					paths = append(paths, p)
				}
				return readJSONL(t, paths...)
			},
		})
		for _, k := range s.Keys(t, bucket, "conf-out/") {
			if !strings.HasPrefix(k, "conf-out/part-") {
				t.Errorf("temporary object %s left after the final commits", k)
			}
		}
	})
	t.Run("sink-s3-single", func(t *testing.T) {
		dl := filepath.Join(t.TempDir(), "out.jsonl")
		cfg := fmt.Sprintf(`{"path": %q, %s}`, fmt.Sprintf("s3://%s/conf-single/out.jsonl%s", bucket, s3Query(s)), s3Keys(s))
		sdktest.TestSink(t, component(t, sdk.KindSink), sdktest.SinkOptions{
			Config: []byte(cfg),
			ReadBack: func(t *testing.T) []string {
				if !slices.Contains(s.Keys(t, bucket, "conf-single/"), "conf-single/out.jsonl") {
					return nil
				}
				writeFile(t, dl, string(getObject(t, s, bucket, "conf-single/out.jsonl")))
				return readJSONL(t, dl)
			},
			Reset: func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if _, err := s.Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("conf-single/out.jsonl")}); err != nil {
					t.Fatal(err)
				}
			},
		})
		if keys := s.Keys(t, bucket, "conf-single/"); len(keys) > 1 {
			t.Errorf("temporary objects left after the final commits: %q", keys)
		}
	})
}

// TestS3Check: adf validate's warnings for an S3 source path: none when an
// object matches, not_found when none does (and, in continuous mode, that
// the run waits).
func TestS3Check(t *testing.T) {
	s := testkit.MinIO(t)
	bucket := s.NewBucket(t)
	putObject(t, s, bucket, "in/a.csv", []byte("a\n1\n"))
	cfg := func(path, extra string) string {
		return fmt.Sprintf(`{"path": %q, %s%s}`, fmt.Sprintf("s3://%s/%s%s", bucket, path, s3Query(s)), s3Keys(s), extra)
	}
	if got := check(t, sdk.KindSource, cfg("in/*.csv", "")); len(got) != 0 {
		t.Errorf("warnings for a matching glob: %q", got)
	}
	if got := check(t, sdk.KindSource, cfg("in/", "")); len(got) != 0 {
		t.Errorf("warnings for a prefix with an object: %q", got)
	}
	want := fmt.Sprintf("not_found path: no input object matches s3://%s/in/*.jsonl (a glob is matched on keys; a key that is no object is a prefix whose objects are taken by extension unless format is set; in continuous mode the run waits for files to appear)", bucket)
	if got := check(t, sdk.KindSource, cfg("in/*.jsonl", `, "mode": "continuous"`)); len(got) != 1 || got[0] != want {
		t.Errorf("warnings for a glob matching nothing:\n got %q\nwant %q", got, want)
	}
}

// pyOrdersS3 reads one Parquet object of order rows from S3 with pyarrow's
// own S3 client (argv: endpoint, region, access key, secret key,
// bucket/key) and prints them like pyOrders: canonical rows, then the
// schema and row group count as a JSON line.
const pyOrdersS3 = `
import json, sys
from urllib.parse import urlparse
import pyarrow.fs as pafs
import pyarrow.parquet as pq
ep = urlparse(sys.argv[1])
fs = pafs.S3FileSystem(access_key=sys.argv[3], secret_key=sys.argv[4], region=sys.argv[2],
                       endpoint_override=ep.netloc, scheme=ep.scheme)
with fs.open_input_file(sys.argv[5]) as fh:
    f = pq.ParquetFile(fh)
    info = {"schema": [[fl.name, str(fl.type)] for fl in f.schema_arrow], "row_groups": f.num_row_groups,
            "codec": f.metadata.row_group(0).column(0).compression}
    t = f.read()
out = sys.stdout
ids, names, amounts, tss = (t.column(c).to_pylist() for c in ("id", "name", "amount", "ts"))
for i in range(t.num_rows):
    out.write("%d|%s|%.2f|%s\n" % (ids[i], names[i], amounts[i], tss[i].strftime("%Y-%m-%dT%H:%M:%SZ")))
print(json.dumps(info))
`

// TestS3MillionCSVToParquet: one million CSV rows in one S3 object, read by
// four readers over byte-range splits (ranged GETs) into one Parquet object
// on S3, which pyarrow reads from S3 itself: every row exactly once, the
// Arrow schema exact, zstd, no temporary object left beside it.
func TestS3MillionCSVToParquet(t *testing.T) {
	s := testkit.MinIO(t)
	bucket := s.NewBucket(t)
	a := fileADF(t)
	local := filepath.Join(a.Work, "orders.csv")
	want := testkit.Canon(testkit.WriteOrdersCSV(t, local, 1, 1000000))
	data, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	putObject(t, s, bucket, "in/orders.csv", data)
	src := fmt.Sprintf("s3://%s/in/orders.csv%s", bucket, s3Query(s))
	dst := fmt.Sprintf("s3://%s/out/orders.parquet%s", bucket, s3Query(s))
	// All defaults but parallelism: the default split size cuts this
	// 40+ MB object into byte ranges, two per reader.
	doc := fmt.Sprintf(`{"name": "s3-million", "parallelism": 4, "source": {"type": "file", "config": {"path": %q, %s}},
"sink": {"type": "file", "config": {"path": %q, %s}}}`, src, s3Keys(s), dst, s3Keys(s))
	res := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, "s3-million", doc))
	if res.Code != 0 {
		t.Fatalf("adf run failed\n%s", res)
	}
	// The plan the enumerator makes for this object: byte ranges, two per
	// reader, every range read with ranged GETs.
	splits := planSplitsFor(t, fmt.Sprintf(`{"path": %q, %s}`, src, s3Keys(s)), 4)
	if len(splits) != 8 {
		t.Errorf("%d splits %q, want 8 byte ranges (two per reader)", len(splits), splits)
	}
	if keys := s.Keys(t, bucket, "out/"); !slices.Equal(keys, []string{"out/orders.parquet"}) {
		t.Errorf("keys under out/: %q, want only out/orders.parquet (temporary objects left over?)", keys)
	}
	py := ensurePyArrow(t)
	cmd := exec.Command(py, "-c", pyOrdersS3, s.Endpoint, s.Region, s.AccessKey, s.SecretKey, bucket+"/out/orders.parquet")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyarrow reading s3://%s/out/orders.parquet: %v\n%s", bucket, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var info pqInfo
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &info); err != nil {
		t.Fatalf("pyarrow info %q: %v", lines[len(lines)-1], err)
	}
	testkit.SameRows(t, lines[:len(lines)-1], want)
	if !slices.Equal(info.Schema, ordersParquetSchema) || info.Codec != "ZSTD" {
		t.Errorf("schema %q codec %s, want %q, ZSTD", info.Schema, info.Codec, ordersParquetSchema)
	}
}
