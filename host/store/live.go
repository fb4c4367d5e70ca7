package store

import (
	"context"
	"fmt"
)

// UpdateRunProgress records the live counts of a run in progress, so that
// the run list and other hosts see how far it is while it goes on. Only a
// run still in progress is updated: a late write never overwrites the
// counts its end recorded (FinishRun).
func (s *Store) UpdateRunProgress(ctx context.Context, runID int64, counts RunCounts) error {
	_, err := s.db.ExecContext(ctx, `UPDATE data_flow_runs SET records_read = $2, records_written = $3, records_rejected = $4, bytes_written = $5
		WHERE id = $1 AND status = 'in_progress'`, runID, counts.Read, counts.Written, counts.Rejected, counts.Bytes)
	if err != nil {
		return fmt.Errorf("record the progress of run %d: %w", runID, err)
	}
	return nil
}
