package flink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/activedataflow/adf/sdk"
)

// Minimum timeouts of the calls that move or start a job: the jar carries
// the plugin binaries (often 100-250 MiB), and running it has the
// JobManager execute the bridge's main to build the job graph.
const (
	minUploadTimeout = 10 * time.Minute
	minRunTimeout    = 2 * time.Minute
)

// client calls one Flink cluster's REST API.
type client struct {
	cfg  *Config
	http *http.Client
}

func newClient(cfg *Config) *client {
	return &client{cfg: cfg, http: &http.Client{Transport: http.DefaultTransport}}
}

// unreachableCheck says what to look at when Flink does not answer.
func (c *client) unreachableCheck() string {
	return fmt.Sprintf("is the Flink JobManager running and its REST API (rest.address/rest.port) reachable from the ADF host at %s? For a local cluster run scripts/flink-local.sh start", c.cfg.base())
}

// do sends one request (body may be nil) with the timeout, and decodes a
// 2xx JSON answer into out (when not nil). A non-2xx answer is an
// *sdk.Error classified by its status, quoting Flink's errors.
func (c *client) do(ctx context.Context, method, p string, timeout time.Duration, body io.Reader, size int64, contentType string, out any) (int, error) {
	if timeout <= 0 {
		timeout = c.cfg.timeout()
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := c.cfg.base() + p
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "url", Summary: fmt.Sprintf("bad Flink request %s %s: %v", method, u, err), Err: err}
	}
	if body != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if perr := parent.Err(); perr != nil {
			// The caller stopped (or its own deadline passed).
			return 0, fmt.Errorf("%s %s: %w", method, u, perr)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			e := sdk.Unreachable(c.cfg.String(), c.unreachableCheck(), err)
			e.Summary = fmt.Sprintf("%s %s: no answer within %s (request_timeout)", method, u, timeout)
			return 0, e
		}
		if sdk.IsUnreachable(err) {
			e := sdk.Unreachable(c.cfg.String(), c.unreachableCheck(), err)
			e.Summary = fmt.Sprintf("cannot reach %s: %s %s: %v", c.cfg, method, u, unwrapURLError(err))
			return 0, e
		}
		return 0, &sdk.Error{Code: sdk.CodeUnavailable, Transient: true, Summary: fmt.Sprintf("%s %s: %v", method, u, err), Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, sdk.Unreachable(c.cfg.String(), c.unreachableCheck(), fmt.Errorf("%s %s: reading the answer: %w", method, u, err))
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, statusError(method, u, resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("%s %s: unexpected answer (is %s a Flink REST address?): %v: %s", method, u, c.cfg.base(), err, clip(string(data), 200)), Err: err}
		}
	}
	return resp.StatusCode, nil
}

// unwrapURLError drops the *url.Error layer (which repeats method and URL).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// statusError classifies a non-2xx answer by its status code.
func statusError(method, u string, status int, body []byte) *sdk.Error {
	msg := flinkErrors(body)
	e := &sdk.Error{Summary: fmt.Sprintf("%s %s: %d %s: %s", method, u, status, http.StatusText(status), msg)}
	switch {
	case status == http.StatusNotFound:
		e.Code = sdk.CodeNotFound
	case status == http.StatusRequestEntityTooLarge:
		e.Code = sdk.CodeInvalidConfig
		e.Detail = "the job jar carries the plugin binaries: raise the cluster's rest.server.max-content-length (scripts/flink-local.sh uses 536870912)"
	case status == http.StatusUnauthorized:
		e.Code = sdk.CodeUnauthenticated
	case status == http.StatusForbidden:
		e.Code = sdk.CodePermissionDenied
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout || status == http.StatusTooManyRequests:
		e.Code, e.Transient = sdk.CodeUnavailable, true
	default:
		e.Code = sdk.CodeInternal
	}
	return e
}

// flinkErrors renders Flink's {"errors": [...]} answer: the first meaningful
// lines of its messages (they are often Java stack traces), or the body.
func flinkErrors(body []byte) string {
	var r struct {
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(body, &r); err != nil || len(r.Errors) == 0 {
		if s := strings.TrimSpace(string(body)); s != "" {
			return clip(s, 300)
		}
		return "(no details)"
	}
	return firstLines(strings.Join(r.Errors, "\n"), 6, 1500)
}

// firstLines keeps the first n meaningful lines of a Java exception text:
// messages and "Caused by" lines, without stack frames, "... N more" and
// the REST server's framing, each line once.
func firstLines(s string, n, max int) string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(s, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "", strings.HasPrefix(t, "at "), strings.HasPrefix(t, "..."),
			t == "<Exception on server side:", t == "End of exception on server side>",
			strings.HasPrefix(t, "Suppressed:"):
			continue
		}
		t = strings.TrimPrefix(t, "<Exception on server side:")
		if seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
		if len(out) == n {
			break
		}
	}
	return clip(strings.Join(out, "\n"), max)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// version returns the cluster's flink-version.
func (c *client) version(ctx context.Context) (string, error) {
	var r struct {
		Version string `json:"flink-version"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/config", 0, nil, 0, "", &r); err != nil {
		return "", err
	}
	return r.Version, nil
}

// upload sends the jar at jarPath (multipart field jarfile) and returns the
// jar id Flink gave it.
func (c *client) upload(ctx context.Context, jarPath, name string) (string, error) {
	f, err := os.Open(jarPath)
	if err != nil {
		return "", &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("opening the job jar: %v", err), Err: err}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("opening the job jar: %v", err), Err: err}
	}
	// The multipart body is head + file + tail, with a known length.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="jarfile"; filename=%q`, name))
	h.Set("Content-Type", "application/java-archive")
	if _, err := mw.CreatePart(h); err != nil {
		return "", err
	}
	headLen := buf.Len()
	if err := mw.Close(); err != nil {
		return "", err
	}
	head, tail := buf.Bytes()[:headLen], buf.Bytes()[headLen:]
	body := io.MultiReader(bytes.NewReader(head), f, bytes.NewReader(tail))
	size := int64(len(head)) + st.Size() + int64(len(tail))
	var r struct {
		Filename string `json:"filename"`
		Status   string `json:"status"`
	}
	if _, err := c.do(ctx, http.MethodPost, "/jars/upload", max(c.cfg.timeout(), minUploadTimeout), body, size, mw.FormDataContentType(), &r); err != nil {
		var se *sdk.Error
		if errors.As(err, &se) {
			se.Summary = fmt.Sprintf("uploading the job jar (%s): %s", humanSize(st.Size()), se.Summary)
		}
		return "", err
	}
	if r.Status != "success" || r.Filename == "" {
		return "", &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("uploading the job jar: Flink answered status %q, filename %q", r.Status, r.Filename)}
	}
	return path.Base(r.Filename), nil
}

// run starts the uploaded jar and returns the job id.
func (c *client) run(ctx context.Context, jarID string, parallelism int, jobID string) (string, error) {
	body := map[string]any{"entryClass": EntryClass, "parallelism": parallelism}
	if jobID != "" {
		body["jobId"] = jobID
	}
	req, _ := json.Marshal(body)
	var r struct {
		JobID string `json:"jobid"`
	}
	if _, err := c.do(ctx, http.MethodPost, "/jars/"+jarID+"/run", max(c.cfg.timeout(), minRunTimeout), bytes.NewReader(req), int64(len(req)), "application/json", &r); err != nil {
		var se *sdk.Error
		if errors.As(err, &se) {
			se.Summary = "running the job jar: " + se.Summary
		}
		return "", err
	}
	if r.JobID == "" {
		return "", &sdk.Error{Code: sdk.CodeInternal, Summary: "running the job jar: Flink answered no jobid"}
	}
	return r.JobID, nil
}

// deleteJar removes an uploaded jar.
func (c *client) deleteJar(ctx context.Context, jarID string) error {
	_, err := c.do(ctx, http.MethodDelete, "/jars/"+jarID, 0, nil, 0, "", nil)
	return err
}

// jobState returns a job's Flink state (RUNNING, FINISHED, ...).
func (c *client) jobState(ctx context.Context, id string) (string, error) {
	var r struct {
		State string `json:"state"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/jobs/"+id, 0, nil, 0, "", &r); err != nil {
		return "", err
	}
	return r.State, nil
}

// accumulators returns a job's user accumulators by name.
func (c *client) accumulators(ctx context.Context, id string) (map[string]int64, error) {
	var r struct {
		User []struct {
			Name  string          `json:"name"`
			Value json.RawMessage `json:"value"`
		} `json:"user-task-accumulators"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/jobs/"+id+"/accumulators", 0, nil, 0, "", &r); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, a := range r.User {
		v := strings.Trim(string(a.Value), `"`)
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[a.Name] = n
		} else if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[a.Name] = int64(f)
		}
	}
	return out, nil
}

// rootException returns the job's latest failure: its exception text.
func (c *client) rootException(ctx context.Context, id string) (string, error) {
	var r struct {
		// Flink 1.x (removed in 2.0, FLIP-354).
		Root    string `json:"root-exception"`
		History struct {
			Entries []struct {
				Name       string `json:"exceptionName"`
				Stacktrace string `json:"stacktrace"`
				Task       string `json:"taskName"`
			} `json:"entries"`
		} `json:"exceptionHistory"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/jobs/"+id+"/exceptions?maxExceptions=1", 0, nil, 0, "", &r); err != nil {
		return "", err
	}
	if len(r.History.Entries) > 0 {
		e := r.History.Entries[0]
		text := e.Stacktrace
		if text == "" {
			text = e.Name
		}
		return text, nil
	}
	return r.Root, nil
}

// cancel asks Flink to cancel a job.
func (c *client) cancel(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodPatch, "/jobs/"+id+"?mode=cancel", 0, nil, 0, "", nil)
	return err
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
