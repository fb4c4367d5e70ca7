package transform

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/vm"
)

// filterConfig is the config of the "filter" transform.
type filterConfig struct {
	Expr string `json:"expr" jsonschema:"required,minLength=1" jsonschema_description:"Boolean expr-lang expression; columns are variables by name and null values are nil. Rows for which it is true are kept."`
}

type filterTransform struct {
	src string
	// program reads columns from a map[string]any environment.
	program *vm.Program
	// idents are the environment names the expression reads, in order of
	// first appearance; each must be a column of the batch.
	idents []string
	// allColumns is set when the expression uses $env, so every column must
	// be bound.
	allColumns bool
}

func newFilter(cfg *filterConfig) (Transform, error) {
	if strings.TrimSpace(cfg.Expr) == "" {
		return nil, configErr("expr", "expression must not be empty")
	}
	// Column names and types are only known per batch, so compile against an
	// untyped map environment: identifiers are looked up in the map at run
	// time (OpLoadFast) and type errors surface per row.
	program, err := expr.Compile(cfg.Expr,
		expr.Env(map[string]any{}),
		expr.AllowUndefinedVariables(),
		expr.AsBool(),
	)
	if err != nil {
		return nil, &ConfigError{Path: "expr", Reason: "invalid expression: " + firstLine(err.Error()), err: err}
	}
	idents, all := referencedNames(program.Node())
	return &filterTransform{src: cfg.Expr, program: program, idents: idents, allColumns: all}, nil
}

// identCollector gathers the identifiers of an expression's AST.
type identCollector struct {
	idents  []*ast.IdentifierNode
	callees map[*ast.IdentifierNode]bool
	lets    map[string]bool
}

// Visit implements ast.Visitor.
func (c *identCollector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		c.idents = append(c.idents, n)
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			c.callees[id] = true
		}
	case *ast.VariableDeclaratorNode:
		c.lets[n.Name] = true
	}
}

// referencedNames returns the environment variables an expression reads:
// identifiers that are neither let-bound variables nor calls of built-in
// functions. all reports use of $env.
func referencedNames(root ast.Node) (names []string, all bool) {
	c := &identCollector{callees: map[*ast.IdentifierNode]bool{}, lets: map[string]bool{}}
	ast.Walk(&root, c)
	seen := map[string]bool{}
	for _, id := range c.idents {
		name := id.Value
		switch {
		case name == "$env":
			all = true
			continue
		case c.lets[name]:
			continue
		case c.callees[id]:
			if _, ok := builtin.Index[name]; ok {
				continue
			}
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names, all
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// valueGetter returns a function giving row i of a as an expression value:
// nil for null, int for signed and small unsigned integers, uint64,
// float64, bool, string, time.Time for timestamps and dates, and the JSON
// form of anything else.
func valueGetter(a arrow.Array) func(int) any {
	var get func(int) any
	switch a := a.(type) {
	case *array.Int8:
		get = func(i int) any { return int(a.Value(i)) }
	case *array.Int16:
		get = func(i int) any { return int(a.Value(i)) }
	case *array.Int32:
		get = func(i int) any { return int(a.Value(i)) }
	case *array.Int64:
		get = func(i int) any { return int(a.Value(i)) }
	case *array.Uint8:
		get = func(i int) any { return int(a.Value(i)) }
	case *array.Uint16:
		get = func(i int) any { return int(a.Value(i)) }
	case *array.Uint32:
		get = func(i int) any { return int(a.Value(i)) }
	case *array.Uint64:
		get = func(i int) any { return a.Value(i) }
	case *array.Float32:
		get = func(i int) any { return float64(a.Value(i)) }
	case *array.Float64:
		get = func(i int) any { return a.Value(i) }
	case *array.Boolean:
		get = func(i int) any { return a.Value(i) }
	case *array.String:
		get = func(i int) any { return a.Value(i) }
	case *array.LargeString:
		get = func(i int) any { return a.Value(i) }
	case *array.StringView:
		get = func(i int) any { return a.Value(i) }
	case *array.Binary:
		get = func(i int) any { return string(a.Value(i)) }
	case *array.LargeBinary:
		get = func(i int) any { return string(a.Value(i)) }
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		get = func(i int) any { return a.Value(i).ToTime(unit) }
	case *array.Date32:
		get = func(i int) any { return a.Value(i).ToTime() }
	case *array.Date64:
		get = func(i int) any { return a.Value(i).ToTime() }
	default:
		get = a.GetOneForMarshal
	}
	if a.NullN() == 0 {
		return get
	}
	return func(i int) any {
		if a.IsNull(i) {
			return nil
		}
		return get(i)
	}
}

// Apply implements Transform. Rows for which the expression is true are
// kept; a null (nil) result counts as false. Rows for which evaluation fails
// (including a non-bool result) are rejected.
func (t *filterTransform) Apply(ctx context.Context, rec arrow.Record) (arrow.Record, []RowError, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("filter: %w", err)
	}
	s := rec.Schema()
	n := int(rec.NumRows())

	var names []string
	var cols []int
	if t.allColumns {
		for i, f := range s.Fields() {
			names = append(names, f.Name)
			cols = append(cols, i)
		}
	}
	for _, name := range t.idents {
		idx, ok := columnIndex(s, name)
		if !ok {
			if t.allColumns {
				// $env[...] style access may legitimately probe for names.
				continue
			}
			return nil, nil, missingColumn(fmt.Sprintf("filter %q", t.src), name, s)
		}
		if !t.allColumns {
			names = append(names, name)
			cols = append(cols, idx)
		}
	}
	getters := make([]func(int) any, len(cols))
	for k, c := range cols {
		getters[k] = valueGetter(rec.Column(c))
	}

	// One environment map per Apply call, updated in place for every row.
	env := make(map[string]any, len(names))
	var machine vm.VM
	keep := make([]bool, n)
	kept := 0
	var rowErrs []RowError
	for i := 0; i < n; i++ {
		if i&4095 == 4095 {
			if err := ctx.Err(); err != nil {
				return nil, nil, fmt.Errorf("filter: %w", err)
			}
		}
		for k, get := range getters {
			env[names[k]] = get(i)
		}
		out, err := machine.Run(t.program, env)
		if err == nil {
			if b, ok := out.(bool); ok {
				if b {
					keep[i] = true
					kept++
				}
				continue
			} else if out != nil {
				err = fmt.Errorf("result %v (%T) is not a bool", out, out)
			} else {
				continue // nil result: treated as false
			}
		}
		rowErrs = append(rowErrs, RowError{
			Row:    i,
			Record: rowJSON(rec, i),
			Reason: fmt.Sprintf("filter %q: %s (%s)", t.src, filterErrMessage(err), describeRow(names, getters, i)),
		})
	}

	if kept == n {
		rec.Retain()
		return rec, rowErrs, nil
	}
	out, err := filterByMask(ctx, rec, keep)
	if err != nil {
		return nil, nil, fmt.Errorf("filter: %w", err)
	}
	return out, rowErrs, nil
}

func filterErrMessage(err error) string {
	msg := firstLine(err.Error())
	if strings.HasPrefix(msg, "invalid operation: bool(") {
		return "result is not a bool: " + msg
	}
	return msg
}

// describeRow renders the referenced column values of row i, e.g.
// `amount=null, name="x"`.
func describeRow(names []string, getters []func(int) any, i int) string {
	if len(names) == 0 {
		return "no columns referenced"
	}
	parts := make([]string, len(names))
	for k, name := range names {
		v := getters[k](i)
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(fmt.Sprintf("%v", v))
		}
		parts[k] = name + "=" + string(b)
	}
	return strings.Join(parts, ", ")
}
