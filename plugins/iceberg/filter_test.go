package iceberg

import "testing"

func TestParseFilter(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"id > 10", ""},
		{"amount >= 1.5 and name = 'bob'", ""},
		{"not (a = 1 or b != 'x''y') and c is not null", ""},
		{`"weird col" in (1, 2, 3)`, ""},
		{"name not in ('a', 'b') or name starts with 'al'", ""},
		{"flag = true and d is null", ""},
		{"x <> -2e3", ""},
	} {
		e, err := parseFilter(tc.in)
		if err != nil || e == nil {
			t.Errorf("parseFilter(%q): %v", tc.in, err)
		}
	}
	for _, bad := range []string{"", "id >", "id = 1 and", "(id = 1", "id ~ 3", "'x' = 1", "id = 'unterminated", "id in ()", "id starts 'a'"} {
		if _, err := parseFilter(bad); err == nil {
			t.Errorf("parseFilter(%q) accepted a bad filter", bad)
		}
	}
}
