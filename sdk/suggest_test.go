package sdk_test

import (
	"testing"

	"github.com/activedataflow/adf/sdk"
)

func TestSuggest(t *testing.T) {
	types := []string{"file", "iceberg", "postgres", "rafka", "redis_cache", "discard"}
	keys := []string{"delimiter", "format", "header", "mode", "path", "schema"}
	cases := []struct {
		word       string
		candidates []string
		want       string
	}{
		// Slips of the fingers are suggested.
		{"fromat", keys, "format"},            // two neighbours swapped
		{"fil", types, "file"},                // a letter dropped
		{"filee", types, "file"},              // a letter doubled
		{"Format", keys, "format"},            // case
		{"redis-cache", types, "redis_cache"}, // separators
		{"rediscache", types, "redis_cache"},
		{"headers", keys, "header"},      // a plural
		{"delimeter", keys, "delimiter"}, // one replaced letter in a long word
		{"postgresql", types, "postgres"},
		// A replaced letter in a short word makes another word: no guess.
		{"kafka", types, ""},
		{"mods", keys, ""},
		{"fire", types, ""},
		// Unrelated, too short, or ambiguous: no guess.
		{"kafka-connect-thing", types, ""},
		{"pg", types, ""},
		{"x", keys, ""},
		{"", keys, ""},
		{"fil", []string{"file", "fill"}, ""},
		{"format", keys, ""}, // the word itself is no suggestion
	}
	for _, c := range cases {
		if got := sdk.Suggest(c.word, c.candidates); got != c.want {
			t.Errorf("Suggest(%q) = %q, want %q", c.word, got, c.want)
		}
	}
}

func TestUnknownField(t *testing.T) {
	keys := []string{"path", "header", "format", "delimiter"}
	cases := []struct {
		parent, key string
		allowed     []string
		want        string
	}{
		{"", "fromat", keys, `fromat: unknown field; did you mean "format"? (allowed: delimiter, format, header, path)`},
		{"source.config", "colour", keys, `source.config.colour: unknown field (allowed: delimiter, format, header, path)`},
		{"", "x", nil, `x: unknown field (allowed: none)`},
	}
	for _, c := range cases {
		e := sdk.UnknownField(c.parent, c.key, c.allowed)
		if e.Error() != c.want || e.Code != sdk.CodeInvalidConfig {
			t.Errorf("UnknownField(%q, %q) = %q (%s), want %q", c.parent, c.key, e.Error(), e.Code, c.want)
		}
	}
}
