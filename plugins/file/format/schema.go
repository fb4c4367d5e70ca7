package format

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// Column type names accepted in a [Column].
const (
	TypeInt64     = "int64"     // arrow Int64
	TypeFloat64   = "float64"   // arrow Float64
	TypeBool      = "bool"      // arrow Boolean
	TypeString    = "string"    // arrow String (UTF-8)
	TypeTimestamp = "timestamp" // arrow Timestamp, microseconds, UTC
	TypeDate      = "date"      // arrow Date32 (days since the Unix epoch)
)

// Column is one named, typed column of a [Schema]. Type is one of "int64",
// "float64", "bool", "string", "timestamp" (Arrow Timestamp in microseconds,
// UTC) or "date" (Arrow Date32).
//
// Strict columns accept only the texts type inference accepts (see
// [InferCSV]): a value the type cannot hold without changing it, such as
// "08123" for int64, rejects its record instead of being converted. Inferred
// columns are strict, so that rows after the inference sample are not
// silently changed either; columns of an explicit schema are lenient unless
// they say otherwise.
type Column struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Strict bool   `json:"strict,omitempty" jsonschema:"description=accept only values the type holds without change (the rules of type inference); others reject the row (default false: lenient parsing)"`
}

// Schema is the ordered list of columns of a file. For CSV the columns are
// positional; for JSON they are matched to object keys by name.
type Schema []Column

// ErrInvalidSchema is wrapped by the errors returned for unusable schemas.
var ErrInvalidSchema = errors.New("invalid schema")

// kind is the internal enumeration of column types.
type kind uint8

const (
	kindInvalid kind = iota
	kindInt64
	kindFloat64
	kindBool
	kindString
	kindTimestamp
	kindDate
)

func kindOf(t string) kind {
	switch t {
	case TypeInt64:
		return kindInt64
	case TypeFloat64:
		return kindFloat64
	case TypeBool:
		return kindBool
	case TypeString:
		return kindString
	case TypeTimestamp:
		return kindTimestamp
	case TypeDate:
		return kindDate
	}
	return kindInvalid
}

func (k kind) String() string {
	switch k {
	case kindInt64:
		return TypeInt64
	case kindFloat64:
		return TypeFloat64
	case kindBool:
		return TypeBool
	case kindString:
		return TypeString
	case kindTimestamp:
		return TypeTimestamp
	case kindDate:
		return TypeDate
	}
	return "invalid"
}

// timestampType is the Arrow type used for "timestamp" columns.
var timestampType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

func (k kind) arrowType() arrow.DataType {
	switch k {
	case kindInt64:
		return arrow.PrimitiveTypes.Int64
	case kindFloat64:
		return arrow.PrimitiveTypes.Float64
	case kindBool:
		return arrow.FixedWidthTypes.Boolean
	case kindString:
		return arrow.BinaryTypes.String
	case kindTimestamp:
		return timestampType
	case kindDate:
		return arrow.FixedWidthTypes.Date32
	}
	return nil
}

// ValidType reports whether t is one of the supported column type names.
func ValidType(t string) bool { return kindOf(t) != kindInvalid }

// Arrow returns the Arrow schema for s. All fields are nullable. It returns an
// error wrapping [ErrInvalidSchema] for an empty schema, an empty or duplicate
// column name, or an unknown type.
func (s Schema) Arrow() (*arrow.Schema, error) {
	if _, err := s.kinds(); err != nil {
		return nil, err
	}
	fields := make([]arrow.Field, len(s))
	for i, c := range s {
		fields[i] = arrow.Field{Name: c.Name, Type: kindOf(c.Type).arrowType(), Nullable: true}
	}
	return arrow.NewSchema(fields, nil), nil
}

// kinds validates s and returns the kind of every column.
func (s Schema) kinds() ([]kind, error) {
	if len(s) == 0 {
		return nil, fmt.Errorf("%w: no columns", ErrInvalidSchema)
	}
	seen := make(map[string]struct{}, len(s))
	ks := make([]kind, len(s))
	for i, c := range s {
		if c.Name == "" {
			return nil, fmt.Errorf("%w: column %d has an empty name", ErrInvalidSchema, i+1)
		}
		if _, dup := seen[c.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate column name %q", ErrInvalidSchema, c.Name)
		}
		seen[c.Name] = struct{}{}
		ks[i] = kindOf(c.Type)
		if ks[i] == kindInvalid {
			return nil, fmt.Errorf("%w: column %q has unknown type %q (want one of int64, float64, bool, string, timestamp, date)", ErrInvalidSchema, c.Name, c.Type)
		}
	}
	return ks, nil
}

// cell is one converted value waiting to be appended to a builder. Values of
// a row are converted into cells first so that a row with a bad value can be
// rejected as a whole without touching the builders.
type cell struct {
	null bool
	raw  bool    // string value is held in b (not s)
	i    int64   // int64, timestamp (µs), date (days), bool (0/1)
	f    float64 // float64
	s    string  // string
	b    []byte  // string, when raw
}

// parseText converts the text of a non-null value to kind k. For every kind
// but string the text is expected to be trimmed already.
func parseText(k kind, s string, c *cell) bool {
	c.null, c.raw = false, false
	switch k {
	case kindInt64:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return false
		}
		c.i = v
	case kindFloat64:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return false
		}
		c.f = v
	case kindBool:
		v, err := strconv.ParseBool(s)
		if err != nil {
			return false
		}
		c.i = 0
		if v {
			c.i = 1
		}
	case kindString:
		c.s = s
	case kindTimestamp:
		v, ok := parseTimestamp(s)
		if !ok {
			return false
		}
		c.i = v
	case kindDate:
		v, ok := parseDate(s)
		if !ok {
			return false
		}
		c.i = v
	default:
		return false
	}
	return true
}

// parseStrict converts the text of a non-null value to kind k like
// parseText, but only when the value holds the text without change (the
// type inference rules): int64 takes canonical decimal integers
// (-?(0|[1-9][0-9]*), not -0) within int64; float64 takes decimal numbers
// (-?(0|[1-9][0-9]*)(.[0-9]+)?, not negative zero, no exponent) whose
// float64 value is the same decimal number as its shortest formatting (so
// 1.50 is 1.5, but 3.14159265358979323846, more digits than float64 holds,
// is not a float64); bool takes true and false in lower case, upper case or
// capitalised; timestamp takes RFC 3339 date-times with an explicit zone (Z
// or ±hh:mm, 'T' or a space between date and time) and at most 6 fraction
// digits; date takes YYYY-MM-DD. The text is expected to be trimmed already.
func parseStrict(k kind, s string, c *cell) bool {
	switch k {
	case kindInt64:
		if !canonicalInt(s) {
			return false
		}
	case kindFloat64:
		if v, ok := shortDecimal(s); ok {
			c.null, c.raw, c.f = false, false, v
			return true
		}
		if !canonicalDecimal(s) {
			return false
		}
		if !parseText(k, s, c) {
			return false
		}
		return sameDecimal(s, c.f)
	case kindBool:
		switch s {
		case "true", "false", "TRUE", "FALSE", "True", "False":
		default:
			return false
		}
	case kindTimestamp:
		if !zonedTimestamp(s) {
			return false
		}
	}
	return parseText(k, s, c)
}

// canonicalInt reports whether s is 0 or -?[1-9][0-9]*.
func canonicalInt(s string) bool {
	if s == "0" {
		return true
	}
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 || s[0] < '1' || s[0] > '9' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// canonicalDecimal reports whether s is -?(0|[1-9][0-9]*)(\.[0-9]+)? and not
// a negative zero.
func canonicalDecimal(s string) bool {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || (s[0] == '0' && i > 1) {
		return false
	}
	zero := strings.Trim(s[:i], "0") == ""
	if i < len(s) {
		if s[i] != '.' || i+1 == len(s) {
			return false
		}
		for j := i + 1; j < len(s); j++ {
			if s[j] < '0' || s[j] > '9' {
				return false
			}
			if s[j] != '0' {
				zero = false
			}
		}
	}
	return !(neg && zero)
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// shortDecimal is the fast path of parseStrict for float64: a canonical
// decimal (-?(0|[1-9][0-9]*)(.[0-9]+)?) of at most 15 digits besides
// leading zeros, not negative zero. Any such text holds as a float64
// unchanged (15 significant digits always survive the round trip, so no
// shorter text formats to the same float64), and its value is the digits
// as an integer (below 2^53, exact) divided by a power of ten (exact up to
// 10^22): one correctly rounded division, the value ParseFloat returns.
// Other texts return false and take the general path.
func shortDecimal(s string) (float64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 23 || (s[0] == '0' && len(s) > 1 && s[1] != '.') {
		return 0, false
	}
	var mant uint64
	digits, frac := 0, -1
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= '0' && ch <= '9':
			mant = mant*10 + uint64(ch-'0')
			if mant != 0 {
				digits++
			}
			if frac >= 0 {
				frac++
			}
		case ch == '.' && frac < 0 && i > 0 && i+1 < len(s):
			frac = 0
		default:
			return 0, false
		}
	}
	if digits > 15 || (neg && mant == 0) {
		return 0, false
	}
	if frac < 0 {
		frac = 0
	}
	v := float64(mant) / pow10[frac]
	if neg {
		v = -v
	}
	return v, true
}

// zonedTimestamp reports whether the timestamp text s ends in a zone and has
// at most 6 fraction digits (so that microseconds hold it).
func zonedTimestamp(s string) bool {
	if len(s) < 20 {
		return false
	}
	rest := s[19:]
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n > 7 {
			return false
		}
		rest = rest[n:]
	}
	return rest == "Z" || (len(rest) == 6 && (rest[0] == '+' || rest[0] == '-'))
}

// sameDecimal reports whether the number text s (JSON number syntax) is the
// same decimal number as the shortest formatting of f, i.e. whether f
// written back shows the number s denotes.
func sameDecimal(s string, f float64) bool {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return false
	}
	var buf [32]byte
	return decimalEqual(s, bytesString(strconv.AppendFloat(buf[:0], f, 'e', -1, 64)))
}

// decimalEqual compares two texts in JSON number syntax (optionally with a
// leading '+' in the exponent) as decimal numbers; 0 and -0 are equal. It
// is false when either does not parse.
func decimalEqual(a, b string) bool {
	na, da, ea, ok1 := decimalParts(a)
	nb, db, eb, ok2 := decimalParts(b)
	if !ok1 || !ok2 {
		return false
	}
	if da == "" || db == "" {
		return da == db
	}
	return na == nb && da == db && ea == eb
}

// decimalParts splits a number text into its sign, its significant digits
// (no leading or trailing zeros; empty for zero) and the decimal exponent e
// such that the value is 0.digits × 10^e.
func decimalParts(s string) (neg bool, digits string, exp int, ok bool) {
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart := s[:i]
	frac := ""
	if i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		frac = s[i+1 : j]
		i = j
	}
	if intPart == "" && frac == "" {
		return false, "", 0, false
	}
	e := 0
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return false, "", 0, false
		}
		v, err := strconv.Atoi(s[i+1:])
		if err != nil || v > 1<<20 || v < -(1<<20) {
			return false, "", 0, false
		}
		e = v
	}
	mant := intPart + frac
	e += len(intPart)
	k := 0
	for k < len(mant) && mant[k] == '0' {
		k++
	}
	mant = strings.TrimRight(mant[k:], "0")
	if mant == "" {
		return neg, "", 0, true
	}
	return neg, mant, e - k, true
}

// trimSpace trims ASCII spaces and tabs, the only blanks tolerated around
// non-string values.
func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// quoteForReason quotes a value for an error message, shortening long values.
func quoteForReason(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !isRuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// cannotParse builds the standard reason for an unconvertible value.
func cannotParse(col string, value string, k kind) string {
	var sb strings.Builder
	sb.WriteString("column ")
	sb.WriteString(strconv.Quote(col))
	sb.WriteString(": cannot parse ")
	sb.WriteString(value)
	sb.WriteString(" as ")
	sb.WriteString(k.String())
	return sb.String()
}

// ---- dates and timestamps ----

// twoDigits parses s[i:i+2] as a decimal number.
func twoDigits(s string, i int) (int, bool) {
	a, b := s[i]-'0', s[i+1]-'0'
	if a > 9 || b > 9 {
		return 0, false
	}
	return int(a)*10 + int(b), true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysInMonth(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days since 1970-01-01 of the proleptic
// Gregorian date y-m-d (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y
	if era < 0 {
		era -= 399
	}
	era /= 400
	yoe := y - era*400
	mp := m - 3
	if m <= 2 {
		mp = m + 9
	}
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// parseDateDays parses exactly "YYYY-MM-DD".
func parseDateDays(s string) (int64, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	hi, ok1 := twoDigits(s, 0)
	lo, ok2 := twoDigits(s, 2)
	m, ok3 := twoDigits(s, 5)
	d, ok4 := twoDigits(s, 8)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, false
	}
	y := hi*100 + lo
	if m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

// parseDate parses a "2006-01-02" date into days since the Unix epoch.
func parseDate(s string) (int64, bool) { return parseDateDays(s) }

// parseTimestamp parses a timestamp into microseconds since the Unix epoch,
// UTC. Accepted: "2006-01-02T15:04:05" or "2006-01-02 15:04:05", optionally
// followed by a fraction of a second (digits beyond microseconds are
// truncated) and optionally by "Z" or a "±07:00" zone offset; without a zone
// the time is UTC. This covers RFC 3339, RFC 3339 with nanoseconds and the two
// zone-less layouts.
func parseTimestamp(s string) (int64, bool) {
	if len(s) < 19 || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	days, ok := parseDateDays(s[:10])
	if !ok {
		return 0, false
	}
	hh, ok1 := twoDigits(s, 11)
	mm, ok2 := twoDigits(s, 14)
	ss, ok3 := twoDigits(s, 17)
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 59 {
		return 0, false
	}
	rest := s[19:]
	var micros int64
	if len(rest) > 0 && rest[0] == '.' {
		n := 1
		var frac int64
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			if n <= 6 {
				frac = frac*10 + int64(rest[n]-'0')
			}
			n++
		}
		if n == 1 {
			return 0, false
		}
		for d := n; d <= 6; d++ {
			frac *= 10
		}
		micros = frac
		rest = rest[n:]
	}
	var offset int64
	switch {
	case rest == "":
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := twoDigits(rest, 1)
		om, ok2 := twoDigits(rest, 4)
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return 0, false
		}
		offset = int64(oh*3600 + om*60)
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, false
	}
	secs := days*86400 + int64(hh*3600+mm*60+ss) - offset
	return secs*1_000_000 + micros, true
}
