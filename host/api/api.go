// Package api serves the host's HTTP interface: the heartbeat endpoint, the
// flows / runs / plugins JSON API (behind the admin token) with its OpenAPI
// document, Prometheus metrics and health checks.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/activedataflow/adf/host/access"
	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/host/runner"
	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

//go:embed openapi.json
var openAPI []byte

// indexHTML is the web page of flows and runs; it asks for the admin token
// and reads the API with it.
//
//go:embed index.html
var indexHTML []byte

// Server is the HTTP interface.
type Server struct {
	Store    *store.Store
	Runner   *runner.Runner
	Registry *registry.Registry
	Log      hclog.Logger
	// Heartbeat guards POST /v1/heartbeat; nil disables the endpoint (the
	// built-in ticker still schedules).
	Heartbeat *access.Guard
	// Admin guards the API.
	Admin   *access.Guard
	Metrics *Metrics
	// Ready reports whether the host is ready to serve (for /readyz).
	Ready func() bool
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	if s.Heartbeat != nil {
		mux.Handle("/v1/heartbeat", s.Heartbeat.Wrap(http.HandlerFunc(s.heartbeat), s.refusedHeartbeat))
	} else {
		mux.HandleFunc("/v1/heartbeat", func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusForbidden, "heartbeat_disabled", "no heartbeat tokens are configured (ADF_HEARTBEAT_TOKENS); the built-in ticker schedules flows")
		})
	}
	admin := http.NewServeMux()
	admin.HandleFunc("GET /v1/flows", s.listFlows)
	admin.HandleFunc("POST /v1/flows", s.applyFlow)
	admin.HandleFunc("GET /v1/flows/{name}", s.getFlow)
	admin.HandleFunc("PUT /v1/flows/{name}", s.applyFlow)
	admin.HandleFunc("DELETE /v1/flows/{name}", s.deleteFlow)
	admin.HandleFunc("GET /v1/flows/{name}/runs", s.listRuns)
	admin.HandleFunc("POST /v1/flows/{name}/runs", s.triggerRun)
	admin.HandleFunc("GET /v1/runs", s.listRuns)
	admin.HandleFunc("GET /v1/runs/{id}", s.getRun)
	admin.HandleFunc("GET /v1/runs/{id}/rejected", s.rejected)
	admin.HandleFunc("GET /v1/plugins", s.plugins)
	mux.Handle("/v1/", s.Admin.Wrap(admin, nil))
	mux.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	mux.Handle("GET /metrics", s.Metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		w.Write(indexHTML)
	})
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
	Error    string    `json:"error"`
	Message  string    `json:"message"`
	Problems []Problem `json:"problems,omitempty"`
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
		s.Log.Error("heartbeat failed", "error", err)
		writeError(w, 500, "heartbeat_failed", err.Error())
		return
	}
	if res.Triggered == nil {
		res.Triggered, res.RunIDs = []string{}, []int64{}
	}
	writeJSON(w, 200, res)
}

// refusedHeartbeat logs a heartbeat the guard refused (allowed ones are
// logged with their results by heartbeat).
func (s *Server) refusedHeartbeat(r *http.Request, d access.Decision) {
	if d.Status == http.StatusOK {
		return
	}
	s.logHeartbeat(d.Time, r.RemoteAddr, d.Client, "http", d.Status, d.Reason, store.HeartbeatResult{})
}

func (s *Server) logHeartbeat(at time.Time, remote, client, source string, status int, outcome string, res store.HeartbeatResult) {
	s.Metrics.Heartbeat(outcome)
	s.Log.Info("heartbeat", "remote", remote, "client", client, "source", source, "status", status, "outcome", outcome,
		"flows_due", res.Due, "flows_triggered", len(res.Triggered))
	if err := s.Store.LogHeartbeat(context.Background(), at, remote, client, source, status, outcome, res); err != nil {
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
		writeError(w, 500, "store_error", err.Error())
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
		storeError(w, err)
		return
	}
	writeJSON(w, 200, redactFlow(rec))
}

func storeError(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, 404, "not_found", err.Error())
		return
	}
	var active *store.RunActiveError
	if errors.As(err, &active) {
		writeError(w, 409, "run_active", err.Error())
		return
	}
	writeError(w, 500, "store_error", err.Error())
}

// applyFlow creates or updates a flow after validating it completely against
// the installed plugins; nothing is saved when anything is wrong.
func (s *Server) applyFlow(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		writeError(w, 400, "bad_request", err.Error())
		return
	}
	f, err := flow.Decode(body)
	if err == nil {
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
		writeError(w, 500, "store_error", err.Error())
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

func (s *Server) deleteFlow(w http.ResponseWriter, r *http.Request) {
	if err := s.Store.DeleteFlow(r.Context(), r.PathValue("name")); err != nil {
		storeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == "" {
		name = r.URL.Query().Get("flow")
	}
	if name != "" {
		if _, err := s.Store.GetFlow(r.Context(), name); err != nil {
			storeError(w, err)
			return
		}
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	runs, err := s.Store.ListRuns(r.Context(), name, limit)
	if err != nil {
		writeError(w, 500, "store_error", err.Error())
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
		storeError(w, err)
		return
	}
	run, err := s.Store.GetRun(r.Context(), id)
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, redactRun(run))
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, 400, "bad_request", "run id must be a number")
		return
	}
	run, err := s.Store.GetRun(r.Context(), id)
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, 200, redactRun(run))
}

func (s *Server) rejected(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, 400, "bad_request", "run id must be a number")
		return
	}
	if _, err := s.Store.GetRun(r.Context(), id); err != nil {
		storeError(w, err)
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	recs, err := s.Store.RejectedRecords(r.Context(), id, limit)
	if err != nil {
		writeError(w, 500, "store_error", err.Error())
		return
	}
	if recs == nil {
		recs = []engine.Rejected{}
	}
	writeJSON(w, 200, recs)
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
