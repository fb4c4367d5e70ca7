package file_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/activedataflow/adf/internal/testkit"
)

// The tests in this file run flows through the real adf binary and the real
// file plugin process, the way a user does, and compare the JSON-lines
// output and the dead-letter file exactly.

// fileADF is an adf installation with the file plugin.
func fileADF(t *testing.T) *testkit.ADF {
	t.Helper()
	return testkit.NewADF(t, testkit.FilePlugin)
}

// fileFlow is a flow from a file source to a JSON-lines file sink.
type fileFlow struct {
	name        string
	input       string // the input file's content
	ext         string // of the input file; default .csv
	source      string // extra source config members, e.g. `"split_size": 1024`
	onError     string // default dead_letter
	parallelism int
}

// ranFlow is what a flow run left.
type ranFlow struct {
	res      testkit.Result
	in, out  string
	output   []string // lines of the output file
	rejected []deadLetter
}

// deadLetter is one line of the dead-letter file.
type deadLetter struct {
	Split    string `json:"split"`
	Position string `json:"position"`
	Reason   string `json:"reason"`
	Record   string `json:"record"`
}

// run writes the input, runs the flow with adf run and reads what it wrote.
func (ff fileFlow) run(t *testing.T, a *testkit.ADF) ranFlow {
	t.Helper()
	dir := filepath.Join(a.Work, ff.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ext := ff.ext
	if ext == "" {
		ext = ".csv"
	}
	r := ranFlow{in: filepath.Join(dir, "in"+ext), out: filepath.Join(dir, "out.jsonl")}
	writeFile(t, r.in, ff.input)
	dl := filepath.Join(dir, "rejected.jsonl")
	src := fmt.Sprintf(`"path": %q`, r.in)
	if ff.source != "" {
		src += ", " + ff.source
	}
	onError := ff.onError
	if onError == "" {
		onError = "dead_letter"
	}
	par := max(ff.parallelism, 1)
	doc := fmt.Sprintf(`{"name": %q, "parallelism": %d, "source": {"type": "file", "config": {%s}},
"sink": {"type": "file", "config": {"path": %q}}, "on_error": %q, "dead_letter": {"path": %q}}`, ff.name, par, src, r.out, onError, dl)
	r.res = a.Run(t, "run", "--progress", "none", a.WriteFlow(t, ff.name, doc))
	r.output = fileLines(t, r.out)
	for _, l := range fileLines(t, dl) {
		var d deadLetter
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("dead-letter line %q: %v", l, err)
		}
		r.rejected = append(r.rejected, d)
	}
	return r
}

// fileLines reads a file's lines; nil when it does not exist.
func fileLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// succeeded checks that the run succeeded with the given counts.
func (r ranFlow) succeeded(t *testing.T, read, written, rejected int64) {
	t.Helper()
	if r.res.Code != 0 {
		t.Fatalf("adf run failed\n%s", r.res)
	}
	s := r.res.Summary(t)
	if s.Status != "success" || s.Read != read || s.Written != written || s.Rejected != rejected {
		t.Fatalf("summary %+v, want %d read, %d written, %d rejected\n%s", s, read, written, rejected, r.res)
	}
}

// TestFlowCSVRFC4180 reads RFC 4180 edge cases through the file plugin
// process into JSON lines, with the default config (no multiline, types
// inferred), and compares every output line.
func TestFlowCSVRFC4180(t *testing.T) {
	a := fileADF(t)
	tests := []struct {
		name, input string
		source      string
		want        []string
	}{
		{
			name:  "quoted-commas",
			input: "id,name\n1,\"Smith, Jr\"\n2,\"a,b,,c\"\n",
			want:  []string{`{"id":1,"name":"Smith, Jr"}`, `{"id":2,"name":"a,b,,c"}`},
		},
		{
			name:  "escaped-quotes",
			input: "id,name\n1,\"say \"\"hi\"\"\"\n2,\"\"\"\"\n3,\"\"\"\"\"\"\n",
			want:  []string{`{"id":1,"name":"say \"hi\""}`, `{"id":2,"name":"\""}`, `{"id":3,"name":"\"\""}`},
		},
		{
			// An empty field is null; an empty quoted field is "" in a
			// string column and null in any other.
			name:  "empty-fields",
			input: "id,s,n\n1,,5\n2,\"\",\"\"\n3,x,\n",
			want:  []string{`{"id":1,"s":null,"n":5}`, `{"id":2,"s":"","n":null}`, `{"id":3,"s":"x","n":null}`},
		},
		{
			name:  "quoted-line-breaks",
			input: "id,text\n1,\"a\nb\"\n2,\"c\r\nd\"\n3,\"\n\"\n4,\"x\n\ny\"\n",
			want:  []string{`{"id":1,"text":"a\nb"}`, `{"id":2,"text":"c\r\nd"}`, `{"id":3,"text":"\n"}`, `{"id":4,"text":"x\n\ny"}`},
		},
		{
			name:  "quoted-line-break-in-header",
			input: "\"the\nid\",name\n1,x\n",
			want:  []string{`{"the\nid":1,"name":"x"}`},
		},
		{
			name:  "byte-order-mark",
			input: "\xEF\xBB\xBFid,name\n1,x\n",
			want:  []string{`{"id":1,"name":"x"}`},
		},
		{
			name:  "utf-8",
			input: "id,name\n1,zoë\n2,日本語\n3,\"🎉, ok\"\n",
			want:  []string{`{"id":1,"name":"zoë"}`, `{"id":2,"name":"日本語"}`, `{"id":3,"name":"🎉, ok"}`},
		},
		{
			name:  "no-final-line-break",
			input: "id,name\n1,x\n2,\"y\"",
			want:  []string{`{"id":1,"name":"x"}`, `{"id":2,"name":"y"}`},
		},
		{
			name:  "crlf-everywhere",
			input: "id,name\r\n1,x\r\n2,\"y\r\nz\"\r\n\r\n3,\"w\"\r\n",
			want:  []string{`{"id":1,"name":"x"}`, `{"id":2,"name":"y\r\nz"}`, `{"id":3,"name":"w"}`},
		},
		{
			name:  "json-in-quoted-fields",
			input: "id,payload\n1,\"{\"\"k\"\": [1, 2], \"\"s\"\": \"\"a,b\"\"}\"\n2,\"[\"\"x\"\",\n\"\"y\"\"]\"\n",
			want:  []string{`{"id":1,"payload":"{\"k\": [1, 2], \"s\": \"a,b\"}"}`, `{"id":2,"payload":"[\"x\",\n\"y\"]"}`},
		},
		{
			// Inference never changes a value: leading zeros and exponent
			// notation keep their columns strings; 1.50 is the float 1.5.
			name:  "lossless-inference",
			input: "zip,amount,code,ok,at\n08123,1.50,1e5,TRUE,2024-01-01 10:00:00\n00501,2.25,2e3,false,2024-01-02 10:00:00\n",
			want: []string{
				`{"zip":"08123","amount":1.5,"code":"1e5","ok":true,"at":"2024-01-01 10:00:00"}`,
				`{"zip":"00501","amount":2.25,"code":"2e3","ok":false,"at":"2024-01-02 10:00:00"}`,
			},
		},
		{
			name:   "semicolons-and-the-multiline-key",
			input:  "id;name\n1;\"a;b\nc\"\n",
			source: `"delimiter": ";", "multiline": true`,
			want:   []string{`{"id":1,"name":"a;b\nc"}`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fileFlow{name: tc.name, input: tc.input, source: tc.source}.run(t, a)
			n := int64(len(tc.want))
			r.succeeded(t, n, n, 0)
			if !reflect.DeepEqual(r.output, tc.want) {
				t.Errorf("output\n%s\nwant\n%s", strings.Join(r.output, "\n"), strings.Join(tc.want, "\n"))
			}
			if r.rejected != nil {
				t.Errorf("rejected %+v", r.rejected)
			}
		})
	}
}

// TestFlowCSVBadRecords: a quote left open rejects its line only, with the
// lines and a hint in the reason; a well-formed record over several lines
// with a wrong field count is one reject at its start line.
func TestFlowCSVBadRecords(t *testing.T) {
	a := fileADF(t)
	t.Run("unterminated-quote", func(t *testing.T) {
		input := "id,name\n1,ok\n2,\"open\n3,fine\n"
		r := fileFlow{name: "unterminated", input: input}.run(t, a)
		r.succeeded(t, 2, 2, 1)
		if want := []string{`{"id":1,"name":"ok"}`, `{"id":3,"name":"fine"}`}; !reflect.DeepEqual(r.output, want) {
			t.Errorf("output %q, want %q", r.output, want)
		}
		want := []deadLetter{{Split: fmt.Sprintf("%s:8-%d", r.in, len(input)), Position: r.in + ":3", Record: `2,"open`,
			Reason: `quoted field opened at line 3 is never closed: the file ends inside it (a closing " is missing, or a " inside the field is not doubled); only line 3 is rejected, reading goes on at line 4`}}
		if !reflect.DeepEqual(r.rejected, want) {
			t.Errorf("rejected\n%+v\nwant\n%+v", r.rejected, want)
		}
	})
	t.Run("quote-closed-lines-later", func(t *testing.T) {
		input := "id,name\n1,\"open\n2,x\n3,\"y\"\n"
		r := fileFlow{name: "closed-later", input: input}.run(t, a)
		r.succeeded(t, 2, 2, 1)
		if want := []string{`{"id":2,"name":"x"}`, `{"id":3,"name":"y"}`}; !reflect.DeepEqual(r.output, want) {
			t.Errorf("output %q, want %q", r.output, want)
		}
		want := []deadLetter{{Split: fmt.Sprintf("%s:8-%d", r.in, len(input)), Position: r.in + ":2", Record: `1,"open`,
			Reason: `quoted field opened at line 2 ends at line 4 with a " followed by 'y': a closing " is probably missing at line 2, or a " inside the field is not doubled; only line 2 is rejected, reading goes on at line 3`}}
		if !reflect.DeepEqual(r.rejected, want) {
			t.Errorf("rejected\n%+v\nwant\n%+v", r.rejected, want)
		}
	})
	t.Run("multi-line-record-is-one-reject", func(t *testing.T) {
		input := "id,name\n1,\"a\nb\",extra\n2,ok\n"
		r := fileFlow{name: "multi-line-reject", input: input}.run(t, a)
		r.succeeded(t, 1, 1, 1)
		if want := []string{`{"id":2,"name":"ok"}`}; !reflect.DeepEqual(r.output, want) {
			t.Errorf("output %q, want %q", r.output, want)
		}
		want := []deadLetter{{Split: fmt.Sprintf("%s:8-%d", r.in, len(input)), Position: r.in + ":2", Record: "1,\"a\nb\",extra", Reason: "wrong number of fields: expected 2, got 3"}}
		if !reflect.DeepEqual(r.rejected, want) {
			t.Errorf("rejected\n%+v\nwant\n%+v", r.rejected, want)
		}
	})
	t.Run("on-error-fail", func(t *testing.T) {
		r := fileFlow{name: "fail-on-quote", input: "id,name\n1,x\"y\n", onError: "fail"}.run(t, a)
		if r.res.Code == 0 {
			t.Fatalf("adf run succeeded\n%s", r.res)
		}
		for _, want := range []string{r.in + ":2", `bare " in a non-quoted field at line 2 (quote the whole field and double each " inside it, as in "say ""hi""")`} {
			if !strings.Contains(r.res.Stderr, want) {
				t.Errorf("stderr does not say %q\n%s", want, r.res)
			}
		}
		if r.output != nil {
			t.Errorf("output published: %q", r.output)
		}
		// The failed run took no checkpoint: its temp file is gone too.
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(r.out), ".*")); left != nil {
			t.Errorf("files left behind: %v", left)
		}
	})
}

// TestFlowFileErrors: a missing input and a sink directory whose parent is
// missing fail the run with the path and what to check, and create
// nothing.
func TestFlowFileErrors(t *testing.T) {
	a := fileADF(t)
	t.Run("missing-input", func(t *testing.T) {
		in := filepath.Join(a.Work, "nowhere", "in.csv")
		doc := fmt.Sprintf(`{"name": "missing-input", "source": {"type": "file", "config": {"path": %q}}, "sink": {"type": "file", "config": {"path": "out.jsonl"}}}`, in)
		r := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, "missing-input", doc))
		if r.Code == 0 {
			t.Fatalf("run succeeded\n%s", r)
		}
		for _, want := range []string{"input " + in + " does not exist", "directory " + filepath.Dir(in) + " does not exist; check the path"} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("stderr does not say %q\n%s", want, r)
			}
		}
		// Not checked: Restarts. A not_found error is not retried, but the
		// host sometimes sees the enumerator's stream end before the error
		// and retries once ("plugin ended the stream unexpectedly").
		if s := r.Summary(t); s.Status != "failed" {
			t.Errorf("summary %+v\n%s", s, r)
		}
	})
	t.Run("sink-parent-missing", func(t *testing.T) {
		in := filepath.Join(a.Work, "in.csv")
		writeFile(t, in, "a\n1\n")
		out := filepath.Join(a.Work, "no", "such", "out.jsonl")
		doc := fmt.Sprintf(`{"name": "sink-parent-missing", "source": {"type": "file", "config": {"path": %q}}, "sink": {"type": "file", "config": {"path": %q}}}`, in, out)
		r := a.Run(t, "run", "--progress", "none", a.WriteFlow(t, "sink-parent-missing", doc))
		if r.Code == 0 {
			t.Fatalf("run succeeded\n%s", r)
		}
		want := fmt.Sprintf("output directory %s does not exist, and neither does its parent %s", filepath.Dir(out), filepath.Dir(filepath.Dir(out)))
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr does not say %q\n%s", want, r)
		}
		if s := r.Summary(t); s.Status != "failed" {
			t.Errorf("summary %+v\n%s", s, r)
		}
		if _, err := os.Stat(filepath.Join(a.Work, "no")); !os.IsNotExist(err) {
			t.Errorf("the failed run created %s: %v", filepath.Join(a.Work, "no"), err)
		}
	})
}

// TestFlowCSVParallelLineBreaks reads a 4 MB file whose quoted fields hold
// LF and CRLF line breaks, cut into 64 KiB splits and read by 4 readers:
// every row arrives exactly once and unchanged, and the bad records spread
// over the file are rejected by the splits they start in, at their start
// lines.
func TestFlowCSVParallelLineBreaks(t *testing.T) {
	a := fileADF(t)
	var in strings.Builder
	in.WriteString("id,text,amount\r\n")
	want := map[int]string{}
	line := 2
	var bads []int
	for id := 0; in.Len() < 4<<20; id++ {
		if id%10007 == 5000 {
			// A well-formed record over two lines with a field too many.
			bads = append(bads, line)
			fmt.Fprintf(&in, "%d,\"bad\nrecord\",1,2\r\n", id)
			line += 2
			continue
		}
		text := fmt.Sprintf("row %d", id)
		switch id % 3 {
		case 1:
			text = fmt.Sprintf("row %d,\nsecond \"line\"", id)
		case 2:
			text = fmt.Sprintf("row %d\r\n\r\nthird, line", id)
		}
		amount := fmt.Sprintf("%d.%02d", id/100, id%100)
		fmt.Fprintf(&in, "%d,\"%s\",%s\r\n", id, strings.ReplaceAll(text, `"`, `""`), amount)
		line += 1 + strings.Count(text, "\n")
		tj, _ := json.Marshal(text)
		want[id] = fmt.Sprintf(`{"id":%d,"text":%s,"amount":%s}`, id, tj, strings.TrimRight(strings.TrimRight(amount, "0"), "."))
	}
	r := fileFlow{name: "parallel", input: in.String(), source: `"split_size": 65536`, parallelism: 4}.run(t, a)
	r.succeeded(t, int64(len(want)), int64(len(want)), int64(len(bads)))
	got := map[int]string{}
	for _, l := range r.output {
		var row struct{ ID int }
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		if _, dup := got[row.ID]; dup {
			t.Fatalf("row %d written twice", row.ID)
		}
		got[row.ID] = l
	}
	for id, w := range want {
		if got[id] != w {
			t.Fatalf("row %d: got %s, want %s", id, got[id], w)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	var positions []string
	splits := map[string]bool{}
	for _, d := range r.rejected {
		positions = append(positions, d.Position)
		splits[d.Split] = true
		if d.Reason != "wrong number of fields: expected 3, got 4" || !strings.HasSuffix(d.Record, "\"bad\nrecord\",1,2") {
			t.Errorf("reject %+v", d)
		}
	}
	sort.Slice(positions, func(i, j int) bool {
		return len(positions[i]) < len(positions[j]) || (len(positions[i]) == len(positions[j]) && positions[i] < positions[j])
	})
	var wantPositions []string
	for _, l := range bads {
		wantPositions = append(wantPositions, fmt.Sprintf("%s:%d", r.in, l))
	}
	if !reflect.DeepEqual(positions, wantPositions) {
		t.Errorf("rejected at %q, want %q", positions, wantPositions)
	}
	t.Logf("%d bytes, %d rows, %d rejects from %d splits", in.Len(), len(got), len(r.rejected), len(splits))
	if len(splits) != len(bads) || len(bads) < 3 {
		t.Errorf("the %d rejects came from splits %v: the file was not read in several splits", len(bads), splits)
	}
}

// TestFlowValidateWarnings: adf validate shows the file plugin's Check
// warnings (an input that is not there yet, a sink directory that cannot be
// created) and still calls the flow valid; an empty sink path is an error.
func TestFlowValidateWarnings(t *testing.T) {
	a := fileADF(t)
	in := filepath.Join(a.Work, "later", "in.csv")
	out := filepath.Join(a.Work, "no", "such", "out.jsonl")
	doc := fmt.Sprintf(`{"name": "check", "source": {"type": "file", "config": {"path": %q}}, "sink": {"type": "file", "config": {"path": %q}}}`, in, out)
	r := a.Run(t, "validate", a.WriteFlow(t, "check", doc))
	if r.Code != 0 {
		t.Fatalf("adf validate failed\n%s", r)
	}
	for _, want := range []string{
		"source.config.path: input " + in + " does not exist (directory " + filepath.Dir(in) + " does not exist; check the path",
		fmt.Sprintf("sink.config.path: output directory %s does not exist, and neither does its parent %s", filepath.Dir(out), filepath.Dir(filepath.Dir(out))),
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("adf validate does not warn %q\n%s", want, r)
		}
	}
	doc = fmt.Sprintf(`{"name": "empty-sink", "source": {"type": "file", "config": {"path": %q}}, "sink": {"type": "file", "config": {"path": ""}}}`, in)
	r = a.Run(t, "validate", a.WriteFlow(t, "empty-sink", doc))
	if want := `sink.config.path: must name an output file, or a directory ending in / (got "")`; r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, want) {
		t.Errorf("adf validate of an empty sink path: want exit 1 and %q\n%s", want, r)
	}
}
