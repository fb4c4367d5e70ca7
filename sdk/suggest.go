package sdk

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// Suggest returns the candidate the user most likely meant by word, or ""
// when none is close enough to be a plausible typo. The rule is meant to
// never mislead: a suggestion is worse than none when it names a different
// thing (kafka is not rafka).
//
// Names are compared case-insensitively and without '_', '-' and spaces
// (Format, dead-letter and deadletter all match their canonical names).
// What remains is compared by typo cost: a dropped, doubled or extra
// character and two swapped neighbours cost 1 each, a replaced character
// costs 2 (a different letter in the same place makes a different word
// more often than a slip of the fingers does). A candidate is suggested when
// its cost is within the budget for the word's length: 0 below 3 characters,
// 1 up to 7 characters (one slip), 2 from 8 characters on; and when no other
// candidate is as close (an ambiguous guess is no help).
func Suggest(word string, candidates []string) string {
	w := foldName(word)
	budget := typoBudget(len(w))
	best, bestCost, tie := "", budget+1, false
	for _, c := range candidates {
		if c == word || c == "" {
			continue
		}
		cost := typoCost(w, foldName(c))
		switch {
		case cost < bestCost:
			best, bestCost, tie = c, cost, false
		case cost == bestCost && c != best:
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// UnknownField is the error for a key a config or document does not take:
// it names the allowed keys and, when one is a plausible typo of it (see
// Suggest), that one. parent is the path of the object holding the key.
func UnknownField(parent, key string, allowed []string) *Error {
	names := append([]string(nil), allowed...)
	sort.Strings(names)
	list := "none"
	if len(names) > 0 {
		list = strings.Join(names, ", ")
	}
	field := key
	if parent != "" {
		field = parent + "." + key
	}
	if s := Suggest(key, names); s != "" {
		return ConfigError(field, "unknown field; did you mean %q? (allowed: %s)", s, list)
	}
	return ConfigError(field, "unknown field (allowed: %s)", list)
}

func foldName(s string) []rune {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch r {
		case '_', '-', ' ':
			continue
		}
		out = append(out, unicode.ToLower(r))
	}
	return out
}

func typoBudget(n int) int {
	switch {
	case n < 3:
		return 0
	case n < 8:
		return 1
	}
	return 2
}

// typoCost is the optimal-string-alignment distance between a and b with
// insertions, deletions and adjacent transpositions costing 1 and
// substitutions 2.
func typoCost(a, b []rune) int {
	if d := len(a) - len(b); d > 8 || d < -8 {
		return 1 << 20 // far apart; keep the work bounded
	}
	rows := make([][]int, len(a)+1)
	for i := range rows {
		rows[i] = make([]int, len(b)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			sub := 2
			if a[i-1] == b[j-1] {
				sub = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+sub)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] && a[i-1] != a[i-2] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(a)][len(b)]
}

// describeJSON names a JSON value's kind for messages: a string "x", the
// number 5, true, null, a list, an object.
func describeJSON(raw []byte) string {
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return "nothing"
	}
	switch s[0] {
	case '"':
		return "the string " + shorten(s, 40)
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return s
	case 'n':
		return "null"
	}
	return "the number " + shorten(s, 40)
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// plural returns "1 thing" or "n things".
func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
