package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/activedataflow/adf/sdk/flow"
)

// Run statuses.
const (
	StatusPending    = "pending"
	StatusInProgress = "in_progress"
	StatusSuccess    = "success"
	StatusFailed     = "failed"
	StatusCancelled  = "cancelled"
)

// Run is one run of a flow.
type Run struct {
	ID int64 `json:"id"`
	// FlowID is the flow's id; 0 once the flow was deleted (the run stays,
	// as history, with FlowDeleted set).
	FlowID   int64  `json:"flow_id"`
	FlowName string `json:"flow"`
	// FlowDeleted says the run's flow was deleted after the run was made.
	FlowDeleted     bool            `json:"flow_deleted,omitempty"`
	Status          string          `json:"status"`
	Trigger         string          `json:"trigger"`
	ScheduledFor    time.Time       `json:"scheduled_for"`
	StartedAt       *time.Time      `json:"started_at,omitempty"`
	EndedAt         *time.Time      `json:"ended_at,omitempty"`
	Attempt         int             `json:"attempt"`
	RecordsRead     int64           `json:"records_read"`
	RecordsWritten  int64           `json:"records_written"`
	RecordsRejected int64           `json:"records_rejected"`
	BytesWritten    int64           `json:"bytes_written"`
	ErrorMessage    string          `json:"error_message,omitempty"`
	ErrorBacktrace  string          `json:"error_backtrace,omitempty"`
	Config          json.RawMessage `json:"config,omitempty"`
	ConfigVersion   int             `json:"config_version"`
	// RuntimeJobID is the job a runtime (Flink) runs the run as; empty for
	// runs in the host.
	RuntimeJobID string `json:"runtime_job_id,omitempty"`
}

// Enqueue inserts the jobs of the given runs in the caller's transaction,
// the one that created the run rows.
type Enqueue func(ctx context.Context, tx *sql.Tx, runIDs []int64) error

const runSelect = `SELECT id, flow_id, flow_name, status, trigger, scheduled_for, started_at, ended_at, attempt,
	records_read, records_written, records_rejected, bytes_written, error_message, error_backtrace, config, config_version,
	runtime_job_id
	FROM data_flow_runs`

func scanRun(r rowScanner) (*Run, error) {
	var run Run
	var sched, started, ended nullTime
	var msg, trace, job sql.NullString
	var flowID sql.NullInt64
	var cfg []byte
	if err := r.Scan(&run.ID, &flowID, &run.FlowName, &run.Status, &run.Trigger, &sched, &started, &ended, &run.Attempt,
		&run.RecordsRead, &run.RecordsWritten, &run.RecordsRejected, &run.BytesWritten, &msg, &trace, &cfg, &run.ConfigVersion, &job); err != nil {
		return nil, err
	}
	run.FlowID, run.FlowDeleted = flowID.Int64, !flowID.Valid
	run.RuntimeJobID = job.String
	run.ScheduledFor, run.StartedAt, run.EndedAt = sched.T, started.ptr(), ended.ptr()
	run.ErrorMessage, run.ErrorBacktrace = msg.String, trace.String
	if len(cfg) > 0 {
		run.Config = cfg
	}
	return &run, nil
}

// HeartbeatResult is what one heartbeat did.
type HeartbeatResult struct {
	// Due is the number of flows that were due.
	Due int `json:"flows_due"`
	// Triggered lists the flows that got a run.
	Triggered []string `json:"flows_triggered"`
	// RunIDs are the runs created, in the order of Triggered.
	RunIDs []int64 `json:"run_ids"`
}

// Heartbeat starts every due flow, in one transaction: due flows (enabled,
// scheduled, next run time reached, no run pending or in progress) are
// selected with FOR UPDATE SKIP LOCKED on PostgreSQL (SQLite serialises
// writers: transactions begin IMMEDIATE), their last_run_at and next_run_at
// move on, each gets a run row unique per (flow, scheduled slot), and
// enqueue adds its job in the same transaction. Nothing is enqueued twice;
// nothing is lost if the host dies at any point.
func (s *Store) Heartbeat(ctx context.Context, now time.Time, enqueue Enqueue) (HeartbeatResult, error) {
	var res HeartbeatResult
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q := `SELECT f.id, f.name, f.run_interval, f.next_run_at, f.config_version FROM data_flows f
			WHERE f.enabled AND f.run_interval IS NOT NULL AND f.next_run_at <= $1
			AND NOT EXISTS (SELECT 1 FROM data_flow_runs r WHERE r.flow_id = f.id AND r.status IN ('pending', 'in_progress'))
			ORDER BY f.next_run_at, f.id`
		if s.dialect == Postgres {
			q += ` FOR UPDATE OF f SKIP LOCKED`
		}
		rows, err := tx.QueryContext(ctx, q, s.ts(now))
		if err != nil {
			return fmt.Errorf("select due flows: %w", err)
		}
		type due struct {
			id       int64
			name     string
			interval time.Duration
			slot     time.Time
			version  int
		}
		var flows []due
		for rows.Next() {
			var d due
			var ms int64
			var next nullTime
			if err := rows.Scan(&d.id, &d.name, &ms, &next, &d.version); err != nil {
				rows.Close()
				return fmt.Errorf("select due flows: %w", err)
			}
			d.interval, d.slot = time.Duration(ms)*time.Millisecond, next.T
			flows = append(flows, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("select due flows: %w", err)
		}
		res.Due = len(flows)
		// Batched writes: a few statements per chunk instead of several
		// round trips per flow.
		for len(flows) > 0 {
			chunk := flows[:min(len(flows), heartbeatChunk)]
			flows = flows[len(chunk):]
			var upd, ins []any
			for _, d := range chunk {
				// The next slot is the first one after now: missed slots
				// are not run in a burst after downtime.
				next := d.slot.Add(d.interval)
				if !next.After(now) {
					next = now.Add(d.interval - now.Sub(d.slot)%d.interval)
				}
				upd = append(upd, d.id, s.ts(next))
				ins = append(ins, d.id, d.name, s.ts(d.slot), d.version)
			}
			if _, err := tx.ExecContext(ctx, s.updateDueSQL(len(chunk)), append([]any{s.ts(now)}, upd...)...); err != nil {
				return fmt.Errorf("update due flows: %w", err)
			}
			rows, err := tx.QueryContext(ctx, s.insertRunsSQL(len(chunk)), ins...)
			if err != nil {
				return fmt.Errorf("create runs: %w", err)
			}
			runOf := map[int64]int64{}
			for rows.Next() {
				var id, flowID int64
				if err := rows.Scan(&id, &flowID); err != nil {
					rows.Close()
					return fmt.Errorf("create runs: %w", err)
				}
				runOf[flowID] = id
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("create runs: %w", err)
			}
			var ids []int64
			for _, d := range chunk {
				id, ok := runOf[d.id]
				if !ok {
					continue // the slot already has a run
				}
				res.Triggered = append(res.Triggered, d.name)
				res.RunIDs = append(res.RunIDs, id)
				ids = append(ids, id)
			}
			if len(ids) > 0 {
				if err := enqueue(ctx, tx, ids); err != nil {
					return fmt.Errorf("enqueue runs: %w", err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return HeartbeatResult{}, err
	}
	return res, nil
}

var errSlotTaken = errors.New("slot already has a run")

// heartbeatChunk bounds the flows written per statement (parameter limits).
const heartbeatChunk = 500

// updateDueSQL moves n due flows on: $1 is now, then (id, next_run_at) pairs.
func (s *Store) updateDueSQL(n int) string {
	var b strings.Builder
	b.WriteString(`UPDATE data_flows SET last_run_at = $1, next_run_at = v.next_run_at, last_run_status = 'pending' FROM `)
	if s.dialect == Postgres {
		b.WriteString(`(VALUES `)
	} else {
		// SQLite names VALUES columns column1, column2, ...
		b.WriteString(`(SELECT column1 AS id, column2 AS next_run_at FROM (VALUES `)
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		if s.dialect == Postgres {
			fmt.Fprintf(&b, "($%d::bigint, $%d::timestamptz)", 2+2*i, 3+2*i)
		} else {
			fmt.Fprintf(&b, "($%d, $%d)", 2+2*i, 3+2*i)
		}
	}
	if s.dialect == Postgres {
		b.WriteString(`) AS v (id, next_run_at)`)
	} else {
		b.WriteString(`)) AS v`)
	}
	b.WriteString(` WHERE data_flows.id = v.id`)
	return b.String()
}

// insertRunsSQL creates n scheduled runs from (flow_id, flow_name, slot,
// config_version) tuples, skipping slots that already have a run, and
// returns (id, flow_id) of the rows created.
func (s *Store) insertRunsSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO data_flow_runs (flow_id, flow_name, status, trigger, scheduled_for, config_version) VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d, $%d, 'pending', 'schedule', $%d, $%d)", 1+4*i, 2+4*i, 3+4*i, 4+4*i)
	}
	b.WriteString(` ON CONFLICT (flow_id, scheduled_for) DO NOTHING RETURNING id, flow_id`)
	return b.String()
}

func (s *Store) insertRun(ctx context.Context, tx *sql.Tx, flowID int64, name, trigger string, slot time.Time, version int) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO data_flow_runs (flow_id, flow_name, status, trigger, scheduled_for, config_version)
		VALUES ($1, $2, 'pending', $3, $4, $5) ON CONFLICT (flow_id, scheduled_for) DO NOTHING RETURNING id`,
		flowID, name, trigger, s.ts(slot), version).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errSlotTaken
	}
	if err != nil {
		return 0, fmt.Errorf("create run of flow %s: %w", name, err)
	}
	return id, nil
}

// TriggerRun creates a run of the flow now (trigger-now) and enqueues it in
// the same transaction. A flow with a run pending or in progress is not
// started twice: ErrRunActive.
func (s *Store) TriggerRun(ctx context.Context, name string, now time.Time, enqueue Enqueue) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q := `SELECT id, config_version FROM data_flows WHERE name = $1`
		if s.dialect == Postgres {
			q += ` FOR UPDATE`
		}
		var flowID int64
		var version int
		if err := tx.QueryRowContext(ctx, q, name).Scan(&flowID, &version); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("flow %q: %w", name, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("load flow %s: %w", name, err)
		}
		var active int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM data_flow_runs WHERE flow_id = $1 AND status IN ('pending', 'in_progress') LIMIT 1`, flowID).Scan(&active)
		if err == nil {
			return &RunActiveError{Flow: name, RunID: active}
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if id, err = s.insertRun(ctx, tx, flowID, name, "manual", now, version); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE data_flows SET last_run_status = $2 WHERE id = $1`, flowID, StatusPending); err != nil {
			return err
		}
		return enqueue(ctx, tx, []int64{id})
	})
	return id, err
}

// RunActiveError says a flow already has a run pending or in progress.
type RunActiveError struct {
	Flow string
	// RunID is the (first) active run.
	RunID int64
	// RunIDs are all the active runs, when the caller looked for all
	// (DeleteFlow); else nil.
	RunIDs []int64
}

func (e *RunActiveError) Error() string {
	if len(e.RunIDs) > 1 {
		ids := make([]string, len(e.RunIDs))
		for i, id := range e.RunIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		return fmt.Sprintf("flow %s has runs %s pending or in progress", e.Flow, strings.Join(ids, ", "))
	}
	return fmt.Sprintf("flow %s already has run %d pending or in progress", e.Flow, e.RunID)
}

// ActiveRuns returns the runs named by the error.
func (e *RunActiveError) ActiveRuns() []int64 {
	if len(e.RunIDs) > 0 {
		return e.RunIDs
	}
	return []int64{e.RunID}
}

// StartRun marks a run in progress for an attempt, records the config it
// uses, and returns the run. A run that already ended is returned as is
// (ended=true) so a duplicate job does nothing.
func (s *Store) StartRun(ctx context.Context, runID int64, attempt int, f *flow.Flow, version int, now time.Time) (*Run, bool, error) {
	cfg, err := json.Marshal(f)
	if err != nil {
		return nil, false, err
	}
	run, err := s.GetRun(ctx, runID)
	if err != nil {
		return nil, false, err
	}
	if run.Status == StatusSuccess || run.Status == StatusCancelled {
		return run, true, nil
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE data_flow_runs SET status = 'in_progress', attempt = $2, started_at = COALESCE(started_at, $3),
			ended_at = NULL, config = $4, config_version = $5 WHERE id = $1`, runID, attempt, s.ts(now), string(cfg), version); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE data_flows SET last_run_status = 'in_progress' WHERE id = $1`, run.FlowID)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("start run %d: %w", runID, err)
	}
	run, err = s.GetRun(ctx, runID)
	return run, false, err
}

// RunCounts are a run's record counts.
type RunCounts struct {
	Read, Written, Rejected, Bytes int64
}

// FinishRun records a run's outcome (success, or failure with message and
// backtrace) and the flow's last_run_status. final=false keeps a failed run
// retryable: it is marked failed but the flow's status says so only when no
// retry follows.
func (s *Store) FinishRun(ctx context.Context, runID int64, status string, counts RunCounts, errMsg, backtrace string, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// flow_id is NULL once the flow was deleted: the run's row is
		// still written, and no flow's.
		var flowID sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT flow_id FROM data_flow_runs WHERE id = $1`, runID).Scan(&flowID); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("run %d: %w", runID, ErrNotFound)
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE data_flow_runs SET status = $2, ended_at = $3, records_read = $4, records_written = $5,
			records_rejected = $6, bytes_written = $7, error_message = $8, error_backtrace = $9 WHERE id = $1`,
			runID, status, s.ts(now), counts.Read, counts.Written, counts.Rejected, counts.Bytes, nullStr(errMsg), nullStr(backtrace)); err != nil {
			return err
		}
		if !flowID.Valid {
			return nil
		}
		q := `UPDATE data_flows SET last_run_status = $2, last_error = $3 WHERE id = $1`
		if status == StatusSuccess {
			q = `UPDATE data_flows SET last_run_status = $2, last_error = $3, last_success_at = $4 WHERE id = $1`
			_, err := tx.ExecContext(ctx, q, flowID.Int64, status, nullStr(errMsg), s.ts(now))
			return err
		}
		_, err := tx.ExecContext(ctx, q, flowID.Int64, status, nullStr(errMsg))
		return err
	})
	if err != nil {
		return fmt.Errorf("finish run %d: %w", runID, err)
	}
	return nil
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// SetRuntimeJob records the job a runtime runs the run as, so that a host
// resuming the run follows that job.
func (s *Store) SetRuntimeJob(ctx context.Context, runID int64, jobID string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE data_flow_runs SET runtime_job_id = $2 WHERE id = $1`, runID, jobID); err != nil {
		return fmt.Errorf("record runtime job %s of run %d: %w", jobID, runID, err)
	}
	return nil
}

// GetRun returns a run, or ErrNotFound.
func (s *Store) GetRun(ctx context.Context, id int64) (*Run, error) {
	run, err := scanRun(s.db.QueryRowContext(ctx, runSelect+` WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load run %d: %w", id, err)
	}
	return run, nil
}

// ListRuns returns the newest runs, of one flow when flowName is set.
func (s *Store) ListRuns(ctx context.Context, flowName string, limit int) ([]*Run, error) {
	if limit <= 0 {
		limit = 50
	}
	q := runSelect
	args := []any{}
	if flowName != "" {
		q += ` WHERE flow_name = $1`
		args = append(args, flowName)
	}
	q += ` ORDER BY id DESC LIMIT ` + strconv.Itoa(limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []*Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RunCountsByFlow counts each flow's runs (for tests and diagnostics).
func (s *Store) RunCountsByFlow(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT flow_name, count(*) FROM data_flow_runs GROUP BY flow_name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var n string
		var c int
		if err := rows.Scan(&n, &c); err != nil {
			return nil, err
		}
		out[n] = c
	}
	return out, rows.Err()
}

// LogHeartbeat records one heartbeat request.
func (s *Store) LogHeartbeat(ctx context.Context, at time.Time, remote, client, source string, status int, outcome string, res HeartbeatResult) error {
	ids := make([]string, len(res.RunIDs))
	for i, id := range res.RunIDs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO heartbeat_requests (received_at, remote_addr, client_addr, source, status, outcome, flows_due, flows_triggered, run_ids)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, s.ts(at), remote, client, source, status, outcome, res.Due, len(res.Triggered), strings.Join(ids, ","))
	if err != nil {
		return fmt.Errorf("log heartbeat: %w", err)
	}
	return nil
}

// HeartbeatLogEntry is one row of the heartbeat request log.
type HeartbeatLogEntry struct {
	ID             int64     `json:"id"`
	ReceivedAt     time.Time `json:"received_at"`
	RemoteAddr     string    `json:"remote_addr"`
	ClientAddr     string    `json:"client_addr"`
	Source         string    `json:"source"`
	Status         int       `json:"status"`
	Outcome        string    `json:"outcome"`
	FlowsDue       int       `json:"flows_due"`
	FlowsTriggered int       `json:"flows_triggered"`
	// RunIDs are the runs the heartbeat created.
	RunIDs []int64 `json:"run_ids"`
	// Requests is how many requests the row stands for: 1, or more for a
	// refused request into whose row later ones of the same client and
	// outcome were folded (see [Store.LogRefusedHeartbeat]).
	Requests int `json:"requests"`
}

// DefaultHeartbeatLimit and MaxHeartbeatLimit bound [Store.RecentHeartbeats].
const (
	DefaultHeartbeatLimit = 100
	MaxHeartbeatLimit     = 1000
)

// HeartbeatLog returns the newest heartbeat log rows, oldest first.
func (s *Store) HeartbeatLog(ctx context.Context, limit int) ([]HeartbeatLogEntry, error) {
	out, err := s.heartbeats(ctx, limit)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// RecentHeartbeats returns the newest heartbeat log rows, newest first:
// limit of them (DefaultHeartbeatLimit when limit <= 0, at most
// MaxHeartbeatLimit).
func (s *Store) RecentHeartbeats(ctx context.Context, limit int) ([]HeartbeatLogEntry, error) {
	if limit <= 0 {
		limit = DefaultHeartbeatLimit
	}
	return s.heartbeats(ctx, min(limit, MaxHeartbeatLimit))
}

// heartbeats reads the newest limit rows, newest first.
func (s *Store) heartbeats(ctx context.Context, limit int) ([]HeartbeatLogEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, received_at, remote_addr, client_addr, source, status, outcome, flows_due, flows_triggered, run_ids, requests
		FROM heartbeat_requests ORDER BY id DESC LIMIT `+strconv.Itoa(max(limit, 0)))
	if err != nil {
		return nil, fmt.Errorf("heartbeat log: %w", err)
	}
	defer rows.Close()
	out := []HeartbeatLogEntry{}
	for rows.Next() {
		var e HeartbeatLogEntry
		var at nullTime
		var ids string
		if err := rows.Scan(&e.ID, &at, &e.RemoteAddr, &e.ClientAddr, &e.Source, &e.Status, &e.Outcome, &e.FlowsDue, &e.FlowsTriggered, &ids, &e.Requests); err != nil {
			return nil, fmt.Errorf("heartbeat log: %w", err)
		}
		e.ReceivedAt = at.T
		e.RunIDs = []int64{}
		for _, f := range strings.Split(ids, ",") {
			if id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64); err == nil {
				e.RunIDs = append(e.RunIDs, id)
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("heartbeat log: %w", err)
	}
	return out, nil
}
