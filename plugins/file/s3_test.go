package file_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/activedataflow/adf/internal/testkit"
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
