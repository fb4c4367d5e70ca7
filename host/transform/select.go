package transform

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/invopop/jsonschema"
)

// selectConfig is the config of the "select" transform.
type selectConfig struct {
	Columns []string `json:"columns" jsonschema:"required,minItems=1,uniqueItems=true" jsonschema_description:"Columns to keep, in output order."`
}

// JSONSchemaExtend forbids empty column names in the generated schema.
func (selectConfig) JSONSchemaExtend(s *jsonschema.Schema) {
	if p, ok := s.Properties.Get("columns"); ok && p.Items != nil {
		one := uint64(1)
		p.Items.MinLength = &one
	}
}

type selectTransform struct {
	columns []string
}

func newSelect(cfg *selectConfig) (Transform, error) {
	if len(cfg.Columns) == 0 {
		return nil, configErr("columns", "must list at least one column")
	}
	seen := make(map[string]bool, len(cfg.Columns))
	for i, c := range cfg.Columns {
		path := fmt.Sprintf("columns[%d]", i)
		if c == "" {
			return nil, configErr(path, "column name must not be empty")
		}
		if seen[c] {
			return nil, configErr(path, "duplicate column %q", c)
		}
		seen[c] = true
	}
	return &selectTransform{columns: append([]string(nil), cfg.Columns...)}, nil
}

func (t *selectTransform) inputColumns() []string { return t.columns }

// Apply implements Transform.
func (t *selectTransform) Apply(ctx context.Context, rec arrow.Record) (arrow.Record, []RowError, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("select: %w", err)
	}
	s := rec.Schema()
	fields := make([]arrow.Field, len(t.columns))
	cols := make([]arrow.Array, len(t.columns))
	for i, name := range t.columns {
		idx, ok := columnIndex(s, name)
		if !ok {
			return nil, nil, missingColumn("select", name, s)
		}
		fields[i] = s.Field(idx)
		cols[i] = rec.Column(idx)
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, schemaMetadata(s)), cols, rec.NumRows())
	return out, nil, nil
}
