package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/activedataflow/adf/host/store"
)

// flowView is a flow record as the API answers it, with the fields of
// newer servers (absent from older ones: nil).
type flowView struct {
	store.FlowRecord
	Enabled       *bool      `json:"enabled,omitempty"`
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
}

// enabled is the flow's state: the record's, else its definition's.
func (f *flowView) enabled() bool {
	if f.Enabled != nil {
		return *f.Enabled
	}
	return f.Flow == nil || f.Flow.Enabled == nil || *f.Flow.Enabled
}

func (f *flowView) schedule() string {
	if f.Flow == nil || f.Flow.Schedule == nil {
		return "-"
	}
	return "every " + shortDuration(f.Flow.Schedule.Every.D())
}

func flowsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "flows", Short: "Manage the flows of a running `adf serve`"}
	c := clientFlags(cmd, g)
	cmd.AddCommand(flowsApplyCmd(c), flowsListCmd(c), flowsShowCmd(c), flowsRunCmd(c), flowsDeleteCmd(c),
		flowsSwitchCmd(c, "enable"), flowsSwitchCmd(c, "disable"))
	return cmd
}

func flowsApplyCmd(c *client) *cobra.Command {
	var file string
	apply := &cobra.Command{
		Use:   "apply -f FLOW.yaml",
		Short: "Create or update a flow (validated by the server against the installed plugins)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			js, err := yaml.YAMLToJSON(data)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			var rec store.FlowRecord
			raw, status, err := c.do(cmd.Context(), http.MethodPost, "/v1/flows", js)
			if err != nil {
				if status == http.StatusUnprocessableEntity {
					fmt.Fprintln(os.Stderr, "invalid flow:", err)
					return &exitError{code: 1}
				}
				return err
			}
			if err := decode(raw, &rec); err != nil {
				return err
			}
			what := "updated"
			if status == http.StatusCreated {
				what = "created"
			}
			fmt.Printf("flow %s %s (config version %d)\n", text(rec.Flow.Name), what, rec.ConfigVersion)
			return nil
		},
	}
	apply.Flags().StringVarP(&file, "file", "f", "", "flow file (YAML or JSON)")
	_ = apply.MarkFlagRequired("file")
	return apply
}

func flowsListCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List flows",
		Args:  cobra.NoArgs,
	}
	o := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := o.check(); err != nil {
			return err
		}
		var flows []*flowView
		raw, err := c.get(cmd.Context(), "/v1/flows", &flows)
		if err != nil {
			return err
		}
		return o.print(os.Stdout, raw, func(w io.Writer) error {
			now := time.Now()
			t := newTable(w)
			fmt.Fprintln(t, "NAME\tENABLED\tSCHEDULE\tNEXT RUN\tLAST RUN\tSTATUS\tLAST SUCCESS\tSOURCE\tSINK\tVERSION")
			for _, f := range flows {
				fmt.Fprintf(t, "%s\t%v\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", cell(f.Flow.Name), f.enabled(), f.schedule(),
					ago(f.NextRunAt, now), ago(f.LastRunAt, now), cell(f.LastRunStatus), ago(f.LastSuccessAt, now),
					cell(f.Flow.Source.Type), cell(f.Flow.Sink.Type), f.ConfigVersion)
			}
			return t.Flush()
		})
	}
	return cmd
}

func flowsShowCmd(c *client) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a flow: its state, schedule, last run and config (secrets redacted)",
		Args:  cobra.ExactArgs(1),
	}
	o := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.check(); err != nil {
			return err
		}
		var f flowView
		raw, err := c.get(cmd.Context(), "/v1/flows/"+pathEscape(args[0]), &f)
		if err != nil {
			return err
		}
		return o.print(os.Stdout, raw, func(w io.Writer) error {
			now := time.Now()
			t := newTable(w)
			row := func(k, v string) { fmt.Fprintf(t, "%s\t%s\n", k, v) }
			row("name", cell(f.Flow.Name))
			row("description", cell(f.Flow.Description))
			row("enabled", strconv.FormatBool(f.enabled()))
			row("schedule", f.schedule())
			row("next run", when(f.NextRunAt, now))
			row("last run", when(f.LastRunAt, now))
			row("last status", cell(f.LastRunStatus))
			row("last success", when(f.LastSuccessAt, now))
			if f.LastError != "" {
				row("last error", cell(truncate(f.LastError, 200)))
			}
			row("config version", strconv.Itoa(f.ConfigVersion))
			row("created", when(&f.CreatedAt, now))
			row("updated", when(&f.UpdatedAt, now))
			if err := t.Flush(); err != nil {
				return err
			}
			// The definition as the server has it (secrets redacted), in
			// the form it is applied in.
			def, err := yaml.Marshal(f.Flow)
			if err != nil {
				return fmt.Errorf("format the flow's definition: %w", err)
			}
			fmt.Fprintf(w, "\ndefinition:\n  %s\n", strings.ReplaceAll(strings.TrimRight(text(string(def)), "\n"), "\n", "\n  "))
			return nil
		})
	}
	return cmd
}

func flowsRunCmd(c *client) *cobra.Command {
	var wait bool
	run := &cobra.Command{
		Use:   "run NAME",
		Short: "Trigger a run now",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r runView
			if _, err := c.call(cmd.Context(), http.MethodPost, "/v1/flows/"+pathEscape(args[0])+"/runs", nil, &r); err != nil {
				return err
			}
			fmt.Printf("run %d of flow %s enqueued\n", r.ID, text(r.FlowName))
			if !wait {
				return nil
			}
			if err := c.waitRun(cmd.Context(), &r, true); err != nil {
				return err
			}
			printRun(os.Stdout, &r, time.Now())
			if r.Status != store.StatusSuccess {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	run.Flags().BoolVar(&wait, "wait", false, "wait until the run ends (exit 1 unless it succeeds)")
	return run
}

func flowsDeleteCmd(c *client) *cobra.Command {
	var cancelRuns bool
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a flow (its runs stay, as history)",
		Long: `Delete a flow and its version history; its past runs stay listed.
A flow with a run pending or in progress is not deleted: the command names
the runs. --cancel-runs asks them to stop (a bounded run stops, an unbounded
one takes a final checkpoint first) and deletes the flow.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			path := "/v1/flows/" + pathEscape(name)
			if cancelRuns {
				path += "?cancel_runs=true"
			}
			raw, _, err := c.do(cmd.Context(), http.MethodDelete, path, nil)
			if err != nil {
				return runActiveHint(name, err)
			}
			// 204 No Content, or (when runs were asked to stop) the
			// answer naming them.
			var answer struct {
				CancelRequested []int64 `json:"cancel_requested"`
			}
			if err := decode(raw, &answer); err != nil {
				return err
			}
			fmt.Printf("flow %s deleted\n", text(name))
			if len(answer.CancelRequested) > 0 {
				fmt.Printf("cancellation requested for run(s) %s: they end as cancelled (an unbounded run takes a final checkpoint first)\n", joinIDs(answer.CancelRequested))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&cancelRuns, "cancel-runs", false, "ask the flow's pending and in-progress runs to stop, then delete it")
	return cmd
}

// runActiveHint explains a run_active refusal of a delete: which runs are
// active and what to do.
func runActiveHint(name string, err error) error {
	if errorCode(err) != "run_active" {
		return err
	}
	var ae *apiError
	which := "a run"
	first := "ID"
	if errors.As(err, &ae) && len(ae.runIDs) > 0 {
		which = "run(s) " + joinIDs(ae.runIDs)
		first = strconv.FormatInt(ae.runIDs[0], 10)
	}
	return fmt.Errorf("flow %s is not deleted: %s pending or in progress (%w).\n"+
		"  Delete it anyway with `adf flows delete %s --cancel-runs`, which asks them to stop first\n"+
		"  (a bounded run stops, an unbounded one takes a final checkpoint), or cancel them yourself: `adf runs cancel %s`",
		text(name), which, err, text(name), first)
}

func flowsSwitchCmd(c *client, verb string) *cobra.Command {
	short := "Enable a flow: its schedule starts it again"
	if verb == "disable" {
		short = "Disable a flow: no scheduled runs start (a run already going goes on; a manual run still starts)"
	}
	cmd := &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
	}
	o := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.check(); err != nil {
			return err
		}
		var f flowView
		raw, err := c.call(cmd.Context(), http.MethodPost, "/v1/flows/"+pathEscape(args[0])+"/"+verb, nil, &f)
		if err != nil {
			return err
		}
		return o.print(os.Stdout, raw, func(w io.Writer) error {
			state := "enabled"
			if !f.enabled() {
				state = "disabled"
			}
			line := fmt.Sprintf("flow %s %s", text(args[0]), state)
			if f.enabled() && f.NextRunAt != nil {
				line += "; next run " + ago(f.NextRunAt, time.Now())
			}
			_, err := fmt.Fprintln(w, line)
			return err
		})
	}
	return cmd
}

// waitRun polls the run until it ends (or, with stopOnRetry, until an
// attempt failed and a retry is scheduled), updating r.
func (c *client) waitRun(ctx context.Context, r *runView, stopOnRetry bool) error {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for r.Status == store.StatusPending || r.Status == store.StatusInProgress {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		var next runView
		if _, err := c.get(ctx, "/v1/runs/"+strconv.FormatInt(r.ID, 10), &next); err != nil {
			return err
		}
		*r = next
		if stopOnRetry && r.Status == store.StatusPending && r.ErrorMessage != "" {
			return nil // failed attempt, retry scheduled
		}
	}
	return nil
}
