package testkit

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3 is the S3-compatible server of the tests (MinIO on loopback, see
// scripts/minio.sh) and how to reach it.
type S3 struct {
	Endpoint, AccessKey, SecretKey, Region string
}

var s3Env map[string]string

// MinIO returns the test MinIO server: the one scripts/test.sh started
// (ADF_TEST_S3_* in the environment), else one started now with
// scripts/minio.sh (building it on first use), once per test process.
func MinIO(t testing.TB) S3 {
	t.Helper()
	get := func(k string) string { return os.Getenv(k) }
	if os.Getenv("ADF_TEST_S3_ENDPOINT") == "" {
		mu.Lock()
		if s3Env == nil {
			s3Env = exports(script(t, "minio.sh", "start"))
		}
		env := s3Env
		mu.Unlock()
		get = func(k string) string { return env[k] }
	}
	s := S3{Endpoint: get("ADF_TEST_S3_ENDPOINT"), AccessKey: get("ADF_TEST_S3_ACCESS_KEY"),
		SecretKey: get("ADF_TEST_S3_SECRET_KEY"), Region: get("ADF_TEST_S3_REGION")}
	if s.Endpoint == "" || s.AccessKey == "" || s.SecretKey == "" {
		t.Fatal("scripts/minio.sh start did not print ADF_TEST_S3_ENDPOINT, ADF_TEST_S3_ACCESS_KEY and ADF_TEST_S3_SECRET_KEY")
	}
	if s.Region == "" {
		s.Region = "us-east-1"
	}
	return s
}

// Client is an S3 client of the server (path-style addressing).
func (s S3) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       s.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
		UsePathStyle: true,
	})
}

// NewBucket creates a bucket of its own for the test, emptied and removed
// when the test ends.
func (s S3) NewBucket(t testing.TB) string {
	t.Helper()
	name := strings.ToLower(fmt.Sprintf("adf-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := s.Client()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s on %s: %v", name, s.Endpoint, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, k := range s.Keys(t, name, "") {
			_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: aws.String(k)})
		}
		_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
	})
	return name
}

// Keys lists the keys under prefix in bucket.
func (s S3) Keys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list s3://%s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}
