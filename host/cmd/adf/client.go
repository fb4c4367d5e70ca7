package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/activedataflow/adf/host/api"
	"github.com/activedataflow/adf/host/store"
)

// client talks to a running `adf serve`.
type client struct {
	server, token string
	http          *http.Client
}

func clientFlags(cmd *cobra.Command, g *globals) *client {
	c := &client{http: &http.Client{Timeout: 2 * time.Minute}}
	cmd.PersistentFlags().StringVar(&c.server, "server", envOr("ADF_SERVER", "http://"+envOr("ADF_LISTEN", "127.0.0.1:8080")), "URL of adf serve (env ADF_SERVER)")
	cmd.PersistentFlags().StringVar(&c.token, "admin-token", os.Getenv("ADF_ADMIN_TOKEN"), "admin token (env ADF_ADMIN_TOKEN; default: <data-dir>/admin-token)")
	var token string
	cmd.PersistentFlags().StringVar(&token, "token", os.Getenv("ADF_TOKEN"), "API token of any role, viewer, operator or admin (env ADF_TOKEN); default: the admin token")
	cmd.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if root := cmd.Root(); root.PersistentPreRun != nil {
			root.PersistentPreRun(cmd, nil)
		}
		if token != "" {
			c.token = token
		}
		if strings.HasPrefix(strings.ToLower(c.token), "sha256:") {
			return errors.New("the API token is given in its hashed sha256: form, which only adf serve takes: give the client the plain token (--token or ADF_TOKEN)")
		}
		if c.token == "" {
			if b, err := os.ReadFile(adminTokenFile(g.dataDir)); err == nil {
				c.token = strings.TrimSpace(string(b))
			}
		}
		return nil
	}
	return c
}

// do sends a request and decodes a JSON answer into out; an error answer
// becomes an error that lists the problems.
func (c *client) do(method, path string, body []byte, out any) (int, error) {
	req, err := http.NewRequest(method, strings.TrimRight(c.server, "/")+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w (is `adf serve` running? set --server or ADF_SERVER)", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 {
		var e api.ErrorBody
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
		}
		var b strings.Builder
		b.WriteString(e.Message)
		for _, p := range e.Problems {
			fmt.Fprintf(&b, "\n  %s: %s", p.Field, p.Reason)
		}
		return resp.StatusCode, errors.New(b.String())
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func printJSON(v any) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func flowsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "flows", Short: "Manage the flows of a running `adf serve`"}
	c := clientFlags(cmd, g)
	var file string
	apply := &cobra.Command{
		Use:   "apply -f FLOW.yaml",
		Short: "Create or update a flow (validated by the server against the installed plugins)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			data, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			js, err := yaml.YAMLToJSON(data)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			var rec store.FlowRecord
			status, err := c.do("POST", "/v1/flows", js, &rec)
			if err != nil {
				if status == http.StatusUnprocessableEntity {
					fmt.Fprintln(os.Stderr, "invalid flow:", err)
					return &exitError{code: 1}
				}
				return err
			}
			what := "updated"
			if status == http.StatusCreated {
				what = "created"
			}
			fmt.Printf("flow %s %s (config version %d)\n", rec.Flow.Name, what, rec.ConfigVersion)
			return nil
		},
	}
	apply.Flags().StringVarP(&file, "file", "f", "", "flow file (YAML or JSON)")
	_ = apply.MarkFlagRequired("file")
	list := &cobra.Command{
		Use:   "list",
		Short: "List flows",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var flows []*store.FlowRecord
			if _, err := c.do("GET", "/v1/flows", nil, &flows); err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tENABLED\tSCHEDULE\tSOURCE\tSINK\tLAST RUN\tSTATUS\tVERSION")
			for _, f := range flows {
				every := "-"
				if f.Flow.Schedule != nil {
					every = f.Flow.Schedule.Every.D().String()
				}
				fmt.Fprintf(w, "%s\t%v\t%s\t%s\t%s\t%s\t%s\t%d\n", f.Flow.Name, *f.Flow.Enabled, every, f.Flow.Source.Type, f.Flow.Sink.Type,
					fmtTime(f.LastRunAt), orDash(f.LastRunStatus), f.ConfigVersion)
			}
			return w.Flush()
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a flow as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var rec store.FlowRecord
			if _, err := c.do("GET", "/v1/flows/"+args[0], nil, &rec); err != nil {
				return err
			}
			printJSON(rec)
			return nil
		},
	}
	var wait bool
	run := &cobra.Command{
		Use:   "run NAME",
		Short: "Trigger a run now",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var r store.Run
			if _, err := c.do("POST", "/v1/flows/"+args[0]+"/runs", nil, &r); err != nil {
				return err
			}
			fmt.Printf("run %d of flow %s enqueued\n", r.ID, r.FlowName)
			if !wait {
				return nil
			}
			for r.Status == store.StatusPending || r.Status == store.StatusInProgress {
				time.Sleep(500 * time.Millisecond)
				if _, err := c.do("GET", "/v1/runs/"+strconv.FormatInt(r.ID, 10), nil, &r); err != nil {
					return err
				}
				if r.Status == store.StatusPending && r.ErrorMessage != "" {
					break // failed attempt, retry scheduled
				}
			}
			printRun(&r)
			if r.Status != store.StatusSuccess {
				return &exitError{code: 1}
			}
			return nil
		},
	}
	run.Flags().BoolVar(&wait, "wait", false, "wait until the run ends (exit 1 unless it succeeds)")
	cmd.AddCommand(apply, list, show, run)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printRun(r *store.Run) {
	fmt.Printf("run %d  flow %s  status %s  attempt %d  trigger %s\n", r.ID, r.FlowName, r.Status, r.Attempt, r.Trigger)
	fmt.Printf("  scheduled %s  started %s  ended %s\n", r.ScheduledFor.Local().Format("2006-01-02 15:04:05"), fmtTime(r.StartedAt), fmtTime(r.EndedAt))
	fmt.Printf("  rows read %d  written %d  rejected %d  bytes %d  config version %d\n", r.RecordsRead, r.RecordsWritten, r.RecordsRejected, r.BytesWritten, r.ConfigVersion)
	if r.ErrorMessage != "" {
		fmt.Printf("  error: %s\n", r.ErrorMessage)
	}
	if r.ErrorBacktrace != "" {
		fmt.Printf("  backtrace:\n    %s\n", strings.ReplaceAll(strings.TrimSpace(r.ErrorBacktrace), "\n", "\n    "))
	}
}

func runsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "runs", Short: "Inspect the runs of a running `adf serve`"}
	c := clientFlags(cmd, g)
	var flowName string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			var runs []*store.Run
			path := fmt.Sprintf("/v1/runs?limit=%d", limit)
			if flowName != "" {
				path = fmt.Sprintf("/v1/flows/%s/runs?limit=%d", flowName, limit)
			}
			if _, err := c.do("GET", path, nil, &runs); err != nil {
				return err
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tFLOW\tSTATUS\tATTEMPT\tSTARTED\tENDED\tREAD\tWRITTEN\tREJECTED\tERROR")
			for _, r := range runs {
				msg := r.ErrorMessage
				if len(msg) > 60 {
					msg = msg[:57] + "..."
				}
				fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\t%s\n", r.ID, r.FlowName, r.Status, r.Attempt, fmtTime(r.StartedAt), fmtTime(r.EndedAt),
					r.RecordsRead, r.RecordsWritten, r.RecordsRejected, msg)
			}
			return w.Flush()
		},
	}
	list.Flags().StringVar(&flowName, "flow", "", "only this flow's runs")
	list.Flags().IntVar(&limit, "limit", 20, "how many runs")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a run with its error and backtrace",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var r store.Run
			if _, err := c.do("GET", "/v1/runs/"+args[0], nil, &r); err != nil {
				return err
			}
			printRun(&r)
			return nil
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}
