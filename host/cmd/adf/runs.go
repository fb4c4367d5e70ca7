package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/host/progress"
	"github.com/activedataflow/adf/host/store"
)

// runView is a run as the API answers it: the stored run and, while it is
// in progress on the host answering, its live progress.
type runView struct {
	store.Run
	Progress *progress.Snapshot `json:"progress,omitempty"`
}

// decode decodes an answer; an empty one (204 No Content) leaves out as
// it is.
func decode(raw []byte, out any) error {
	if len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	return nil
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}

// runID checks a run id argument.
func runIDArg(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("run id %q: a run id is a positive number, as `adf runs list` shows", s)
	}
	return id, nil
}

func runsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "runs", Short: "Inspect and control the runs of a running `adf serve`"}
	c := clientFlags(cmd, g)
	cmd.AddCommand(runsListCmd(c), runsShowCmd(c), runsCancelCmd(c), runsRejectedCmd(c))
	return cmd
}

func runsListCmd(c *client) *cobra.Command {
	var flowName string
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List runs, newest first",
		Args:  cobra.NoArgs,
	}
	o := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := o.check(); err != nil {
			return err
		}
		var runs []*runView
		path := fmt.Sprintf("/v1/runs?limit=%d", limit)
		if flowName != "" {
			path = fmt.Sprintf("/v1/flows/%s/runs?limit=%d", pathEscape(flowName), limit)
		}
		raw, err := c.get(cmd.Context(), path, &runs)
		if err != nil {
			return err
		}
		return o.print(os.Stdout, raw, func(w io.Writer) error {
			now := time.Now()
			t := newTable(w)
			fmt.Fprintln(t, "ID\tFLOW\tSTATUS\tATTEMPT\tTRIGGER\tSTARTED\tDURATION\tREAD\tWRITTEN\tREJECTED\tERROR")
			for _, r := range runs {
				read, written, rejected := r.counts()
				fmt.Fprintf(t, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, cell(r.FlowName), r.Status, r.Attempt, cell(r.Trigger),
					ago(r.StartedAt, now), r.duration(now), num(read), num(written), num(rejected), cell(truncate(r.ErrorMessage, 60)))
			}
			return t.Flush()
		})
	}
	cmd.Flags().StringVar(&flowName, "flow", "", "only this flow's runs")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many runs")
	return cmd
}

// counts are the run's row counts: the live ones while it is in progress.
func (r *runView) counts() (read, written, rejected int64) {
	if p := r.Progress; p != nil {
		return p.RowsRead, p.RowsWritten, p.RowsRejected
	}
	return r.RecordsRead, r.RecordsWritten, r.RecordsRejected
}

// duration is how long the run took, or has been going.
func (r *runView) duration(now time.Time) string {
	if r.StartedAt == nil {
		return "-"
	}
	end := now
	if r.EndedAt != nil {
		end = *r.EndedAt
	}
	d := end.Sub(*r.StartedAt)
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func runsShowCmd(c *client) *cobra.Command {
	var watch bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a run: counts, live progress while it runs, error and backtrace",
		Long: `Show a run: its status, attempt, times and counts, its live progress while
it is in progress (rows, rows/s, input bytes of their total, checkpoints,
restarts, split assignment), its error and backtrace. --watch follows the
run until it ends, printing its counts as they change (one line each, at
most about 4 a second), then the run; it exits 1 unless the run succeeded.`,
		Args: cobra.ExactArgs(1),
	}
	o := outputFlag(cmd)
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the run until it ends")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.check(); err != nil {
			return err
		}
		id, err := runIDArg(args[0])
		if err != nil {
			return err
		}
		path := "/v1/runs/" + strconv.FormatInt(id, 10)
		var r runView
		var raw []byte
		if watch {
			raw, err = c.watchRun(cmd.Context(), path, func(p progress.Snapshot) {
				if o.format == outTable {
					fmt.Printf("run %d: rows read %s  written %s  rejected %s  %s rows/s%s  checkpoints %s\n", id, num(p.RowsRead),
						num(p.RowsWritten), num(p.RowsRejected), rate(p.RowsPerSecond), inputShare(&p), num(p.Checkpoints))
				}
			})
			if err == nil {
				err = decode(raw, &r)
			}
		} else {
			raw, err = c.get(cmd.Context(), path, &r)
		}
		if err != nil {
			return err
		}
		if err := o.print(os.Stdout, raw, func(w io.Writer) error {
			printRun(w, &r, time.Now())
			return nil
		}); err != nil {
			return err
		}
		if watch && r.Status != store.StatusSuccess {
			return &exitError{code: 1}
		}
		return nil
	}
	return cmd
}

// inputShare is ", 12% of 1.5 MiB" when the input's size is known.
func inputShare(p *progress.Snapshot) string {
	if p.BytesTotal <= 0 {
		return ""
	}
	return fmt.Sprintf("  %.0f%% of %s", 100*float64(p.BytesRead)/float64(p.BytesTotal), bytesSize(p.BytesTotal))
}

// watchRun follows GET path/events, the run's server-sent events, calling
// onProgress for each "progress" event, until the "end" event, whose data
// (the stored run) it returns.
func (c *client) watchRun(ctx context.Context, path string, onProgress func(progress.Snapshot)) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.server, "/")+path+"/events", nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s/events: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	// A run may go on for hours: no overall timeout, ctx (Ctrl-C) ends it.
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s/events: %w (is `adf serve` running? set --server or ADF_SERVER)", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, newAPIError(http.MethodGet, path+"/events", resp.StatusCode, data)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var name, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			switch name {
			case "progress":
				var p progress.Snapshot
				if json.Unmarshal([]byte(data), &p) == nil {
					onProgress(p)
				}
			case "end":
				return []byte(data), nil
			}
			name, data = "", ""
		case strings.HasPrefix(line, "event:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("GET %s/events: %w", path, err)
	}
	return nil, fmt.Errorf("GET %s/events: the stream ended before the run did", path)
}

// printRun prints a run for people: its state and counts, its live
// progress while it is in progress, then its error and backtrace.
func printRun(w io.Writer, r *runView, now time.Time) {
	fmt.Fprintf(w, "run %d  flow %s  status %s  attempt %d  trigger %s\n", r.ID, text(r.FlowName), r.Status, r.Attempt, text(r.Trigger))
	fmt.Fprintf(w, "  scheduled %s  started %s  ended %s  duration %s\n", exactTime(&r.ScheduledFor), exactTime(r.StartedAt), exactTime(r.EndedAt), r.duration(now))
	fmt.Fprintf(w, "  rows read %s  written %s  rejected %s  bytes %s  config version %d\n", num(r.RecordsRead), num(r.RecordsWritten),
		num(r.RecordsRejected), num(r.BytesWritten), r.ConfigVersion)
	if p := r.Progress; p != nil {
		printProgress(w, p, now)
	}
	if r.ErrorMessage != "" {
		fmt.Fprintf(w, "  error: %s\n", text(r.ErrorMessage))
	}
	if r.ErrorBacktrace != "" {
		fmt.Fprintf(w, "  backtrace:\n    %s\n", strings.ReplaceAll(strings.TrimSpace(text(r.ErrorBacktrace)), "\n", "\n    "))
	}
}

// printProgress prints the live state of a run in progress.
func printProgress(w io.Writer, p *progress.Snapshot, now time.Time) {
	fmt.Fprintf(w, "  live (updated %s): rows read %s  written %s  rejected %s  %s rows/s\n", ago(&p.UpdatedAt, now),
		num(p.RowsRead), num(p.RowsWritten), num(p.RowsRejected), rate(p.RowsPerSecond))
	if p.BytesTotal > 0 {
		fmt.Fprintf(w, "  input: %s of %s read (%.0f%%)\n", bytesSize(p.BytesRead), bytesSize(p.BytesTotal),
			100*float64(p.BytesRead)/float64(p.BytesTotal))
	}
	fmt.Fprintf(w, "  checkpoints %s (last %s)  restarts %d  readers %d\n", num(p.Checkpoints), ago(p.LastCheckpointAt, now), p.Restarts, p.Readers)
	if len(p.Splits) == 0 {
		return
	}
	counts := map[string]int{}
	for _, s := range p.Splits {
		counts[s.State]++
	}
	fmt.Fprintf(w, "  splits: %d assigned, %d finished, %d pending\n", counts[progress.SplitAssigned], counts[progress.SplitFinished], counts[progress.SplitPending])
	splits := append([]progress.Split(nil), p.Splits...)
	sort.SliceStable(splits, func(i, j int) bool {
		if splits[i].State != splits[j].State {
			return splits[i].State < splits[j].State
		}
		return splits[i].Reader < splits[j].Reader
	})
	t := newTable(w)
	fmt.Fprintln(t, "    SPLIT\tSTATE\tREADER\tLAG")
	for _, s := range splits {
		reader := "-"
		if s.State == progress.SplitAssigned {
			reader = strconv.Itoa(s.Reader)
		}
		lag := "-" // a source that does not know it
		if s.Lag >= 0 {
			lag = num(s.Lag)
		}
		fmt.Fprintf(t, "    %s\t%s\t%s\t%s\n", cell(s.ID), s.State, reader, lag)
	}
	_ = t.Flush()
}

func runsCancelCmd(c *client) *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a run: a bounded run stops, an unbounded one takes a final checkpoint first",
		Long: `Ask a run to stop. A run not executing yet (pending) is cancelled at once;
one in progress stops at its host's next lease renewal, within a few
seconds: a bounded run stops, an unbounded one takes a final checkpoint and
publishes its output first. The run ends as cancelled. --wait waits for it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := runIDArg(args[0])
			if err != nil {
				return err
			}
			path := "/v1/runs/" + strconv.FormatInt(id, 10)
			raw, status, err := c.do(cmd.Context(), http.MethodPost, path+"/cancel", nil)
			if err != nil {
				if errorCode(err) == "run_ended" {
					var r runView
					if _, gerr := c.get(cmd.Context(), path, &r); gerr == nil {
						return fmt.Errorf("run %d already ended (%s): there is nothing to cancel", id, r.Status)
					}
				}
				return err
			}
			var r runView
			var answer struct {
				Status string `json:"status"`
			}
			_ = json.Unmarshal(raw, &answer)
			if status == http.StatusOK && answer.Status != "cancel_requested" {
				if err := decode(raw, &r); err != nil {
					return err
				}
				fmt.Printf("run %d cancelled\n", id)
				return nil
			}
			fmt.Printf("cancellation of run %d requested: it stops within a few seconds (an unbounded run takes a final checkpoint first)\n", id)
			if !wait {
				return nil
			}
			if _, err := c.get(cmd.Context(), path, &r); err != nil {
				return err
			}
			if err := c.waitRun(cmd.Context(), &r, false); err != nil {
				return err
			}
			fmt.Printf("run %d %s\n", id, r.Status)
			return nil
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the run has ended")
	return cmd
}

func runsRejectedCmd(c *client) *cobra.Command {
	var offset, limit int
	cmd := &cobra.Command{
		Use:   "rejected ID",
		Short: "Page the records a run rejected (on_error: dead_letter), with their positions and reasons",
		Args:  cobra.ExactArgs(1),
	}
	o := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.check(); err != nil {
			return err
		}
		id, err := runIDArg(args[0])
		if err != nil {
			return err
		}
		if offset < 0 || limit <= 0 {
			return fmt.Errorf("--offset must be 0 or more and --limit more than 0 (got %d and %d)", offset, limit)
		}
		q := url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(limit)}}
		raw, err := c.get(cmd.Context(), "/v1/runs/"+strconv.FormatInt(id, 10)+"/rejected?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		page, err := decodeRejected(raw)
		if err != nil {
			return err
		}
		recs := page.Records
		return o.print(os.Stdout, raw, func(w io.Writer) error {
			if len(recs) == 0 {
				if offset > 0 {
					_, err := fmt.Fprintf(w, "run %d: no rejected records from %d on\n", id, offset+1)
					return err
				}
				_, err := fmt.Fprintf(w, "run %d rejected no records\n", id)
				return err
			}
			t := newTable(w)
			fmt.Fprintln(t, "#\tSTAGE\tSPLIT\tPOSITION\tREASON")
			for i, r := range recs {
				fmt.Fprintf(t, "%d\t%s\t%s\t%s\t%s\n", offset+i+1, cell(r.Stage), cell(r.Split), cell(r.Position), cell(r.Reason))
				// A line without a tab does not widen the columns.
				fmt.Fprintf(t, "  record: %s\n", cell(r.Record))
			}
			if err := t.Flush(); err != nil {
				return err
			}
			of := ""
			if page.Total >= 0 {
				of = fmt.Sprintf(" of %s", num(int64(page.Total)))
			}
			more := len(recs) == limit && (page.Total < 0 || offset+len(recs) < page.Total)
			if more {
				fmt.Fprintf(w, "\nrecords %d-%d%s; next page: adf runs rejected %d --offset %d --limit %d\n", offset+1, offset+len(recs), of, id, offset+limit, limit)
			} else if offset > 0 || page.Total > len(recs) {
				fmt.Fprintf(w, "\nrecords %d-%d%s\n", offset+1, offset+len(recs), of)
			}
			return nil
		})
	}
	cmd.Flags().IntVar(&offset, "offset", 0, "skip this many records")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many records")
	return cmd
}

// rejectedPage is a page of rejected records; Total is -1 when the
// server does not say (an older one answers a bare list).
type rejectedPage struct {
	Total   int               `json:"total"`
	Records []engine.Rejected `json:"records"`
}

// decodeRejected reads a page of rejected records: an object with the
// records and their total, or a bare list of records.
func decodeRejected(raw []byte) (rejectedPage, error) {
	var recs []engine.Rejected
	if err := json.Unmarshal(raw, &recs); err == nil {
		return rejectedPage{Total: -1, Records: recs}, nil
	}
	page := rejectedPage{Total: -1}
	if err := json.Unmarshal(raw, &page); err != nil {
		return page, fmt.Errorf("decode the rejected records: %w", err)
	}
	return page, nil
}
