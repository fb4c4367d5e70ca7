package sequence

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// RuntimeConfig configures the example runtime (it has no settings).
type RuntimeConfig struct{}

// inlineRuntime is an example runtime plugin: it runs flows from a
// `sequence` source to a `file` sink itself, inside the plugin process, and
// refuses every other flow with a reason. It shows how a runtime (Flink, a
// function service) validates, submits and reports jobs.
type inlineRuntime struct {
	*inlineJobs
}

// inlineJobs is shared by the runtime instances of one plugin process (the
// SDK creates one instance per call).
type inlineJobs struct {
	mu   sync.Mutex
	jobs map[string]*sdk.RuntimeStatus
}

func (j *inlineJobs) runtime() *inlineRuntime { return &inlineRuntime{j} }

func (r *inlineRuntime) plan(doc []byte) (*flow.Flow, int64, string, error) {
	f, err := flow.Parse(doc)
	if err != nil {
		return nil, 0, "", err
	}
	if f.Source.Type != "sequence" || f.Sink.Type != "file" || len(f.Transforms) > 0 {
		return nil, 0, "", sdk.ConfigError("runtime", "the inline runtime runs only sequence → file flows without transforms (this flow reads %q and writes %q)", f.Source.Type, f.Sink.Type)
	}
	var src Config
	var sink struct {
		Path string `json:"path"`
	}
	if err := json.Unmarshal(f.Source.Config, &src); err != nil {
		return nil, 0, "", sdk.ConfigError("source.config", "%v", err)
	}
	if err := json.Unmarshal(f.Sink.Config, &sink); err != nil || sink.Path == "" {
		return nil, 0, "", sdk.ConfigError("sink.config.path", "required field is missing")
	}
	return f, src.Count, sink.Path, nil
}

// Validate implements sdk.Runtime.
func (r *inlineRuntime) Validate(_ context.Context, job sdk.RuntimeJob) error {
	_, _, _, err := r.plan(job.Flow)
	return err
}

// Submit implements sdk.Runtime: the job writes the numbers as JSON-lines.
func (r *inlineRuntime) Submit(_ context.Context, job sdk.RuntimeJob) (string, error) {
	_, count, path, err := r.plan(job.Flow)
	if err != nil {
		return "", err
	}
	id := "inline-" + job.RunID
	st := &sdk.RuntimeStatus{State: "running"}
	r.mu.Lock()
	r.jobs[id] = st
	r.mu.Unlock()
	go func() {
		err := writeNumbers(path, count)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			st.State, st.Message = "failed", err.Error()
			return
		}
		st.State, st.RecordsRead, st.RecordsWritten = "success", count, count
	}()
	return id, nil
}

func writeNumbers(path string, count int64) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for n := int64(0); n < count; n++ {
		fmt.Fprintf(w, "{\"n\":%d}\n", n)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Status implements sdk.Runtime.
func (r *inlineRuntime) Status(_ context.Context, jobID string) (sdk.RuntimeStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.jobs[jobID]
	if !ok {
		return sdk.RuntimeStatus{}, &sdk.Error{Code: sdk.CodeNotFound, Summary: fmt.Sprintf("no job %q", jobID)}
	}
	return *st, nil
}

// Cancel implements sdk.Runtime (jobs are short; nothing to stop).
func (r *inlineRuntime) Cancel(context.Context, string) error { return nil }
