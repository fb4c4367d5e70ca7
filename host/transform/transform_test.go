package transform

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

func TestTypes(t *testing.T) {
	want := []string{"cast", "filter", "rename", "select"}
	if got := Types(); !eqStrings(got, want) {
		t.Fatalf("Types() = %v, want %v", got, want)
	}
}

func TestDescribe(t *testing.T) {
	required := map[string]string{"select": "columns", "rename": "columns", "cast": "columns", "filter": "expr"}
	for _, typ := range Types() {
		desc, schema, ok := Describe(typ)
		if !ok || desc == "" || len(schema) == 0 {
			t.Fatalf("Describe(%q) = %q, %d bytes, %v", typ, desc, len(schema), ok)
		}
		var s struct {
			Type                 string                     `json:"type"`
			Required             []string                   `json:"required"`
			AdditionalProperties *bool                      `json:"additionalProperties"`
			Properties           map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(schema, &s); err != nil {
			t.Fatalf("%s schema is not JSON: %v\n%s", typ, err, schema)
		}
		if s.Type != "object" || s.AdditionalProperties == nil || *s.AdditionalProperties {
			t.Errorf("%s schema: type %q additionalProperties %v, want object/false\n%s", typ, s.Type, s.AdditionalProperties, schema)
		}
		if !eqStrings(s.Required, []string{required[typ]}) {
			t.Errorf("%s schema required = %v, want [%s]", typ, s.Required, required[typ])
		}
		if _, ok := s.Properties[required[typ]]; !ok || len(s.Properties) != 1 {
			t.Errorf("%s schema properties = %v", typ, s.Properties)
		}
		// The schema is a copy: mutating it must not affect later calls.
		schema[0] = 'X'
		if _, again, _ := Describe(typ); again[0] != '{' {
			t.Errorf("Describe(%q) returned shared bytes", typ)
		}
	}

	_, schema, _ := Describe("cast")
	var cs struct {
		Properties struct {
			Columns struct {
				Type                 string `json:"type"`
				MinProperties        int    `json:"minProperties"`
				AdditionalProperties struct {
					Enum []string `json:"enum"`
				} `json:"additionalProperties"`
			} `json:"columns"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(schema, &cs); err != nil {
		t.Fatal(err)
	}
	col := cs.Properties.Columns
	if col.Type != "object" || col.MinProperties != 1 ||
		!eqStrings(col.AdditionalProperties.Enum, []string{"bool", "date", "float64", "int64", "string", "timestamp"}) {
		t.Errorf("cast columns schema = %+v\n%s", col, schema)
	}

	if _, _, ok := Describe("nope"); ok {
		t.Error(`Describe("nope") ok = true`)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		typ, config string
		path        string
		reason      string // substring
	}{
		{"select", `{}`, "columns", "required field is missing"},
		{"select", ``, "columns", "required field is missing"},
		{"select", `{"columns":["a"],"extra":1}`, "extra", "unknown field (allowed: columns)"},
		{"select", `{"columns":[]}`, "columns", "at least one column"},
		{"select", `{"columns":["a","b","a"]}`, "columns[2]", `duplicate column "a"`},
		{"select", `{"columns":["a",""]}`, "columns[1]", "must not be empty"},
		{"select", `{"columns":"a"}`, "columns", "expected an array of strings, got JSON string"},
		{"select", `[1]`, "", "config must be a JSON object"},
		{"select", `{"columns":["a",1]}`, "columns[1]", "expected string, got JSON number"},
		{"rename", `{"columns":{}}`, "columns", "at least one column"},
		{"rename", `{"columns":{"a":""}}`, "columns.a", "new name must not be empty"},
		{"rename", `{"columns":{"a":"x","b":"x"}}`, "columns.b", `new name "x" is also the new name of column "a"`},
		{"rename", `{"columns":{"a":3}}`, "columns.a", "expected string, got JSON number"},
		{"cast", `{"columns":{"id":"string","total":"flot64"}}`, "columns.total", `unknown type "flot64" (valid types: bool, date, float64, int64, string, timestamp)`},
		{"cast", `{"columns":{"total":"float64"},"strict":true}`, "strict", "unknown field"},
		{"cast", `{"columns":{}}`, "columns", "at least one column"},
		{"cast", `{"columns":{"total":5}}`, "columns.total", "expected string, got JSON number"},
		{"cast", `{"columns":["total"]}`, "columns", "expected an object of strings, got JSON array"},
		{"filter", `{}`, "expr", "required field is missing"},
		{"filter", `{"expr":"  "}`, "expr", "must not be empty"},
		{"filter", `{"expr":"total >"}`, "expr", "invalid expression: unexpected token EOF"},
		{"filter", `{"expr":"1 + 2"}`, "expr", "invalid expression: expected bool, but got int"},
		{"filter", `{"expr":"a > 1","mode":"x"}`, "mode", "unknown field (allowed: expr)"},
	}
	for _, tc := range tests {
		_, err := New(tc.typ, []byte(tc.config))
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("New(%s, %s) error = %v, want *ConfigError", tc.typ, tc.config, err)
			continue
		}
		if ce.Path != tc.path || !strings.Contains(ce.Reason, tc.reason) {
			t.Errorf("New(%s, %s) = {Path:%q Reason:%q}, want path %q reason containing %q", tc.typ, tc.config, ce.Path, ce.Reason, tc.path, tc.reason)
		}
		want := ce.Path + ": " + ce.Reason
		if ce.Path == "" {
			want = ce.Reason
		}
		if err.Error() != want {
			t.Errorf("Error() = %q, want %q", err.Error(), want)
		}
	}

	// The spec's example message.
	_, err := New("cast", []byte(`{"columns":{"total":"flot64"}}`))
	if got := "transforms[1].config." + err.Error(); !strings.HasPrefix(got, `transforms[1].config.columns.total: unknown type "flot64"`) {
		t.Errorf("message = %q", got)
	}
	// Compile errors are wrapped.
	_, err = New("filter", []byte(`{"expr":"total >"}`))
	if errors.Unwrap(err) == nil {
		t.Error("filter compile error is not wrapped")
	}

	if _, err := New("nope", []byte(`{}`)); err == nil || !strings.Contains(err.Error(), `unknown transform type "nope"`) {
		t.Errorf("New(nope) error = %v", err)
	}
}

func TestSelect(t *testing.T) {
	ctx, mem := checkedCtx(t)
	in := makeRecord(t, mem, sampleSchema, sampleRows)
	defer in.Release()

	out, rowErrs, err := mustNew(t, "select", `{"columns":["name","id"]}`).Apply(ctx, in)
	if err != nil || rowErrs != nil {
		t.Fatalf("Apply: %v %v", rowErrs, err)
	}
	defer out.Release()
	if got := fieldNames(out); !eqStrings(got, []string{"name", "id"}) {
		t.Fatalf("columns = %v", got)
	}
	if out.NumRows() != 5 || out.Column(1).(*array.Int64).Value(4) != 5 || out.Column(0).(*array.String).Value(1) != "x" {
		t.Fatalf("rows = %s", rowsJSON(t, out))
	}
	if !out.Schema().Field(0).Nullable {
		t.Error("field metadata (nullable) lost")
	}

	_, _, err = mustNew(t, "select", `{"columns":["id","nope"]}`).Apply(ctx, in)
	if err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), `available columns: "id", "name", "amount", "extra"`) {
		t.Fatalf("missing column error = %v", err)
	}
	if !errors.Is(err, errMissingColumn) {
		t.Errorf("missing column error does not wrap errMissingColumn: %v", err)
	}
}

func TestRename(t *testing.T) {
	ctx, mem := checkedCtx(t)
	in := makeRecord(t, mem, sampleSchema, sampleRows)
	defer in.Release()

	out, _, err := mustNew(t, "rename", `{"columns":{"amount":"total","id":"key"}}`).Apply(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	if got := fieldNames(out); !eqStrings(got, []string{"key", "name", "total", "extra"}) {
		t.Fatalf("columns = %v", got)
	}
	if out.Column(2) != in.Column(2) {
		t.Error("rename copied column data")
	}

	// Swapping names is fine.
	out2, _, err := mustNew(t, "rename", `{"columns":{"id":"name","name":"id"}}`).Apply(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	defer out2.Release()
	if got := fieldNames(out2); !eqStrings(got, []string{"name", "id", "amount", "extra"}) {
		t.Fatalf("swapped columns = %v", got)
	}

	_, _, err = mustNew(t, "rename", `{"columns":{"amont":"total"}}`).Apply(ctx, in)
	if err == nil || !strings.Contains(err.Error(), `"amont"`) || !strings.Contains(err.Error(), `"amount"`) {
		t.Fatalf("missing column error = %v", err)
	}
	_, _, err = mustNew(t, "rename", `{"columns":{"amount":"name"}}`).Apply(ctx, in)
	if err == nil || !strings.Contains(err.Error(), `column "name" twice`) {
		t.Fatalf("collision error = %v", err)
	}
}

func TestCastRowErrors(t *testing.T) {
	ctx, mem := checkedCtx(t)
	in := makeRecord(t, mem, sampleSchema, sampleRows)
	defer in.Release()

	tr := mustNew(t, "cast", `{"columns":{"amount":"float64","id":"string","extra":"int64"}}`)
	out, rowErrs, err := tr.Apply(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()

	wantErrs := []RowError{{
		Row:    2,
		Record: `{"id":3,"name":"b","amount":"abc","extra":null}`,
		Reason: `cast column "amount" to float64: cannot parse "abc"`,
	}}
	if !reflect.DeepEqual(rowErrs, wantErrs) {
		t.Fatalf("row errors = %#v\nwant %#v", rowErrs, wantErrs)
	}
	wantSchema := []arrow.DataType{arrow.BinaryTypes.String, arrow.BinaryTypes.String, arrow.PrimitiveTypes.Float64, arrow.PrimitiveTypes.Int64}
	for i, f := range out.Schema().Fields() {
		if !arrow.TypeEqual(f.Type, wantSchema[i]) {
			t.Errorf("column %s type = %s, want %s", f.Name, f.Type, wantSchema[i])
		}
	}
	want := lines(
		`{"amount":5.5,"extra":1,"id":"1","name":"a"}`,
		`{"amount":20,"extra":0,"id":"2","name":"x"}`,
		`{"amount":12.25,"extra":1,"id":"4","name":null}`,
		`{"amount":null,"extra":0,"id":"5","name":"c"}`,
	)
	if got := rowsJSON(t, out); got != want {
		t.Fatalf("rows =\n%s\nwant\n%s", got, want)
	}
}

func TestCastMultipleFailuresAndTypes(t *testing.T) {
	ctx, mem := checkedCtx(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "n", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "ts", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "d", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	}, nil)
	in := makeRecord(t, mem, schema, `[
		{"n": " 42 ", "f": 1.5,  "b": "true", "ts": "2024-03-01T10:20:30.123456Z",     "d": "2024-03-01", "u": 7},
		{"n": "1e3",  "f": -2,   "b": "No",   "ts": "2024-03-01 10:20:30",             "d": "1969-12-31", "u": 18446744073709551615},
		{"n": "1.5",  "f": 1e30, "b": "maybe","ts": "yesterday",                       "d": "2024-02-30", "u": 0},
		{"n": "x",    "f": 3,    "b": "0",    "ts": "2024-03-01T12:00:00+02:00",       "d": null,         "u": 1},
		{"n": "99999999999999999999", "f": null, "b": null, "ts": null, "d": "2000-01-01", "u": null}
	]`)
	defer in.Release()

	tr := mustNew(t, "cast", `{"columns":{"n":"int64","f":"string","b":"bool","ts":"timestamp","d":"date","u":"int64"}}`)
	out, rowErrs, err := tr.Apply(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()

	type re struct {
		Row    int
		Reason string
	}
	var got []re
	for _, e := range rowErrs {
		got = append(got, re{e.Row, e.Reason})
	}
	want := []re{
		{1, `cast column "u" to int64: value 18446744073709551615 out of range`},
		{2, `cast column "n" to int64: value "1.5" is not an integer; ` +
			`cast column "b" to bool: cannot parse "maybe"; ` +
			`cast column "ts" to timestamp: cannot parse "yesterday"; ` +
			`cast column "d" to date: cannot parse "2024-02-30"`},
		{3, `cast column "n" to int64: cannot parse "x"`},
		{4, `cast column "n" to int64: value "99999999999999999999" out of range`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("row errors =\n%v\nwant\n%v", got, want)
	}
	if rowErrs[2].Record != `{"n":"x","f":3,"b":"0","ts":"2024-03-01T12:00:00+02:00","d":null,"u":1}` {
		t.Errorf("record = %s", rowErrs[2].Record)
	}

	if out.NumRows() != 1 {
		t.Fatalf("rows = %d, want 1", out.NumRows())
	}
	if v := out.Column(0).(*array.Int64).Value(0); v != 42 {
		t.Errorf("n = %d", v)
	}
	if v := out.Column(1).(*array.String).Value(0); v != "1.5" {
		t.Errorf("f = %q", v)
	}
	if v := out.Column(2).(*array.Boolean).Value(0); !v {
		t.Errorf("b = %v", v)
	}
	tsType := out.Schema().Field(3).Type.(*arrow.TimestampType)
	if tsType.Unit != arrow.Microsecond || tsType.TimeZone != "UTC" {
		t.Errorf("timestamp type = %s", tsType)
	}
	wantTS := time.Date(2024, 3, 1, 10, 20, 30, 123456000, time.UTC).UnixMicro()
	if v := int64(out.Column(3).(*array.Timestamp).Value(0)); v != wantTS {
		t.Errorf("ts = %d, want %d", v, wantTS)
	}
	if v := out.Column(4).(*array.Date32).Value(0); v.ToTime().Format("2006-01-02") != "2024-03-01" {
		t.Errorf("d = %v", v.ToTime())
	}
	if v := out.Column(5).(*array.Int64).Value(0); v != 7 {
		t.Errorf("u = %d", v)
	}
}

func TestCastConversions(t *testing.T) {
	ctx, mem := checkedCtx(t)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int32},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Nanosecond}}, // values in ns since epoch
		{Name: "s", Type: arrow.BinaryTypes.String},
	}, nil)
	in := makeRecord(t, mem, schema, `[
		{"i": -3, "f": 2.0,  "ts": 1709337599999999999, "s": "2024-03-01 10:00:00"},
		{"i": 0,  "f": -0.5, "ts": -43200000000000, "s": "2024-03-01T10:00:00.5-01:00"}
	]`)
	defer in.Release()

	tests := []struct {
		col, to string
		want    string
		errRows []int
	}{
		{"i", "float64", `[-3,0]`, nil},
		{"i", "bool", `[true,false]`, nil},
		{"i", "string", `["-3","0"]`, nil},
		{"f", "int64", `[2]`, []int{1}},
		{"f", "string", `["2","-0.5"]`, nil},
		{"ts", "string", `["2024-03-01T23:59:59.999999999Z","1969-12-31T12:00:00Z"]`, nil},
		{"ts", "date", `["2024-03-01","1969-12-31"]`, nil},
		{"ts", "timestamp", `["2024-03-01T23:59:59.999999Z","1969-12-31T12:00:00Z"]`, nil},
		{"s", "timestamp", `["2024-03-01T10:00:00Z","2024-03-01T11:00:00.5Z"]`, nil},
	}
	for _, tc := range tests {
		out, rowErrs, err := mustNew(t, "cast", `{"columns":{"`+tc.col+`":"`+tc.to+`"}}`).Apply(ctx, in)
		if err != nil {
			t.Errorf("%s->%s: %v", tc.col, tc.to, err)
			continue
		}
		var errRows []int
		for _, e := range rowErrs {
			errRows = append(errRows, e.Row)
		}
		if !reflect.DeepEqual(errRows, tc.errRows) {
			t.Errorf("%s->%s: error rows %v, want %v (%v)", tc.col, tc.to, errRows, tc.errRows, rowErrs)
		}
		idx := in.Schema().FieldIndices(tc.col)[0]
		col := out.Column(idx)
		vals := make([]any, int(out.NumRows()))
		for i := range vals {
			vals[i] = col.GetOneForMarshal(i)
		}
		got, _ := json.Marshal(vals)
		if string(got) != tc.want {
			t.Errorf("%s->%s = %s, want %s", tc.col, tc.to, got, tc.want)
		}
		out.Release()
	}

	// A type that cannot be converted at all fails the batch.
	_, _, err := mustNew(t, "cast", `{"columns":{"ts":"bool"}}`).Apply(ctx, in)
	if err == nil || !strings.Contains(err.Error(), `column "ts"`) || !errors.Is(err, errUnsupportedCast) {
		t.Errorf("unsupported cast error = %v", err)
	}
	_, _, err = mustNew(t, "cast", `{"columns":{"nope":"bool"}}`).Apply(ctx, in)
	if err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), `"i", "f", "ts", "s"`) {
		t.Errorf("missing column error = %v", err)
	}
}

var filterSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "total", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
}, nil)

const filterRows = `[
	{"id": 1, "name": "a", "total": 5,    "day": "2024-01-01"},
	{"id": 2, "name": "x", "total": 50,   "day": "2024-01-02"},
	{"id": 3, "name": "b", "total": 11.5, "day": null},
	{"id": 4, "name": null,"total": 30,   "day": "2024-01-04"},
	{"id": 5, "name": "c", "total": null, "day": "2024-01-05"}
]`

func filterIDs(t *testing.T, ctx context.Context, in arrow.Record, src string) ([]int64, []RowError) {
	t.Helper()
	cfg, _ := json.Marshal(map[string]string{"expr": src})
	out, rowErrs, err := mustNew(t, "filter", string(cfg)).Apply(ctx, in)
	if err != nil {
		t.Fatalf("filter %q: %v", src, err)
	}
	defer out.Release()
	if !out.Schema().Equal(in.Schema()) {
		t.Fatalf("filter %q changed schema to %s", src, out.Schema())
	}
	ids := []int64{}
	col := out.Column(0).(*array.Int64)
	for i := 0; i < col.Len(); i++ {
		ids = append(ids, col.Value(i))
	}
	return ids, rowErrs
}

func TestFilter(t *testing.T) {
	ctx, mem := checkedCtx(t)
	in := makeRecord(t, mem, filterSchema, filterRows)
	defer in.Release()

	tests := []struct {
		expr    string
		want    []int64
		errRows []int
	}{
		{"total != nil && total > 10 && name != 'x'", []int64{3, 4}, nil},
		{"id % 2 == 1", []int64{1, 3, 5}, nil},
		{"name == nil", []int64{4}, nil},
		{"name in ['a', 'b']", []int64{1, 3}, nil},
		{"(total ?? 0) > 10", []int64{2, 3, 4}, nil},
		{"day != nil && day >= date('2024-01-02')", []int64{2, 4, 5}, nil},
		{"true", []int64{1, 2, 3, 4, 5}, nil},
		{"false", []int64{}, nil},
		{"let t = total ?? 0; t > 20", []int64{2, 4}, nil},
		{"upper(name ?? '') == 'A'", []int64{1}, nil},
		{"$env.id > 3 && $env['name'] == nil", []int64{4}, nil},
		// Null compared with a number is an evaluation error: row rejected.
		{"total > 10", []int64{2, 3, 4}, []int{4}},
		{"len(name) == 1 || id > 4", []int64{1, 2, 3, 5}, []int{3}},
	}
	for _, tc := range tests {
		ids, rowErrs := filterIDs(t, ctx, in, tc.expr)
		if !reflect.DeepEqual(ids, tc.want) {
			t.Errorf("%q kept ids %v, want %v", tc.expr, ids, tc.want)
		}
		var errRows []int
		for _, e := range rowErrs {
			errRows = append(errRows, e.Row)
		}
		if !reflect.DeepEqual(errRows, tc.errRows) {
			t.Errorf("%q error rows %v, want %v (%v)", tc.expr, errRows, tc.errRows, rowErrs)
		}
	}
}

func TestFilterNullRowError(t *testing.T) {
	ctx, mem := checkedCtx(t)
	in := makeRecord(t, mem, filterSchema, filterRows)
	defer in.Release()

	_, rowErrs := filterIDs(t, ctx, in, "total > 10 && name != 'x'")
	want := []RowError{{
		Row:    4,
		Record: `{"id":5,"name":"c","total":null,"day":"2024-01-05"}`,
		Reason: `filter "total > 10 && name != 'x'": invalid operation: <nil> > int (1:7) (total=null, name="c")`,
	}}
	if !reflect.DeepEqual(rowErrs, want) {
		t.Fatalf("row errors = %#v\nwant %#v", rowErrs, want)
	}
}

func TestFilterErrors(t *testing.T) {
	ctx, mem := checkedCtx(t)
	in := makeRecord(t, mem, filterSchema, filterRows)
	defer in.Release()

	_, _, err := mustNew(t, "filter", `{"expr":"totl > 10 || id > 1"}`).Apply(ctx, in)
	if err == nil || !strings.Contains(err.Error(), `"totl"`) || !strings.Contains(err.Error(), `"id", "name", "total", "day"`) {
		t.Fatalf("unknown column error = %v", err)
	}
	// Calling something that is not a built-in function is an unknown column too.
	_, _, err = mustNew(t, "filter", `{"expr":"nofunc(id)"}`).Apply(ctx, in)
	if err == nil || !strings.Contains(err.Error(), `"nofunc"`) {
		t.Fatalf("unknown function error = %v", err)
	}
	// A non-bool result rejects every row.
	_, rowErrs := filterIDs(t, ctx, in, "name")
	if len(rowErrs) != 4 || !strings.Contains(rowErrs[0].Reason, "not a bool") {
		t.Fatalf("non-bool row errors = %v", rowErrs)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := mustNew(t, "filter", `{"expr":"true"}`).Apply(cctx, in); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled Apply error = %v", err)
	}
}

func TestFilterKeepsAllReturnsInput(t *testing.T) {
	ctx, mem := checkedCtx(t)
	in := makeRecord(t, mem, filterSchema, filterRows)
	defer in.Release()
	out, _, err := mustNew(t, "filter", `{"expr":"id > 0"}`).Apply(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	out.Release()
	if out != in {
		t.Error("filter keeping every row should return the (retained) input")
	}
}

func flowChain(t testing.TB) Transform {
	return Chain([]Transform{
		mustNew(t, "select", `{"columns":["id","name","amount"]}`),
		mustNew(t, "rename", `{"columns":{"amount":"total"}}`),
		mustNew(t, "cast", `{"columns":{"id":"string","total":"float64"}}`),
		mustNew(t, "filter", `{"expr":"total > 10 && name != 'x'"}`),
	})
}

func TestChain(t *testing.T) {
	ctx, mem := checkedCtx(t)
	in := makeRecord(t, mem, sampleSchema, sampleRows)
	defer in.Release()

	out, rowErrs, err := flowChain(t).Apply(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Release()
	if got := fieldNames(out); !eqStrings(got, []string{"id", "name", "total"}) {
		t.Fatalf("columns = %v", got)
	}
	if got, want := rowsJSON(t, out), `{"id":"4","name":null,"total":12.25}`; got != want {
		t.Fatalf("rows = %s, want %s", got, want)
	}
	want := []RowError{
		{Row: 2, Record: `{"id":3,"name":"b","total":"abc"}`, Reason: `cast column "total" to float64: cannot parse "abc"`},
		// Row 3 of the batch the filter received (input row 5).
		{Row: 3, Record: `{"id":"5","name":"c","total":null}`,
			Reason: `filter "total > 10 && name != 'x'": invalid operation: <nil> > int (1:7) (total=null, name="c")`},
	}
	if !reflect.DeepEqual(rowErrs, want) {
		t.Fatalf("row errors = %#v\nwant %#v", rowErrs, want)
	}

	// Errors name the failing stage; intermediates are released (checked
	// allocator).
	bad := Chain([]Transform{
		mustNew(t, "rename", `{"columns":{"amount":"total"}}`),
		mustNew(t, "select", `{"columns":["amount"]}`),
	})
	if _, _, err := bad.Apply(ctx, in); err == nil || !strings.HasPrefix(err.Error(), "transforms[1]: select:") {
		t.Fatalf("chain error = %v", err)
	}

	// A zero-row batch flows through every stage.
	empty := makeRecord(t, mem, sampleSchema, `[]`)
	defer empty.Release()
	eout, rowErrs, err := flowChain(t).Apply(ctx, empty)
	if err != nil || len(rowErrs) != 0 {
		t.Fatalf("empty batch: %v %v", rowErrs, err)
	}
	if eout.NumRows() != 0 || !eqStrings(fieldNames(eout), []string{"id", "name", "total"}) ||
		eout.Schema().Field(2).Type.ID() != arrow.FLOAT64 {
		t.Fatalf("empty batch output schema %s rows %d", eout.Schema(), eout.NumRows())
	}
	eout.Release()

	// An empty chain passes the input through.
	same, rowErrs, err := Chain(nil).Apply(ctx, in)
	if err != nil || rowErrs != nil || same != in {
		t.Fatalf("empty chain = %v %v %v", same, rowErrs, err)
	}
	same.Release()
}

func TestConcurrentApply(t *testing.T) {
	ctx, mem := checkedCtx(t)
	in := makeRecord(t, mem, sampleSchema, sampleRows)
	defer in.Release()
	tr := flowChain(t)

	ref, refErrs, err := tr.Apply(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := rowsJSON(t, ref)
	ref.Release()

	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				out, rowErrs, err := tr.Apply(ctx, in)
				if err != nil {
					errs <- err.Error()
					return
				}
				var sb strings.Builder
				if err := array.RecordToJSON(out, &sb); err != nil {
					errs <- err.Error()
				}
				out.Release()
				if got := strings.TrimSpace(sb.String()); got != want || !reflect.DeepEqual(rowErrs, refErrs) {
					errs <- "mismatch: " + got
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
