package engine

import (
	"strings"
	"testing"
)

func TestParseFault(t *testing.T) {
	for _, s := range []string{"precommitted@2:host", "saved@final:sink", "committing@17:source", "committed@final:host"} {
		f, err := ParseFault(s)
		if err != nil {
			t.Fatalf("ParseFault(%q): %v", s, err)
		}
		if f.String() != s {
			t.Errorf("ParseFault(%q).String() = %q", s, f.String())
		}
	}
	f, _ := ParseFault("saved@final:sink")
	if f.Checkpoint != 0 || f.Point != FaultSaved || f.Target != FaultSink {
		t.Errorf("saved@final:sink parsed as %+v", f)
	}
	for s, want := range map[string]string{
		"saved2:host":       "no @",
		"saved@2":           "no :TARGET",
		"flushed@2:host":    "unknown point",
		"saved@2:plugin":    "unknown target",
		"saved@0:host":      "not a positive number",
		"saved@last:source": "not a positive number",
	} {
		_, err := ParseFault(s)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "POINT@CHECKPOINT:TARGET") {
			t.Errorf("ParseFault(%q) = %v, want an error saying %q and the syntax", s, err, want)
		}
	}
}
