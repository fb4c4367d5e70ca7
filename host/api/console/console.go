// Package console serves the operator's web console of `adf serve`: one
// page at /console/ with its scripts and styles, embedded in the binary.
//
// The console is plain JavaScript modules and CSS, no build step. It reads
// the JSON API (/v1/...) with the token the operator types in, kept in the
// browser tab's sessionStorage, and renders every value that comes from a
// flow or run with DOM text nodes, never as markup. The assets are served
// as separate files under a strict Content-Security-Policy (scripts and
// styles from this origin only, no inline code), so an injected value
// cannot run even if it were ever parsed as HTML.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// Prefix is the path the console is served under; [Handler] expects the
// request paths in full (it is mounted as "GET /console/").
const Prefix = "/console/"

// CSP is the Content-Security-Policy of every console response: scripts,
// styles and API calls from this origin only; no inline script or style
// element, no plugins, no framing.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler returns the handler of the console's paths: Prefix answers the
// page, Prefix+"app.js" and the like its assets, anything else 404. Mount
// it with mux.Handle("GET "+console.Prefix, console.Handler()).
func Handler() http.Handler {
	files, err := load()
	if err != nil {
		// The embedded tree is fixed at build time: a failure is a build
		// defect, not a runtime condition.
		panic("console: embedded assets: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _ := strings.CutPrefix(r.URL.Path, Prefix)
		if name == "" {
			name = "index.html"
		}
		f, ok := files[name]
		if !ok || !strings.HasPrefix(r.URL.Path, Prefix) {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// The assets change with the binary: browsers revalidate every
		// time, and the ETag (the content's hash) makes that a 304.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
	})
}

type asset struct {
	data []byte
	etag string
}

// load reads the embedded assets, by their names below assets/.
func load() (map[string]asset, error) {
	out := map[string]asset{}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		sum := sha256.Sum256(b)
		out[strings.TrimPrefix(p, "assets/")] = asset{data: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return out, err
}
