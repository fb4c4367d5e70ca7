// Package flow is the data flow document: source, transforms, sink, runtime,
// schedule. The same document is a flow file (YAML or JSON), the body of the
// flows API and what a runtime plugin receives. Its keys are a public
// interface: they are extended, never renamed.
package flow

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/activedataflow/adf/sdk"
)

// Error policies for bad records.
const (
	OnErrorFail       = "fail"
	OnErrorSkip       = "skip"
	OnErrorDeadLetter = "dead_letter"
)

// Defaults applied by Normalize.
const (
	DefaultRuntime            = "host"
	DefaultCheckpointInterval = 10 * time.Second
	// DefaultRetryDeadline is how long a run keeps retrying retryable
	// failures (an unreachable system, a crashed plugin) without progress.
	DefaultRetryDeadline = 5 * time.Minute
)

// Flow is one data flow.
type Flow struct {
	// Name is unique: 1 to MaxNameLength characters of a-z, 0-9, _ and -.
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Source      Component `json:"source"`
	// Parallelism is the number of source readers (default 1).
	Parallelism int         `json:"parallelism,omitempty"`
	Transforms  []Component `json:"transforms,omitempty"`
	Sink        Component   `json:"sink"`
	// OnError is the bad-record policy: fail (default), skip, dead_letter.
	OnError string `json:"on_error,omitempty"`
	// DeadLetter says where dead_letter keeps rejected records.
	DeadLetter *DeadLetter `json:"dead_letter,omitempty"`
	// Runtime runs the flow (default {type: host}).
	Runtime *Component `json:"runtime,omitempty"`
	// Schedule makes the flow run every interval; absent = on trigger only.
	Schedule *Schedule `json:"schedule,omitempty"`
	// Checkpoint sets how often the engine checkpoints.
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
	// MaxRestarts bounds how often in a row a failed attempt (plugin crash,
	// lost connection) is restarted from the last checkpoint without making
	// progress; absent means no bound other than RetryDeadline.
	MaxRestarts *int `json:"max_restarts,omitempty"`
	// RetryDeadline bounds how long retryable failures are retried, with
	// backoff, from the first failure since the run last made progress
	// (default 5m). The run then fails with the last error.
	RetryDeadline *sdk.Duration `json:"retry_deadline,omitempty"`
	// Timeout bounds a run: one still going after it is cancelled and
	// fails, and is not retried. Absent: the host's default (adf serve and
	// adf run --run-timeout; none unless set); 0: no timeout, whatever the
	// host's default.
	Timeout *sdk.Duration `json:"timeout,omitempty"`
	Enabled *bool         `json:"enabled,omitempty"`
}

// Component names a component type and its config.
type Component struct {
	Type   string          `json:"type"`
	Config json.RawMessage `json:"config,omitempty"`
}

// DeadLetter configures the dead-letter file.
type DeadLetter struct {
	// Path of the JSON-lines file rejected records are appended to.
	Path string `json:"path,omitempty"`
}

// Schedule configures periodic runs.
type Schedule struct {
	Every sdk.Duration `json:"every"`
}

// Checkpoint configures checkpoints.
type Checkpoint struct {
	// Every is the interval between periodic checkpoints (default 10s).
	Every sdk.Duration `json:"every,omitempty"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9_-]+$`)

// MaxNameLength is the longest flow name: names become file names (run
// state, dead-letter files), which file systems limit to 255 bytes.
const MaxNameLength = 100

// Parse reads a flow document in YAML or JSON, rejecting unknown keys, and
// validates it. Errors are sdk.ConfigErrors with field paths.
func Parse(data []byte) (*Flow, error) {
	f, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// Decode reads a flow document in YAML or JSON without validating its
// fields (for callers that report those together with other problems). It
// rejects a document that is not exactly one mapping (several YAML
// documents, content after the JSON object), a key given twice (naming
// both lines), unknown keys (naming the allowed ones) and values of the
// wrong type or form (a bad duration), every one with its field path, as
// sdk.ConfigErrors.
func Decode(data []byte) (*Flow, error) {
	js, err := toJSON(data)
	if err != nil {
		return nil, err
	}
	var f Flow
	if err := sdk.DecodeStrict(js, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// Validate checks the document's own fields (not the components' configs,
// which their plugins validate).
func (f *Flow) Validate() error {
	var errs sdk.ConfigErrors
	switch {
	case len(f.Name) > MaxNameLength:
		errs = append(errs, sdk.ConfigError("name", "is %d characters long; a flow name has 1 to %d", len(f.Name), MaxNameLength))
	case !nameRE.MatchString(f.Name):
		errs = append(errs, sdk.ConfigError("name", "must be non-empty and use only a-z, 0-9, _ and - (got %q)", f.Name))
	}
	if f.Source.Type == "" {
		errs = append(errs, sdk.ConfigError("source.type", "required field is missing"))
	}
	if f.Sink.Type == "" {
		errs = append(errs, sdk.ConfigError("sink.type", "required field is missing"))
	}
	for i, t := range f.Transforms {
		if t.Type == "" {
			errs = append(errs, sdk.ConfigError(fmt.Sprintf("transforms[%d].type", i), "required field is missing"))
		}
	}
	if f.Parallelism < 0 || f.Parallelism > 1024 {
		errs = append(errs, sdk.ConfigError("parallelism", "must be between 1 and 1024 (got %d)", f.Parallelism))
	}
	switch f.OnError {
	case "", OnErrorFail, OnErrorSkip, OnErrorDeadLetter:
	default:
		errs = append(errs, sdk.ConfigError("on_error", "must be fail, skip or dead_letter (got %q)", f.OnError))
	}
	if f.Runtime != nil && f.Runtime.Type == "" {
		errs = append(errs, sdk.ConfigError("runtime.type", "required field is missing"))
	}
	if f.Schedule != nil && f.Schedule.Every.D() <= 0 {
		errs = append(errs, sdk.ConfigError("schedule.every", "must be a positive duration such as \"5m\""))
	}
	if f.Checkpoint != nil && f.Checkpoint.Every.D() < 0 {
		errs = append(errs, sdk.ConfigError("checkpoint.every", "must be a positive duration such as \"10s\""))
	}
	if f.MaxRestarts != nil && *f.MaxRestarts < 0 {
		errs = append(errs, sdk.ConfigError("max_restarts", "must be 0 or more"))
	}
	if f.RetryDeadline != nil && f.RetryDeadline.D() < 0 {
		errs = append(errs, sdk.ConfigError("retry_deadline", "must be 0 (no retries) or a positive duration such as \"5m\""))
	}
	if f.Timeout != nil && f.Timeout.D() < 0 {
		errs = append(errs, sdk.ConfigError("timeout", "must be a positive duration such as \"1h\", or 0 for none"))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Normalize fills in defaults so every field has its effective value.
func (f *Flow) Normalize() {
	if f.Parallelism == 0 {
		f.Parallelism = 1
	}
	if f.OnError == "" {
		f.OnError = OnErrorFail
	}
	if f.Runtime == nil {
		f.Runtime = &Component{Type: DefaultRuntime}
	}
	if f.Checkpoint == nil || f.Checkpoint.Every == 0 {
		f.Checkpoint = &Checkpoint{Every: sdk.Duration(DefaultCheckpointInterval)}
	}
	if f.RetryDeadline == nil {
		d := sdk.Duration(DefaultRetryDeadline)
		f.RetryDeadline = &d
	}
	if f.Enabled == nil {
		t := true
		f.Enabled = &t
	}
	if len(f.Source.Config) == 0 {
		f.Source.Config = json.RawMessage("{}")
	}
	if len(f.Sink.Config) == 0 {
		f.Sink.Config = json.RawMessage("{}")
	}
}
