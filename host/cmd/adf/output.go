package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// Output formats of the list and show commands (-o).
const (
	outTable = "table"
	outJSON  = "json"
	outYAML  = "yaml"
)

// output is the -o flag of one command and the one way every list and show
// command prints: a table for people, or the API's objects as they came,
// for scripts.
type output struct {
	format string
}

// outputFlag adds -o/--output to cmd.
func outputFlag(cmd *cobra.Command) *output {
	o := &output{}
	cmd.Flags().StringVarP(&o.format, "output", "o", outTable, "output format: table, json or yaml (json and yaml print the API's objects as they are)")
	return o
}

// check refuses an unknown format before the command does anything.
func (o *output) check() error {
	switch o.format {
	case outTable, outJSON, outYAML:
		return nil
	}
	return fmt.Errorf("-o %q: use table, json or yaml", o.format)
}

// print writes raw (a JSON document, as the API answered it) as JSON or
// YAML, or calls table for the table format. Raw documents rather than
// decoded structs go out, so that fields this client does not know yet are
// printed too.
func (o *output) print(w io.Writer, raw []byte, table func(w io.Writer) error) error {
	switch o.format {
	case outJSON:
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("format the answer as JSON: %w", err)
		}
		buf.WriteByte('\n')
		_, err := w.Write(buf.Bytes())
		return err
	case outYAML:
		y, err := yaml.JSONToYAML(raw)
		if err != nil {
			return fmt.Errorf("format the answer as YAML: %w", err)
		}
		_, err = w.Write(y)
		return err
	}
	return table(w)
}

// printValue is print for a value built here rather than received (plugins
// describe reads the local registry): it is marshalled first.
func (o *output) printValue(w io.Writer, v any, table func(w io.Writer) error) error {
	if o.format == outTable {
		return table(w)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	return o.print(w, raw, table)
}

// newTable is the aligned table every command prints.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// cell makes a value safe for one table cell: a value from a flow (an
// error message, a description) may hold tabs and line breaks, which would
// break the alignment; control characters are shown escaped, never
// interpreted by the terminal.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return escapeControls(s, false)
}

// text makes a value from a flow safe for the terminal outside a table:
// line breaks stay, other control characters (escape sequences) are shown
// escaped.
func text(s string) string { return escapeControls(s, true) }

// escapeControls shows s's control characters escaped (\x1b, \u0085);
// line breaks and tabs stay with keepLines, else they become spaces.
func escapeControls(s string, keepLines bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t' || r == '\r':
			if !keepLines {
				b.WriteByte(' ')
			} else if r == '\r' {
				b.WriteString(`\r`)
			} else {
				b.WriteRune(r)
			}
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// truncate shortens s to at most n runes, marking the cut with "...".
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}

// num formats n with thousands separators: 1234567 is 1,234,567.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// rate formats a rows/s figure.
func rate(r float64) string {
	if r >= 100 {
		return num(int64(r + 0.5))
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// bytesSize formats a byte count with binary units: 1536 is 1.5 KiB.
func bytesSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// ago formats t relative to now: "3m ago", "in 2h", "just now"; "-" for
// no time. Exact times are in the json and yaml formats.
func ago(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	d := now.Sub(*t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d.Hours()))
	default:
		s = fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// shortDuration formats d without zero units: 1h rather than 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
