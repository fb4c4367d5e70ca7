package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/activedataflow/adf/host/access"
	"github.com/activedataflow/adf/host/store"
)

// auditKey is the context key of a write request's *auditTarget.
type auditKey struct{}

// auditTarget is what a write request acts on, filled in by its handler.
type auditTarget struct{ target string }

// setTarget records what the request acts on (a flow name, a run id) for
// its audit entry; it does nothing outside a write request.
func setTarget(r *http.Request, target string) {
	if t, ok := r.Context().Value(auditKey{}).(*auditTarget); ok && target != "" {
		t.target = target
	}
}

// writeMethod reports whether a request with method m may change something
// (and so is audited).
func writeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// authorize serves h when the request's token has the role need, and
// answers 403 naming the role otherwise.
func (s *Server) authorize(need access.Role, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.PathValue("name")
		if target == "" {
			target = r.PathValue("id")
		}
		setTarget(r, target)
		d, _ := access.FromContext(r.Context())
		if !d.Role.Includes(need) {
			writeJSON(w, http.StatusForbidden, ErrorBody{Error: "forbidden", RequiredRole: need.String(),
				Message: fmt.Sprintf("%s %s needs the %s role; this token has the %s role (tokens of the %s role are configured in %s)",
					r.Method, r.URL.Path, need, d.Role, need, roleEnv(need))})
			return
		}
		h(w, r)
	})
}

// roleEnv names the environment variable of a role's tokens.
func roleEnv(r access.Role) string {
	switch r {
	case access.RoleAdmin:
		return "ADF_ADMIN_TOKEN"
	case access.RoleOperator:
		return "ADF_OPERATOR_TOKENS"
	}
	return "ADF_VIEWER_TOKENS"
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// maxAuditPath bounds the path kept in an audit entry.
const maxAuditPath = 1024

// audit records every write request of an authenticated caller (whatever
// its outcome, refusals for lack of a role included) in the audit trail and
// the log, after next answered it.
func (s *Server) audit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !writeMethod(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		t := &auditTarget{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), auditKey{}, t)))
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		d, _ := access.FromContext(r.Context())
		path := r.URL.Path
		if len(path) > maxAuditPath {
			path = path[:maxAuditPath]
		}
		e := store.AuditEntry{Time: d.Time, Role: d.Role.String(), TokenID: d.TokenID, RemoteAddr: r.RemoteAddr, ClientAddr: d.Client,
			Method: r.Method, Path: path, Target: t.target, Status: sw.code}
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		s.Log.Info("api audit", "role", e.Role, "token_id", e.TokenID, "remote", e.RemoteAddr, "client", e.ClientAddr,
			"method", e.Method, "path", e.Path, "target", e.Target, "status", e.Status)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		defer cancel()
		if err := s.Store.RecordAudit(ctx, e); err != nil {
			s.Log.Error("api audit entry not stored (the log line above is the only record)", "error", err)
		}
	})
}

// auditLog answers GET /v1/audit: the newest audit entries, newest first
// (?limit=, default 100, at most 1000).
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) {
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	entries, err := s.Store.AuditLog(r.Context(), limit)
	if err != nil {
		s.internalError(w, r, "audit trail", err)
		return
	}
	writeJSON(w, http.StatusOK, entries)
}

// Maintain keeps the heartbeat log until ctx is done: every second it adds
// the refused requests folded into sampled rows to their rows' requests
// counts, and, when HeartbeatLogRetention > 0, it deletes the rows older
// than that at once and then every tenth of it (between 1 s and 1 h).
func (s *Server) Maintain(ctx context.Context) {
	s.init()
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	var sweep <-chan time.Time
	if s.HeartbeatLogRetention > 0 {
		s.sweepHeartbeatLog(ctx)
		t := time.NewTicker(min(max(s.HeartbeatLogRetention/10, time.Second), time.Hour))
		defer t.Stop()
		sweep = t.C
	}
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			s.flushHeartbeatLog(fctx)
			cancel()
			return
		case <-flush.C:
			s.flushHeartbeatLog(ctx)
		case <-sweep:
			s.sweepHeartbeatLog(ctx)
		}
	}
}

func (s *Server) flushHeartbeatLog(ctx context.Context) {
	counts := s.hbLog.flush(time.Now())
	if err := s.Store.AddHeartbeatRequests(ctx, counts); err != nil {
		s.Log.Error("heartbeat log", "error", err)
	}
}

func (s *Server) sweepHeartbeatLog(ctx context.Context) {
	before := time.Now().Add(-s.HeartbeatLogRetention)
	n, err := s.Store.DeleteHeartbeatLogBefore(ctx, before)
	if err != nil {
		s.Log.Error("heartbeat log retention", "error", err)
		return
	}
	if n > 0 {
		s.Log.Info("heartbeat log retention: deleted old rows", "rows", n, "retention", s.HeartbeatLogRetention.String())
	}
}
