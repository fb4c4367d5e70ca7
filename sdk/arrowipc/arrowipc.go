// Package arrowipc encodes Arrow record batches for the plugin protocol: each
// payload is one complete Arrow IPC stream holding a schema message and exactly
// one record batch, so every batch can be decoded on its own.
package arrowipc

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Encode serialises rec as an IPC stream. It does not release rec.
func Encode(rec arrow.RecordBatch) ([]byte, error) {
	var buf bytes.Buffer
	// Room for the buffers (each padded to 8 bytes) and the messages up
	// front: growing from nothing copies a large batch several times over.
	size := 4096
	for _, col := range rec.Columns() {
		size += dataSize(col.Data())
	}
	buf.Grow(min(size, 64<<20)) // a slice's buffers may be far larger than it
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("encode arrow batch: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode arrow batch: %w", err)
	}
	return buf.Bytes(), nil
}

// dataSize is the bytes of d's buffers and its children's, each padded to
// the 8 bytes IPC aligns them to.
func dataSize(d arrow.ArrayData) int {
	n := 0
	for _, b := range d.Buffers() {
		if b != nil {
			n += (b.Len() + 7) &^ 7
		}
	}
	for _, c := range d.Children() {
		n += dataSize(c)
	}
	return n
}

// EncodeSchema serialises a schema alone (an IPC stream with no batches).
func EncodeSchema(schema *arrow.Schema) ([]byte, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode arrow schema: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeSchema reads the schema of an IPC stream.
func DecodeSchema(b []byte) (*arrow.Schema, error) {
	r, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decode arrow schema: %w", err)
	}
	defer r.Release()
	return r.Schema(), nil
}

// Decode reads the single record batch of an IPC stream produced by Encode.
// The caller releases the result.
func Decode(b []byte, mem memory.Allocator) (arrow.RecordBatch, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	r, err := ipc.NewReader(bytes.NewReader(b), ipc.WithAllocator(mem))
	if err != nil {
		return nil, fmt.Errorf("decode arrow batch: %w", err)
	}
	defer r.Release()
	if !r.Next() {
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("decode arrow batch: %w", err)
		}
		return nil, errors.New("decode arrow batch: stream holds no record batch")
	}
	rec := r.RecordBatch()
	rec.Retain()
	return rec, nil
}
