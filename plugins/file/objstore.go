package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob://
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // gs://
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"

	"github.com/activedataflow/adf/sdk"
)

// S3Config holds the S3 options of an s3:// path. Each may also be given
// as a query parameter of the URL (?endpoint=...&region=...&use_path_style=true);
// a key set here wins over the URL's parameter. Without access keys the
// standard AWS credential chain applies (environment, shared files, IMDS).
type S3Config struct {
	Endpoint        string `json:"endpoint,omitempty" jsonschema:"description=S3 endpoint URL (an S3-compatible server such as MinIO); default: AWS" adf:"connect"`
	Region          string `json:"region,omitempty" jsonschema:"description=AWS region (default: from the AWS configuration\\, else us-east-1)"`
	UsePathStyle    *bool  `json:"use_path_style,omitempty" jsonschema:"description=path-style addressing (endpoint/bucket/key)\\, as most S3-compatible servers need"`
	AccessKeyID     string `json:"access_key_id,omitempty" jsonschema:"description=access key id; default: the AWS credential chain" adf:"secret"`
	SecretAccessKey string `json:"secret_access_key,omitempty" jsonschema:"description=secret access key; default: the AWS credential chain" adf:"secret"`
	SessionToken    string `json:"session_token,omitempty" jsonschema:"description=session token of temporary credentials" adf:"secret"`
}

// objSchemes are the URL schemes of object stores.
var objSchemes = []string{"s3", "gs", "azblob", "file"}

// isURL tells an object-store URL (s3://, gs://, azblob://, file://) from a
// local path.
func isURL(p string) bool {
	scheme, _, ok := strings.Cut(p, "://")
	if !ok {
		return false
	}
	for _, s := range objSchemes {
		if scheme == s {
			return true
		}
	}
	return false
}

// objURL is a parsed object-store path: scheme://bucket/key?query.
type objURL struct {
	Scheme, Bucket, Key string
	Query               url.Values
}

// parseObjURL splits an object-store URL. In a URL, ? starts the query:
// write a glob's ? as %3F. For file:// the "bucket" is the file system's
// root and the key the absolute path without its leading /.
func parseObjURL(raw string) (*objURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, sdk.ConfigError("path", "bad URL %q: %v", stripQuery(raw), err)
	}
	o := &objURL{Scheme: u.Scheme, Bucket: u.Host, Key: strings.TrimPrefix(u.Path, "/"), Query: u.Query()}
	if u.Scheme == "file" {
		if u.Host != "" && u.Host != "localhost" {
			return nil, sdk.ConfigError("path", "file:// URL %q names host %q; write file:///absolute/path", stripQuery(raw), u.Host)
		}
		o.Bucket = ""
	} else if o.Bucket == "" {
		return nil, sdk.ConfigError("path", "URL %q names no bucket (write %s://bucket/prefix/...)", stripQuery(raw), u.Scheme)
	}
	return o, nil
}

// stripQuery drops a URL's query (which may hold an endpoint or other
// options) for messages and split names; a local path is returned as it is.
func stripQuery(p string) string {
	if !isURL(p) {
		return p
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// keyPath is what formats and globs look at: the key of a URL (its path,
// decoded, without query), else the local path.
func keyPath(p string) string {
	if !isURL(p) {
		return p
	}
	o, err := parseObjURL(p)
	if err != nil {
		return stripQuery(p)
	}
	return o.Key
}

// objectName is the URL of one object, without query: what splits and
// messages name.
func (o *objURL) objectName(key string) string {
	if o.Scheme == "file" {
		return "file:///" + key
	}
	return o.Scheme + "://" + o.Bucket + "/" + key
}

// openBucket opens the bucket of an object-store URL.
func openBucket(ctx context.Context, o *objURL, st objStores) (*blob.Bucket, error) {
	switch {
	case o.Scheme == "file":
		return fileblob.OpenBucket("/", &fileblob.Options{NoTempDir: true})
	case o.Scheme == "s3":
		return openS3(ctx, o, st.S3)
	case o.Scheme == "gs" && st.GCS != nil:
		return openGCS(ctx, o, st.GCS)
	case o.Scheme == "azblob" && st.Azblob != nil:
		return openAzblob(ctx, o, st.Azblob)
	}
	u := url.URL{Scheme: o.Scheme, Host: o.Bucket, RawQuery: o.Query.Encode()}
	b, err := blob.OpenBucket(ctx, u.String())
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "path", Summary: fmt.Sprintf("open bucket %s://%s: %v", o.Scheme, o.Bucket, err), Err: err}
	}
	return b, nil
}

// openS3 builds the S3 client from the config keys, the URL's parameters
// and the AWS defaults.
func openS3(ctx context.Context, o *objURL, c *S3Config) (*blob.Bucket, error) {
	cfg, err := s3Options(o, c)
	if err != nil {
		return nil, err
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" || cfg.SecretAccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "s3", Summary: fmt.Sprintf("load the AWS configuration: %v", err), Err: err}
	}
	if ac.Region == "" {
		ac.Region = "us-east-1"
	}
	client := s3.NewFromConfig(ac, func(so *s3.Options) {
		if cfg.Endpoint != "" {
			so.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if cfg.UsePathStyle != nil {
			so.UsePathStyle = *cfg.UsePathStyle
		}
	})
	b, err := s3blob.OpenBucket(ctx, client, o.Bucket, nil)
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "path", Summary: fmt.Sprintf("open bucket s3://%s: %v", o.Bucket, err), Err: err}
	}
	return b, nil
}

// objError is an sdk.Error for a failed object-store call.
func objError(err error, format string, args ...any) *sdk.Error {
	code := sdk.CodeIO
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		code = sdk.CodeNotFound
	case gcerrors.PermissionDenied:
		code = sdk.CodePermissionDenied
	}
	msg := fmt.Sprintf(format, args...)
	return &sdk.Error{Code: code, Summary: fmt.Sprintf("%s: %v", msg, err), Err: fmt.Errorf("%s: %w", msg, err)}
}

// globPrefix is the literal part of a key pattern before its first glob
// metacharacter: what is listed (never the whole bucket unless the pattern
// starts with one).
func globPrefix(pattern string) string {
	if i := strings.IndexAny(pattern, "*?[\\"); i >= 0 {
		return pattern[:i]
	}
	return pattern
}

// hiddenKey: a key with a segment (after rel's start) starting with a dot.
func hiddenKey(rel string) bool {
	for _, seg := range strings.Split(rel, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

// objFile is a listed object.
type objFile struct {
	Name string // its URL without query
	Key  string
	Size int64
}

// listObjects expands an object-store path as listFiles does a local one:
// a glob matched on keys (listing the prefix before its first
// metacharacter), a key naming one object, or a prefix (a "directory":
// every object under key/, hidden ones skipped, taken by extension unless
// format is set). limit > 0 stops after that many.
func listObjects(ctx context.Context, b *blob.Bucket, o *objURL, formatSet bool, limit int) ([]objFile, error) {
	var out []objFile
	list := func(prefix string, keep func(key string) bool) error {
		it := b.List(&blob.ListOptions{Prefix: prefix})
		for {
			obj, err := it.Next(ctx)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return objError(err, "list %s", o.objectName(prefix))
			}
			if obj.IsDir || !keep(obj.Key) {
				continue
			}
			out = append(out, objFile{Name: o.objectName(obj.Key), Key: obj.Key, Size: obj.Size})
			if limit > 0 && len(out) >= limit {
				return nil
			}
		}
	}
	if hasGlob(o.Key) {
		if _, err := path.Match(o.Key, ""); err != nil {
			return nil, sdk.ConfigError("path", "bad glob %q: %v", o.Key, err)
		}
		err := list(globPrefix(o.Key), func(key string) bool {
			ok, _ := path.Match(o.Key, key)
			return ok
		})
		if err != nil {
			return nil, err
		}
	} else {
		if o.Key != "" && !strings.HasSuffix(o.Key, "/") {
			attrs, err := b.Attributes(ctx, o.Key)
			if err == nil {
				return []objFile{{Name: o.objectName(o.Key), Key: o.Key, Size: attrs.Size}}, nil
			}
			if gcerrors.Code(err) != gcerrors.NotFound {
				return nil, objError(err, "look up %s", o.objectName(o.Key))
			}
		}
		dir := o.Key
		if dir != "" && !strings.HasSuffix(dir, "/") {
			dir += "/"
		}
		err := list(dir, func(key string) bool {
			return !hiddenKey(strings.TrimPrefix(key, dir)) && (formatSet || formatOf(key) != "")
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// objectKey is the key of an object named by objectName.
// The key is taken as it is, not URL-decoded: keys may hold %, ? or #.
func objectKey(name string) (string, error) {
	if rest, ok := strings.CutPrefix(name, "file:///"); ok {
		return rest, nil
	}
	_, rest, ok := strings.Cut(name, "://")
	if ok {
		if _, key, ok := strings.Cut(rest, "/"); ok {
			return key, nil
		}
	}
	return "", fmt.Errorf("bad object name %q", name)
}

// rangeReaderAt is an io.ReaderAt (and io.ReadSeeker, for Parquet) over an
// object, reading it with ranged GETs of at least blockSize bytes through
// one buffer: sequential small reads cost one request per block, and the
// whole object is never in memory.
type rangeReaderAt struct {
	ctx    context.Context
	b      *blob.Bucket
	key    string
	size   int64
	mu     sync.Mutex
	buf    []byte
	bufOff int64
	pos    int64
	gets   int // ranged GETs so far
}

// objBlockSize is the size of each ranged GET of a rangeReaderAt.
const objBlockSize = 4 << 20

func newRangeReaderAt(ctx context.Context, b *blob.Bucket, key string, size int64) *rangeReaderAt {
	return &rangeReaderAt{ctx: ctx, b: b, key: key, size: size}
}

// ReadAt implements io.ReaderAt.
func (r *rangeReaderAt) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= r.size {
			return n, io.EOF
		}
		if at >= r.bufOff && at < r.bufOff+int64(len(r.buf)) {
			n += copy(p[n:], r.buf[at-r.bufOff:])
			continue
		}
		want := len(p) - n
		if want >= objBlockSize {
			// A large read (a Parquet column chunk) goes straight into p.
			m, err := r.get(p[n:], at)
			n += m
			if err != nil {
				return n, err
			}
			continue
		}
		if cap(r.buf) < objBlockSize {
			r.buf = make([]byte, objBlockSize)
		}
		m, err := r.get(r.buf[:objBlockSize], at)
		r.buf, r.bufOff = r.buf[:m], at
		if err != nil && m == 0 {
			return n, err
		}
	}
	return n, nil
}

// get reads len(p) bytes at off (fewer at the object's end) with one
// ranged GET.
func (r *rangeReaderAt) get(p []byte, off int64) (int, error) {
	length := min(int64(len(p)), r.size-off)
	r.gets++
	rr, err := r.b.NewRangeReader(r.ctx, r.key, off, length, nil)
	if err != nil {
		return 0, err
	}
	defer rr.Close()
	m, err := io.ReadFull(rr, p[:length])
	if err == io.ErrUnexpectedEOF {
		err = fmt.Errorf("object %s: ranged read at %d got %d of %d bytes (was it replaced?)", r.key, off, m, length)
	}
	return m, err
}

// Read implements io.Reader.
func (r *rangeReaderAt) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.pos)
	r.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Seek implements io.Seeker.
func (r *rangeReaderAt) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.size
	}
	if offset < 0 {
		return 0, errors.New("seek before the start")
	}
	r.pos = offset
	return offset, nil
}

// s3Options merges the s3 config keys with the URL's query parameters (a
// key set in the config wins); an unknown parameter is a config error.
func s3Options(o *objURL, c *S3Config) (S3Config, error) {
	var cfg S3Config
	if c != nil {
		cfg = *c
	}
	for k, v := range o.Query {
		val := v[len(v)-1]
		switch k {
		case "endpoint":
			if cfg.Endpoint == "" {
				cfg.Endpoint = val
			}
		case "region":
			if cfg.Region == "" {
				cfg.Region = val
			}
		case "use_path_style":
			if cfg.UsePathStyle == nil {
				b, err := strconv.ParseBool(val)
				if err != nil {
					return cfg, sdk.ConfigError("path", "URL parameter use_path_style=%q is not true or false", val)
				}
				cfg.UsePathStyle = &b
			}
		default:
			return cfg, sdk.ConfigError("path", "unknown URL parameter %q of an s3:// path (known: endpoint, region, use_path_style; credentials go in the s3 config keys)", k)
		}
	}
	return cfg, nil
}

// checkObjURL validates an object-store path, its query parameters and
// the options of its store.
func checkObjURL(p string, st objStores) *sdk.Error {
	if c := st.S3; c != nil && (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return sdk.ConfigError("s3", "set both access_key_id and secret_access_key, or neither (for the AWS credential chain)")
	}
	o, err := parseObjURL(p)
	if err == nil && o.Scheme == "s3" {
		_, err = s3Options(o, st.S3)
	}
	if err == nil {
		if e := checkStores(o, st); e != nil {
			return e
		}
	}
	if err != nil {
		var e *sdk.Error
		if errors.As(err, &e) {
			return e
		}
		return sdk.ConfigError("path", "%v", err)
	}
	return nil
}
