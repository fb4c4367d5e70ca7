// Package api serves the host's HTTP interface: the heartbeat endpoint, the
// flows / runs / plugins JSON API (behind role tokens: viewer, operator,
// admin) with its audit trail and OpenAPI document, Prometheus metrics and
// health checks.
//
// Every write request of an authenticated caller is recorded in the store's
// audit trail (GET /v1/audit) and logged. Refused requests are logged
// sampled: one line (and, for the heartbeat, one heartbeat_requests row
// whose requests column counts the rest) per client address and outcome per
// [DefaultLogWindow]. Internal errors are answered with an error id only;
// the log has the details under that id.
package api

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/activedataflow/adf/host/access"
	"github.com/activedataflow/adf/host/api/console"
	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/progress"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/host/runner"
	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

//go:embed openapi.json
var openAPI []byte

// Server is the HTTP interface.
type Server struct {
	Store    *store.Store
	Runner   *runner.Runner
	Registry *registry.Registry
	Log      hclog.Logger
	// Heartbeat guards POST /v1/heartbeat; nil disables the endpoint (the
	// built-in ticker still schedules).
	Heartbeat *access.Guard
	// Admin guards the API: the token's role ([access.Decision.Role])
	// decides what it may do (see Handler). It should be BearerOnly and
	// have a FailureLimit.
	Admin   *access.Guard
	Metrics *Metrics
	// Progress has the live state of the runs this host executes; nil:
	// runs show their stored counts only.
	Progress *progress.Tracker
	// Ready reports whether the host is ready to serve (for /readyz).
	Ready func() bool
	// HeartbeatLogRetention is how long heartbeat_requests rows are kept
	// by [Server.Maintain]; 0 keeps them forever.
	HeartbeatLogRetention time.Duration
	// LogWindow is the sampling window of refused requests; 0 means
	// [DefaultLogWindow].
	LogWindow time.Duration
	// EventInterval is the least time between two progress events of a
	// run's event stream (0: 250ms); EventKeepAlive how long the stream
	// stays silent before a keep-alive comment (0: 15s); EventPoll how
	// often the stream reads the store for a run not in progress on this
	// host (0: 2s).
	EventInterval, EventKeepAlive, EventPoll time.Duration

	once    sync.Once
	hbLog   *sampler // refused heartbeats: rows and log lines
	authLog *sampler // refused API requests: log lines
}

// DefaultLogWindow is the default [Server.LogWindow]: refused requests of
// one client address with one outcome get one log line (and heartbeat log
// row) per minute.
const DefaultLogWindow = time.Minute

// MaxBodyBytes bounds a request body (a flow document): a larger one is
// answered 413 and nothing is saved.
const MaxBodyBytes = 4 << 20

func (s *Server) init() {
	s.once.Do(func() {
		if s.Log == nil {
			s.Log = hclog.NewNullLogger()
		}
		w := s.LogWindow
		if w <= 0 {
			w = DefaultLogWindow
		}
		s.hbLog, s.authLog = newSampler(w), newSampler(w)
	})
}

// Handler returns the routes. The roles the API needs: viewer to read
// flows (configs redacted), their versions, runs and their live progress,
// and plugins; operator to trigger and cancel runs, enable and disable
// flows and read rejected records (they hold the data itself); admin to
// create, change and delete flows and to read the audit trail and the
// heartbeat log.
func (s *Server) Handler() http.Handler {
	s.init()
	mux := http.NewServeMux()
	if s.Heartbeat != nil {
		mux.Handle("/v1/heartbeat", s.Heartbeat.Wrap(http.HandlerFunc(s.heartbeat), s.refusedHeartbeat))
	} else {
		mux.HandleFunc("/v1/heartbeat", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusForbidden, "heartbeat_disabled", "no heartbeat tokens are configured (ADF_HEARTBEAT_TOKENS); the built-in ticker schedules flows")
		})
	}
	admin := http.NewServeMux()
	route := func(pattern string, need access.Role, h http.HandlerFunc) {
		admin.Handle(pattern, s.authorize(need, h))
	}
	route("GET /v1/flows", access.RoleViewer, s.listFlows)
	route("POST /v1/flows", access.RoleAdmin, s.applyFlow)
	route("GET /v1/flows/{name}", access.RoleViewer, s.getFlow)
	route("PUT /v1/flows/{name}", access.RoleAdmin, s.applyFlow)
	route("DELETE /v1/flows/{name}", access.RoleAdmin, s.deleteFlow)
	route("POST /v1/flows/{name}/enable", access.RoleOperator, s.setEnabled(true))
	route("POST /v1/flows/{name}/disable", access.RoleOperator, s.setEnabled(false))
	route("GET /v1/flows/{name}/versions", access.RoleViewer, s.listVersions)
	route("GET /v1/flows/{name}/versions/{v}", access.RoleViewer, s.getVersion)
	route("GET /v1/flows/{name}/runs", access.RoleViewer, s.listRuns)
	route("POST /v1/flows/{name}/runs", access.RoleOperator, s.triggerRun)
	route("GET /v1/runs", access.RoleViewer, s.listRuns)
	route("GET /v1/runs/{id}", access.RoleViewer, s.getRun)
	route("GET /v1/runs/{id}/events", access.RoleViewer, s.runEvents)
	route("GET /v1/runs/{id}/rejected", access.RoleOperator, s.rejected)
	route("POST /v1/runs/{id}/cancel", access.RoleOperator, s.cancelRun)
	route("GET /v1/plugins", access.RoleViewer, s.plugins)
	route("GET /v1/audit", access.RoleAdmin, s.auditLog)
	route("GET /v1/heartbeats", access.RoleAdmin, s.heartbeats)
	mux.Handle("/v1/", s.Admin.Wrap(s.audit(admin), s.refusedAPI))
	mux.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	mux.Handle("GET /metrics", s.Metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET "+console.Prefix, console.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler(console.Prefix, http.StatusFound))
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Problem is one bad field of a rejected flow.
type Problem struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	// Error is a stable code: not_found, invalid_flow, forbidden, ...;
	// "internal error" for a 500.
	Error    string    `json:"error"`
	Message  string    `json:"message"`
	Problems []Problem `json:"problems,omitempty"`
	// RequiredRole is, for a 403 forbidden, the role the request needs.
	RequiredRole string `json:"required_role,omitempty"`
	// ID is, for a 500, the id under which the host's log has the error.
	ID string `json:"id,omitempty"`
	// RunIDs are, for a 409 run_active, the runs pending or in progress.
	RunIDs []int64 `json:"run_ids,omitempty"`
}

// CodeInternal is the error code of a 500 answer.
const CodeInternal = "internal error"

// internalError logs err in full under a new error id and answers 500 with
// that id only: store and driver errors name hosts, ports, users and
// queries, which callers must not see.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	id := errorID()
	s.Log.Error(what, "error_id", id, "method", r.Method, "path", r.URL.Path, "error", err)
	writeJSON(w, http.StatusInternalServerError, ErrorBody{Error: CodeInternal, ID: id,
		Message: "internal error; the host's log has the details under id " + id})
}

// errorID returns a random id for an internal error.
func errorID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read does not fail (it panics instead)
	return hex.EncodeToString(b)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, ErrorBody{Error: code, Message: msg})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "store_unavailable", "database unreachable")
		return
	}
	if s.Ready != nil && !s.Ready() {
		writeError(w, http.StatusServiceUnavailable, "not_ready", "starting or shutting down")
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

// heartbeat runs one heartbeat for an authorised caller.
func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	res, err := s.Runner.Heartbeat(r.Context(), now)
	client := s.Heartbeat.ClientAddr(r).String()
	status, outcome := 200, "ok"
	if err != nil {
		status, outcome = 500, "error"
	}
	s.logHeartbeat(now, r.RemoteAddr, client, "http", status, outcome, res)
	if err != nil {
		s.internalError(w, r, "heartbeat failed", err)
		return
	}
	if res.Triggered == nil {
		res.Triggered, res.RunIDs = []string{}, []int64{}
	}
	writeJSON(w, 200, res)
}

// refusedHeartbeat logs a heartbeat the guard refused (allowed ones are
// logged with their results by heartbeat), sampled: the first refusal of a
// client address with an outcome in a window gets a log line and a row;
// the window's further ones are counted in the metric and, by Maintain, in
// the row's requests column.
func (s *Server) refusedHeartbeat(r *http.Request, d access.Decision) {
	if d.Allowed() {
		return
	}
	s.Metrics.Heartbeat(d.Reason)
	client := d.Client
	if client == "" {
		client = r.RemoteAddr
	}
	e, prev, first := s.hbLog.take(sampleKey{client, d.Reason}, d.Time)
	if !first {
		return
	}
	s.Log.Info("heartbeat", "remote", r.RemoteAddr, "client", d.Client, "source", "http", "status", d.Status, "outcome", d.Reason,
		"flows_due", 0, "flows_triggered", 0, "sampled", "further requests of this client with this outcome within "+s.hbLog.window.String()+" are only counted",
		"previous_window_folded", prev)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	id, err := s.Store.LogRefusedHeartbeat(ctx, d.Time, r.RemoteAddr, d.Client, d.Status, d.Reason)
	if err != nil {
		s.Log.Error("log heartbeat", "error", err)
		id = -1
	}
	s.hbLog.setRow(e, id)
}

// refusedAPI counts and logs, sampled like refusedHeartbeat, a request the
// admin guard refused (no valid token, or too many failures).
func (s *Server) refusedAPI(r *http.Request, d access.Decision) {
	if d.Allowed() {
		return
	}
	s.Metrics.AuthFailure(d.Reason)
	client := d.Client
	if client == "" {
		client = r.RemoteAddr
	}
	e, prev, first := s.authLog.take(sampleKey{client, d.Reason}, d.Time)
	if !first {
		return
	}
	s.authLog.setRow(e, -1)
	s.Log.Warn("API request refused", "remote", r.RemoteAddr, "client", d.Client, "method", d.Method, "path", d.Path,
		"status", d.Status, "reason", d.Reason, "sampled", "further refusals of this client for this reason within "+s.authLog.window.String()+" are only counted",
		"previous_window_folded", prev)
}

func (s *Server) logHeartbeat(at time.Time, remote, client, source string, status int, outcome string, res store.HeartbeatResult) {
	s.Metrics.Heartbeat(outcome)
	s.Log.Info("heartbeat", "remote", remote, "client", client, "source", source, "status", status, "outcome", outcome,
		"flows_due", res.Due, "flows_triggered", len(res.Triggered))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Store.LogHeartbeat(ctx, at, remote, client, source, status, outcome, res); err != nil {
		s.Log.Error("log heartbeat", "error", err)
	}
}

// Tick runs one heartbeat from the built-in ticker (same code path).
func (s *Server) Tick(ctx context.Context) {
	now := time.Now()
	res, err := s.Runner.Heartbeat(ctx, now)
	status, outcome := 200, "ok"
	if err != nil {
		status, outcome = 500, "error"
		s.Log.Error("ticker heartbeat failed", "error", err)
	}
	if err == nil && res.Due == 0 {
		return // idle ticks are not worth a log row each
	}
	s.logHeartbeat(now, "internal", "internal", "ticker", status, outcome, res)
}

func (s *Server) listFlows(w http.ResponseWriter, r *http.Request) {
	flows, err := s.Store.ListFlows(r.Context())
	if err != nil {
		s.internalError(w, r, "list flows", err)
		return
	}
	out := make([]*store.FlowRecord, 0, len(flows))
	for _, f := range flows {
		out = append(out, redactFlow(f))
	}
	writeJSON(w, 200, out)
}

func (s *Server) getFlow(w http.ResponseWriter, r *http.Request) {
	rec, err := s.Store.GetFlow(r.Context(), r.PathValue("name"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, redactFlow(rec))
}

// storeError answers a store error: 404 not found, 409 run active, else an
// internal error.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, 404, "not_found", err.Error())
		return
	}
	var active *store.RunActiveError
	if errors.As(err, &active) {
		writeJSON(w, 409, ErrorBody{Error: "run_active", Message: err.Error(), RunIDs: active.ActiveRuns()})
		return
	}
	s.internalError(w, r, "store", err)
}

// readBody reads a request body of at most MaxBodyBytes. A larger one is
// answered 413 (never truncated: a cut YAML document may still parse, with
// another meaning), one that does not arrive within the server's read
// timeout 408; ok is false when an answer was sent.
func readBody(w http.ResponseWriter, r *http.Request) (body []byte, ok bool) {
	tooLarge := func() {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("the request body is over the limit of %d bytes (4 MiB); nothing was saved: send a smaller document", MaxBodyBytes))
	}
	if r.ContentLength > MaxBodyBytes {
		w.Header().Set("Connection", "close")
		tooLarge()
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var big *http.MaxBytesError
	var ne net.Error
	switch {
	case err == nil:
		return body, true
	case errors.As(err, &big):
		tooLarge()
	case errors.As(err, &ne) && ne.Timeout():
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestTimeout, "request_timeout", "the request body did not arrive within the server's read timeout; nothing was saved")
	default:
		writeError(w, http.StatusBadRequest, "bad_request", "read the request body: "+err.Error())
	}
	return nil, false
}

// applyFlow creates or updates a flow after validating it completely against
// the installed plugins; nothing is saved when anything is wrong.
func (s *Server) applyFlow(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	f, err := flow.Decode(body)
	if err == nil {
		setTarget(r, f.Name)
		if name := r.PathValue("name"); name != "" && name != f.Name {
			err = sdk.ConfigErrors{sdk.ConfigError("name", "the document names flow %q but the URL names %q", f.Name, name)}
		}
	}
	var warnings []*sdk.Error
	if err == nil {
		warnings, err = engine.ValidateWithWarnings(r.Context(), s.Registry, f)
	}
	if err != nil {
		validationError(w, err)
		return
	}
	rec, outcome, err := s.Store.ApplyFlow(r.Context(), f, time.Now())
	if err != nil {
		s.internalError(w, r, "save flow "+f.Name, err)
		return
	}
	status := 200
	if outcome == "created" {
		status = 201
	}
	w.Header().Set("X-ADF-Outcome", outcome)
	resp := FlowApplied{FlowRecord: redactFlow(rec)}
	for _, e := range warnings {
		resp.Warnings = append(resp.Warnings, Problem{Field: e.Field, Reason: reason(e)})
	}
	writeJSON(w, status, resp)
}

// FlowApplied is the answer to creating or updating a flow: the saved
// record and the warnings of the plugins' cheap checks (an input file
// missing, a host name that does not resolve). Warnings do not stop a flow
// from being saved: what they name may be there when it runs.
type FlowApplied struct {
	*store.FlowRecord
	Warnings []Problem `json:"warnings,omitempty"`
}

// reason is an error's message without its field path.
func reason(e *sdk.Error) string {
	if e.Detail == "" {
		return e.Summary
	}
	return e.Summary + " (" + e.Detail + ")"
}

// validationError answers 422 with every bad field, or the missing-plugin
// message.
func validationError(w http.ResponseWriter, err error) {
	var missing *registry.MissingError
	var ce sdk.ConfigErrors
	body := ErrorBody{Error: "invalid_flow", Message: err.Error()}
	switch {
	case errors.As(err, &ce):
		for _, e := range ce {
			body.Problems = append(body.Problems, Problem{Field: e.Field, Reason: e.Summary})
		}
		body.Message = fmt.Sprintf("%d problem(s) in the flow", len(ce))
	case errors.As(err, &missing):
		body.Error = "plugin_missing"
	default:
		for _, e := range sdk.AsErrors(err) {
			if e.Code == sdk.CodeInvalidConfig {
				body.Problems = append(body.Problems, Problem{Field: e.Field, Reason: e.Summary})
			}
		}
	}
	writeJSON(w, http.StatusUnprocessableEntity, body)
}

// deleteFlow deletes a flow and its version history; its runs stay as
// history. A flow with runs pending or in progress is answered 409
// run_active naming them, unless ?cancel_runs=true: then they are asked to
// stop (see cancelRun) and the flow is deleted in the same transaction;
// the answer is 200 with the runs asked to stop.
func (s *Server) deleteFlow(w http.ResponseWriter, r *http.Request) {
	cancelRuns := false
	if v := r.URL.Query().Get("cancel_runs"); v != "" {
		var err error
		if cancelRuns, err = strconv.ParseBool(v); err != nil {
			writeError(w, 400, "bad_request", "cancel_runs must be true or false")
			return
		}
	}
	stopped, err := s.Store.DeleteFlow(r.Context(), r.PathValue("name"), cancelRuns, time.Now())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if len(stopped) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	// The audit entry names the flow; the log names the runs it stopped.
	s.Log.Info("flow deleted; its active runs were asked to stop", "flow", r.PathValue("name"), "runs", stopped)
	writeJSON(w, http.StatusOK, FlowDeleted{Flow: r.PathValue("name"), CancelRequested: stopped})
}

// FlowDeleted is the answer to deleting a flow whose active runs were asked
// to stop (?cancel_runs=true).
type FlowDeleted struct {
	Flow string `json:"flow"`
	// CancelRequested are the runs asked to stop; they end cancelled.
	CancelRequested []int64 `json:"cancel_requested"`
}

// setEnabled answers POST /v1/flows/{name}/enable and .../disable with the
// flow record (X-ADF-Outcome: updated, or unchanged when it already was).
func (s *Server) setEnabled(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec, changed, err := s.Store.SetFlowEnabled(r.Context(), r.PathValue("name"), enabled, time.Now())
		if err != nil {
			s.storeError(w, r, err)
			return
		}
		outcome := "unchanged"
		if changed {
			outcome = "updated"
		}
		w.Header().Set("X-ADF-Outcome", outcome)
		writeJSON(w, http.StatusOK, redactFlow(rec))
	}
}

// listVersions answers the flow's config versions, newest first, configs
// redacted.
func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) {
	vs, err := s.Store.FlowVersions(r.Context(), r.PathValue("name"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	for i := range vs {
		vs[i] = redactVersion(vs[i])
	}
	writeJSON(w, http.StatusOK, vs)
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) {
	v, err := strconv.Atoi(r.PathValue("v"))
	if err != nil || v < 1 {
		writeError(w, 400, "bad_request", "version must be a number from 1")
		return
	}
	fv, err := s.Store.FlowVersion(r.Context(), r.PathValue("name"), v)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, redactVersion(*fv))
}

// heartbeats answers GET /v1/heartbeats: the newest heartbeat log rows,
// newest first (?limit=, default 100, at most 1000).
func (s *Server) heartbeats(w http.ResponseWriter, r *http.Request) {
	limit, ok := queryInt(w, r, "limit")
	if !ok {
		return
	}
	rows, err := s.Store.RecentHeartbeats(r.Context(), limit)
	if err != nil {
		s.internalError(w, r, "heartbeat log", err)
		return
	}
	writeJSON(w, http.StatusOK, rows)
}

// queryInt reads a non-negative integer query parameter (0 when absent),
// answering 400 when it is something else.
func queryInt(w http.ResponseWriter, r *http.Request, name string) (int, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		writeError(w, 400, "bad_request", name+" must be a number from 0")
		return 0, false
	}
	return n, true
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == "" {
		name = r.URL.Query().Get("flow")
	}
	var missing error
	if name != "" {
		if _, err := s.Store.GetFlow(r.Context(), name); errors.Is(err, store.ErrNotFound) {
			missing = err // a deleted flow's runs are still listed
		} else if err != nil {
			s.storeError(w, r, err)
			return
		}
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	runs, err := s.Store.ListRuns(r.Context(), name, limit)
	if err != nil {
		s.internalError(w, r, "list runs", err)
		return
	}
	if missing != nil && len(runs) == 0 {
		s.storeError(w, r, missing)
		return
	}
	out := make([]*store.Run, 0, len(runs))
	for _, run := range runs {
		out = append(out, redactRun(run))
	}
	writeJSON(w, 200, out)
}

func (s *Server) triggerRun(w http.ResponseWriter, r *http.Request) {
	id, err := s.Runner.Trigger(r.Context(), r.PathValue("name"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	run, err := s.Store.GetRun(r.Context(), id)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, redactRun(run))
}

// runID reads the {id} of a run path, answering 400 when it is no number.
func runID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, 400, "bad_request", "run id must be a number")
		return 0, false
	}
	return id, true
}

// getRun answers the stored run and, while it is in progress on this host,
// its live progress.
func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	id, ok := runID(w, r)
	if !ok {
		return
	}
	run, err := s.Store.GetRun(r.Context(), id)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, RunView{Run: redactRun(run), Progress: s.live(run)})
}

// CancelRequested is the answer to cancelling a run some host is
// executing: it stops within a third of the lease time and ends cancelled
// (an unbounded run takes a final checkpoint first).
type CancelRequested struct {
	Status string     `json:"status"`
	Run    *store.Run `json:"run"`
}

// cancelRun asks for a run to stop: a run no host executes (pending) is
// cancelled at once and answered 200 with the run; one in progress is
// stopped by its host at its next lease renewal (a runtime's job is
// cancelled with it), answered 202 {"status": "cancel_requested"}; one that
// already ended 409 run_ended.
func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) {
	id, ok := runID(w, r)
	if !ok {
		return
	}
	stopped, err := s.Store.CancelRun(r.Context(), id, time.Now())
	if err != nil {
		if errors.Is(err, store.ErrRunEnded) {
			writeError(w, 409, "run_ended", err.Error())
			return
		}
		s.storeError(w, r, err)
		return
	}
	run, err := s.Store.GetRun(r.Context(), id)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if stopped {
		writeJSON(w, http.StatusOK, redactRun(run))
		return
	}
	writeJSON(w, http.StatusAccepted, CancelRequested{Status: "cancel_requested", Run: redactRun(run)})
}

// rejected answers a page of the run's rejected records, oldest first,
// each with the split and position it was read at, and their total
// (?offset=, ?limit= default 100, at most 1000).
func (s *Server) rejected(w http.ResponseWriter, r *http.Request) {
	id, ok := runID(w, r)
	if !ok {
		return
	}
	offset, ok := queryInt(w, r, "offset")
	if !ok {
		return
	}
	limit, ok := queryInt(w, r, "limit")
	if !ok {
		return
	}
	if _, err := s.Store.GetRun(r.Context(), id); err != nil {
		s.storeError(w, r, err)
		return
	}
	page, err := s.Store.RejectedPage(r.Context(), id, offset, limit)
	if err != nil {
		s.internalError(w, r, "rejected records", err)
		return
	}
	writeJSON(w, 200, page)
}

// PluginComponent is one installed component in GET /v1/plugins.
type PluginComponent struct {
	Kind        string `json:"kind"`
	Type        string `json:"type"`
	Plugin      string `json:"plugin"`
	Version     string `json:"version,omitempty"`
	Description string `json:"description"`
	// Delivery is a sink's guarantee: exactly_once, idempotent or
	// at_least_once.
	Delivery     string          `json:"delivery,omitempty"`
	ConfigSchema json.RawMessage `json:"config_schema,omitempty"`
}

func (s *Server) plugins(w http.ResponseWriter, _ *http.Request) {
	out := []PluginComponent{}
	for _, e := range s.Registry.Entries() {
		pc := PluginComponent{Kind: string(e.Kind), Type: e.Type, Plugin: e.Plugin.Name, Description: e.Description, ConfigSchema: e.Schema}
		if !e.Builtin() {
			pc.Version = e.Plugin.Version
		}
		if e.Kind == sdk.KindSink {
			pc.Delivery = string(e.Delivery())
		}
		out = append(out, pc)
	}
	writeJSON(w, 200, out)
}
