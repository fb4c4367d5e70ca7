package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// ErrNotFound is returned for a flow or run that does not exist.
var ErrNotFound = errors.New("not found")

// FlowRecord is a stored flow with its scheduling state.
type FlowRecord struct {
	ID            int64      `json:"id"`
	Flow          *flow.Flow `json:"flow"`
	NextRunAt     *time.Time `json:"next_run_at,omitempty"`
	LastRunAt     *time.Time `json:"last_run_at,omitempty"`
	LastRunStatus string     `json:"last_run_status,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	ConfigVersion int        `json:"config_version"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// options holds the flow keys without a column of their own.
type options struct {
	Checkpoint    *flow.Checkpoint `json:"checkpoint,omitempty"`
	DeadLetter    *flow.DeadLetter `json:"dead_letter,omitempty"`
	MaxRestarts   *int             `json:"max_restarts,omitempty"`
	RetryDeadline *sdk.Duration    `json:"retry_deadline,omitempty"`
	Timeout       *sdk.Duration    `json:"timeout,omitempty"`
}

type flowColumns struct {
	source, transforms, sink, runtime, options []byte
	interval                                   sql.NullInt64
}

func columnsOf(f *flow.Flow) (flowColumns, error) {
	var c flowColumns
	var err error
	marshal := func(v any) []byte {
		if err != nil {
			return nil
		}
		var b []byte
		b, err = json.Marshal(v)
		return b
	}
	transforms := f.Transforms
	if transforms == nil {
		transforms = []flow.Component{}
	}
	c.source = marshal(f.Source)
	c.transforms = marshal(transforms)
	c.sink = marshal(f.Sink)
	c.runtime = marshal(f.Runtime)
	c.options = marshal(options{Checkpoint: f.Checkpoint, DeadLetter: f.DeadLetter, MaxRestarts: f.MaxRestarts, RetryDeadline: f.RetryDeadline, Timeout: f.Timeout})
	if f.Schedule != nil {
		c.interval = sql.NullInt64{Int64: int64(f.Schedule.Every.D() / time.Millisecond), Valid: true}
	}
	return c, err
}

func sameConfig(a, b flowColumns, fa, fb *flow.Flow) bool {
	return string(a.source) == string(b.source) && string(a.transforms) == string(b.transforms) &&
		string(a.sink) == string(b.sink) && string(a.runtime) == string(b.runtime) &&
		string(a.options) == string(b.options) && a.interval == b.interval &&
		fa.Parallelism == fb.Parallelism && fa.OnError == fb.OnError && fa.Description == fb.Description &&
		*fa.Enabled == *fb.Enabled
}

const flowSelect = `SELECT id, name, description, enabled, source, transforms, sink, runtime, options, run_interval,
	parallelism, on_error, next_run_at, last_run_at, last_run_status, last_error, config_version, created_at, updated_at
	FROM data_flows`

type rowScanner interface{ Scan(...any) error }

func scanFlow(r rowScanner) (*FlowRecord, error) {
	var rec FlowRecord
	f := &flow.Flow{}
	var enabled bool
	var source, transforms, sink, runtime, opts []byte
	var interval sql.NullInt64
	var next, last, created, updated nullTime
	var status, lastErr sql.NullString
	if err := r.Scan(&rec.ID, &f.Name, &f.Description, &enabled, &source, &transforms, &sink, &runtime, &opts, &interval,
		&f.Parallelism, &f.OnError, &next, &last, &status, &lastErr, &rec.ConfigVersion, &created, &updated); err != nil {
		return nil, err
	}
	var o options
	for _, p := range []struct {
		b []byte
		v any
	}{{source, &f.Source}, {transforms, &f.Transforms}, {sink, &f.Sink}, {runtime, &f.Runtime}, {opts, &o}} {
		if err := json.Unmarshal(p.b, p.v); err != nil {
			return nil, fmt.Errorf("decode flow %s: %w", f.Name, err)
		}
	}
	f.Enabled = &enabled
	f.Checkpoint, f.DeadLetter, f.MaxRestarts, f.RetryDeadline, f.Timeout = o.Checkpoint, o.DeadLetter, o.MaxRestarts, o.RetryDeadline, o.Timeout
	if interval.Valid {
		f.Schedule = &flow.Schedule{Every: sdk.Duration(time.Duration(interval.Int64) * time.Millisecond)}
	}
	if len(f.Transforms) == 0 {
		f.Transforms = nil
	}
	rec.Flow = f
	rec.NextRunAt, rec.LastRunAt = next.ptr(), last.ptr()
	rec.LastRunStatus, rec.LastError = status.String, lastErr.String
	rec.CreatedAt, rec.UpdatedAt = created.T, updated.T
	return &rec, nil
}

// ApplyFlow creates the flow or, when its configuration changed, updates it
// and bumps its config version. A changed config applies on the next run.
// It returns the stored record and what happened: "created", "updated" or
// "unchanged".
func (s *Store) ApplyFlow(ctx context.Context, f *flow.Flow, now time.Time) (*FlowRecord, string, error) {
	f.Normalize()
	cols, err := columnsOf(f)
	if err != nil {
		return nil, "", err
	}
	outcome := ""
	var rec *FlowRecord
	err = s.tx(ctx, func(tx *sql.Tx) error {
		q := flowSelect + ` WHERE name = $1`
		if s.dialect == Postgres {
			q += ` FOR UPDATE`
		}
		old, err := scanFlow(tx.QueryRowContext(ctx, q, f.Name))
		var next any
		if f.Schedule != nil {
			next = s.ts(now)
		}
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO data_flows (name, description, enabled, source, transforms, sink, runtime, options,
				run_interval, parallelism, on_error, next_run_at, config_version, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $13)`,
				f.Name, f.Description, *f.Enabled, string(cols.source), string(cols.transforms), string(cols.sink), string(cols.runtime), string(cols.options),
				cols.interval, f.Parallelism, f.OnError, next, s.ts(now))
			outcome = "created"
		case err != nil:
			return fmt.Errorf("load flow %s: %w", f.Name, err)
		default:
			oldCols, err := columnsOf(old.Flow)
			if err != nil {
				return err
			}
			if sameConfig(cols, oldCols, f, old.Flow) {
				outcome = "unchanged"
				return nil
			}
			// Keep the schedule's phase: the next run is one interval after
			// the last one (or now, if it never ran).
			if f.Schedule != nil && old.LastRunAt != nil {
				next = s.ts(old.LastRunAt.Add(f.Schedule.Every.D()))
			}
			_, err = tx.ExecContext(ctx, `UPDATE data_flows SET description = $2, enabled = $3, source = $4, transforms = $5, sink = $6,
				runtime = $7, options = $8, run_interval = $9, parallelism = $10, on_error = $11, next_run_at = $12,
				config_version = config_version + 1, updated_at = $13 WHERE name = $1`,
				f.Name, f.Description, *f.Enabled, string(cols.source), string(cols.transforms), string(cols.sink), string(cols.runtime), string(cols.options),
				cols.interval, f.Parallelism, f.OnError, next, s.ts(now))
			outcome = "updated"
		}
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("apply flow %s: %w", f.Name, err)
	}
	rec, err = s.GetFlow(ctx, f.Name)
	return rec, outcome, err
}

// GetFlow returns a flow by name, or ErrNotFound.
func (s *Store) GetFlow(ctx context.Context, name string) (*FlowRecord, error) {
	rec, err := scanFlow(s.db.QueryRowContext(ctx, flowSelect+` WHERE name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("flow %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load flow %s: %w", name, err)
	}
	return rec, nil
}

// ListFlows returns every flow, by name.
func (s *Store) ListFlows(ctx context.Context) ([]*FlowRecord, error) {
	rows, err := s.db.QueryContext(ctx, flowSelect+` ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list flows: %w", err)
	}
	defer rows.Close()
	var out []*FlowRecord
	for rows.Next() {
		rec, err := scanFlow(rows)
		if err != nil {
			return nil, fmt.Errorf("list flows: %w", err)
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

// DeleteFlow removes a flow and its runs.
func (s *Store) DeleteFlow(ctx context.Context, name string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM data_flows WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("delete flow %s: %w", name, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("flow %q: %w", name, ErrNotFound)
	}
	return nil
}
