package file

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/activedataflow/adf/sdk"
)

// readers is a SplitEnumeratorContext that only knows the flow's
// parallelism (all splitSize and plan look at).
type readers struct {
	sdk.SplitEnumeratorContext
	n int
}

func (r readers) Parallelism() int { return r.n }

func TestDefaultSplitSizeFitsTheFlow(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		set, file int64
		readers   int
		want      int64
	}{
		{0, 47 * mib, 2, (47*mib + 3) / 4}, // two splits per reader
		{0, 47 * mib, 1, (47*mib + 1) / 2},
		{0, 10 * mib, 4, 4 * mib},          // the floor
		{0, 1 * mib, 2, 4 * mib},           // one split
		{0, 2048 * mib, 2, 64 * mib},       // the ceiling
		{65536, 47 * mib, 2, 65536},        // split_size wins
		{0, 47 * mib, 0, (47*mib + 1) / 2}, // no parallelism known: one reader
	} {
		e := &enumerator{cfg: &SourceConfig{SplitSize: c.set}, ctx: readers{n: c.readers}}
		if got := e.splitSize(c.file); got != c.want {
			t.Errorf("split_size %d, file %d bytes, %d readers: split size %d, want %d", c.set, c.file, c.readers, got, c.want)
		}
	}

	// A 10 MB CSV and 2 readers: more than one split, covering the file.
	path := filepath.Join(t.TempDir(), "big.csv")
	var b strings.Builder
	b.WriteString("id,name\n")
	for i := 0; b.Len() < 10*mib; i++ {
		fmt.Fprintf(&b, "%d,name %d\n", i, i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &SourceConfig{Path: path}
	cfg.Defaults()
	e := &enumerator{cfg: cfg, ctx: readers{n: 2}}
	splits, err := e.plan(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(splits) < 2 {
		t.Fatalf("a %d-byte file with 2 readers has %d split(s): one reader would idle", b.Len(), len(splits))
	}
	var next int64
	for _, s := range splits {
		if s.Start != next && !(next == 0 && s.Start > 0 && s.Start <= int64(len("id,name\n"))) {
			t.Fatalf("split %+v does not start where the one before ended (%d)", s, next)
		}
		next = s.End
	}
	if next != int64(b.Len()) {
		t.Fatalf("splits end at %d, file has %d bytes", next, b.Len())
	}
}
