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
	"embed"
	"io/fs"
	"net/http"
	"strings"
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
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		// The embedded tree always has the directory: a failure is a
		// build defect, not a runtime condition.
		panic("console: embedded assets: " + err.Error())
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, Prefix)
		if !ok || strings.HasSuffix(name, "/") && name != "" {
			http.NotFound(w, r)
			return
		}
		if name == "" {
			name = "index.html"
		}
		// http.FileServer would redirect /index.html to ./ and list
		// directories; the console has neither, so every path is one
		// embedded file or a 404.
		fi, err := fs.Stat(sub, name)
		if err != nil || fi.IsDir() {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// The assets change with the binary; embedded files have no
		// modification time to revalidate against, so browsers ask again.
		h.Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + name
		if name == "index.html" {
			// FileServer redirects a request for index.html to its
			// directory; serve the page's bytes directly.
			b, err := fs.ReadFile(sub, name)
			if err != nil {
				http.Error(w, "console page missing", http.StatusInternalServerError)
				return
			}
			h.Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(b)
			return
		}
		files.ServeHTTP(w, r2)
	})
}
