package confine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/activedataflow/adf/sdk"
)

func TestCheckPath(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	outside, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "in", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A symlink inside the root that points out of it, and one that stays.
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "in"), filepath.Join(root, "alias")); err != nil {
		t.Fatal(err)
	}
	// in/sub/up is a link to the root's parent's other directory: link/..
	// is where the link points, then up.
	if err := os.Symlink(filepath.Join(outside), filepath.Join(root, "in", "sub", "up")); err != nil {
		t.Fatal(err)
	}
	p := &Policy{Roots: []string{root}}
	for _, c := range []struct {
		path string
		ok   bool
	}{
		{filepath.Join(root, "in", "a.csv"), true},
		{filepath.Join(root, "in", "new", "dir", "a.csv"), true}, // nearest existing ancestor
		{filepath.Join(root, "in", "*.csv"), true},
		{filepath.Join(root, "alias", "a.csv"), true},
		{"file://" + filepath.Join(root, "warehouse"), true},
		{"s3://bucket/warehouse", true}, // not a local file
		{"/etc/shadow", false},
		{"/etc/passwd", false},
		{"file:///etc/passwd", false},
		{filepath.Join(root, "..", filepath.Base(outside), "x.csv"), false},
		{root + "/in/../../" + filepath.Base(outside) + "/x", false},
		{filepath.Join(root, "escape", "x.csv"), false},
		{filepath.Join(root, "escape", "new", "x.csv"), false},
		{filepath.Join(root, "escape") + "/*.csv", false},
		{filepath.Join(root, "in", "sub", "up", "x.csv"), false},
		// link/.. is the link target's parent, not in/sub.
		{root + "/in/sub/up/../" + filepath.Base(root) + "/in/x.csv", true},
		{root + "/in/sub/up/../x.csv", false},
		{filepath.Join(root+"-sibling", "x.csv"), false},
		{"/*/shadow", false},
	} {
		e := p.CheckPath("source.config.path", c.path)
		if (e == nil) != c.ok {
			t.Errorf("CheckPath(%q): %v, want allowed=%v", c.path, e, c.ok)
			continue
		}
		if e != nil && (e.Code != sdk.CodePermissionDenied || e.Field != "source.config.path" || !strings.Contains(e.Summary, "outside the file roots")) {
			t.Errorf("CheckPath(%q): %#v, want permission_denied on source.config.path", c.path, e)
		}
	}
	e := p.CheckPath("sink.config.path", filepath.Join(root, "escape", "out.jsonl"))
	want := `path "` + filepath.Join(root, "escape", "out.jsonl") + `" is outside the file roots (it resolves to ` + filepath.Join(outside, "out.jsonl") +
		`): flows may only use files under ` + root + ` (ADF_FILE_ROOTS)`
	if e == nil || e.Summary != want || !errors.Is(e, os.ErrPermission) {
		t.Errorf("refusal: %v\nwant summary %s", e, want)
	}
	if e := (*Policy)(nil).CheckPath("path", "/etc/shadow"); e != nil {
		t.Errorf("a nil policy refused: %v", e)
	}
}

func TestRelativePath(t *testing.T) {
	wd, _ := os.Getwd()
	roots, err := NewRoots(".")
	if err != nil {
		t.Fatal(err)
	}
	p := &Policy{Roots: roots}
	if e := p.CheckPath("path", "testdata-does-not-exist/x.csv"); e != nil {
		t.Errorf("a relative path under the working directory %s: %v", wd, e)
	}
	if e := p.CheckPath("path", "../../../../../../../../etc/passwd"); e == nil {
		t.Error("../ out of the working directory was allowed")
	}
}

func TestSplitList(t *testing.T) {
	if got, want := SplitList("/a:/b, /c,,", true), []string{"/a", "/b", "/c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("roots %q, want %q", got, want)
	}
}

func TestAllowList(t *testing.T) {
	a, err := ParseAllowList("10.0.0.0/8, 127.0.0.1:5432, *.internal, db.example.com:6379, [::1]:6379, /var/run/postgresql")
	if err != nil {
		t.Fatal(err)
	}
	p := &Policy{Allow: a}
	ctx := context.Background()
	for _, c := range []struct {
		v  string
		ok bool
	}{
		{"postgres://u:pw@10.1.2.3/db", true},
		{"postgres://u:pw@127.0.0.1:5432/db", true},
		{"postgres://u:pw@127.0.0.1/db", true}, // default port 5432
		{"postgres://u:pw@127.0.0.1:5433/db", false},
		{"redis://:pw@cache.internal:6379/0", true},
		{"redis://:pw@internal:6379/0", false},
		{"redis://db.example.com/0", true},
		{"redis://db.example.com:6380/0", false},
		{"redis://[::1]:6379/0", true},
		{"postgres://u@10.0.0.1:5432,192.168.1.1:5432/db", false},
		{"postgres:///db?host=/var/run/postgresql", true},
		{"postgres:///db?host=/tmp", false},
		{"host=10.9.9.9 port=5432 user=u password='a b' dbname=d", true},
		{"host=192.168.0.1 user=u", false},
		{"http://169.254.169.254/latest/meta-data", false},
		{"sqlite:///tmp/catalog.db", true}, // a file: no roots
	} {
		e := p.CheckConnect(ctx, "source.config.url", c.v)
		if (e == nil) != c.ok {
			t.Errorf("CheckConnect(%q): %v, want allowed=%v", c.v, e, c.ok)
		}
		if e != nil && (e.Code != sdk.CodePermissionDenied || !strings.Contains(e.Summary, "ADF_CONNECT_ALLOW")) {
			t.Errorf("CheckConnect(%q): %#v", c.v, e)
		}
	}
	e := p.CheckConnect(ctx, "sink.config.url", "postgres://u:pw@127.0.0.1:5433/db")
	want := "destination 127.0.0.1:5433 is not allowed: flows may only connect to 10.0.0.0/8, 127.0.0.1:5432, *.internal, db.example.com:6379, [::1]:6379, /var/run/postgresql (ADF_CONNECT_ALLOW)"
	if e == nil || e.Summary != want {
		t.Errorf("refusal %v\nwant %s", e, want)
	}
	// localhost resolves; its addresses must be in a CIDR.
	local, _ := ParseAllowList("127.0.0.0/8,::1")
	if e := (&Policy{Allow: local}).CheckConnect(ctx, "url", "redis://localhost:6379"); e != nil {
		t.Errorf("localhost with 127.0.0.0/8 allowed: %v", e)
	}
	if _, err := ParseAllowList("10.0.0.0/33, db:port"); err == nil || !strings.Contains(err.Error(), `"10.0.0.0/33"`) || !strings.Contains(err.Error(), `"db:port"`) {
		t.Errorf("bad entries: %v", err)
	}
	if a, _ := ParseAllowList(" "); a != nil {
		t.Errorf("an empty allow-list is %v, want nil (any)", a)
	}
}
