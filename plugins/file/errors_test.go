package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/activedataflow/adf/sdk"
)

// enumCtx is a one-reader SplitEnumeratorContext that records assignments.
type enumCtx struct{ assigned []sdk.Split }

func (c *enumCtx) AssignSplit(sp sdk.Split, _ int) error {
	c.assigned = append(c.assigned, sp)
	return nil
}
func (c *enumCtx) AssignSplits(m map[int][]sdk.Split) error {
	for _, sps := range m {
		c.assigned = append(c.assigned, sps...)
	}
	return nil
}
func (c *enumCtx) SignalNoMoreSplits(int) error                                { return nil }
func (c *enumCtx) RegisteredReaders() []int                                    { return []int{0} }
func (c *enumCtx) Parallelism() int                                            { return 1 }
func (c *enumCtx) CallPeriodically(time.Duration, func(context.Context) error) {}

// readerCtx is the SourceReaderContext of reader 0.
type readerCtx struct{}

func (readerCtx) ReaderID() int           { return 0 }
func (readerCtx) SendSplitRequest() error { return nil }

// discard is a ReaderOutput that drops everything.
type discard struct{}

func (discard) Emit(string, arrow.RecordBatch) error { return nil }
func (discard) Reject(sdk.Rejected) error            { return nil }
func (discard) SplitFinished(string) error           { return nil }

// startSource creates the source of cfg and starts its enumerator.
func startSource(t *testing.T, cfg string) (sdk.Source, sdk.SplitEnumerator, *enumCtx, error) {
	t.Helper()
	src, err := component(t, sdk.KindSource).NewSourceFromConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	ctx := &enumCtx{}
	e, err := src.CreateEnumerator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return src, e, ctx, e.Start(context.Background())
}

// firstPoll assigns the enumerator's first split to a new reader and polls
// it once.
func firstPoll(t *testing.T, src sdk.Source, e sdk.SplitEnumerator, ctx *enumCtx, before func()) error {
	t.Helper()
	if err := e.HandleSplitRequest(context.Background(), 0, ""); err != nil || len(ctx.assigned) != 1 {
		t.Fatalf("split request: %v %v", err, ctx.assigned)
	}
	if before != nil {
		before()
	}
	r, err := src.CreateReader(readerCtx{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AddSplits(ctx.assigned); err != nil {
		t.Fatal(err)
	}
	_, err = r.PollNext(context.Background(), discard{})
	return err
}

func wd(t *testing.T) string {
	t.Helper()
	d, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkError checks an error's code, field, summary and detail exactly.
func checkError(t *testing.T, what string, err error, want sdk.Error) {
	t.Helper()
	var se *sdk.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s: %v is not an sdk.Error", what, err)
	}
	if se.Code != want.Code || se.Field != want.Field || se.Summary != want.Summary || se.Detail != want.Detail {
		t.Errorf("%s:\n got %s %q %q (%s)\nwant %s %q %q (%s)", what, se.Code, se.Field, se.Summary, se.Detail, want.Code, want.Field, want.Summary, want.Detail)
	}
}

// TestSourceErrorCodes: input that is not there is not_found with the path
// and what to check; a file that disappears after planning too; a broken
// JSON array is a bad record.
func TestSourceErrorCodes(t *testing.T) {
	dir := t.TempDir()
	rel := "; relative paths are resolved against the working directory " + wd(t)
	missing := filepath.Join(dir, "missing.csv")
	_, _, _, err := startSource(t, fmt.Sprintf(`{"path": %q}`, missing))
	checkError(t, "missing file", err, sdk.Error{Code: sdk.CodeNotFound, Field: "path", Summary: "input " + missing + " does not exist",
		Detail: "check the path; it may be a file, a directory or a glob such as data/*.csv" + rel})

	glob := filepath.Join(dir, "nodir", "*.csv")
	_, _, _, err = startSource(t, fmt.Sprintf(`{"path": %q}`, glob))
	checkError(t, "glob in a missing directory", err, sdk.Error{Code: sdk.CodeNotFound, Field: "path", Summary: fmt.Sprintf("no input files match %q", glob),
		Detail: "directory " + filepath.Join(dir, "nodir") + " does not exist; check the path" + rel})

	glob = filepath.Join(dir, "*.csv")
	_, _, _, err = startSource(t, fmt.Sprintf(`{"path": %q}`, glob))
	checkError(t, "glob matching nothing", err, sdk.Error{Code: sdk.CodeNotFound, Field: "path", Summary: fmt.Sprintf("no input files match %q", glob),
		Detail: "check the path; it may be a file, a directory or a glob such as data/*.csv" + rel})

	writeFile(t, filepath.Join(dir, "notes.txt"), "x")
	_, _, _, err = startSource(t, fmt.Sprintf(`{"path": %q}`, dir))
	checkError(t, "directory without input files", err, sdk.Error{Code: sdk.CodeNotFound, Field: "path", Summary: "directory " + dir + " holds no input files",
		Detail: "files are taken by extension (.csv, .tsv, .json, .jsonl, .ndjson, .parquet, .pq; hidden ones skipped) unless format is set"})

	// Planned, then removed before a reader opens it.
	in := filepath.Join(dir, "in.csv")
	writeFile(t, in, "a\n1\n")
	src, e, ctx, err := startSource(t, fmt.Sprintf(`{"path": %q}`, in))
	if err != nil {
		t.Fatal(err)
	}
	err = firstPoll(t, src, e, ctx, func() {
		if err := os.Remove(in); err != nil {
			t.Fatal(err)
		}
	})
	checkError(t, "input removed after planning", err, sdk.Error{Code: sdk.CodeNotFound, Summary: "open input " + in + ": no such file or directory",
		Detail: "the file was there when the run planned its splits; input files must stay in place until the run ends"})

	// A JSON array broken after its second element.
	arr := filepath.Join(dir, "a.json")
	writeFile(t, arr, `[{"a": 1}, {"a": 2} {"a": 3}]`)
	_, _, _, err = startSource(t, fmt.Sprintf(`{"path": %q}`, arr))
	checkError(t, "inferring a broken JSON array", err, sdk.Error{Code: sdk.CodeBadRecord,
		Summary: "infer the schema of " + arr + ": infer json: JSON syntax error at line 1 (offset 20): expected ',' or ']' after an element, got '{'",
		Detail:  "set an explicit schema in the source config"})
	src, e, ctx, err = startSource(t, fmt.Sprintf(`{"path": %q, "schema": [{"name": "a", "type": "int64"}]}`, arr))
	if err != nil {
		t.Fatal(err)
	}
	err = firstPoll(t, src, e, ctx, nil)
	checkError(t, "broken JSON array", err, sdk.Error{Code: sdk.CodeBadRecord,
		Summary: "read " + arr + ": json array reader: JSON syntax error at line 1 (offset 20): expected ',' or ']' after an element, got '{'",
		Detail:  "the JSON array is malformed at that point; rows before it were read"})
}
