package flink

import (
	"archive/zip"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// Paths inside the job jar the bridge reads.
const (
	JobJSONEntry  = "adf/job.json"
	PluginsPrefix = "adf/plugins/"
)

// Restart backoff the bridge's restart strategy starts from and grows to.
const (
	restartInitialBackoff = 200 * time.Millisecond
	restartMaxBackoff     = 30 * time.Second
	defaultMaxAttempts    = 10
)

// JobSpec is adf/job.json, what the bridge reads to build the Flink job. Its
// keys are shared with the Java bridge: extend, never rename.
type JobSpec struct {
	// Flow is the flow document.
	Flow json.RawMessage `json:"flow"`
	// RunID is the host's run id.
	RunID string `json:"run_id"`
	// Parallelism of the job.
	Parallelism int `json:"parallelism"`
	// CheckpointIntervalMS is the flow's checkpoint.every.
	CheckpointIntervalMS int64 `json:"checkpoint_interval_ms"`
	// Restart configures Flink's exponential-delay restart strategy.
	Restart RestartSpec `json:"restart"`
	// Components names, for each component, its executable under adf/plugins/.
	Components ComponentsSpec `json:"components"`
	// Pause is the runtime config's pause (failure tests), if any.
	Pause *PauseSpec `json:"pause,omitempty"`
}

// RestartSpec is the job's restart strategy.
type RestartSpec struct {
	InitialBackoffMS int64 `json:"initial_backoff_ms"`
	MaxBackoffMS     int64 `json:"max_backoff_ms"`
	MaxAttempts      int   `json:"max_attempts"`
}

// ComponentsSpec names the executable (base name under adf/plugins/) serving
// the source, each transform in flow order, and the sink.
type ComponentsSpec struct {
	Source     string   `json:"source"`
	Sink       string   `json:"sink"`
	Transforms []string `json:"transforms"`
}

// jobPlan is what a job jar is built from.
type jobPlan struct {
	spec JobSpec
	// executables maps a base name under adf/plugins/ to its host path.
	executables map[string]string
}

// planJob derives the job spec and the executables to ship from a job, its
// parsed flow and the config.
func planJob(cfg *Config, job sdk.RuntimeJob, f *flow.Flow) (*jobPlan, error) {
	p := &jobPlan{executables: map[string]string{}}
	doc := job.Flow
	if !json.Valid(doc) {
		// The host sends JSON; a YAML document (a caller by hand) is
		// converted by re-encoding the parsed flow.
		b, err := json.Marshal(f)
		if err != nil {
			return nil, &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("encoding the flow: %v", err), Err: err}
		}
		doc = b
	}
	p.spec.Flow = doc
	p.spec.RunID = job.RunID
	p.spec.Parallelism = parallelism(cfg, f)
	every := flow.DefaultCheckpointInterval
	if f.Checkpoint != nil && f.Checkpoint.Every.D() > 0 {
		every = f.Checkpoint.Every.D()
	}
	p.spec.CheckpointIntervalMS = every.Milliseconds()
	p.spec.Restart = RestartSpec{InitialBackoffMS: restartInitialBackoff.Milliseconds(), MaxBackoffMS: restartMaxBackoff.Milliseconds(), MaxAttempts: defaultMaxAttempts}
	if f.MaxRestarts != nil {
		p.spec.Restart.MaxAttempts = *f.MaxRestarts
	}
	p.spec.Pause = cfg.Pause
	type transform struct {
		index int
		name  string
	}
	var transforms []transform
	var errs sdk.ConfigErrors
	var haveSource, haveSink bool
	for _, c := range job.Components {
		base := filepath.Base(c.Executable)
		if prev, ok := p.executables[base]; ok && prev != c.Executable {
			errs = append(errs, &sdk.Error{Code: sdk.CodeInvalidConfig,
				Summary: fmt.Sprintf("%s: executables %s and %s have the same name; the job jar holds one file per name under %s", componentName(c), prev, c.Executable, PluginsPrefix)})
		} else {
			p.executables[base] = c.Executable
		}
		switch c.Kind {
		case sdk.KindSource:
			p.spec.Components.Source, haveSource = base, true
		case sdk.KindSink:
			p.spec.Components.Sink, haveSink = base, true
		case sdk.KindTransform:
			transforms = append(transforms, transform{c.Index, base})
		default:
			errs = append(errs, &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("component of kind %q cannot run in a flow", c.Kind)})
		}
	}
	if !haveSource || !haveSink {
		errs = append(errs, &sdk.Error{Code: sdk.CodeInternal, Summary: "the host sent no executable for the flow's source or sink"})
	}
	if len(transforms) != len(f.Transforms) {
		errs = append(errs, &sdk.Error{Code: sdk.CodeInternal,
			Summary: fmt.Sprintf("the flow has %d transforms but the host sent executables for %d", len(f.Transforms), len(transforms))})
	}
	sort.SliceStable(transforms, func(i, j int) bool { return transforms[i].index < transforms[j].index })
	p.spec.Components.Transforms = make([]string, 0, len(transforms))
	for _, t := range transforms {
		p.spec.Components.Transforms = append(p.spec.Components.Transforms, t.name)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// parallelism is the job's: the config's, else the flow's, else 1.
func parallelism(cfg *Config, f *flow.Flow) int {
	switch {
	case cfg.Parallelism > 0:
		return cfg.Parallelism
	case f.Parallelism > 0:
		return f.Parallelism
	}
	return 1
}

// writeJobJar writes the job jar to w: every entry of the bridge jar as it
// is (not recompressed), then adf/job.json and the executables under
// adf/plugins/ (deflated, mode 0755).
func writeJobJar(w io.Writer, bridgeJar string, p *jobPlan) error {
	br, err := zip.OpenReader(bridgeJar)
	if err != nil {
		return &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "bridge_jar", Summary: fmt.Sprintf("reading the bridge jar %s: %v", bridgeJar, err), Err: err}
	}
	defer br.Close()
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestSpeed)
	})
	ioErr := func(what string, err error) error {
		return &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("building the job jar: %s: %v", what, err), Err: err}
	}
	for _, f := range br.File {
		if f.Name == JobJSONEntry || strings.HasPrefix(f.Name, PluginsPrefix) {
			continue
		}
		if strings.HasSuffix(f.Name, "/") {
			// A directory: jar tools write it deflated (2 bytes of an
			// empty stream), which zip.Writer refuses to copy raw.
			h := &zip.FileHeader{Name: f.Name, Comment: f.Comment, Modified: f.Modified, ExternalAttrs: f.ExternalAttrs,
				CreatorVersion: f.CreatorVersion, Method: zip.Store}
			if _, err := zw.CreateHeader(h); err != nil {
				return ioErr("copying "+f.Name+" from "+bridgeJar, err)
			}
			continue
		}
		if err := zw.Copy(f); err != nil {
			return ioErr("copying "+f.Name+" from "+bridgeJar, err)
		}
	}
	spec, err := json.MarshalIndent(p.spec, "", "  ")
	if err != nil {
		return ioErr("encoding job.json", err)
	}
	now := time.Now()
	hw, err := zw.CreateHeader(&zip.FileHeader{Name: JobJSONEntry, Method: zip.Deflate, Modified: now})
	if err != nil {
		return ioErr(JobJSONEntry, err)
	}
	if _, err := hw.Write(spec); err != nil {
		return ioErr(JobJSONEntry, err)
	}
	names := make([]string, 0, len(p.executables))
	for n := range p.executables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := addExecutable(zw, PluginsPrefix+n, p.executables[n]); err != nil {
			return ioErr(p.executables[n], err)
		}
	}
	if err := zw.Close(); err != nil {
		return ioErr("finishing", err)
	}
	return nil
}

func addExecutable(zw *zip.Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: st.ModTime()}
	h.SetMode(0o755)
	ew, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(ew, f)
	return err
}
