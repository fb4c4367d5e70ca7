package transform

import (
	"context"
	"fmt"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/invopop/jsonschema"
)

// renameConfig is the config of the "rename" transform.
type renameConfig struct {
	Columns map[string]string `json:"columns" jsonschema:"required" jsonschema_description:"Map of old column name to new column name."`
}

// JSONSchemaExtend requires at least one rename and non-empty new names.
func (renameConfig) JSONSchemaExtend(s *jsonschema.Schema) {
	if p, ok := s.Properties.Get("columns"); ok {
		one := uint64(1)
		p.MinProperties = &one
		if p.AdditionalProperties != nil {
			p.AdditionalProperties.MinLength = &one
		}
	}
}

type renameTransform struct {
	columns map[string]string
	olds    []string // sorted old names, for deterministic error reporting
}

func newRename(cfg *renameConfig) (Transform, error) {
	if len(cfg.Columns) == 0 {
		return nil, configErr("columns", "must rename at least one column")
	}
	olds := make([]string, 0, len(cfg.Columns))
	for old := range cfg.Columns {
		olds = append(olds, old)
	}
	sort.Strings(olds)
	targets := make(map[string]string, len(olds))
	cols := make(map[string]string, len(olds))
	for _, old := range olds {
		nw := cfg.Columns[old]
		path := "columns." + old
		if old == "" {
			return nil, configErr(path, "column name must not be empty")
		}
		if nw == "" {
			return nil, configErr(path, "new name must not be empty")
		}
		if prev, ok := targets[nw]; ok {
			return nil, configErr(path, "new name %q is also the new name of column %q", nw, prev)
		}
		targets[nw] = old
		cols[old] = nw
	}
	return &renameTransform{columns: cols, olds: olds}, nil
}

// Apply implements Transform.
func (t *renameTransform) Apply(ctx context.Context, rec arrow.Record) (arrow.Record, []RowError, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("rename: %w", err)
	}
	s := rec.Schema()
	for _, old := range t.olds {
		if _, ok := columnIndex(s, old); !ok {
			return nil, nil, missingColumn("rename", old, s)
		}
	}
	fields := make([]arrow.Field, s.NumFields())
	names := make(map[string]bool, len(fields))
	for i, f := range s.Fields() {
		if nw, ok := t.columns[f.Name]; ok {
			f.Name = nw
		}
		fields[i] = f
	}
	for _, f := range fields {
		if names[f.Name] {
			return nil, nil, fmt.Errorf("rename: output would contain column %q twice (input columns: %s)",
				f.Name, availableColumns(s))
		}
		names[f.Name] = true
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, schemaMetadata(s)), rec.Columns(), rec.NumRows())
	return out, nil, nil
}
