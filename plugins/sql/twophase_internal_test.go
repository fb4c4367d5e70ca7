package sql

import (
	"errors"
	"strings"
	"testing"

	"github.com/activedataflow/adf/sdk"
)

// A server without prepared transactions cannot be had in the tests (the
// shared one allows 100), so the decision is tested on its own.
func TestTwoPhaseFor(t *testing.T) {
	for _, mode := range []string{ModeAppend, ModeUpsert, ModeInsertIgnore} {
		if two, err := twoPhaseFor(mode, 64, "db:5432"); !two || err != nil {
			t.Errorf("%s with 64 prepared transactions: two-phase %v, %v; want true, nil", mode, two, err)
		}
	}
	for _, mode := range []string{ModeUpsert, ModeInsertIgnore} {
		if two, err := twoPhaseFor(mode, 0, "db:5432"); two || err != nil {
			t.Errorf("%s without prepared transactions: two-phase %v, %v; want the one-phase fallback", mode, two, err)
		}
	}
	_, err := twoPhaseFor(ModeAppend, 0, "db:5432")
	var se *sdk.Error
	if !errors.As(err, &se) || se.Code != sdk.CodeInvalidConfig || se.Transient || se.Field != "mode" {
		t.Fatalf("append without prepared transactions: %#v, want a non-transient invalid_config error on mode", err)
	}
	for _, want := range []string{"db:5432", "max_prepared_transactions = 0", "max_prepared_transactions (e.g. 64)", "restart PostgreSQL", "upsert"} {
		if !strings.Contains(se.Error(), want) {
			t.Errorf("error %q does not say %q", se.Error(), want)
		}
	}
}

func TestGID(t *testing.T) {
	if got := gidFor("orders_load", "20260101T000000-ab12", 7); got != "adf:orders_load:20260101T000000-ab12:7" {
		t.Errorf("gid %q", got)
	}
	// ':' in a name must not make two runs share a prefix; quotes must not
	// reach the SQL literal.
	if a, b := gidPrefix("a:b", "c"), gidPrefix("a", "b:c"); a == b {
		t.Errorf("flow a:b run c and flow a run b:c share prefix %q", a)
	}
	if g := gidFor("it's", "r", 1); strings.ContainsAny(g, "' ") {
		t.Errorf("gid %q has a quote or space", g)
	}
	long := strings.Repeat("x", 300)
	for _, g := range []string{gidFor(long, "r", 1<<62), gidFor("f", long, 1<<62), gidFor(strings.Repeat("é", 80), "r", 1<<62)} {
		if len(g) > gidMax {
			t.Errorf("gid of %d bytes: %q", len(g), g)
		}
	}
	if gidPrefix(long, "a") == gidPrefix(long, "b") {
		t.Error("hashed prefixes of two runs are equal")
	}
	for _, c := range []struct {
		gid  string
		id   int64
		want bool
	}{{"adf:f:r:12", 12, true}, {"adf:f:r:", 0, false}, {"adf:f:r:1x", 0, false}, {"adf:f:r2:1", 0, false}, {"adf:f:r:-1", 0, false}} {
		id, ok := gidCheckpoint(c.gid, gidPrefix("f", "r"))
		if ok != c.want || id != c.id {
			t.Errorf("gidCheckpoint(%q) = %d, %v; want %d, %v", c.gid, id, ok, c.id, c.want)
		}
	}
}
