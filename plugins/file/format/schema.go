package format

import (
	"errors"
	"fmt"
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
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
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
