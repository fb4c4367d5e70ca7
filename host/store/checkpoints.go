package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/activedataflow/adf/host/engine"
)

// Checkpoints persists the engine's checkpoints per run, so a retried or
// restarted run resumes from the last one. Run ids are data_flow_runs ids.
type Checkpoints struct {
	s *Store
	// owner, when set, is the lease holder: a save renews the run's lease
	// in the checkpoint's transaction and fails with ErrLeaseLost when the
	// lease went to another host, so a stale owner never writes a
	// checkpoint.
	owner string
	ttl   time.Duration
}

// Checkpoints returns the engine.CheckpointStore backed by this store.
func (s *Store) Checkpoints() *Checkpoints { return &Checkpoints{s: s} }

// LeasedCheckpoints returns the engine.CheckpointStore of a host holding
// run leases as owner (see AcquireLease): every save renews the lease by ttl
// or fails with ErrLeaseLost.
func (s *Store) LeasedCheckpoints(owner string, ttl time.Duration) *Checkpoints {
	return &Checkpoints{s: s, owner: owner, ttl: ttl}
}

var _ engine.CheckpointStore = (*Checkpoints)(nil)

// Latest implements engine.CheckpointStore.
func (c *Checkpoints) Latest(ctx context.Context, _, runID string) (*engine.Checkpoint, error) {
	id, err := strconv.ParseInt(runID, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("run id %q is not a stored run", runID)
	}
	var state []byte
	err = c.s.db.QueryRowContext(ctx, `SELECT state FROM checkpoints WHERE run_id = $1`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load checkpoint of run %d: %w", id, err)
	}
	var cp engine.Checkpoint
	if err := json.Unmarshal(state, &cp); err != nil {
		return nil, fmt.Errorf("decode checkpoint of run %d: %w", id, err)
	}
	return &cp, nil
}

// Save implements engine.CheckpointStore: the run's row is replaced by the
// newer checkpoint and the checkpoint's rejected records are added, in one
// transaction, durable when it returns.
func (c *Checkpoints) Save(ctx context.Context, _, runID string, cp *engine.Checkpoint, rejected []engine.Rejected) error {
	id, err := strconv.ParseInt(runID, 10, 64)
	if err != nil {
		return fmt.Errorf("run id %q is not a stored run", runID)
	}
	state, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	s := c.s
	return s.tx(ctx, func(tx *sql.Tx) error {
		if c.owner != "" {
			if err := s.renewLease(ctx, tx, id, c.owner, c.ttl); err != nil {
				return fmt.Errorf("save checkpoint %d: %w", cp.ID, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (run_id, checkpoint_id, state, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (run_id) DO UPDATE SET checkpoint_id = excluded.checkpoint_id, state = excluded.state, updated_at = excluded.updated_at`,
			id, cp.ID, string(state), s.ts(time.Now())); err != nil {
			return fmt.Errorf("save checkpoint %d of run %d: %w", cp.ID, id, err)
		}
		for _, r := range rejected {
			if _, err := tx.ExecContext(ctx, `INSERT INTO rejected_records (run_id, flow_name, stage, split, position, reason, record, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, r.Flow, r.Stage, r.Split, r.Position, r.Reason, r.Record, s.ts(r.Time)); err != nil {
				return fmt.Errorf("keep rejected record of run %d: %w", id, err)
			}
		}
		return nil
	})
}

// RejectedRecord is one rejected record of a run, as the store keeps it.
type RejectedRecord struct {
	// ID orders a run's records (the order they were rejected in).
	ID    int64     `json:"id"`
	Time  time.Time `json:"time"`
	Stage string    `json:"stage"`
	// Split and Position say where the source read it ("" when the
	// stage does not know: a sink's rejection may not).
	Split    string `json:"split"`
	Position string `json:"position"`
	Reason   string `json:"reason"`
	Record   string `json:"record"`
}

// RejectedPage is a page of a run's rejected records.
type RejectedPage struct {
	// Total is the number of the run's rejected records in the store.
	Total   int64            `json:"total"`
	Offset  int              `json:"offset"`
	Limit   int              `json:"limit"`
	Records []RejectedRecord `json:"records"`
}

// DefaultRejectedLimit and MaxRejectedLimit bound a page of
// [Store.RejectedPage].
const (
	DefaultRejectedLimit = 100
	MaxRejectedLimit     = 1000
)

// RejectedPage returns limit of a run's rejected records from offset,
// oldest first, with their total (limit DefaultRejectedLimit when <= 0, at
// most MaxRejectedLimit; offset at least 0).
func (s *Store) RejectedPage(ctx context.Context, runID int64, offset, limit int) (*RejectedPage, error) {
	if limit <= 0 {
		limit = DefaultRejectedLimit
	}
	limit, offset = min(limit, MaxRejectedLimit), max(offset, 0)
	p := &RejectedPage{Offset: offset, Limit: limit, Records: []RejectedRecord{}}
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM rejected_records WHERE run_id = $1`, runID).Scan(&p.Total); err != nil {
		return nil, fmt.Errorf("count rejected records of run %d: %w", runID, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, stage, COALESCE(split, ''), COALESCE(position, ''), reason, COALESCE(record, ''), created_at
		FROM rejected_records WHERE run_id = $1 ORDER BY id LIMIT `+strconv.Itoa(limit)+` OFFSET `+strconv.Itoa(offset), runID)
	if err != nil {
		return nil, fmt.Errorf("rejected records of run %d: %w", runID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r RejectedRecord
		var at nullTime
		if err := rows.Scan(&r.ID, &r.Stage, &r.Split, &r.Position, &r.Reason, &r.Record, &at); err != nil {
			return nil, fmt.Errorf("rejected records of run %d: %w", runID, err)
		}
		r.Time = at.T
		p.Records = append(p.Records, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("rejected records of run %d: %w", runID, err)
	}
	return p, nil
}

// RejectedRecords returns a run's rejected records, oldest first.
func (s *Store) RejectedRecords(ctx context.Context, runID int64, limit int) ([]engine.Rejected, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT flow_name, stage, COALESCE(split, ''), COALESCE(position, ''), reason, COALESCE(record, ''), created_at
		FROM rejected_records WHERE run_id = $1 ORDER BY id LIMIT `+strconv.Itoa(limit), runID)
	if err != nil {
		return nil, fmt.Errorf("rejected records of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []engine.Rejected
	for rows.Next() {
		r := engine.Rejected{RunID: strconv.FormatInt(runID, 10)}
		var at nullTime
		if err := rows.Scan(&r.Flow, &r.Stage, &r.Split, &r.Position, &r.Reason, &r.Record, &at); err != nil {
			return nil, err
		}
		r.Time = at.T
		out = append(out, r)
	}
	return out, rows.Err()
}
