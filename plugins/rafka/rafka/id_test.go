package rafka_test

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/activedataflow/adf/plugins/rafka/rafka"
)

// refParseID is the strconv-based parser ParseID replaced: the reference
// the hand-written one must agree with.
func refParseID(s string) (rafka.ID, error) {
	ms, seq, found := strings.Cut(s, "-")
	var id rafka.ID
	var err error
	if id.Ms, err = strconv.ParseUint(ms, 10, 64); err != nil {
		return rafka.ID{}, err
	}
	if found {
		if id.Seq, err = strconv.ParseUint(seq, 10, 64); err != nil {
			return rafka.ID{}, err
		}
	}
	return id, nil
}

func TestParseIDAgreesWithStrconv(t *testing.T) {
	cases := []string{
		"", "-", "0", "0-0", "1-", "-1", "1-2-3", "+", "1718000000000-3", "1718000000000",
		"01-002", "18446744073709551615-18446744073709551615", "18446744073709551616-0",
		"0-18446744073709551616", "99999999999999999999", "1 -2", "1-2 ", " 1-2", "1_0-2",
		"+1-2", "1-+2", "0x10-1", "1e3-0", "١-٢", "1-2\x00", "\xff", "1--2", "184467440737095516150",
		"18446744073709551614", "18446744073709551619", "1-9223372036854775808",
	}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0123456789-+ x9"
	for i := 0; i < 20000; i++ {
		b := make([]byte, r.IntN(24))
		for j := range b {
			b[j] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for i := 0; i < 2000; i++ {
		ms, seq := r.Uint64(), r.Uint64()
		cases = append(cases, fmt.Sprintf("%d-%d", ms, seq), strconv.FormatUint(ms, 10))
		if got, err := rafka.ParseID(fmt.Sprintf("%d-%d", ms, seq)); err != nil || got.String() != fmt.Sprintf("%d-%d", ms, seq) {
			t.Fatalf("ParseID(%d-%d) = %v, %v", ms, seq, got, err)
		}
	}
	for _, s := range cases {
		want, wantErr := refParseID(s)
		got, err := rafka.ParseID(s)
		gotB, errB := rafka.ParseIDBytes([]byte(s))
		if (err != nil) != (wantErr != nil) || got != want {
			t.Fatalf("ParseID(%q) = %v, %v; strconv says %v, %v", s, got, err, want, wantErr)
		}
		if (errB != nil) != (wantErr != nil) || gotB != want {
			t.Fatalf("ParseIDBytes(%q) = %v, %v; strconv says %v, %v", s, gotB, errB, want, wantErr)
		}
		if err == nil {
			if back, err := rafka.ParseID(got.String()); err != nil || back != got {
				t.Fatalf("ParseID(%q.String()) = %v, %v; want %v", s, back, err, got)
			}
		}
	}
}

func TestParseIDBytesDoesNotAllocate(t *testing.T) {
	b := []byte("1718000000000-12345")
	if n := testing.AllocsPerRun(100, func() {
		if _, err := rafka.ParseIDBytes(b); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ParseIDBytes allocates %v times", n)
	}
}

func TestCompareIDsEdges(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1-0", "1", 0}, {"2-0", "10-0", -1}, {"1-10", "1-9", 1}, {"bad", "0-0", -1},
		{"0-0", "bad", 1}, {"bad", "worse", 0}, {"18446744073709551615-0", "1-0", 1},
	} {
		if got := rafka.CompareIDs(c.a, c.b); got != c.want {
			t.Errorf("CompareIDs(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	id := rafka.ID{Ms: 1718000000000, Seq: 7}
	if got := string(id.Append([]byte("x:"))); got != "x:1718000000000-7" {
		t.Errorf("Append = %q", got)
	}
}
