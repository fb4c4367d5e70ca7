package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/activedataflow/adf/sdk/flow"
)

// Rejected is one bad record with where it was found, as kept in a
// dead-letter file or table.
type Rejected struct {
	Time     time.Time `json:"time"`
	Flow     string    `json:"flow"`
	RunID    string    `json:"run_id"`
	Stage    string    `json:"stage"`
	Split    string    `json:"split,omitempty"`
	Position string    `json:"position,omitempty"`
	Reason   string    `json:"reason"`
	Record   string    `json:"record"`
}

// policyError is a bad record under on_error: fail.
type policyError struct{ r Rejected }

func (p *policyError) Error() string {
	where := p.r.Position
	if where == "" {
		where = p.r.Split
	}
	return fmt.Sprintf("bad record in %s at %s: %s (on_error is fail; use on_error: skip or dead_letter to continue past bad records)", p.r.Stage, where, p.r.Reason)
}

// deadLetter applies the flow's on_error policy. Rejected records are kept
// with the checkpoint they belong to and written only when it commits, so a
// restarted attempt never writes or counts one twice.
type deadLetter struct {
	policy string
	flow   string
	runID  string
	// path is the dead-letter file; empty when records go to hook only.
	path    string
	hook    func(ctx context.Context, records []Rejected) error
	mu      sync.Mutex
	written int64
}

func newDeadLetter(f *flow.Flow, runID, path string, hook func(context.Context, []Rejected) error) *deadLetter {
	return &deadLetter{policy: f.OnError, flow: f.Name, runID: runID, path: path, hook: hook}
}

// check returns an error when the policy is fail.
func (d *deadLetter) check(r Rejected) error {
	if d.policy == flow.OnErrorFail {
		return &policyError{r}
	}
	return nil
}

func (d *deadLetter) record(stage, split, position, reason string, raw []byte) Rejected {
	return Rejected{Time: time.Now().UTC(), Flow: d.flow, RunID: d.runID, Stage: stage, Split: split,
		Position: position, Reason: reason, Record: string(raw)}
}

// commit writes the records of a committed checkpoint (dead_letter policy).
func (d *deadLetter) commit(ctx context.Context, rs []Rejected) error {
	if d.policy != flow.OnErrorDeadLetter || len(rs) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.hook != nil {
		if err := d.hook(ctx, rs); err != nil {
			return fmt.Errorf("keep rejected records: %w", err)
		}
		if d.path == "" {
			d.written += int64(len(rs))
			return nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(d.path), 0o755); err != nil {
		return fmt.Errorf("dead-letter directory: %w", err)
	}
	f, err := os.OpenFile(d.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open dead-letter file: %w", err)
	}
	enc := json.NewEncoder(f)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return fmt.Errorf("write dead-letter file %s: %w", d.path, err)
		}
	}
	err = errors.Join(f.Sync(), f.Close())
	if err != nil {
		return fmt.Errorf("write dead-letter file %s: %w", d.path, err)
	}
	d.written += int64(len(rs))
	return nil
}
