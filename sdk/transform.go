package sdk

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
)

// Transform is custom per-batch logic in a plugin: batch in, batch out.
// Process is called from one goroutine per transform instance.
type Transform interface {
	// Process returns the transformed batch (nil when every row is dropped)
	// and the rows it refused. The SDK releases both records afterwards.
	Process(ctx context.Context, rec arrow.RecordBatch) (arrow.RecordBatch, []Rejected, error)
}
