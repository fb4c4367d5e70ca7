package iceberg

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

var (
	partCall  = regexp.MustCompile(`^\s*([a-z]+)\s*\(\s*(?:(\d+)\s*,\s*)?([^(),\s]+)\s*\)\s*$`)
	partIdent = regexp.MustCompile(`^\s*([^(),\s]+)\s*$`)
)

// parsePartitionField reads one partition_by entry: a column name (identity)
// or transform(column), bucket(n, column), truncate(n, column).
func parsePartitionField(s string) (col string, tr iceberg.Transform, name string, err error) {
	if m := partIdent.FindStringSubmatch(s); m != nil {
		return m[1], iceberg.IdentityTransform{}, m[1], nil
	}
	m := partCall.FindStringSubmatch(s)
	if m == nil {
		return "", nil, "", fmt.Errorf("cannot read partition field %q: use a column, or year(c), month(c), day(c), hour(c), identity(c), bucket(n, c), truncate(n, c)", s)
	}
	fn, n, col := m[1], m[2], m[3]
	switch fn {
	case "bucket", "truncate":
		if n == "" {
			return "", nil, "", fmt.Errorf("partition field %q: %s needs a width: %s(16, %s)", s, fn, fn, col)
		}
		w, err := strconv.Atoi(n)
		if err != nil || w <= 0 {
			return "", nil, "", fmt.Errorf("partition field %q: bad width %q", s, n)
		}
		if fn == "bucket" {
			return col, iceberg.BucketTransform{NumBuckets: w}, col + "_bucket", nil
		}
		return col, iceberg.TruncateTransform{Width: w}, col + "_trunc", nil
	case "identity", "year", "month", "day", "hour":
		if n != "" {
			return "", nil, "", fmt.Errorf("partition field %q: %s takes only a column", s, fn)
		}
		tr, err := iceberg.ParseTransform(fn)
		if err != nil {
			return "", nil, "", fmt.Errorf("partition field %q: %w", s, err)
		}
		if fn == "identity" {
			return col, tr, col, nil
		}
		return col, tr, col + "_" + fn, nil
	}
	return "", nil, "", fmt.Errorf("partition field %q: unknown transform %q (use year, month, day, hour, identity, bucket, truncate)", s, fn)
}

// partitionSpec builds the spec of partition_by against schema.
func partitionSpec(fields []string, schema *iceberg.Schema) (*iceberg.PartitionSpec, error) {
	if len(fields) == 0 {
		return iceberg.UnpartitionedSpec, nil
	}
	var opts []iceberg.PartitionOption
	for _, f := range fields {
		col, tr, name, err := parsePartitionField(f)
		if err != nil {
			return nil, err
		}
		if _, ok := schema.FindFieldByName(col); !ok {
			return nil, fmt.Errorf("partition field %q: the data has no column %q", f, col)
		}
		opts = append(opts, iceberg.AddPartitionFieldByName(col, name, tr, schema, nil))
	}
	spec, err := iceberg.NewPartitionSpecOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("partition_by: %w", err)
	}
	return &spec, nil
}

// icebergSchema converts the data's Arrow schema to a new table's schema.
func icebergSchema(sc *arrow.Schema) (*iceberg.Schema, error) {
	s, err := table.ArrowSchemaToIcebergWithFreshIDs(sc, true)
	if err != nil {
		return nil, fmt.Errorf("convert the data's Arrow schema to an Iceberg schema: %w", err)
	}
	return s, nil
}

// newColumns lists the top-level columns of the data that the table lacks.
func newColumns(tbl *table.Table, sc *arrow.Schema) []arrow.Field {
	ts := tbl.Schema()
	var out []arrow.Field
	for _, f := range sc.Fields() {
		if _, ok := ts.FindFieldByName(f.Name); ok {
			continue
		}
		out = append(out, f)
	}
	return out
}

// describeFields renders column names for errors.
func describeFields(fs []arrow.Field) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%s (%s)", f.Name, f.Type)
	}
	return strings.Join(parts, ", ")
}
