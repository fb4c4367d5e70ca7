package api_test

// Run and flow control through the API: enable / disable and the schedule,
// what a manual trigger does to it, deleting a flow with a run going,
// cancelling, version history, the heartbeat log and rejected records, and
// the roles each needs.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/activedataflow/adf/host/api"
	"github.com/activedataflow/adf/host/store"
	"github.com/activedataflow/adf/internal/testkit"
)

// scheduledFlow is a flow run every hour from a small CSV file.
func (h *host) scheduledFlow(name string) map[string]any {
	in := write(h.t, filepath.Join(h.dir, name+".csv"), "n\n1\n2\n")
	return map[string]any{"name": name, "schedule": map[string]any{"every": "1h"},
		"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
		"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(h.dir, name+".jsonl")}}}
}

func (h *host) flow(name string) *store.FlowRecord {
	h.t.Helper()
	var rec store.FlowRecord
	if code, raw := h.do("GET", "/v1/flows/"+name, viewerToken, nil, &rec); code != 200 {
		h.t.Fatalf("GET flow %s: %d %s", name, code, raw)
	}
	return &rec
}

// heartbeat runs one heartbeat at now and returns the flows it triggered.
func (h *host) heartbeat(now time.Time) store.HeartbeatResult {
	h.t.Helper()
	res, err := h.r.Heartbeat(context.Background(), now)
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// A disabled flow is not scheduled by the heartbeat, and is again once
// enabled. Enable and disable need the operator role, are new config
// versions and are audited. A manual trigger of a disabled flow is allowed
// and leaves the schedule alone (next_run_at and last_run_at do not move);
// the heartbeat does not start a second run while it is active, and starts
// the scheduled one at the first heartbeat after it ended.
func TestEnableDisableAndSchedule(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := newHost(t, dialect, hostOptions{}, testkit.FilePlugin)
			if code, raw := h.do("POST", "/v1/flows", "", h.scheduledFlow("hourly"), nil); code != http.StatusCreated {
				t.Fatalf("create: %d %s", code, raw)
			}
			created := h.flow("hourly")
			if !created.Enabled || created.LastSuccessAt != nil || created.ConfigVersion != 1 || created.NextRunAt == nil {
				t.Fatalf("new flow %+v: want enabled, version 1, never succeeded, due now", created)
			}
			now := time.Now().Add(time.Second)

			// A viewer may not; the refusals are audited too.
			for _, path := range []string{"/v1/flows/hourly/disable", "/v1/flows/hourly/enable"} {
				var body api.ErrorBody
				if code, raw := h.do("POST", path, viewerToken, nil, &body); code != http.StatusForbidden || body.RequiredRole != "operator" {
					t.Errorf("POST %s as viewer: %d %s, want 403 naming the operator role", path, code, raw)
				}
			}
			var rec store.FlowRecord
			code, raw := h.do("POST", "/v1/flows/hourly/disable", operatorToken, nil, &rec)
			if code != 200 || rec.Enabled || *rec.Flow.Enabled || rec.ConfigVersion != 2 {
				t.Fatalf("disable: %d %s, want 200 with enabled false in version 2", code, raw)
			}
			// Disabling a disabled flow changes nothing.
			rec = store.FlowRecord{}
			if code, raw := h.do("POST", "/v1/flows/hourly/disable", operatorToken, nil, &rec); code != 200 || rec.ConfigVersion != 2 {
				t.Fatalf("second disable: %d %s, want 200 still at version 2", code, raw)
			}
			if res := h.heartbeat(now); res.Due != 0 || len(res.Triggered) != 0 {
				t.Fatalf("heartbeat with the flow disabled: %+v, want nothing due", res)
			}

			// A manual trigger of the disabled flow runs it and leaves the
			// schedule as it was.
			manual := h.trigger("hourly")
			after := h.flow("hourly")
			if !after.NextRunAt.Equal(*created.NextRunAt) || after.LastRunAt != nil || after.LastRunStatus != store.StatusPending {
				t.Fatalf("after a manual trigger: next_run_at %v last_run_at %v status %q; want next_run_at %v unchanged, no last_run_at, pending",
					after.NextRunAt, after.LastRunAt, after.LastRunStatus, created.NextRunAt)
			}

			rec = store.FlowRecord{}
			if code, raw := h.do("POST", "/v1/flows/hourly/enable", operatorToken, nil, &rec); code != 200 || !rec.Enabled || rec.ConfigVersion != 3 {
				t.Fatalf("enable: %d %s, want 200 enabled in version 3", code, raw)
			}
			// Due, but its manual run is still pending: not started twice.
			if res := h.heartbeat(now); res.Due != 0 || len(res.Triggered) != 0 {
				t.Fatalf("heartbeat while the manual run is pending: %+v, want nothing started", res)
			}
			// The manual run ends (cancelled before any host took it): the
			// next heartbeat starts the scheduled run of the slot it kept.
			var cancelled store.Run
			if code, raw := h.do("POST", fmt.Sprintf("/v1/runs/%d/cancel", manual), operatorToken, nil, &cancelled); code != 200 || cancelled.Status != store.StatusCancelled {
				t.Fatalf("cancel the pending manual run: %d %s, want 200 with the run cancelled", code, raw)
			}
			res := h.heartbeat(now)
			if len(res.Triggered) != 1 || res.Triggered[0] != "hourly" {
				t.Fatalf("heartbeat after enable: %+v, want hourly started", res)
			}
			sched, err := h.st.GetRun(context.Background(), res.RunIDs[0])
			if err != nil || sched.Trigger != "schedule" || !sched.ScheduledFor.Equal(*created.NextRunAt) {
				t.Fatalf("scheduled run %+v (%v): want trigger schedule for the slot %v", sched, err, created.NextRunAt)
			}
			if f := h.flow("hourly"); f.NextRunAt == nil || !f.NextRunAt.After(now) {
				t.Errorf("after the scheduled run: next_run_at %v, want after %v", f.NextRunAt, now)
			}

			// Versions: newest first, each the document as it was.
			var vs []store.FlowVersion
			if code, raw := h.do("GET", "/v1/flows/hourly/versions", viewerToken, nil, &vs); code != 200 || len(vs) != 3 {
				t.Fatalf("versions: %d %s, want 3", code, raw)
			}
			for i, want := range []bool{true, false, true} {
				if v := vs[i]; v.Version != 3-i || v.Flow == nil || v.Flow.Enabled == nil || *v.Flow.Enabled != want || v.CreatedAt.IsZero() {
					t.Errorf("version %d: %+v, want version %d with enabled %t", i, v, 3-i, want)
				}
			}

			// The audit trail has the writes, the viewer's refusals included.
			var audit []store.AuditEntry
			if code, raw := h.do("GET", "/v1/audit", "", nil, &audit); code != 200 {
				t.Fatalf("audit: %d %s", code, raw)
			}
			var got []string
			for _, e := range audit {
				if strings.HasPrefix(e.Path, "/v1/flows/hourly/") || strings.HasPrefix(e.Path, "/v1/runs/") {
					got = append(got, fmt.Sprintf("%s %s %s %d", e.Role, e.Path, e.Target, e.Status))
				}
			}
			want := []string{ // newest first
				fmt.Sprintf("operator /v1/runs/%d/cancel %d 200", manual, manual),
				"operator /v1/flows/hourly/enable hourly 200",
				"admin /v1/flows/hourly/runs hourly 202",
				"operator /v1/flows/hourly/disable hourly 200",
				"operator /v1/flows/hourly/disable hourly 200",
				"viewer /v1/flows/hourly/enable hourly 403",
				"viewer /v1/flows/hourly/disable hourly 403",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if code, _ := h.do("POST", "/v1/flows/nope/enable", operatorToken, nil, nil); code != 404 {
				t.Errorf("enable an unknown flow: %d, want 404", code)
			}
		})
	}
}

// Deleting a flow with a run in progress answers 409 run_active with the
// run's id and deletes nothing; with ?cancel_runs=true it asks the run to
// stop and deletes the flow: the run ends cancelled, once (its job does not
// loop), and stays readable. Cancel answers 202 for a run in progress, 409
// for one that ended; a viewer may not cancel or delete.
func TestDeleteFlowWithActiveRun(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := newHost(t, dialect, hostOptions{started: true, leaseTTL: 3 * time.Second}, testkit.FilePlugin)
			stream := filepath.Join(h.dir, "stream")
			if err := os.MkdirAll(stream, 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(stream, "a.csv"), "n\n1\n2\n3\n")
			doc := map[string]any{"name": "forever",
				"source": map[string]any{"type": "file", "config": map[string]any{"path": stream, "mode": "continuous", "discover_interval": "100ms"}},
				"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(h.dir, "out") + "/"}}}
			if code, raw := h.do("POST", "/v1/flows", "", doc, nil); code != http.StatusCreated {
				t.Fatalf("create: %d %s", code, raw)
			}
			id := h.trigger("forever")
			h.waitStatus(id, store.StatusInProgress)

			var conflict api.ErrorBody
			code, raw := h.do("DELETE", "/v1/flows/forever", "", nil, &conflict)
			if code != http.StatusConflict || conflict.Error != "run_active" || fmt.Sprint(conflict.RunIDs) != fmt.Sprint([]int64{id}) {
				t.Fatalf("delete with a run in progress: %d %s, want 409 run_active naming run %d", code, raw, id)
			}
			h.flow("forever") // still there
			for _, req := range [][2]string{{"POST", fmt.Sprintf("/v1/runs/%d/cancel", id)}, {"DELETE", "/v1/flows/forever?cancel_runs=true"}} {
				if code, raw := h.do(req[0], req[1], viewerToken, nil, nil); code != http.StatusForbidden {
					t.Errorf("%s %s as viewer: %d %s, want 403", req[0], req[1], code, raw)
				}
			}
			if code, raw := h.do("DELETE", "/v1/flows/forever?cancel_runs=maybe", "", nil, nil); code != http.StatusBadRequest {
				t.Errorf("cancel_runs=maybe: %d %s, want 400", code, raw)
			}

			var deleted api.FlowDeleted
			code, raw = h.do("DELETE", "/v1/flows/forever?cancel_runs=true", "", nil, &deleted)
			if code != 200 || deleted.Flow != "forever" || fmt.Sprint(deleted.CancelRequested) != fmt.Sprint([]int64{id}) {
				t.Fatalf("delete with cancel_runs: %d %s, want 200 naming run %d", code, raw, id)
			}
			if code, _ := h.do("GET", "/v1/flows/forever", "", nil, nil); code != 404 {
				t.Fatalf("flow after delete: %d, want 404", code)
			}
			run := h.waitStatus(id, store.StatusCancelled)
			if !run.FlowDeleted || run.FlowName != "forever" || run.Attempt != 1 || run.EndedAt == nil || run.ErrorMessage != store.ErrCancelRequested.Error() {
				t.Fatalf("run after the flow was deleted: %+v, want cancelled on attempt 1, flow forever deleted", run)
			}
			var view api.RunView
			if code, raw := h.do("GET", fmt.Sprintf("/v1/runs/%d", id), viewerToken, nil, &view); code != 200 || view.Status != store.StatusCancelled || view.Progress != nil {
				t.Fatalf("GET the run of the deleted flow: %d %s", code, raw)
			}
			for _, path := range []string{"/v1/flows/forever/runs", "/v1/runs?flow=forever"} {
				var runs []store.Run
				if code, raw := h.do("GET", path, viewerToken, nil, &runs); code != 200 || len(runs) != 1 || runs[0].ID != id || !runs[0].FlowDeleted {
					t.Errorf("GET %s after the flow was deleted: %d %s, want its run", path, code, raw)
				}
			}
			if code, _ := h.do("GET", "/v1/flows/never-was/runs", viewerToken, nil, nil); code != 404 {
				t.Errorf("runs of a flow that never was: %d, want 404", code)
			}
			// The job ended once, cancelled: no retry loop.
			if jobs := waitJobs(t, h.st, "[[cancelled 1]]"); fmt.Sprint(jobs) != "[[cancelled 1]]" {
				t.Errorf("river jobs %v, want the run's one job cancelled after 1 attempt", jobs)
			}
			var body api.ErrorBody
			if code, raw := h.do("POST", fmt.Sprintf("/v1/runs/%d/cancel", id), operatorToken, nil, &body); code != 409 || body.Error != "run_ended" {
				t.Errorf("cancel an ended run: %d %s, want 409 run_ended", code, raw)
			}
			// The name is free again, with a history of its own.
			if code, raw := h.do("POST", "/v1/flows", "", doc, nil); code != http.StatusCreated {
				t.Fatalf("re-create: %d %s", code, raw)
			}
			var vs []store.FlowVersion
			if code, raw := h.do("GET", "/v1/flows/forever/versions", "", nil, &vs); code != 200 || len(vs) != 1 || vs[0].Version != 1 {
				t.Errorf("versions of the re-created flow: %d %s, want only version 1", code, raw)
			}

			// Cancel of a run in progress: 202 cancel_requested, then
			// cancelled by its host.
			id2 := h.trigger("forever")
			h.waitStatus(id2, store.StatusInProgress)
			var req api.CancelRequested
			if code, raw := h.do("POST", fmt.Sprintf("/v1/runs/%d/cancel", id2), operatorToken, nil, &req); code != http.StatusAccepted || req.Status != "cancel_requested" || req.Run == nil || req.Run.ID != id2 {
				t.Fatalf("cancel a run in progress: %d %s, want 202 cancel_requested", code, raw)
			}
			h.waitStatus(id2, store.StatusCancelled)
		})
	}
}

// waitStatus polls a run until it has status.
func (h *host) waitStatus(id int64, status string) *store.Run {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		run, err := h.st.GetRun(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		if run.Status == status {
			return run
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("run %d is %s (attempt %d, %s), want %s", id, run.Status, run.Attempt, run.ErrorMessage, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Flow versions: every applied change is kept with its time; an unchanged
// apply adds none; configs are redacted like the flow's; unknown versions
// and flows are 404, a bad version 400.
func TestFlowVersions(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := newHost(t, dialect, hostOptions{}, testkit.FilePlugin)
			doc := h.scheduledFlow("versioned")
			// A secret config field: redacted wherever a config is shown.
			src := doc["source"].(map[string]any)["config"].(map[string]any)
			src["s3"] = map[string]any{"access_key_id": "AKIDEXAMPLE", "secret_access_key": "s3cr3t-pw"}
			for i, every := range []string{"1h", "1h", "2h"} {
				doc["schedule"] = map[string]any{"every": every}
				if code, raw := h.do("PUT", "/v1/flows/versioned", "", doc, nil); code >= 300 {
					t.Fatalf("apply %d: %d %s", i, code, raw)
				}
			}
			var vs []store.FlowVersion
			code, raw := h.do("GET", "/v1/flows/versioned/versions", viewerToken, nil, &vs)
			if code != 200 || len(vs) != 2 || vs[0].Version != 2 || vs[1].Version != 1 ||
				vs[0].Flow.Schedule.Every.D() != 2*time.Hour || vs[1].Flow.Schedule.Every.D() != time.Hour || vs[0].CreatedAt.Before(vs[1].CreatedAt) {
				t.Fatalf("versions: %d %s, want 2 (every 2h) and 1 (every 1h), newest first", code, raw)
			}
			if strings.Contains(string(raw), "s3cr3t-pw") {
				t.Errorf("versions show the secret: %s", raw)
			}
			var one store.FlowVersion
			code, raw = h.do("GET", "/v1/flows/versioned/versions/1", viewerToken, nil, &one)
			if code != 200 || one.Version != 1 || one.Flow.Name != "versioned" || strings.Contains(string(raw), "s3cr3t-pw") {
				t.Fatalf("version 1: %d %s", code, raw)
			}
			if f := h.flow("versioned"); f.ConfigVersion != 2 {
				t.Errorf("flow at version %d, want 2", f.ConfigVersion)
			}
			for path, want := range map[string]int{"/v1/flows/versioned/versions/3": 404, "/v1/flows/versioned/versions/x": 400,
				"/v1/flows/versioned/versions/0": 400, "/v1/flows/nope/versions": 404} {
				if code, raw := h.do("GET", path, viewerToken, nil, nil); code != want {
					t.Errorf("GET %s: %d %s, want %d", path, code, raw, want)
				}
			}
		})
	}
}

// The heartbeat log (admin only) lists the newest heartbeats first with
// the runs they created.
func TestHeartbeatLog(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := newHost(t, dialect, hostOptions{}, testkit.FilePlugin)
			if code, raw := h.do("POST", "/v1/flows", "", h.scheduledFlow("beat"), nil); code != http.StatusCreated {
				t.Fatalf("create: %d %s", code, raw)
			}
			// The ticker's code path: logged with what it did.
			h.api.Tick(context.Background())
			runs, err := h.st.ListRuns(context.Background(), "beat", 10)
			if err != nil || len(runs) != 1 {
				t.Fatalf("runs after the tick: %d (%v), want 1", len(runs), err)
			}
			for i := 0; i < 3; i++ {
				if err := h.st.LogHeartbeat(context.Background(), time.Now(), "192.0.2.1:5000", "192.0.2.1", "http", 200, "ok", store.HeartbeatResult{}); err != nil {
					t.Fatal(err)
				}
			}
			var rows []store.HeartbeatLogEntry
			if code, raw := h.do("GET", "/v1/heartbeats?limit=2", "", nil, &rows); code != 200 || len(rows) != 2 || rows[0].ID <= rows[1].ID || rows[0].ClientAddr != "192.0.2.1" {
				t.Fatalf("heartbeats?limit=2: %d %s, want the 2 newest, newest first", code, raw)
			}
			rows = nil
			code, raw := h.do("GET", "/v1/heartbeats", "", nil, &rows)
			if code != 200 || len(rows) != 4 {
				t.Fatalf("heartbeats: %d %s, want 4", code, raw)
			}
			if tick := rows[3]; tick.Source != "ticker" || tick.FlowsTriggered != 1 || fmt.Sprint(tick.RunIDs) != fmt.Sprint([]int64{runs[0].ID}) {
				t.Errorf("the tick's row %+v, want source ticker with run %d", tick, runs[0].ID)
			}
			if code, _ := h.do("GET", "/v1/heartbeats", operatorToken, nil, nil); code != http.StatusForbidden {
				t.Errorf("heartbeats as operator: %d, want 403", code)
			}
			if code, _ := h.do("GET", "/v1/heartbeats?limit=-1", "", nil, nil); code != http.StatusBadRequest {
				t.Errorf("heartbeats?limit=-1: %d, want 400", code)
			}
		})
	}
}

// Rejected records are paged with offset and limit, with their total, and
// each has the position it was read at; an operator may read them, a
// viewer not.
func TestRejectedPaging(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := newHost(t, dialect, hostOptions{started: true}, testkit.FilePlugin)
			var csv strings.Builder
			csv.WriteString("id,amount\n")
			for i := 1; i <= 30; i++ {
				if i%3 == 0 {
					fmt.Fprintf(&csv, "%d,%d,extra\n", i, i) // a bad row: one field too many
				} else {
					fmt.Fprintf(&csv, "%d,%d\n", i, i)
				}
			}
			in := write(t, filepath.Join(h.dir, "bad.csv"), csv.String())
			if code, raw := h.do("POST", "/v1/flows", "", map[string]any{"name": "rejects", "on_error": "dead_letter",
				"source": map[string]any{"type": "file", "config": map[string]any{"path": in}},
				"sink":   map[string]any{"type": "file", "config": map[string]any{"path": filepath.Join(h.dir, "ok.jsonl")}}}, nil); code != http.StatusCreated {
				t.Fatalf("create: %d %s", code, raw)
			}
			id := h.trigger("rejects")
			if run := h.waitRun(id, time.Minute); run.Status != store.StatusSuccess || run.RecordsRejected != 10 {
				t.Fatalf("run %+v: want success with 10 rejected", run)
			}
			var seen []string
			for offset := 0; offset < 12; offset += 4 {
				var page store.RejectedPage
				code, raw := h.do("GET", fmt.Sprintf("/v1/runs/%d/rejected?offset=%d&limit=4", id, offset), operatorToken, nil, &page)
				wantLen := min(4, 10-offset)
				if code != 200 || page.Total != 10 || page.Offset != offset || page.Limit != 4 || len(page.Records) != wantLen {
					t.Fatalf("page at %d: %d %s, want %d of 10", offset, code, raw, wantLen)
				}
				if !strings.Contains(string(raw), `"position"`) {
					t.Errorf("page at %d has no positions: %s", offset, raw)
				}
				for _, r := range page.Records {
					if r.Position == "" || r.Reason == "" || r.Record == "" {
						t.Errorf("record %+v: want its position, reason and record", r)
					}
					seen = append(seen, r.Position)
				}
			}
			// Every bad row once, in order: rows 3, 6, ... 30 are lines 4, 7, ... 31.
			var want []string
			for line := 4; line <= 31; line += 3 {
				want = append(want, fmt.Sprintf("%s:%d", in, line))
			}
			if strings.Join(seen, " ") != strings.Join(want, " ") {
				t.Errorf("positions %v, want %v", seen, want)
			}
			if code, _ := h.do("GET", fmt.Sprintf("/v1/runs/%d/rejected", id), viewerToken, nil, nil); code != http.StatusForbidden {
				t.Errorf("rejected as viewer: %d, want 403", code)
			}
			if code, _ := h.do("GET", fmt.Sprintf("/v1/runs/%d/rejected?offset=x", id), "", nil, nil); code != http.StatusBadRequest {
				t.Errorf("offset=x: %d, want 400", code)
			}
			var empty store.RejectedPage
			if code, raw := h.do("GET", fmt.Sprintf("/v1/runs/%d/rejected?offset=100", id), "", nil, &empty); code != 200 || empty.Total != 10 || empty.Records == nil || len(empty.Records) != 0 {
				t.Errorf("past the end: %d %s, want an empty page of 10", code, raw)
			}
			// The flow's record has the last success.
			if f := h.flow("rejects"); f.LastSuccessAt == nil || f.LastRunStatus != store.StatusSuccess {
				t.Errorf("flow after a successful run: %+v, want last_success_at set", f)
			}
		})
	}
}

// Every operation of the OpenAPI document is served with the role it
// names: a token of a lower role gets 403 naming that role, one of the
// role itself gets an answer of the API (JSON or an event stream), not the
// router's 404 or 405.
func TestOpenAPIRoles(t *testing.T) {
	h := newHost(t, "sqlite", hostOptions{}, testkit.FilePlugin)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if code, raw := h.do("GET", "/v1/openapi.json", "-", nil, &doc); code != 200 || len(doc.Paths) == 0 {
		t.Fatalf("openapi.json: %d %s", code, raw)
	}
	tokens := map[string]string{"viewer": viewerToken, "operator": operatorToken, "admin": adminToken}
	lower := map[string]string{"operator": "viewer", "admin": "operator"}
	fill := strings.NewReplacer("{name}", "nope", "{id}", "999999", "{v}", "1")
	checked := 0
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/v1/") || path == "/v1/heartbeat" || path == "/v1/openapi.json" {
			continue
		}
		for method, raw := range ops {
			if method == "parameters" {
				continue
			}
			var o struct {
				Role string `json:"x-adf-role"`
			}
			if err := json.Unmarshal(raw, &o); err != nil || tokens[o.Role] == "" {
				t.Errorf("%s %s: x-adf-role %q (%v), want viewer, operator or admin", method, path, o.Role, err)
				continue
			}
			m, url := strings.ToUpper(method), fill.Replace(path)
			if low := lower[o.Role]; low != "" {
				var body api.ErrorBody
				if code, raw := h.do(m, url, tokens[low], nil, &body); code != http.StatusForbidden || body.RequiredRole != o.Role {
					t.Errorf("%s %s as %s: %d %s, want 403 naming %s", m, url, low, code, raw, o.Role)
				}
			}
			req, err := http.NewRequest(m, h.srv.URL+url, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tokens[o.Role])
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			ct := resp.Header.Get("Content-Type")
			if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusMethodNotAllowed ||
				(resp.StatusCode != http.StatusNoContent && ct != "application/json" && ct != "text/event-stream") {
				t.Errorf("%s %s as %s: %d %s, want an answer of the API", m, url, o.Role, resp.StatusCode, ct)
			}
			checked++
		}
	}
	if checked < 19 {
		t.Errorf("checked %d operations, want every /v1 one (at least 19)", checked)
	}
}
