package console

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Result()
}

// The page and every asset are served with the strict CSP and their
// content types; anything else is a 404 (no directory listing, no
// redirect).
func TestHandlerServesAssets(t *testing.T) {
	for path, ctype := range map[string]string{
		"/console/":           "text/html",
		"/console/app.js":     "text/javascript",
		"/console/lib.js":     "text/javascript",
		"/console/style.css":  "text/css",
		"/console/index.html": "text/html",
	} {
		resp := get(t, path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("GET %s: %d %q (%d bytes), want 200 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), ctype)
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != CSP {
			t.Errorf("GET %s: CSP %q, want %q", path, got, CSP)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
	}
	// Revalidation: the ETag answers 304.
	first := get(t, "/console/app.js")
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/console/app.js", nil)
	req.Header.Set("If-None-Match", first.Header.Get("ETag"))
	Handler().ServeHTTP(rec, req)
	if first.Header.Get("ETag") == "" || rec.Code != http.StatusNotModified {
		t.Errorf("GET app.js with If-None-Match %q: %d, want 304", first.Header.Get("ETag"), rec.Code)
	}
	for _, path := range []string{"/console/nope.js", "/console/x/", "/other", "/console/../console.go", "/app.js"} {
		if resp := get(t, path); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// The assets never turn a string into markup: no innerHTML and its kin, no
// eval, no inline script or style in the page (the CSP would refuse them).
func TestAssetsBuildNoMarkup(t *testing.T) {
	banned := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(\s*"(on|style)`)
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, path)
		if err != nil {
			return err
		}
		if m := banned.Find(b); m != nil && strings.HasSuffix(path, ".js") {
			t.Errorf("%s uses %q", path, m)
		}
		if strings.HasSuffix(path, ".html") {
			if regexp.MustCompile(`<script>|<script [^>]*>[^<]+|<style|\son[a-z]+=|style=`).Match(b) {
				t.Errorf("%s has inline script, style or event handler attributes", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
