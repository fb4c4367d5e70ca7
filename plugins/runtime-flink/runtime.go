package flink

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// entryClassFile is the bridge's main class inside its jar.
var entryClassFile = strings.ReplaceAll(EntryClass, ".", "/") + ".class"

// runtime implements sdk.Runtime on one Flink cluster.
type runtime struct {
	cfg *Config
	api *client
}

var _ sdk.Runtime = (*runtime)(nil)

func newRuntime(cfg *Config) (*runtime, error) {
	return &runtime{cfg: cfg, api: newClient(cfg)}, nil
}

// bridgeJar is the configured bridge jar, or the one next to this
// executable.
func (r *runtime) bridgeJar() (path string, configured bool) {
	if r.cfg.BridgeJar != "" {
		return r.cfg.BridgeJar, true
	}
	exe, err := os.Executable()
	if err != nil {
		return BridgeJarName, false
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	return filepath.Join(filepath.Dir(exe), BridgeJarName), false
}

// checkBridgeJar says whether the bridge jar is there and holds the bridge.
func (r *runtime) checkBridgeJar() *sdk.Error {
	p, configured := r.bridgeJar()
	field := ""
	if configured {
		field = "bridge_jar"
	}
	build := "scripts/build-bridge.sh builds it (Maven, Java 17) and puts it next to adf-plugin-runtime-flink; or set bridge_jar"
	zr, err := zip.OpenReader(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &sdk.Error{Code: sdk.CodeNotFound, Field: field, Summary: fmt.Sprintf("the ADF Flink bridge jar %s does not exist", p), Detail: build, Err: err}
		}
		return &sdk.Error{Code: sdk.CodeInvalidConfig, Field: field, Summary: fmt.Sprintf("the ADF Flink bridge jar %s cannot be read as a jar: %v", p, err), Detail: build, Err: err}
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name == entryClassFile {
			return nil
		}
	}
	return &sdk.Error{Code: sdk.CodeInvalidConfig, Field: field, Summary: fmt.Sprintf("%s is not the ADF Flink bridge: it has no %s", p, entryClassFile), Detail: build}
}

// parseFlow reads the job's flow document.
func parseFlow(job sdk.RuntimeJob) (*flow.Flow, error) {
	f, err := flow.Decode(job.Flow)
	if err != nil {
		var list sdk.ConfigErrors
		if errors.As(err, &list) {
			out := make(sdk.ConfigErrors, 0, len(list))
			for _, e := range list {
				c := *e
				c.Summary = "flow document: " + c.Summary
				out = append(out, &c)
			}
			return nil, out
		}
		return nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Summary: fmt.Sprintf("flow document: %v", err), Err: err}
	}
	return f, nil
}

// checkLocal runs the checks that need no cluster: the flow, the bridge
// jar, the component executables. It returns the parsed flow and plan.
func (r *runtime) checkLocal(job sdk.RuntimeJob) (*flow.Flow, *jobPlan, error) {
	job.Components = absComponents(job.Components)
	f, err := parseFlow(job)
	if err != nil {
		return nil, nil, err
	}
	var errs sdk.ConfigErrors
	if e := r.checkBridgeJar(); e != nil {
		errs = append(errs, e)
	}
	for _, c := range job.Components {
		if e := checkExecutable(c); e != nil {
			errs = append(errs, e)
		}
	}
	p, err := planJob(r.cfg, job, f)
	if err != nil {
		errs = append(errs, sdk.AsErrors(err)...)
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	return f, p, nil
}

// Validate implements sdk.Runtime: the flow, the bridge jar and every
// component executable (ELF linux/amd64) are checked, and the cluster must
// answer and run Flink 2.x. An unreachable cluster is reported as
// invalid_config on url, so the run is refused rather than retried.
func (r *runtime) Validate(ctx context.Context, job sdk.RuntimeJob) error {
	_, _, err := r.checkLocal(job)
	errs := sdk.AsErrors(err)
	if e := r.checkCluster(ctx); e != nil {
		for _, ce := range sdk.AsErrors(e) {
			if ce.Code == sdk.CodeUnavailable {
				// The run is refused before submission with the reason,
				// not queued for retries: an unreachable cluster is a
				// wrong url or a cluster to start. (Status and Cancel
				// report it as unavailable, which the host retries.)
				c := *ce
				c.Code, c.Field, c.Transient = sdk.CodeInvalidConfig, "url", false
				ce = &c
			}
			errs = append(errs, ce)
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return sdk.ConfigErrors(errs)
}

// checkCluster asks the cluster its version: it must be Flink 2.x.
func (r *runtime) checkCluster(ctx context.Context) error {
	v, err := r.api.version(ctx)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(v, "2.") {
		what := v
		if what == "" {
			what = "an unknown version"
		}
		return &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "url",
			Summary: fmt.Sprintf("%s runs Flink %s: the ADF Flink bridge is built against Flink 2.3 and needs a Flink 2.x cluster", r.cfg, what),
			Detail:  "point url at a Flink 2.x JobManager (scripts/flink-local.sh start runs Flink 2.3.0 locally)"}
	}
	return nil
}

// Submit implements sdk.Runtime: it builds the job jar, uploads it, runs it
// and deletes the uploaded jar (the job keeps its own copy).
func (r *runtime) Submit(ctx context.Context, job sdk.RuntimeJob) (string, error) {
	f, p, err := r.checkLocal(job)
	if err != nil {
		return "", err
	}
	// A run has one job, whose id follows from the run: a host that
	// resumes a run whose submission it cannot know the outcome of (the
	// submitting host died) finds the job instead of starting another.
	jobID := ""
	if job.RunID != "" {
		jobID = runJobID(f.Name, job.RunID)
		_, err := r.api.jobState(ctx, jobID)
		if err == nil {
			return jobID, nil
		}
		if se := (*sdk.Error)(nil); !errors.As(err, &se) || se.Code != sdk.CodeNotFound {
			return "", err
		}
	}
	tmp, err := os.CreateTemp("", "adf-flink-job-*.jar")
	if err != nil {
		return "", &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("creating the job jar: %v", err), Err: err}
	}
	defer os.Remove(tmp.Name())
	bridge, _ := r.bridgeJar()
	if err := writeJobJar(tmp, bridge, p); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("writing the job jar: %v", err), Err: err}
	}
	name := "adf-" + f.Name
	if job.RunID != "" {
		name += "-run" + job.RunID
	}
	jarID, err := r.api.upload(ctx, tmp.Name(), safeName(name)+".jar")
	if err != nil {
		return "", err
	}
	// Best effort: the job has its own copy of the jar.
	defer func() { _ = r.api.deleteJar(context.WithoutCancel(ctx), jarID) }()
	return r.api.run(ctx, jarID, p.spec.Parallelism, jobID)
}

// runJobID is the Flink job id of a flow's run: 32 hex digits derived from
// the flow name and the run id.
func runJobID(flowName, runID string) string {
	sum := sha256.Sum256([]byte("adf\x00" + flowName + "\x00" + runID))
	return hex.EncodeToString(sum[:16])
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

func safeName(s string) string { return unsafeChars.ReplaceAllString(s, "_") }

var jobIDRE = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

func checkJobID(id string) error {
	if !jobIDRE.MatchString(id) {
		return &sdk.Error{Code: sdk.CodeNotFound, Summary: fmt.Sprintf("no Flink job %q: a Flink job id is 32 hex digits", id)}
	}
	return nil
}

// States of sdk.RuntimeStatus.
const (
	StatePending   = "pending"
	StateRunning   = "running"
	StateSuccess   = "success"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
)

// mapState maps a Flink job state to a runtime state.
func mapState(s string) string {
	switch s {
	case "INITIALIZING", "CREATED", "RECONCILING":
		return StatePending
	case "RUNNING", "RESTARTING", "FAILING", "CANCELLING":
		return StateRunning
	case "FINISHED":
		return StateSuccess
	case "CANCELED", "CANCELLED":
		return StateCancelled
	case "FAILED", "SUSPENDED":
		return StateFailed
	}
	return StateRunning
}

// Accumulators the bridge counts rows in.
const (
	AccRowsRead     = "adf.rows_read"
	AccRowsWritten  = "adf.rows_written"
	AccRowsRejected = "adf.rows_rejected"
)

// Status implements sdk.Runtime.
func (r *runtime) Status(ctx context.Context, jobID string) (sdk.RuntimeStatus, error) {
	if err := checkJobID(jobID); err != nil {
		return sdk.RuntimeStatus{}, err
	}
	state, err := r.api.jobState(ctx, jobID)
	if err != nil {
		return sdk.RuntimeStatus{}, jobError(jobID, err)
	}
	st := sdk.RuntimeStatus{State: mapState(state)}
	if st.State != StatePending {
		acc, err := r.api.accumulators(ctx, jobID)
		if err != nil {
			return sdk.RuntimeStatus{}, jobError(jobID, err)
		}
		st.RecordsRead, st.RecordsWritten, st.RecordsRejected = acc[AccRowsRead], acc[AccRowsWritten], acc[AccRowsRejected]
	}
	switch {
	case state == "SUSPENDED":
		st.Message = "Flink suspended the job (its JobManager lost leadership or shut down)"
	case state == "RESTARTING" || st.State == StateFailed:
		text, err := r.api.rootException(ctx, jobID)
		if err != nil {
			if st.State == StateFailed {
				st.Message = fmt.Sprintf("the Flink job failed; its exceptions could not be read: %v", err)
			}
			break
		}
		st.Message = failureMessage(text)
		if st.State == StateFailed && st.Message == "" {
			st.Message = "the Flink job failed (Flink reported no exception)"
		}
		if state == "RESTARTING" {
			st.Message = "restarting after: " + st.Message
		}
	case st.State == StateCancelled:
		st.Message = "the Flink job was cancelled"
	}
	return st, nil
}

// adfExceptionRE finds the bridge's AdfException message (the failing
// component and its error) in a Java exception text.
var adfExceptionRE = regexp.MustCompile(`io\.github\.activedataflow\.adf\.flink\.AdfException: ([^\n]+)`)

// failureMessage renders a job's root exception: the ADF component's message
// first when the bridge put one in, then the first lines of Flink's text.
func failureMessage(text string) string {
	m := adfExceptionRE.FindStringSubmatch(text)
	if m == nil {
		return firstLines(text, 8, 2000)
	}
	adf := strings.TrimSpace(m[1])
	// Flink's own lines around it, without the repeated ADF message.
	var rest []string
	for _, l := range strings.Split(firstLines(text, 8, 2000), "\n") {
		if !strings.Contains(l, adf) {
			rest = append(rest, clip(l, 300))
		}
		if len(rest) == 2 {
			break
		}
	}
	if len(rest) == 0 {
		return clip(adf, 2000)
	}
	return clip(adf, 2000) + "\n(Flink: " + strings.Join(rest, "; ") + ")"
}

// jobError names the job in a not-found error.
func jobError(jobID string, err error) error {
	var se *sdk.Error
	if errors.As(err, &se) && se.Code == sdk.CodeNotFound {
		c := *se
		c.Summary = fmt.Sprintf("no Flink job %s (a finished job is forgotten after jobstore.expiration-time): %s", jobID, se.Summary)
		return &c
	}
	return err
}

// Cancel implements sdk.Runtime. A job that already ended is not an error.
func (r *runtime) Cancel(ctx context.Context, jobID string) error {
	if err := checkJobID(jobID); err != nil {
		return err
	}
	err := r.api.cancel(ctx, jobID)
	if err == nil {
		return nil
	}
	// Flink refuses to cancel a job that has ended; that is what we wanted.
	if state, serr := r.api.jobState(ctx, jobID); serr == nil {
		switch mapState(state) {
		case StateSuccess, StateFailed, StateCancelled:
			return nil
		}
	}
	return jobError(jobID, err)
}
