package iceberg

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/apache/iceberg-go"
)

// parseFilter reads a row filter such as
//
//	amount > 10 and (name = 'bob' or name is null) and id not in (1, 2)
//
// into an Iceberg expression. Grammar (keywords case-insensitive):
//
//	expr    = and { "or" and }
//	and     = unary { "and" unary }
//	unary   = "not" unary | "(" expr ")" | pred
//	pred    = column ( op literal | "is" ["not"] "null" | ["not"] "in" "(" literal {"," literal} ")"
//	          | ["not"] "starts" "with" string )
//	op      = "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="
//	literal = 'string' | number | true | false
//
// Columns are names, or "quoted" names; string literals compared with date
// or timestamp columns are converted by Iceberg (e.g. ts >= '2026-01-01T00:00:00').
func parseFilter(s string) (iceberg.BooleanExpression, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q at position %d", p.toks[p.i].text, p.toks[p.i].pos)
	}
	return e, nil
}

type tokKind int

const (
	tIdent tokKind = iota
	tString
	tNumber
	tOp
	tPunct
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func lex(s string) ([]token, error) {
	var out []token
	i := 0
	for i < len(s) {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(' || c == ')' || c == ',':
			out = append(out, token{tPunct, string(c), i})
			i++
		case strings.ContainsRune("=!<>", c):
			j := i + 1
			for j < len(s) && strings.ContainsRune("=<>", rune(s[j])) {
				j++
			}
			op := s[i:j]
			switch op {
			case "=", "==", "!=", "<>", "<", "<=", ">", ">=":
			default:
				return nil, fmt.Errorf("unknown operator %q at position %d", op, i)
			}
			out = append(out, token{tOp, op, i})
			i = j
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated quote starting at position %d", i)
				}
				if rune(s[j]) == c {
					if j+1 < len(s) && rune(s[j+1]) == c {
						b.WriteRune(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			kind := tString
			if c == '"' {
				kind = tIdent
			}
			out = append(out, token{kind, b.String(), i})
			i = j + 1
		case c == '-' || c == '+' || c == '.' || unicode.IsDigit(c):
			j := i + 1
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || strings.ContainsRune(".eE+-", rune(s[j]))) {
				if (s[j] == '+' || s[j] == '-') && s[j-1] != 'e' && s[j-1] != 'E' {
					break
				}
				j++
			}
			out = append(out, token{tNumber, s[i:j], i})
			i = j
		case unicode.IsLetter(c) || c == '_':
			j := i + 1
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_' || s[j] == '.') {
				j++
			}
			out = append(out, token{tIdent, s[i:j], i})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q at position %d", c, i)
		}
	}
	return out, nil
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() *token {
	if p.i < len(p.toks) {
		return &p.toks[p.i]
	}
	return nil
}

// keyword reports (and consumes) an unquoted identifier equal to kw.
func (p *parser) keyword(kw string) bool {
	t := p.peek()
	if t != nil && t.kind == tIdent && strings.EqualFold(t.text, kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) punct(s string) bool {
	t := p.peek()
	if t != nil && t.kind == tPunct && t.text == s {
		p.i++
		return true
	}
	return false
}

func (p *parser) errAt(what string) error {
	if t := p.peek(); t != nil {
		return fmt.Errorf("expected %s at position %d, found %q", what, t.pos, t.text)
	}
	return fmt.Errorf("expected %s at the end of the filter", what)
}

func (p *parser) or() (iceberg.BooleanExpression, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = iceberg.NewOr(l, r)
	}
	return l, nil
}

func (p *parser) and() (iceberg.BooleanExpression, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = iceberg.NewAnd(l, r)
	}
	return l, nil
}

func (p *parser) unary() (iceberg.BooleanExpression, error) {
	if p.keyword("not") {
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return iceberg.NewNot(e), nil
	}
	if p.punct("(") {
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.punct(")") {
			return nil, p.errAt("')'")
		}
		return e, nil
	}
	return p.pred()
}

var ops = map[string]iceberg.Operation{
	"=": iceberg.OpEQ, "==": iceberg.OpEQ, "!=": iceberg.OpNEQ, "<>": iceberg.OpNEQ,
	"<": iceberg.OpLT, "<=": iceberg.OpLTEQ, ">": iceberg.OpGT, ">=": iceberg.OpGTEQ,
}

func (p *parser) pred() (iceberg.BooleanExpression, error) {
	t := p.peek()
	if t == nil || t.kind != tIdent {
		return nil, p.errAt("a column name")
	}
	p.i++
	ref := iceberg.Reference(t.text)
	if t := p.peek(); t != nil && t.kind == tOp {
		p.i++
		lit, err := p.literal()
		if err != nil {
			return nil, err
		}
		return iceberg.LiteralPredicate(ops[t.text], ref, lit), nil
	}
	if p.keyword("is") {
		neg := p.keyword("not")
		if !p.keyword("null") {
			return nil, p.errAt("null")
		}
		if neg {
			return iceberg.NotNull(ref), nil
		}
		return iceberg.IsNull(ref), nil
	}
	neg := p.keyword("not")
	switch {
	case p.keyword("in"):
		if !p.punct("(") {
			return nil, p.errAt("'('")
		}
		var lits []iceberg.Literal
		for {
			lit, err := p.literal()
			if err != nil {
				return nil, err
			}
			lits = append(lits, lit)
			if p.punct(")") {
				break
			}
			if !p.punct(",") {
				return nil, p.errAt("',' or ')'")
			}
		}
		op := iceberg.OpIn
		if neg {
			op = iceberg.OpNotIn
		}
		return iceberg.SetPredicate(op, ref, lits), nil
	case p.keyword("starts"):
		if !p.keyword("with") {
			return nil, p.errAt("with")
		}
		t := p.peek()
		if t == nil || t.kind != tString {
			return nil, p.errAt("a 'string'")
		}
		p.i++
		if neg {
			return iceberg.NotStartsWith(ref, t.text), nil
		}
		return iceberg.StartsWith(ref, t.text), nil
	}
	return nil, p.errAt("an operator (=, !=, <, <=, >, >=, is null, in, starts with)")
}

func (p *parser) literal() (iceberg.Literal, error) {
	t := p.peek()
	if t == nil {
		return nil, p.errAt("a value")
	}
	switch t.kind {
	case tString:
		p.i++
		return iceberg.NewLiteral(t.text), nil
	case tNumber:
		p.i++
		if n, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return iceberg.NewLiteral(n), nil
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, fmt.Errorf("bad number %q at position %d", t.text, t.pos)
		}
		return iceberg.NewLiteral(f), nil
	case tIdent:
		switch strings.ToLower(t.text) {
		case "true", "false":
			p.i++
			return iceberg.NewLiteral(strings.EqualFold(t.text, "true")), nil
		}
	}
	return nil, p.errAt("a value ('text', a number, true or false)")
}
