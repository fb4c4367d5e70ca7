package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/activedataflow/adf/host/engine"
	"github.com/activedataflow/adf/internal/testkit"
	"github.com/activedataflow/adf/sdk/flow"
)

// badCSV writes 3000 good rows with three bad ones among them and returns
// the bad rows' line numbers and text.
func badCSV(t *testing.T, path string) (good int, bad map[int]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,name,amount,ts\n")
	bad = map[int]string{}
	line := 1
	for i := 1; i <= 3000; i++ {
		line++
		switch i {
		case 500:
			row := `500,"unbalanced,1.50,2026-01-01T00:00:00Z`
			bad[line] = row
			b.WriteString(row + "\n")
			continue
		case 1500:
			row := `1500,bob,2.50,2026-01-01T00:00:00Z,extra`
			bad[line] = row
			b.WriteString(row + "\n")
			continue
		case 2500:
			row := `2500,carol,twelve,2026-01-01T00:00:00Z`
			bad[line] = row
			b.WriteString(row + "\n")
			continue
		}
		fmt.Fprintf(&b, "%d,name %d,%d.25,2026-01-01T00:00:00Z\n", i, i, i)
		good++
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return good, bad
}

func badRecordFlow(name, in, out, policy, deadLetter string) *flow.Flow {
	f := &flow.Flow{
		Name: name,
		Source: flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q, "split_size": 20000,
			"schema": [{"name":"id","type":"int64"},{"name":"name","type":"string"},{"name":"amount","type":"float64"},{"name":"ts","type":"timestamp"}]}`, in))},
		Parallelism: 3,
		Sink:        flow.Component{Type: "file", Config: json.RawMessage(fmt.Sprintf(`{"path": %q}`, out))},
		OnError:     policy,
	}
	if deadLetter != "" {
		f.DeadLetter = &flow.DeadLetter{Path: deadLetter}
	}
	return f
}

func countLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

func TestBadRecordsSkip(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.jsonl")
	good, _ := badCSV(t, in)
	eng := engine.New(engine.Options{Registry: newRegistry(t, testkit.FilePlugin), DataDir: dir})
	res, err := eng.Run(context.Background(), badRecordFlow("skip", in, out, flow.OnErrorSkip, ""), "r1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.RowsRejected != 3 || res.Stats.RowsWritten != int64(good) || res.Stats.RowsRead != int64(good) {
		t.Fatalf("stats %+v, want %d written and 3 rejected", res.Stats, good)
	}
	if n := countLines(t, out); n != good {
		t.Fatalf("output has %d rows, want %d", n, good)
	}
	if res.DeadLetterPath != "" {
		t.Fatalf("skip wrote a dead-letter file %s", res.DeadLetterPath)
	}
}

func TestBadRecordsDeadLetter(t *testing.T) {
	dir := t.TempDir()
	in, out, dl := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "dl", "rejected.jsonl")
	good, bad := badCSV(t, in)
	eng := engine.New(engine.Options{Registry: newRegistry(t, testkit.FilePlugin), DataDir: dir})
	res, err := eng.Run(context.Background(), badRecordFlow("dead", in, out, flow.OnErrorDeadLetter, dl), "r2")
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.RowsRejected != 3 || res.Stats.RowsWritten != int64(good) {
		t.Fatalf("stats %+v, want %d written and 3 rejected", res.Stats, good)
	}
	if res.DeadLetterPath != dl {
		t.Fatalf("dead letter path %q, want %q", res.DeadLetterPath, dl)
	}
	f, err := os.Open(dl)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type entry struct {
		Flow, RunID, Stage, Position, Reason, Record string
	}
	var got []entry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e struct {
			Flow     string `json:"flow"`
			RunID    string `json:"run_id"`
			Stage    string `json:"stage"`
			Position string `json:"position"`
			Reason   string `json:"reason"`
			Record   string `json:"record"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, entry{e.Flow, e.RunID, e.Stage, e.Position, e.Reason, e.Record})
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Position < got[j].Position })
	if len(got) != 3 {
		t.Fatalf("dead letter has %d records, want 3: %+v", len(got), got)
	}
	lines := make([]int, 0, 3)
	for l := range bad {
		lines = append(lines, l)
	}
	sort.Slice(lines, func(i, j int) bool { return fmt.Sprint(lines[i]) < fmt.Sprint(lines[j]) })
	reasons := map[int]string{501: "quote", 1501: "wrong number of fields", 2501: `"twelve"`}
	for i, e := range got {
		l := lines[i]
		if e.Position != fmt.Sprintf("%s:%d", in, l) || e.Record != bad[l] || e.Stage != "source" || e.Flow != "dead" || e.RunID != "r2" {
			t.Errorf("dead letter %d = %+v, want position %s:%d record %q", i, e, in, l, bad[l])
		}
		if !strings.Contains(e.Reason, reasons[l]) {
			t.Errorf("reason %q for line %d does not mention %q", e.Reason, l, reasons[l])
		}
	}
}

func TestBadRecordsFail(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.jsonl")
	badCSV(t, in)
	eng := engine.New(engine.Options{Registry: newRegistry(t, testkit.FilePlugin), DataDir: dir})
	// One reader, so the first bad record is the unbalanced quote on line 501.
	f := badRecordFlow("fail", in, out, flow.OnErrorFail, "")
	f.Parallelism = 1
	res, err := eng.Run(context.Background(), f, "r3")
	if err == nil {
		t.Fatal("run with bad records under on_error: fail succeeded")
	}
	for _, want := range []string{in + ":501", "quote"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if res.Stats.Restarts != 0 {
		t.Errorf("a bad record is not transient, yet the run restarted %d times", res.Stats.Restarts)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed run published its output: %v", err)
	}
}

// A new run starts the dead-letter file anew, as a file sink starts its
// output anew: after a run with bad records, a run of clean input leaves
// the file empty, and another run with bad records holds only its own.
func TestDeadLetterFileIsPerRun(t *testing.T) {
	dir := t.TempDir()
	in, out, dl := filepath.Join(dir, "in.csv"), filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "rejected.jsonl")
	good, _ := badCSV(t, in)
	eng := engine.New(engine.Options{Registry: newRegistry(t, testkit.FilePlugin), DataDir: dir})
	run := func(runID string, wantRejected int64) {
		t.Helper()
		res, err := eng.Run(context.Background(), badRecordFlow("per_run", in, out, flow.OnErrorDeadLetter, dl), runID)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stats.RowsRejected != wantRejected {
			t.Fatalf("run %s: %d rejected, want %d", runID, res.Stats.RowsRejected, wantRejected)
		}
	}
	runIDs := func() []string {
		t.Helper()
		data, err := os.ReadFile(dl)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if line == "" {
				continue
			}
			var e struct {
				RunID string `json:"run_id"`
			}
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("dead-letter line %q: %v", line, err)
			}
			ids = append(ids, e.RunID)
		}
		return ids
	}
	run("first", 3)
	if got := runIDs(); fmt.Sprint(got) != "[first first first]" {
		t.Fatalf("after the first run the dead-letter file holds records of runs %v", got)
	}
	var clean strings.Builder
	clean.WriteString("id,name,amount,ts\n")
	for i := 1; i <= good; i++ {
		fmt.Fprintf(&clean, "%d,name %d,%d.25,2026-01-01T00:00:00Z\n", i, i, i)
	}
	if err := os.WriteFile(in, []byte(clean.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run("clean", 0)
	if got := runIDs(); len(got) != 0 {
		t.Fatalf("after a run with no bad records the dead-letter file holds records of runs %v", got)
	}
	badCSV(t, in)
	run("third", 3)
	if got := runIDs(); fmt.Sprint(got) != "[third third third]" {
		t.Fatalf("after the third run the dead-letter file holds records of runs %v", got)
	}
}
