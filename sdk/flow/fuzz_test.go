package flow_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/activedataflow/adf/sdk"
	"github.com/activedataflow/adf/sdk/flow"
)

// FuzzParse feeds the flow parser arbitrary documents: it must never panic
// or hang, every refusal is an invalid-config error, and a flow it accepts
// reads back the same from its JSON form.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"name: a\nsource: {type: file, config: {path: in.csv}}\nsink: {type: file, config: {path: out.jsonl}}\n",
		`{"name": "a", "source": {"type": "file"}, "sink": {"type": "file"}, "schedule": {"every": "5m"}}`,
		"name: a\nname: b\n",
		"a: &a [*a]\n",
		"base: &b {type: file}\nname: m\nsource: {<<: *b}\nsink: *b\n",
		"name: a\n---\nname: b\n",
		`{"name": "a"} {"name": "b"}`,
		"name: [\n",
		"retry_deadline: 1h\nmax_restarts: 2\nparallelism: 0x10\nenabled: true\n",
		"a0: &a0 {x: 1}\na1: &a1 {<<: [*a0, *a0]}\na2: {<<: [*a1, *a1]}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("Parse hangs on %q", data)) })
		fl, err := flow.Parse(data)
		watchdog.Stop()
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Parse took %s", d)
		}
		if err != nil {
			var ce sdk.ConfigErrors
			if !errors.As(err, &ce) || len(ce) == 0 {
				t.Fatalf("error %v (%T) is not sdk.ConfigErrors", err, err)
			}
			for _, e := range ce {
				if e.Code != sdk.CodeInvalidConfig || e.Summary == "" {
					t.Fatalf("error %#v: want code %s and a summary", e, sdk.CodeInvalidConfig)
				}
			}
			return
		}
		js, err := json.Marshal(fl)
		if err != nil {
			t.Fatalf("accepted flow does not marshal: %v", err)
		}
		again, err := flow.Parse(js)
		if err != nil {
			t.Fatalf("accepted flow's JSON %s is refused: %v", js, err)
		}
		js2, err := json.Marshal(again)
		if err != nil || !bytes.Equal(js, js2) {
			t.Fatalf("flow changed on reading its JSON back:\n%s\n%s", js, js2)
		}
	})
}
