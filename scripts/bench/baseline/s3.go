package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Client is a client of the S3 server named by ADF_TEST_S3_ENDPOINT,
// ADF_TEST_S3_REGION, ADF_TEST_S3_ACCESS_KEY and ADF_TEST_S3_SECRET_KEY
// (what scripts/minio.sh env prints), path-style.
func s3Client() (*s3.Client, error) {
	ep := os.Getenv("ADF_TEST_S3_ENDPOINT")
	if ep == "" {
		return nil, errors.New("ADF_TEST_S3_ENDPOINT is not set: eval \"$(scripts/minio.sh start)\" first")
	}
	region := os.Getenv("ADF_TEST_S3_REGION")
	if region == "" {
		region = "us-east-1"
	}
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(ep),
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(os.Getenv("ADF_TEST_S3_ACCESS_KEY"), os.Getenv("ADF_TEST_S3_SECRET_KEY"), ""),
		UsePathStyle: true,
	}), nil
}

// s3Put creates the bucket and uploads a file to it: s3-put BUCKET KEY FILE.
func s3Put(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: s3-put BUCKET KEY FILE")
	}
	c, err := s3Client()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(args[0])}); err != nil {
		return fmt.Errorf("create bucket %s: %w", args[0], err)
	}
	f, err := os.Open(args[2])
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(args[0]), Key: aws.String(args[1]), Body: f}); err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", args[0], args[1], err)
	}
	return nil
}

// s3Get reads an object the way `mc cp` does, one GET streamed to its
// destination (here nowhere), or in -n concurrent ranged GETs of equal
// parts, and prints the bytes read: s3-get [-n N] BUCKET KEY.
func s3Get(args []string) error {
	fs := flag.NewFlagSet("s3-get", flag.ContinueOnError)
	n := fs.Int("n", 1, "concurrent ranged GETs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 || *n < 1 {
		return errors.New("usage: s3-get [-n N] BUCKET KEY")
	}
	bucket, key := fs.Arg(0), fs.Arg(1)
	c, err := s3Client()
	if err != nil {
		return err
	}
	ctx := context.Background()
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("head s3://%s/%s: %w", bucket, key, err)
	}
	size := aws.ToInt64(head.ContentLength)
	part := (size + int64(*n) - 1) / int64(*n)
	var wg sync.WaitGroup
	got := make([]int64, *n)
	errs := make([]error, *n)
	for i := range *n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
			if *n > 1 {
				from, to := int64(i)*part, min(int64(i+1)*part, size)-1
				in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", from, to))
			}
			out, err := c.GetObject(ctx, in)
			if err != nil {
				errs[i] = fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
				return
			}
			defer out.Body.Close()
			got[i], errs[i] = io.CopyBuffer(io.Discard, out.Body, make([]byte, 1<<20))
		}()
	}
	wg.Wait()
	var total int64
	for i := range got {
		if errs[i] != nil {
			return errs[i]
		}
		total += got[i]
	}
	fmt.Println(total)
	return nil
}

// s3Remove deletes every object of the bucket and the bucket: s3-rm BUCKET.
func s3Remove(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: s3-rm BUCKET")
	}
	c, err := s3Client()
	if err != nil {
		return err
	}
	ctx := context.Background()
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(args[0])})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list s3://%s: %w", args[0], err)
		}
		for _, o := range page.Contents {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(args[0]), Key: o.Key}); err != nil {
				return fmt.Errorf("delete s3://%s/%s: %w", args[0], aws.ToString(o.Key), err)
			}
		}
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(args[0])}); err != nil {
		return fmt.Errorf("delete bucket %s: %w", args[0], err)
	}
	return nil
}
