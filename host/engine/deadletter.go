package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/activedataflow/adf/sdk"
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

// policyError is a bad record under on_error: fail: a CodeBadRecord error,
// so the run fails at once, without retries.
func policyError(r Rejected) error {
	where := r.Position
	if where == "" {
		where = r.Split
	}
	return &sdk.Error{Code: sdk.CodeBadRecord,
		Summary: fmt.Sprintf("bad record in %s at %s: %s", r.Stage, where, r.Reason),
		Detail:  "on_error is fail; use on_error: skip or dead_letter to continue past bad records"}
}

// deadLetter applies the flow's on_error policy. Rejected records travel
// with the checkpoint they belong to: into the store in the checkpoint's own
// transaction (RejectedInStore), and into the dead-letter file as the
// checkpoint's DeadLetters part, written when the checkpoint completes. The
// part cuts the file back to where the previous checkpoint left it before
// appending, so a restarted attempt or a resumed run never writes a record
// twice, and a crash before the save writes none.
type deadLetter struct {
	policy string
	flow   string
	runID  string
	// path is the dead-letter file; empty when records go to the store only.
	path    string
	inStore bool
	mu      sync.Mutex
	// end is the file's length after the last completed checkpoint.
	end     int64
	written int64
}

func newDeadLetter(f *flow.Flow, runID, path string, inStore bool) *deadLetter {
	if f.OnError != flow.OnErrorDeadLetter {
		path = ""
	}
	return &deadLetter{policy: f.OnError, flow: f.Name, runID: runID, path: path, inStore: inStore}
}

// check returns an error when the policy is fail.
func (d *deadLetter) check(r Rejected) error {
	if d.policy == flow.OnErrorFail {
		return policyError(r)
	}
	return nil
}

func (d *deadLetter) record(stage, split, position, reason string, raw []byte) Rejected {
	return Rejected{Time: time.Now().UTC(), Flow: d.flow, RunID: d.runID, Stage: stage, Split: split,
		Position: position, Reason: reason, Record: string(raw)}
}

// restore sets where the next checkpoint's lines go: after the restored
// checkpoint's part, or at the start of the file, emptied, when the run has
// no checkpoint yet.
func (d *deadLetter) restore(cp *Checkpoint) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.path == "" {
		return nil
	}
	if cp != nil && cp.DeadLetters != nil {
		d.end = cp.DeadLetters.Offset + int64(len(cp.DeadLetters.Lines))
		return nil
	}
	// A run with no checkpoint yet starts the file anew, as a file sink
	// starts its output anew: what an earlier run rejected is not mixed
	// with this run's records.
	d.end = 0
	if err := os.Truncate(d.path, 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("dead-letter file %s: start it anew for run %s: %w", d.path, d.runID, err)
	}
	return nil
}

// part splits a checkpoint's rejected records into what the store keeps
// (in the checkpoint's transaction) and the dead-letter file's part.
func (d *deadLetter) part(rs []Rejected) (store []Rejected, file *DeadLetters, err error) {
	if d.policy != flow.OnErrorDeadLetter {
		return nil, nil, nil
	}
	if d.inStore {
		store = rs
	}
	if d.path == "" {
		return store, nil, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range rs {
		if err := enc.Encode(r); err != nil {
			return nil, nil, fmt.Errorf("encode rejected record: %w", err)
		}
	}
	file = &DeadLetters{Path: d.path, Offset: d.end, Lines: buf.Bytes()}
	d.end += int64(buf.Len())
	return store, file, nil
}

// commit writes a durable checkpoint's part of the dead-letter file; doing
// it again gives the same file.
func (d *deadLetter) commit(p *DeadLetters) error {
	if p == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// Rejected records are raw input: readable by the owner only.
	if err := os.MkdirAll(filepath.Dir(p.Path), 0o700); err != nil {
		return fmt.Errorf("dead-letter directory: %w", err)
	}
	f, err := os.OpenFile(p.Path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open dead-letter file: %w", err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() > p.Offset {
		// Lines of a checkpoint that never became durable, or this part
		// written before a crash: cut back to where it starts.
		err = f.Truncate(p.Offset)
	}
	if err == nil && len(p.Lines) > 0 {
		_, err = f.WriteAt(p.Lines, min(p.Offset, st.Size()))
	}
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("write dead-letter file %s: %w", p.Path, err)
	}
	d.written += int64(bytes.Count(p.Lines, []byte{'\n'}))
	return nil
}
