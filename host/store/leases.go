package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrLeaseLost means another host holds the run's lease: this one was
// presumed dead (it did not renew in time) and the run was resumed
// elsewhere. The holder of a lost lease must stop working on the run.
var ErrLeaseLost = errors.New("the run's lease is held by another host")

// Run leases. A host executing a run holds its lease (owner and expiry in
// data_flow_runs) and renews it while the run goes on, however long that
// is; every checkpoint save checks it in the checkpoint's transaction, so a
// host that lost its lease can never write a checkpoint of the run again.
// RescueExpired, run by every host, gives the runs whose lease expired (their
// host died) a new job, which resumes them from their last checkpoint.

// AcquireLease makes owner the holder of the run's lease until now+ttl and
// records the job executing it. It fails with ErrLeaseLost while another
// owner's lease has not expired.
func (s *Store) AcquireLease(ctx context.Context, runID int64, owner string, jobID int64, ttl time.Duration) error {
	now := time.Now()
	res, err := s.db.ExecContext(ctx, `UPDATE data_flow_runs SET lease_owner = $2, lease_expires_at = $3, job_id = $4
		WHERE id = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_expires_at < $5)`,
		runID, owner, s.ts(now.Add(ttl)), jobID, s.ts(now))
	return leaseResult(res, err, runID, "acquire")
}

// RenewLease extends owner's lease of the run to now+ttl; ErrLeaseLost when
// the lease is no longer owner's, ErrCancelRequested when the run was asked
// to stop (see RequestCancel).
func (s *Store) RenewLease(ctx context.Context, runID int64, owner string, ttl time.Duration) error {
	if err := s.renewLease(ctx, s.db, runID, owner, ttl); err != nil {
		return err
	}
	requested, err := s.cancelRequested(ctx, runID)
	if err != nil {
		return err
	}
	if requested {
		return fmt.Errorf("run %d: %w", runID, ErrCancelRequested)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *Store) renewLease(ctx context.Context, db execer, runID int64, owner string, ttl time.Duration) error {
	res, err := db.ExecContext(ctx, `UPDATE data_flow_runs SET lease_expires_at = $3 WHERE id = $1 AND lease_owner = $2`,
		runID, owner, s.ts(time.Now().Add(ttl)))
	return leaseResult(res, err, runID, "renew")
}

// ReleaseLease gives up owner's lease of the run (its attempt ended here).
func (s *Store) ReleaseLease(ctx context.Context, runID int64, owner string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE data_flow_runs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND lease_owner = $2`, runID, owner)
	if err != nil {
		return fmt.Errorf("release the lease of run %d: %w", runID, err)
	}
	return nil
}

func leaseResult(res sql.Result, err error, runID int64, what string) error {
	if err != nil {
		return fmt.Errorf("%s the lease of run %d: %w", what, runID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s the lease of run %d: %w", what, runID, err)
	} else if n == 0 {
		return fmt.Errorf("run %d: %w", runID, ErrLeaseLost)
	}
	return nil
}

// RescueExpired finds the runs whose host died (pending or in progress, with
// a lease that expired before now) and, for each in one transaction, clears
// the lease, marks the run pending, discards the dead host's job and
// enqueues a new one, which resumes the run from its last checkpoint. It
// returns the rescued runs.
func (s *Store) RescueExpired(ctx context.Context, now time.Time, enqueue Enqueue) ([]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM data_flow_runs
		WHERE status IN ('pending', 'in_progress') AND lease_owner IS NOT NULL AND lease_expires_at < $1 ORDER BY id`, s.ts(now))
	if err != nil {
		return nil, fmt.Errorf("find runs with expired leases: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	finalized := "now()"
	if s.dialect == SQLite {
		finalized = "datetime('now', 'subsec')"
	}
	var rescued []int64
	for _, id := range ids {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			var jobID sql.NullInt64
			// Claim the run by clearing its lease, only if it is still
			// expired: another host may have rescued or renewed it since.
			res, err := tx.ExecContext(ctx, `UPDATE data_flow_runs SET lease_owner = NULL, lease_expires_at = NULL, status = 'pending'
				WHERE id = $1 AND status IN ('pending', 'in_progress') AND lease_owner IS NOT NULL AND lease_expires_at < $2`, id, s.ts(now))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return errNotRescued
			}
			if err := tx.QueryRowContext(ctx, `SELECT job_id FROM data_flow_runs WHERE id = $1`, id).Scan(&jobID); err != nil {
				return err
			}
			if jobID.Valid {
				// The dead host's job would stay running forever (runs have
				// no job timeout): it ends here, discarded.
				if _, err := tx.ExecContext(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = `+finalized+`
					WHERE id = $1 AND state = 'running'`, jobID.Int64); err != nil {
					return fmt.Errorf("discard job %d: %w", jobID.Int64, err)
				}
			}
			return enqueue(ctx, tx, []int64{id})
		})
		if errors.Is(err, errNotRescued) {
			continue
		}
		if err != nil {
			return rescued, fmt.Errorf("rescue run %d: %w", id, err)
		}
		rescued = append(rescued, id)
	}
	return rescued, nil
}

var errNotRescued = errors.New("not rescued")

// ErrCancelRequested means the run was asked to stop (POST
// /v1/runs/{id}/cancel): its host stops it and records it cancelled.
var ErrCancelRequested = errors.New("the run was cancelled by request")

// ErrRunEnded means a run cannot be cancelled: it has already ended.
var ErrRunEnded = errors.New("the run has already ended")

// RequestCancel asks for a run to stop. A run no host is executing (pending,
// without a lease) is cancelled at once; one in progress is stopped by its
// host when that host next renews the run's lease (RenewLease then returns
// ErrCancelRequested), within a third of the lease time. It fails with
// ErrNotFound for an unknown run and ErrRunEnded for one that ended.
func (s *Store) RequestCancel(ctx context.Context, runID int64, now time.Time) error {
	_, err := s.CancelRun(ctx, runID, now)
	return err
}

// CancelRun is [Store.RequestCancel], reporting whether the run was
// cancelled at once (stopped) or its host was asked to stop it.
func (s *Store) CancelRun(ctx context.Context, runID int64, now time.Time) (stopped bool, err error) {
	err = s.tx(ctx, func(tx *sql.Tx) error {
		q := `SELECT status, lease_owner FROM data_flow_runs WHERE id = $1`
		if s.dialect == Postgres {
			// Holds off a host acquiring the lease between the read and
			// the cancellation.
			q += ` FOR UPDATE`
		}
		var status string
		var owner sql.NullString
		err := tx.QueryRowContext(ctx, q, runID).Scan(&status, &owner)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("run %d: %w", runID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if status != StatusPending && status != StatusInProgress {
			return fmt.Errorf("run %d is %s: %w", runID, status, ErrRunEnded)
		}
		// No host holds it: its queued job finds it cancelled and ends. A
		// host that takes it in the meantime sees the request at its first
		// lease renewal.
		stopped = !owner.Valid
		return s.cancelInTx(ctx, tx, runID, stopped, now)
	})
	if err != nil {
		return false, fmt.Errorf("cancel run %d: %w", runID, err)
	}
	return stopped, nil
}

// cancelInTx records a cancel request of an active run and, when
// atOnce is set (no host executes it), marks it cancelled at once, with its flow's
// last run status.
func (s *Store) cancelInTx(ctx context.Context, tx *sql.Tx, runID int64, atOnce bool, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE data_flow_runs SET cancel_requested_at = COALESCE(cancel_requested_at, $2) WHERE id = $1`, runID, s.ts(now)); err != nil {
		return fmt.Errorf("request the cancellation of run %d: %w", runID, err)
	}
	if !atOnce {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE data_flow_runs SET status = $2, ended_at = $3, error_message = $4 WHERE id = $1`,
		runID, StatusCancelled, s.ts(now), ErrCancelRequested.Error()); err != nil {
		return fmt.Errorf("cancel run %d: %w", runID, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE data_flows SET last_run_status = $2, last_error = $3
		WHERE id = (SELECT flow_id FROM data_flow_runs WHERE id = $1)`, runID, StatusCancelled, ErrCancelRequested.Error()); err != nil {
		return fmt.Errorf("cancel run %d: %w", runID, err)
	}
	return nil
}

// cancelRequested reports whether the run was asked to stop.
func (s *Store) cancelRequested(ctx context.Context, runID int64) (bool, error) {
	var requested bool
	err := s.db.QueryRowContext(ctx, `SELECT cancel_requested_at IS NOT NULL FROM data_flow_runs WHERE id = $1`, runID).Scan(&requested)
	if err != nil {
		return false, fmt.Errorf("read the cancel request of run %d: %w", runID, err)
	}
	return requested, nil
}
