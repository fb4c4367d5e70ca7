// Package localrun keeps the state of an `adf run` in the data directory, so
// that a run killed mid-way (host crash, SIGKILL, power loss) resumes from
// its last checkpoint when the same command is run again, instead of
// starting over next to the output it already committed.
//
// One file per flow, <data dir>/runs/<flow>.json, holds the run id, the flow
// config the run started with (a run is pinned to it) and the latest
// checkpoint; a lock file beside it keeps two processes from running the
// same flow at once. The file is replaced atomically (temp file, fsync,
// rename, fsync of the directory), so Save is durable when it returns.
package localrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/activedataflow/adf/host/engine"
)

// Run is an unfinished local run of one flow.
type Run struct {
	RunID string `json:"run_id"`
	// Config is the flow document the run started with.
	Config     json.RawMessage    `json:"config"`
	Checkpoint *engine.Checkpoint `json:"checkpoint,omitempty"`
}

// Store is the local run state of one flow; it implements
// engine.CheckpointStore for that flow's run.
type Store struct {
	path string
	lock *os.File
	mu   sync.Mutex
	run  Run
}

// ErrBusy is returned by Open when another process runs the flow.
var ErrBusy = errors.New("flow is already running")

// Open locks the flow's run state in dir (created if needed) and reads it.
// Close releases the lock.
func Open(dir, flowName string) (*Store, error) {
	dir = filepath.Join(dir, "runs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create run state directory: %w", err)
	}
	s := &Store{path: filepath.Join(dir, flowName+".json")}
	lock, err := os.OpenFile(s.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open run lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("flow %s (lock %s): %w", flowName, s.path+".lock", ErrBusy)
	}
	s.lock = lock
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		s.Close()
		return nil, fmt.Errorf("read run state: %w", err)
	default:
		if err := json.Unmarshal(data, &s.run); err != nil {
			s.Close()
			return nil, fmt.Errorf("run state %s is damaged (%v); delete it to start the flow over", s.path, err)
		}
	}
	return s, nil
}

// Path is the run state file.
func (s *Store) Path() string { return s.path }

// Unfinished returns the interrupted run, nil when there is none.
func (s *Store) Unfinished() *Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run.RunID == "" {
		return nil
	}
	r := s.run
	return &r
}

// SameConfig says whether cfg is the config the unfinished run started with.
func (r *Run) SameConfig(cfg []byte) bool {
	var a, b bytes.Buffer
	return json.Compact(&a, r.Config) == nil && json.Compact(&b, cfg) == nil && bytes.Equal(a.Bytes(), b.Bytes())
}

// Begin records a new run of the flow with its config, replacing any other.
func (s *Store) Begin(runID string, cfg []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.run = Run{RunID: runID, Config: cfg}
	return s.write()
}

// Finish forgets the run: it ended, or its checkpoint is not wanted.
func (s *Store) Finish() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.run = Run{}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove run state: %w", err)
	}
	return syncDir(filepath.Dir(s.path))
}

// Close releases the lock.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}

// Latest implements engine.CheckpointStore.
func (s *Store) Latest(_ context.Context, _, runID string) (*engine.Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run.RunID != runID {
		return nil, nil
	}
	return s.run.Checkpoint, nil
}

// Save implements engine.CheckpointStore. Rejected records go to the
// dead-letter file (the checkpoint's DeadLetters), not here.
func (s *Store) Save(_ context.Context, _, runID string, cp *engine.Checkpoint, _ []engine.Rejected) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run.RunID != runID {
		return fmt.Errorf("run state %s belongs to run %s, not %s", s.path, s.run.RunID, runID)
	}
	s.run.Checkpoint = cp
	return s.write()
}

func (s *Store) write() error {
	data, err := json.Marshal(s.run)
	if err != nil {
		return err
	}
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write run state: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("write run state %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("write run state: %w", err)
	}
	return syncDir(filepath.Dir(s.path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	err = d.Sync()
	if err = errors.Join(err, d.Close()); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
