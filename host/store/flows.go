package store

import (
	"bytes"
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
	ID   int64      `json:"id"`
	Flow *flow.Flow `json:"flow"`
	// Enabled is whether the heartbeat schedules the flow (the document's
	// enabled key; see [Store.SetFlowEnabled]).
	Enabled bool `json:"enabled"`
	// LastSuccessAt is when the flow's last successful run ended; null
	// when it never succeeded.
	LastSuccessAt *time.Time `json:"last_success_at"`
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

// sameConfig compares two flows' configs. JSON is compared by value, not
// by text: PostgreSQL's JSONB gives a stored config's keys back in its own
// order, and an unchanged document must stay unchanged.
func sameConfig(a, b flowColumns, fa, fb *flow.Flow) bool {
	return sameJSON(a.source, b.source) && sameJSON(a.transforms, b.transforms) &&
		sameJSON(a.sink, b.sink) && sameJSON(a.runtime, b.runtime) &&
		sameJSON(a.options, b.options) && a.interval == b.interval &&
		fa.Parallelism == fb.Parallelism && fa.OnError == fb.OnError && fa.Description == fb.Description &&
		*fa.Enabled == *fb.Enabled
}

// sameJSON reports whether two JSON documents have the same value (objects
// compared key by key, whatever the order; numbers by their text).
func sameJSON(a, b []byte) bool {
	if string(a) == string(b) {
		return true
	}
	canon := func(raw []byte) (string, bool) {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return "", false
		}
		out, err := json.Marshal(v) // map keys in order
		return string(out), err == nil
	}
	ca, okA := canon(a)
	cb, okB := canon(b)
	return okA && okB && ca == cb
}

const flowSelect = `SELECT id, name, description, enabled, source, transforms, sink, runtime, options, run_interval,
	parallelism, on_error, next_run_at, last_run_at, last_run_status, last_error, config_version, created_at, updated_at,
	last_success_at
	FROM data_flows`

type rowScanner interface{ Scan(...any) error }

func scanFlow(r rowScanner) (*FlowRecord, error) {
	var rec FlowRecord
	var c storedConfig
	var next, last, created, updated, success nullTime
	var status, lastErr sql.NullString
	if err := r.Scan(&rec.ID, &c.name, &c.description, &c.enabled, &c.source, &c.transforms, &c.sink, &c.runtime, &c.options, &c.interval,
		&c.parallelism, &c.onError, &next, &last, &status, &lastErr, &rec.ConfigVersion, &created, &updated, &success); err != nil {
		return nil, err
	}
	f, err := c.decode()
	if err != nil {
		return nil, err
	}
	rec.Flow, rec.Enabled = f, c.enabled
	rec.NextRunAt, rec.LastRunAt, rec.LastSuccessAt = next.ptr(), last.ptr(), success.ptr()
	rec.LastRunStatus, rec.LastError = status.String, lastErr.String
	rec.CreatedAt, rec.UpdatedAt = created.T, updated.T
	return &rec, nil
}

// storedConfig is a flow document as data_flows keeps it, in columns.
type storedConfig struct {
	name, description, onError                 string
	enabled                                    bool
	source, transforms, sink, runtime, options []byte
	interval                                   sql.NullInt64
	parallelism                                int
}

func (c *storedConfig) decode() (*flow.Flow, error) {
	f := &flow.Flow{Name: c.name, Description: c.description, Parallelism: c.parallelism, OnError: c.onError}
	var o options
	for _, p := range []struct {
		b []byte
		v any
	}{{c.source, &f.Source}, {c.transforms, &f.Transforms}, {c.sink, &f.Sink}, {c.runtime, &f.Runtime}, {c.options, &o}} {
		if err := json.Unmarshal(p.b, p.v); err != nil {
			return nil, fmt.Errorf("decode flow %s: %w", f.Name, err)
		}
	}
	enabled := c.enabled
	f.Enabled = &enabled
	f.Checkpoint, f.DeadLetter, f.MaxRestarts, f.RetryDeadline, f.Timeout = o.Checkpoint, o.DeadLetter, o.MaxRestarts, o.RetryDeadline, o.Timeout
	if c.interval.Valid {
		f.Schedule = &flow.Schedule{Every: sdk.Duration(time.Duration(c.interval.Int64) * time.Millisecond)}
	}
	if len(f.Transforms) == 0 {
		f.Transforms = nil
	}
	return f, nil
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
			// (err is this case's own: the update's error must not be lost.)
			if _, err := tx.ExecContext(ctx, `UPDATE data_flows SET description = $2, enabled = $3, source = $4, transforms = $5, sink = $6,
				runtime = $7, options = $8, run_interval = $9, parallelism = $10, on_error = $11, next_run_at = $12,
				config_version = config_version + 1, updated_at = $13 WHERE name = $1`,
				f.Name, f.Description, *f.Enabled, string(cols.source), string(cols.transforms), string(cols.sink), string(cols.runtime), string(cols.options),
				cols.interval, f.Parallelism, f.OnError, next, s.ts(now)); err != nil {
				return fmt.Errorf("update flow %s: %w", f.Name, err)
			}
			outcome = "updated"
		}
		if err != nil {
			return err
		}
		return s.recordVersion(ctx, tx, f.Name, now)
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

// recordVersion adds the flow's current config (as the store returns it)
// to its version history, in the transaction that made it current.
func (s *Store) recordVersion(ctx context.Context, tx *sql.Tx, name string, at time.Time) error {
	rec, err := scanFlow(tx.QueryRowContext(ctx, flowSelect+` WHERE name = $1`, name))
	if err != nil {
		return fmt.Errorf("load flow %s: %w", name, err)
	}
	return s.insertVersion(ctx, tx, rec.ID, rec.ConfigVersion, rec.Flow, at)
}

func (s *Store) insertVersion(ctx context.Context, tx *sql.Tx, flowID int64, version int, f *flow.Flow, at time.Time) error {
	cfg, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode version %d of flow %s: %w", version, f.Name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO flow_versions (flow_id, version, config, created_at) VALUES ($1, $2, $3, $4)`,
		flowID, version, string(cfg), s.ts(at)); err != nil {
		return fmt.Errorf("record version %d of flow %s: %w", version, f.Name, err)
	}
	return nil
}

// SetFlowEnabled enables or disables a flow: the heartbeat schedules only
// enabled flows. The flow's document keeps an enabled key, so a change is a
// new config version (in the history like any other); enabling an enabled
// flow (or disabling a disabled one) changes nothing and reports
// changed=false. A disabled flow can still be triggered by hand; runs in
// progress go on. When a flow is enabled again after its next run time
// passed, the next heartbeat runs it.
func (s *Store) SetFlowEnabled(ctx context.Context, name string, enabled bool, now time.Time) (rec *FlowRecord, changed bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		q := `SELECT enabled FROM data_flows WHERE name = $1`
		if s.dialect == Postgres {
			q += ` FOR UPDATE`
		}
		var cur bool
		if err := tx.QueryRowContext(ctx, q, name).Scan(&cur); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("flow %q: %w", name, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("load flow %s: %w", name, err)
		}
		if cur == enabled {
			return nil
		}
		changed = true
		if _, err := tx.ExecContext(ctx, `UPDATE data_flows SET enabled = $2, config_version = config_version + 1, updated_at = $3 WHERE name = $1`,
			name, enabled, s.ts(now)); err != nil {
			return fmt.Errorf("update flow %s: %w", name, err)
		}
		return s.recordVersion(ctx, tx, name, now)
	})
	if err != nil {
		return nil, false, fmt.Errorf("set enabled=%t on flow %s: %w", enabled, name, err)
	}
	rec, err = s.GetFlow(ctx, name)
	return rec, changed, err
}

// FlowVersion is one config version of a flow: the flow document as it
// was stored when the version became current.
type FlowVersion struct {
	Version   int        `json:"version"`
	CreatedAt time.Time  `json:"created_at"`
	Flow      *flow.Flow `json:"flow"`
}

// FlowVersions returns the flow's config versions, newest first, or
// ErrNotFound for an unknown flow.
func (s *Store) FlowVersions(ctx context.Context, name string) ([]FlowVersion, error) {
	return s.flowVersions(ctx, name, 0)
}

// FlowVersion returns one config version of a flow, or ErrNotFound.
func (s *Store) FlowVersion(ctx context.Context, name string, version int) (*FlowVersion, error) {
	vs, err := s.flowVersions(ctx, name, version)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("version %d of flow %q: %w", version, name, ErrNotFound)
	}
	return &vs[0], nil
}

// flowVersions reads the versions of a flow (only the one numbered version
// when it is > 0).
func (s *Store) flowVersions(ctx context.Context, name string, version int) ([]FlowVersion, error) {
	var flowID int64
	if err := s.db.QueryRowContext(ctx, `SELECT id FROM data_flows WHERE name = $1`, name).Scan(&flowID); errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("flow %q: %w", name, ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("load flow %s: %w", name, err)
	}
	q := `SELECT version, config, created_at FROM flow_versions WHERE flow_id = $1`
	args := []any{flowID}
	if version > 0 {
		q += ` AND version = $2`
		args = append(args, version)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY version DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("versions of flow %s: %w", name, err)
	}
	defer rows.Close()
	out := []FlowVersion{}
	for rows.Next() {
		var v FlowVersion
		var cfg []byte
		var at nullTime
		if err := rows.Scan(&v.Version, &cfg, &at); err != nil {
			return nil, fmt.Errorf("versions of flow %s: %w", name, err)
		}
		v.CreatedAt = at.T
		if err := json.Unmarshal(cfg, &v.Flow); err != nil {
			return nil, fmt.Errorf("decode version %d of flow %s: %w", v.Version, name, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("versions of flow %s: %w", name, err)
	}
	return out, nil
}

// backfillFlowVersions gives every flow without a version history its
// current version, dated when it was last changed (migration
// 0007_flow_control). It reads the columns as they are in that migration.
func backfillFlowVersions(ctx context.Context, s *Store, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, name, description, enabled, source, transforms, sink, runtime, options, run_interval,
		parallelism, on_error, config_version, updated_at FROM data_flows f
		WHERE NOT EXISTS (SELECT 1 FROM flow_versions v WHERE v.flow_id = f.id AND v.version = f.config_version) ORDER BY id`)
	if err != nil {
		return fmt.Errorf("back-fill flow versions: %w", err)
	}
	type current struct {
		id      int64
		version int
		flow    *flow.Flow
		at      time.Time
	}
	var todo []current
	for rows.Next() {
		var c storedConfig
		var cur current
		var at nullTime
		if err := rows.Scan(&cur.id, &c.name, &c.description, &c.enabled, &c.source, &c.transforms, &c.sink, &c.runtime, &c.options, &c.interval,
			&c.parallelism, &c.onError, &cur.version, &at); err != nil {
			rows.Close()
			return fmt.Errorf("back-fill flow versions: %w", err)
		}
		if cur.flow, err = c.decode(); err != nil {
			rows.Close()
			return fmt.Errorf("back-fill flow versions: %w", err)
		}
		cur.at = at.T
		todo = append(todo, cur)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("back-fill flow versions: %w", err)
	}
	for _, c := range todo {
		if err := s.insertVersion(ctx, tx, c.id, c.version, c.flow, c.at); err != nil {
			return fmt.Errorf("back-fill flow versions: %w", err)
		}
	}
	return nil
}

// DeleteFlow removes a flow and its version history; its runs stay, as
// history, with their flow name (see [Run.FlowDeleted]). A flow with runs
// pending or in progress is not deleted (*RunActiveError naming them)
// unless cancelRuns is set: then, in the same transaction, each of them is
// asked to stop (like [Store.RequestCancel]: a run no host executes is
// cancelled at once, one in progress at its host's next lease renewal),
// and the flow is deleted. It returns the runs it asked to stop.
func (s *Store) DeleteFlow(ctx context.Context, name string, cancelRuns bool, now time.Time) ([]int64, error) {
	var stopped []int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q := `SELECT id FROM data_flows WHERE name = $1`
		lock := ""
		if s.dialect == Postgres {
			// The flow's row lock keeps heartbeats and triggers from
			// creating a run meanwhile; the runs' locks keep their hosts'
			// lease changes out until the commit.
			lock = ` FOR UPDATE`
		}
		var flowID int64
		if err := tx.QueryRowContext(ctx, q+lock, name).Scan(&flowID); errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("flow %q: %w", name, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("load flow %s: %w", name, err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, lease_owner IS NOT NULL FROM data_flow_runs
			WHERE flow_id = $1 AND status IN ('pending', 'in_progress') ORDER BY id`+lock, flowID)
		if err != nil {
			return fmt.Errorf("active runs of flow %s: %w", name, err)
		}
		var active []int64
		leased := map[int64]bool{}
		for rows.Next() {
			var id int64
			var l bool
			if err := rows.Scan(&id, &l); err != nil {
				rows.Close()
				return fmt.Errorf("active runs of flow %s: %w", name, err)
			}
			active = append(active, id)
			leased[id] = l
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("active runs of flow %s: %w", name, err)
		}
		if len(active) > 0 && !cancelRuns {
			return &RunActiveError{Flow: name, RunID: active[0], RunIDs: active}
		}
		for _, id := range active {
			if err := s.cancelInTx(ctx, tx, id, !leased[id], now); err != nil {
				return err
			}
		}
		stopped = active
		if _, err := tx.ExecContext(ctx, `DELETE FROM data_flows WHERE id = $1`, flowID); err != nil {
			return fmt.Errorf("delete flow %s: %w", name, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return stopped, nil
}
