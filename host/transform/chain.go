package transform

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

type chain []Transform

// Chain returns a Transform that applies ts in order, feeding each stage the
// previous stage's output and releasing intermediate batches. Row errors of
// all stages are concatenated in stage order; each RowError.Row is relative
// to the batch that its stage received. A stage's error fails the batch and
// is wrapped with the stage's position ("transforms[i]: ..."). An empty
// chain returns its input (retained).
func Chain(ts []Transform) Transform {
	return chain(append([]Transform(nil), ts...))
}

// Apply implements Transform.
func (c chain) Apply(ctx context.Context, rec arrow.Record) (arrow.Record, []RowError, error) {
	rec.Retain()
	cur := rec
	var all []RowError
	for i, t := range c {
		out, rowErrs, err := t.Apply(ctx, cur)
		cur.Release()
		if err != nil {
			return nil, nil, fmt.Errorf("transforms[%d]: %w", i, err)
		}
		all = append(all, rowErrs...)
		cur = out
	}
	return cur, all, nil
}
