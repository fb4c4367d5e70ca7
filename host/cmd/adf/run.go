package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/activedataflow/adf/host/builtin"
	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/localrun"
	"github.com/activedataflow/adf/host/redact"
	"github.com/activedataflow/adf/host/registry"
	"github.com/activedataflow/adf/host/runner"
	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// loadFlow reads a flow file; its fields are left to engine.Validate,
// which reports them with the component errors.
func loadFlow(path string) (*flow.Flow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read flow file: %w", err)
	}
	f, err := flow.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("flow file %s: %w", path, err)
	}
	return f, nil
}

// newRunID returns a sortable, unique run id.
func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

func runCmd(g *globals) *cobra.Command {
	var progress string
	var fresh bool
	var runTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "run FLOW.yaml",
		Short: "Run a flow once, in this process, and exit (non-zero on failure)",
		Long: `Run a flow file (YAML or JSON) once. Bounded sources run to the end;
unbounded ones run until Ctrl-C, which takes a final checkpoint first.
A run that was killed resumes from its last checkpoint when the same
command runs again (its state is kept in the data directory, runs/).
On a terminal a progress bar shows the rows read, written and rejected and
the rows/s, with the total and the time left when the source knows its size
(files); the summary is printed in any case.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			// The same validation as `adf validate`, before anything starts:
			// an invalid flow creates no run state and writes nothing.
			f, err := loadFlow(args[0])
			if err != nil {
				return printConfigErrors(err)
			}
			// The plugins' log lines name the flow (and, once it starts,
			// the run): also those of the processes that validate it.
			ctx = registry.WithLogFields(ctx, "flow", f.Name)
			reg, err := g.registry(ctx)
			if err != nil {
				return err
			}
			// Its secrets never reach the terminal or the log.
			redact.Remember(redact.Secrets(f, redact.RegistrySchemas(reg)))
			warnings, err := engine.ValidateWithWarnings(ctx, reg, f)
			printWarnings(warnings)
			if err != nil {
				return printConfigErrors(err)
			}
			if err := engine.Plan(reg, f); err != nil {
				return err
			}
			f.Normalize()
			if f.Runtime.Type != builtin.HostRuntime {
				return runElsewhere(ctx, reg, f)
			}
			local, runID, err := localRun(g, f, fresh)
			if err != nil {
				return err
			}
			defer local.Close()
			showBar := progress == "bar" || (progress == "auto" && term.IsTerminal(int(os.Stderr.Fd())))
			var bar *runBar
			if showBar {
				bar = newRunBar(os.Stderr, f.Name)
			}
			// First Ctrl-C: stop gracefully (unbounded flows checkpoint and end);
			// the run is cancelled by a second one, or 30s later. (The signal
			// context stays subscribed until main returns and swallows further
			// signals, so listen for the second one here.)
			stop := make(chan struct{})
			runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			defer cancel()
			go func() {
				select {
				case <-ctx.Done():
				case <-runCtx.Done():
					return
				}
				again := make(chan os.Signal, 1)
				signal.Notify(again, os.Interrupt, syscall.SIGTERM)
				defer signal.Stop(again)
				close(stop)
				select {
				case <-again:
					fmt.Fprintln(os.Stderr, "interrupted again: cancelling the run")
				case <-time.After(30 * time.Second):
				case <-runCtx.Done():
				}
				cancel()
			}()
			eng := engine.New(engine.Options{
				Registry:    reg,
				Logger:      g.log,
				DataDir:     g.dataDir,
				Checkpoints: local,
				Fault:       g.fault,
				Stop:        stop,
				RunTimeout:  runTimeout,
				OnEvent: func(ev engine.Event) {
					if bar != nil {
						bar.event(ev)
					}
				},
			})
			start := time.Now()
			res, err := eng.Run(registry.WithLogFields(runCtx, "run", runID), f, runID)
			if bar != nil {
				bar.finish()
			}
			elapsed := time.Since(start)
			rate := float64(res.Stats.RowsRead) / elapsed.Seconds()
			status := "success"
			if err != nil {
				status = "failed"
			}
			fmt.Printf("flow %s run %s: %s in %s: %d rows read, %d written, %d rejected (%.0f rows/s); %d checkpoints, %d restarts\n",
				f.Name, runID, status, elapsed.Round(time.Millisecond), res.Stats.RowsRead, res.Stats.RowsWritten,
				res.Stats.RowsRejected, rate, res.Stats.Checkpoints, res.Stats.Restarts)
			if res.DeadLetterPath != "" {
				fmt.Printf("rejected records: %s\n", res.DeadLetterPath)
			}
			// main prints the error redacted (host/redact).
			return finishLocalRun(local, runID, err)
		},
	}
	cmd.Flags().StringVar(&progress, "progress", "auto", "progress display: auto (bar on a terminal), bar, none")
	cmd.Flags().BoolVar(&fresh, "fresh", false, "start a new run even if an interrupted run of this flow could resume")
	cmd.Flags().DurationVar(&runTimeout, "run-timeout", envDuration("ADF_RUN_TIMEOUT", 0), "cancel and fail a run of a flow without a timeout of its own after this long; 0: none (env ADF_RUN_TIMEOUT)")
	return cmd
}

// runElsewhere runs the flow once on its runtime plugin (Flink, ...) and
// prints the same summary as a run in the host. The runtime keeps the run's
// checkpoints; Ctrl-C cancels its job.
func runElsewhere(ctx context.Context, reg *registry.Registry, f *flow.Flow) error {
	runID := newRunID()
	start := time.Now()
	stats, err := runner.RunOnPlugin(registry.WithLogFields(ctx, "run", runID), reg, f, runID, runner.PluginRun{})
	elapsed := time.Since(start)
	status := "success"
	if err != nil {
		status = "failed"
	}
	fmt.Printf("flow %s run %s: %s in %s: %d rows read, %d written, %d rejected (%.0f rows/s); %d checkpoints, %d restarts (runtime %s)\n",
		f.Name, runID, status, elapsed.Round(time.Millisecond), stats.RowsRead, stats.RowsWritten, stats.RowsRejected,
		float64(stats.RowsRead)/elapsed.Seconds(), stats.Checkpoints, stats.Restarts, f.Runtime.Type)
	return err
}

// localRun opens the flow's local run state and picks the run: the
// interrupted one, resumed from its checkpoint with the config it started
// with, or a new one.
func localRun(g *globals, f *flow.Flow, fresh bool) (*localrun.Store, string, error) {
	cfg, err := json.Marshal(f)
	if err != nil {
		return nil, "", err
	}
	local, err := localrun.Open(g.dataDir, f.Name)
	if err != nil {
		if errors.Is(err, localrun.ErrBusy) {
			return nil, "", fmt.Errorf("%w: another `adf run` of it is in progress with the data directory %s", err, g.dataDir)
		}
		return nil, "", err
	}
	if prev := local.Unfinished(); prev != nil && !fresh {
		if !prev.SameConfig(cfg) {
			local.Close()
			return nil, "", fmt.Errorf("flow %s: an interrupted run (%s) can resume from its checkpoint, but the flow file changed since it started; "+
				"run the unchanged file to finish it, or pass --fresh to abandon it (its committed output stays)", f.Name, prev.RunID)
		}
		at := "its start"
		if prev.Checkpoint != nil {
			at = fmt.Sprintf("checkpoint %d", prev.Checkpoint.ID)
		}
		fmt.Fprintf(os.Stderr, "resuming interrupted run %s of flow %s from %s (pass --fresh to start over)\n", prev.RunID, f.Name, at)
		return local, prev.RunID, nil
	}
	runID := newRunID()
	if err := local.Begin(runID, cfg); err != nil {
		local.Close()
		return nil, "", err
	}
	return local, runID, nil
}

// finishLocalRun forgets a run that ended, that failed before its first
// checkpoint (nothing to resume) or that exceeded its timeout (it failed
// for good); another failed run with a checkpoint stays resumable.
func finishLocalRun(local *localrun.Store, runID string, runErr error) error {
	var se *sdk.Error
	if runErr != nil && !(errors.As(runErr, &se) && se.Code == sdk.CodeDeadlineExceeded) {
		if cp, _ := local.Latest(context.Background(), "", runID); cp != nil {
			fmt.Fprintf(os.Stderr, "run %s can resume from checkpoint %d: run the same command again\n", runID, cp.ID)
			return runErr
		}
	}
	if err := local.Finish(); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

func validateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FLOW.yaml",
		Short: "Check a flow file: its fields, that its plugins are installed, and every component config",
		Long: `Check a flow file without running it: the document (one YAML document or
JSON object, no key twice), the flow's own fields, that every component type
is installed, and every component config, as its plugin decodes it. Every
problem is printed with its field path and the command exits 1.
Plugins also check cheaply whether what a config names is there (an input
file, a host name that must resolve); what is missing is printed as a
warning, and the flow is still valid (exit 0): it may be there when the
flow runs. ` + "`adf run`" + ` runs the same checks first.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := loadFlow(args[0])
			if err != nil {
				return printConfigErrors(err)
			}
			reg, err := g.registry(cmd.Context())
			if err != nil {
				return err
			}
			redact.Remember(redact.Secrets(f, redact.RegistrySchemas(reg)))
			warnings, err := engine.ValidateWithWarnings(cmd.Context(), reg, f)
			printWarnings(warnings)
			if err != nil {
				return printConfigErrors(err)
			}
			if len(warnings) > 0 {
				fmt.Printf("flow %s is valid (%d warning(s): what they name must be there when it runs)\n", f.Name, len(warnings))
				return nil
			}
			fmt.Printf("flow %s is valid\n", f.Name)
			return nil
		},
	}
}

// printWarnings prints one line per warning, with its field path.
func printWarnings(ws []*sdk.Error) {
	for _, w := range ws {
		fmt.Fprintf(os.Stderr, "warning: %s\n", redact.String(w.Error()))
	}
}

// printConfigErrors prints one line per bad field and exits 1.
func printConfigErrors(err error) error {
	var ce sdk.ConfigErrors
	if !errors.As(err, &ce) {
		return err
	}
	fmt.Fprintf(os.Stderr, "invalid flow: %d problem(s)\n", len(ce))
	for _, e := range ce {
		fmt.Fprintf(os.Stderr, "  %s\n", redact.String(e.Error()))
	}
	return &exitError{code: 1}
}
