// Package confine decides what a flow may touch: the local files it names
// must lie under the host's file roots (ADF_FILE_ROOTS), and the network
// destinations it names must be on the host's allow-list (ADF_CONNECT_ALLOW),
// when there is one. The fields checked are those a plugin's config schema
// annotates (sdk.SchemaPath, sdk.SchemaConnect), and the flow's
// dead_letter.path. A refusal is an *sdk.Error with code
// sdk.CodePermissionDenied and the field's path, saying which rule refused
// it.
package confine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// Policy is what flows may touch. The zero value and nil allow everything.
type Policy struct {
	// Roots are the directories (resolved: absolute, without symlinks)
	// under which every local path a flow names must lie; empty: any path.
	Roots []string
	// Allow is the allow-list of network destinations; nil: any.
	Allow *AllowList
	// Resolver resolves host names for Allow (default net.DefaultResolver).
	Resolver *net.Resolver
}

// ResolveTimeout bounds the name resolution of one destination check.
const ResolveTimeout = 2 * time.Second

var (
	defaultMu sync.RWMutex
	defaultP  *Policy
)

// SetDefault sets the process's policy, which Default returns (the adf
// command sets it from its flags before running a command).
func SetDefault(p *Policy) {
	defaultMu.Lock()
	defaultP = p
	defaultMu.Unlock()
}

// Default is the process's policy (nil, allowing everything, until
// SetDefault).
func Default() *Policy {
	defaultMu.RLock()
	defer defaultMu.RUnlock()
	return defaultP
}

// SplitList splits a list of ADF_FILE_ROOTS or ADF_CONNECT_ALLOW entries at
// commas and, for roots, at colons (as PATH is), dropping empty entries.
func SplitList(s string, colons bool) []string {
	var out []string
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || (colons && r == ':') }) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// NewRoots returns the file roots of dirs, each made absolute (relative to
// the working directory) and resolved through its symlinks (see Resolve).
func NewRoots(dirs ...string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, d := range dirs {
		r, err := Resolve(d)
		if err != nil {
			return nil, fmt.Errorf("file root %q: %w", d, err)
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out, nil
}

// Resolve returns the absolute path p names after following symlinks and
// ".." the way the kernel does: the longest prefix of p that exists is
// resolved with filepath.EvalSymlinks, and the rest (which does not exist
// yet, so holds no symlink) is joined to it. A relative p is relative to
// the working directory.
func Resolve(p string) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	if !filepath.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("working directory: %w", err)
		}
		// Not filepath.Join: that would drop "link/.." lexically before
		// the link is followed.
		p = wd + string(filepath.Separator) + p
	}
	parts := strings.Split(p, string(filepath.Separator))
	resolved := string(filepath.Separator)
	for i, part := range parts {
		if part == "" || part == "." {
			continue
		}
		// resolved is a real directory, so joining ".." lexically is what
		// the kernel does too.
		next := filepath.Join(resolved, part)
		r, err := filepath.EvalSymlinks(next)
		if err != nil {
			// next does not exist (or cannot be looked at): nothing below
			// it can be a symlink that exists.
			return filepath.Join(append([]string{resolved}, parts[i:]...)...), nil
		}
		resolved = r
	}
	return filepath.Clean(resolved), nil
}

// within says whether path p (resolved) is root or under it.
func within(p, root string) bool {
	if root == string(filepath.Separator) {
		return true
	}
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator))
}

// globDir is the part of a path before its first element holding a glob
// metacharacter (the directory the glob lists), the path itself without
// one.
func globDir(p string) string {
	if !strings.ContainsAny(p, "*?[") {
		return p
	}
	parts := strings.Split(p, string(filepath.Separator))
	for i, part := range parts {
		if strings.ContainsAny(part, "*?[") {
			dir := strings.Join(parts[:i], string(filepath.Separator))
			if dir == "" {
				if filepath.IsAbs(p) {
					return string(filepath.Separator)
				}
				return "."
			}
			return dir
		}
	}
	return p
}

// localPath returns the local file a path field's value names: the value,
// or the path of a file:// URL; ok is false for other URLs (s3://...),
// which name no local file.
func localPath(v string) (string, bool) {
	i := strings.Index(v, "://")
	if i <= 0 || strings.ContainsAny(v[:i], "/\\") {
		if strings.HasPrefix(strings.ToLower(v), "file:") {
			return v[len("file:"):], true
		}
		return v, true
	}
	scheme := strings.ToLower(v[:i])
	rest := v[i+3:]
	switch scheme {
	case "file":
		if u, err := url.Parse(v); err == nil {
			if u.Host != "" && u.Host != "localhost" {
				return "//" + u.Host + u.Path, true
			}
			return u.Path, true
		}
		return rest, true
	case "sqlite", "sqlite3":
		// sqlite:///abs.db and sqlite:////abs.db are absolute,
		// sqlite://rel.db relative (as the iceberg plugin reads them).
		if strings.HasPrefix(rest, "//") {
			rest = rest[1:]
		}
		if j := strings.IndexByte(rest, '?'); j >= 0 {
			rest = rest[:j]
		}
		return rest, true
	}
	return "", false
}

// CheckPath checks that the local file a path field names lies under a
// root; field is its path in the flow ("source.config.path"). A glob is
// checked by its directory part. Nil when allowed (or p has no roots, or
// value names no local file).
func (p *Policy) CheckPath(field, value string) *sdk.Error {
	if p == nil || len(p.Roots) == 0 || strings.TrimSpace(value) == "" {
		return nil
	}
	lp, ok := localPath(value)
	if !ok || lp == "" {
		return nil
	}
	dir := globDir(lp)
	resolved, err := Resolve(dir)
	if err != nil {
		return &sdk.Error{Code: sdk.CodePermissionDenied, Field: field, Err: err,
			Summary: fmt.Sprintf("cannot check path %q against the file roots: %v", value, err)}
	}
	for _, r := range p.Roots {
		if within(resolved, r) {
			return nil
		}
	}
	what := "path"
	if dir != lp {
		what = "glob directory " + strconv.Quote(dir) + " of path"
	}
	resolvedNote := ""
	if resolved != filepath.Clean(dir) {
		resolvedNote = fmt.Sprintf(" (it resolves to %s)", resolved)
	}
	return &sdk.Error{Code: sdk.CodePermissionDenied, Field: field, Err: fs.ErrPermission,
		Summary: fmt.Sprintf("%s %q is outside the file roots%s: flows may only use files under %s (ADF_FILE_ROOTS)",
			what, value, resolvedNote, strings.Join(p.Roots, ", ")),
		Detail: "use a file under one of the roots, or add its directory to ADF_FILE_ROOTS (--file-roots) where the host runs"}
}

// CheckConnect checks that every host a connect field names is allowed;
// a URL naming a local file (file://, sqlite://) is checked as a path
// instead. Nil when allowed, or when p has no allow-list (and, for files,
// no roots).
func (p *Policy) CheckConnect(ctx context.Context, field, value string) *sdk.Error {
	if p == nil || strings.TrimSpace(value) == "" {
		return nil
	}
	if i := strings.Index(value, "://"); i > 0 {
		switch strings.ToLower(value[:i]) {
		case "file", "sqlite", "sqlite3":
			return p.CheckPath(field, value)
		}
	}
	if p.Allow == nil {
		return nil
	}
	dests, err := Destinations(value)
	if err != nil {
		return &sdk.Error{Code: sdk.CodePermissionDenied, Field: field, Err: err,
			Summary: fmt.Sprintf("cannot tell where it connects to, to check it against the allowed destinations (ADF_CONNECT_ALLOW): %v", err),
			Detail:  "write it as a URL such as postgres://user@host:5432/db"}
	}
	for _, d := range dests {
		if e := p.checkDest(ctx, field, d); e != nil {
			return e
		}
	}
	return nil
}

func (p *Policy) checkDest(ctx context.Context, field string, d Destination) *sdk.Error {
	a := p.Allow
	refused := func(why string) *sdk.Error {
		return &sdk.Error{Code: sdk.CodePermissionDenied, Field: field, Err: fs.ErrPermission,
			Summary: fmt.Sprintf("destination %s is not allowed%s: flows may only connect to %s (ADF_CONNECT_ALLOW)", d, why, a),
			Detail:  "connect to an allowed destination, or add this one to ADF_CONNECT_ALLOW (--connect-allow) where the host runs"}
	}
	if d.Socket != "" {
		if a.allowsSocket(d.Socket) {
			return nil
		}
		return refused("")
	}
	if ip := net.ParseIP(d.Host); ip != nil {
		if a.allowsIP(ip, d.Port) {
			return nil
		}
		return refused("")
	}
	if a.allowsName(d.Host, d.Port) {
		return nil
	}
	if !a.hasCIDRs() {
		return refused("")
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, ResolveTimeout)
	defer cancel()
	addrs, err := r.LookupIPAddr(ctx, d.Host)
	if err != nil {
		return &sdk.Error{Code: sdk.CodePermissionDenied, Field: field, Err: err,
			Summary: fmt.Sprintf("destination %s: cannot resolve %q to check its addresses against the allowed destinations %s (ADF_CONNECT_ALLOW): %v", d, d.Host, a, err),
			Detail:  "check the host name, or allow it by name in ADF_CONNECT_ALLOW"}
	}
	for _, ad := range addrs {
		if !a.allowsIP(ad.IP, d.Port) {
			return refused(fmt.Sprintf(" (%s resolves to %s)", d.Host, ad.IP))
		}
	}
	return nil
}

// CheckFlow checks everything f names: the fields of its components'
// configs that their schemas (schema returns a component type's config
// schema, nil when unknown) annotate as paths or destinations, and its
// dead_letter.path. Every refusal comes back, with its full field path
// ("source.config.path"); nil when all is allowed.
func (p *Policy) CheckFlow(ctx context.Context, f *flow.Flow, schema func(kind sdk.Kind, typ string) []byte) sdk.ConfigErrors {
	if p == nil || f == nil || (len(p.Roots) == 0 && p.Allow == nil) {
		return nil
	}
	var errs sdk.ConfigErrors
	check := func(prefix string, kind sdk.Kind, c flow.Component) {
		if c.Type == "" || schema == nil {
			return
		}
		for _, af := range sdk.AnnotatedFields(schema(kind, c.Type), c.Config) {
			field := prefix + ".config"
			if af.Field != "" {
				field += "." + af.Field
			}
			var e *sdk.Error
			switch {
			case af.Connect:
				e = p.CheckConnect(ctx, field, af.Value)
			case af.Path:
				e = p.CheckPath(field, af.Value)
			}
			if e != nil {
				errs = append(errs, e)
			}
		}
	}
	check("source", sdk.KindSource, f.Source)
	for i, t := range f.Transforms {
		check(fmt.Sprintf("transforms[%d]", i), sdk.KindTransform, t)
	}
	check("sink", sdk.KindSink, f.Sink)
	if f.Runtime != nil {
		check("runtime", sdk.KindRuntime, *f.Runtime)
	}
	if f.DeadLetter != nil {
		if e := p.CheckPath("dead_letter.path", f.DeadLetter.Path); e != nil {
			errs = append(errs, e)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}
