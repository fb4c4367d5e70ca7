package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/activedataflow/adf/host/api"
)

// client talks to a running `adf serve`.
type client struct {
	server, token string
	http          *http.Client
}

func clientFlags(cmd *cobra.Command, g *globals) *client {
	c := &client{http: &http.Client{Timeout: 2 * time.Minute}}
	cmd.PersistentFlags().StringVar(&c.server, "server", envOr("ADF_SERVER", "http://"+envOr("ADF_LISTEN", "127.0.0.1:8080")), "URL of adf serve (env ADF_SERVER)")
	cmd.PersistentFlags().StringVar(&c.token, "admin-token", os.Getenv("ADF_ADMIN_TOKEN"), "admin token (env ADF_ADMIN_TOKEN; default: <data-dir>/admin-token)")
	var token string
	cmd.PersistentFlags().StringVar(&token, "token", os.Getenv("ADF_TOKEN"), "API token of any role, viewer, operator or admin (env ADF_TOKEN); default: the admin token")
	cmd.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		// Cobra runs only the nearest persistent pre-run: the root's (the
		// logger, the flags' environment) is called from here.
		if root := cmd.Root(); root.PersistentPreRunE != nil {
			if err := root.PersistentPreRunE(cmd, args); err != nil {
				return err
			}
		}
		if token != "" {
			c.token = token
		}
		if strings.HasPrefix(strings.ToLower(c.token), "sha256:") {
			return errors.New("the API token is given in its hashed sha256: form, which only adf serve takes: give the client the plain token (--token or ADF_TOKEN)")
		}
		if c.token == "" {
			if b, err := os.ReadFile(adminTokenFile(g.dataDir)); err == nil {
				c.token = strings.TrimSpace(string(b))
			}
		}
		return nil
	}
	return c
}

// apiError is an error answer of the API, with its stable code (the
// "error" field: not_found, run_active, run_ended, ...), by which the
// commands tell errors apart.
type apiError struct {
	method, path string
	status       int
	body         api.ErrorBody
	// runIDs are the runs a run_active answer names.
	runIDs []int64
	// raw is the body when it was not an API error document.
	raw string
}

func (e *apiError) Error() string {
	if e.body.Message == "" {
		return fmt.Sprintf("%s %s: %d %s: %s", e.method, e.path, e.status, http.StatusText(e.status), strings.TrimSpace(e.raw))
	}
	var b strings.Builder
	b.WriteString(e.body.Message)
	for _, p := range e.body.Problems {
		fmt.Fprintf(&b, "\n  %s: %s", p.Field, p.Reason)
	}
	switch e.status {
	case http.StatusUnauthorized:
		b.WriteString(" (give a token of this adf serve with --token or ADF_TOKEN; without one, the admin token in <data-dir>/admin-token is sent)")
	case http.StatusForbidden:
		if e.body.RequiredRole != "" {
			fmt.Fprintf(&b, " (this needs the %s role)", e.body.RequiredRole)
		}
	}
	return b.String()
}

// errorCode is the API error code of err; "" when err is no API answer.
func errorCode(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.body.Error
	}
	return ""
}

// do sends a request and returns the answer's body; an error answer is an
// *apiError. The body is returned raw, for -o json and yaml.
func (c *client) do(ctx context.Context, method, path string, body []byte) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.server, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%s %s: %w (is `adf serve` running? set --server or ADF_SERVER)", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return nil, resp.StatusCode, newAPIError(method, path, resp.StatusCode, data)
	}
	return data, resp.StatusCode, nil
}

// newAPIError reads an error answer.
func newAPIError(method, path string, status int, data []byte) *apiError {
	ae := &apiError{method: method, path: path, status: status}
	var extra struct {
		RunIDs []int64 `json:"run_ids"`
	}
	if json.Unmarshal(data, &ae.body) != nil || ae.body.Message == "" {
		ae.raw = string(data)
	} else if json.Unmarshal(data, &extra) == nil {
		ae.runIDs = extra.RunIDs
	}
	return ae
}

// get fetches path and decodes it into out; it returns the raw answer too.
func (c *client) get(ctx context.Context, path string, out any) ([]byte, error) {
	return c.call(ctx, http.MethodGet, path, nil, out)
}

// call sends a request and decodes the answer into out (when not nil).
func (c *client) call(ctx context.Context, method, path string, body []byte, out any) ([]byte, error) {
	raw, _, err := c.do(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("decode the answer of %s %s: %w", method, path, err)
		}
	}
	return raw, nil
}

// pathEscape makes a name from the command line one path segment.
func pathEscape(s string) string { return url.PathEscape(s) }

// exactTime is a time as the tables show it when it must be exact.
func exactTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// when is a time as a show command prints it: relative, then exact.
func when(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return ago(t, now) + " (" + exactTime(t) + ")"
}
