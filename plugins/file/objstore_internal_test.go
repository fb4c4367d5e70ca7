package file

import (
	"bytes"
	"context"
	"io"
	"math/rand"
	"testing"

	"gocloud.dev/blob/fileblob"
)

// TestRangeReaderAt: sequential small reads of an object cost one ranged
// GET per 4 MiB block, a large read goes straight into the caller's buffer,
// the buffer never grows beyond one block, and the bytes are the object's.
func TestRangeReaderAt(t *testing.T) {
	b, err := fileblob.OpenBucket(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	data := make([]byte, 10<<20+123)
	rand.New(rand.NewSource(1)).Read(data)
	if err := b.WriteAll(ctx, "big.bin", data, nil); err != nil {
		t.Fatal(err)
	}
	r := newRangeReaderAt(ctx, b, "big.bin", int64(len(data)))
	var got []byte
	p := make([]byte, 64<<10)
	for off := int64(0); ; {
		n, err := r.ReadAt(p, off)
		got = append(got, p[:n]...)
		off += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatal("sequential reads differ from the object")
	}
	if r.gets != 3 || cap(r.buf) > objBlockSize {
		t.Errorf("%d GETs with a buffer of %d bytes, want 3 of at most %d", r.gets, cap(r.buf), objBlockSize)
	}
	big := make([]byte, 5<<20)
	if n, err := r.ReadAt(big, 1000); err != nil || n != len(big) || !bytes.Equal(big, data[1000:1000+len(big)]) {
		t.Fatalf("large read: %d bytes, %v", n, err)
	}
	if r.gets != 4 || cap(r.buf) > objBlockSize {
		t.Errorf("a large read: %d GETs, buffer %d bytes; want one more GET, straight into the caller's buffer", r.gets, cap(r.buf))
	}
	// io.ReadSeeker, as Parquet uses it.
	if pos, err := r.Seek(-10, io.SeekEnd); err != nil || pos != int64(len(data))-10 {
		t.Fatalf("seek: %d, %v", pos, err)
	}
	tail, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(tail, data[len(data)-10:]) {
		t.Fatalf("tail: %q, %v", tail, err)
	}
}

// TestListObjectsPrefix: a glob lists only the keys under its literal
// prefix and matches whole keys (* stops at /); a prefix takes its
// non-hidden objects of known extensions, recursively.
func TestListObjectsPrefix(t *testing.T) {
	for pattern, want := range map[string]string{
		"logs/2026-*.csv":   "logs/2026-",
		"logs/*/a.csv":      "logs/",
		"*.csv":             "",
		"in/a[0-9].csv":     "in/a",
		"in/plain/file.csv": "in/plain/file.csv",
	} {
		if got := globPrefix(pattern); got != want {
			t.Errorf("globPrefix(%q) = %q, want %q", pattern, got, want)
		}
	}
	dir := t.TempDir()
	b, err := fileblob.OpenBucket(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	for _, k := range []string{"in/a.csv", "in/b.csv", "in/sub/c.csv", "in/.hidden.csv", "in/.tmp/d.csv", "in/x.txt", "inx/e.csv"} {
		if err := b.WriteAll(ctx, k, []byte("a\n1\n"), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		key  string
		want []string
	}{
		// As filepath.Glob locally, a glob matches hidden names too.
		{"in/*.csv", []string{"in/.hidden.csv", "in/a.csv", "in/b.csv"}},
		{"in/[ab].csv", []string{"in/a.csv", "in/b.csv"}},
		{"in/*/*.csv", []string{"in/.tmp/d.csv", "in/sub/c.csv"}},
		{"in", []string{"in/a.csv", "in/b.csv", "in/sub/c.csv"}},
		{"in/", []string{"in/a.csv", "in/b.csv", "in/sub/c.csv"}},
		{"in/b.csv", []string{"in/b.csv"}},
	} {
		objs, err := listObjects(ctx, b, &objURL{Scheme: "file", Key: tc.key}, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range objs {
			got = append(got, o.Key)
		}
		if !equalStrings(got, tc.want) {
			t.Errorf("list %q = %q, want %q", tc.key, got, tc.want)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestObjectKey: split names give back their keys as they are (a
// partition's %XX, ? and # are part of the key, not URL syntax).
func TestObjectKey(t *testing.T) {
	for name, want := range map[string]string{
		"s3://b/out/name=say%20%22hi%22/part-1.parquet": "out/name=say%20%22hi%22/part-1.parquet",
		"gs://b/a?b#c.csv":    "a?b#c.csv",
		"file:///tmp/x/a.csv": "tmp/x/a.csv",
	} {
		if got, err := objectKey(name); err != nil || got != want {
			t.Errorf("objectKey(%q) = %q, %v; want %q", name, got, err, want)
		}
		o, _ := parseObjURL(name)
		if o.Scheme != "file" {
			if got := o.objectName(want); got != name {
				t.Errorf("objectName(%q) = %q, want %q", want, got, name)
			}
		}
	}
}
