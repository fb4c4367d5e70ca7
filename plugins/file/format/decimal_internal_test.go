package format

import (
	"math/rand"
	"strconv"
	"strings"
	"testing"
)

// generalFloat is parseStrict's general float64 path, without the fast one.
func generalFloat(s string) (float64, bool) {
	if !canonicalDecimal(s) {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !sameDecimal(s, v) {
		return 0, false
	}
	return v, true
}

// TestShortDecimalAgreesWithGeneralPath checks that every text the fast
// path accepts is accepted by the general path with the same bits.
func TestShortDecimalAgreesWithGeneralPath(t *testing.T) {
	texts := []string{"0", "0.0", "-0", "-0.0", "1", "-1", "1.5", "12.50", "0.1", "0.3", "00.5", "1.", ".5", "1.2.3",
		"123456789012345", "1234567890123456", "0.000000000000000000001", "999999999999999.9", "99999999999999.9",
		"9007199254740993", "0.000000000000001", "-123.456", "1e5", "+1", "1,5", "", "-", "4.35", "2.675", "1.005"}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200000; i++ {
		var b strings.Builder
		if rng.Intn(4) == 0 {
			b.WriteByte('-')
		}
		n := 1 + rng.Intn(18)
		for j := 0; j < n; j++ {
			b.WriteByte(byte('0' + rng.Intn(10)))
		}
		if rng.Intn(3) > 0 {
			b.WriteByte('.')
			m := 1 + rng.Intn(12)
			for j := 0; j < m; j++ {
				b.WriteByte(byte('0' + rng.Intn(10)))
			}
		}
		texts = append(texts, b.String())
	}
	accepted := 0
	for _, s := range texts {
		fast, ok := shortDecimal(s)
		if !ok {
			continue
		}
		accepted++
		slow, ok := generalFloat(s)
		if !ok {
			t.Fatalf("%q: the fast path takes it as %v, the general path refuses it", s, fast)
		}
		if fast != slow {
			t.Fatalf("%q: the fast path reads %v, the general path %v", s, fast, slow)
		}
	}
	if accepted < len(texts)/4 {
		t.Fatalf("the fast path took only %d of %d texts", accepted, len(texts))
	}
}
