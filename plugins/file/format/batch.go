package format

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DefaultBatchSize is the number of rows per batch used when a reader is
// created with a batch size <= 0.
const DefaultBatchSize = 8192

// batch accumulates converted rows into Arrow builders.
type batch struct {
	kinds []kind
	size  int
	rows  int
	rb    *array.RecordBuilder
	b     []array.Builder
}

func newBatch(s Schema, size int, mem memory.Allocator) (*batch, error) {
	kinds, err := s.kinds()
	if err != nil {
		return nil, err
	}
	as, err := s.Arrow()
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		size = DefaultBatchSize
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	rb := array.NewRecordBuilder(mem, as)
	bt := &batch{kinds: kinds, size: size, rb: rb, b: rb.Fields()}
	bt.rb.Reserve(size)
	return bt, nil
}

func (bt *batch) full() bool { return bt.rows >= bt.size }

// appendRow appends one row of converted cells (one per column).
func (bt *batch) appendRow(cells []cell) {
	for i := range cells {
		c := &cells[i]
		b := bt.b[i]
		if c.null {
			b.AppendNull()
			continue
		}
		switch bt.kinds[i] {
		case kindInt64:
			b.(*array.Int64Builder).Append(c.i)
		case kindFloat64:
			b.(*array.Float64Builder).Append(c.f)
		case kindBool:
			b.(*array.BooleanBuilder).Append(c.i != 0)
		case kindString:
			sb := b.(*array.StringBuilder)
			if c.raw {
				sb.BinaryBuilder.Append(c.b)
			} else {
				// Append copies the bytes, so viewing the string's bytes
				// without a copy is safe.
				sb.BinaryBuilder.Append(unsafe.Slice(unsafe.StringData(c.s), len(c.s)))
			}
		case kindTimestamp:
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(c.i))
		case kindDate:
			b.(*array.Date32Builder).Append(arrow.Date32(c.i))
		}
	}
	bt.rows++
}

// flush returns the accumulated rows as a record, or nil when there are none.
func (bt *batch) flush() arrow.RecordBatch {
	if bt.rows == 0 {
		return nil
	}
	rec := bt.rb.NewRecordBatch()
	bt.rows = 0
	bt.rb.Reserve(bt.size)
	return rec
}

// release frees the builders.
func (bt *batch) release() {
	if bt.rb != nil {
		bt.rb.Release()
		bt.rb = nil
	}
}
