package format

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// DefaultRowGroupSize is the rows per row group the Parquet writer uses by
// default.
const DefaultRowGroupSize = 128 * 1024

// ParquetInfo is what planning needs of a Parquet file: its Arrow schema
// (the stored ARROW:schema when the writer kept one, else the one derived
// from the Parquet schema) and the compressed size of each row group.
type ParquetInfo struct {
	Schema        *arrow.Schema
	RowGroupBytes []int64
	RowGroupRows  []int64
	// RowGroupStored is each row group's size in the file (its compressed
	// column chunks), for progress in bytes of the file read.
	RowGroupStored []int64
}

// ReadParquetInfo reads a Parquet file's footer.
func ReadParquetInfo(path string) (*ParquetInfo, error) {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	return parquetInfo(pf)
}

// ReadParquetInfoFrom reads the footer of the Parquet file r (an object
// read with ranged reads, say).
func ReadParquetInfoFrom(r parquet.ReaderAtSeeker) (*ParquetInfo, error) {
	pf, err := file.NewParquetReader(r)
	if err != nil {
		return nil, err
	}
	defer pf.Close()
	return parquetInfo(pf)
}

func parquetInfo(pf *file.Reader) (*ParquetInfo, error) {
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	sc, err := fr.Schema()
	if err != nil {
		return nil, err
	}
	info := &ParquetInfo{Schema: sc}
	for i := 0; i < pf.NumRowGroups(); i++ {
		md := pf.MetaData().RowGroup(i)
		info.RowGroupBytes = append(info.RowGroupBytes, md.TotalByteSize())
		info.RowGroupRows = append(info.RowGroupRows, md.NumRows())
		info.RowGroupStored = append(info.RowGroupStored, storedSize(md))
	}
	return info, nil
}

// storedSize is a row group's compressed size: the footer's total when the
// writer set it (it is optional), else the sum of its column chunks'.
func storedSize(md *metadata.RowGroupMetaData) int64 {
	if n := md.TotalCompressedSize(); n > 0 {
		return n
	}
	var n int64
	for i := 0; i < md.NumColumns(); i++ {
		if cc, err := md.ColumnChunk(i); err == nil {
			n += cc.TotalCompressedSize()
		}
	}
	return n
}

// SchemaSignature renders an Arrow schema's field names, types and
// nullability (not its metadata), to compare the schemas of two files.
func SchemaSignature(s *arrow.Schema) string {
	out := ""
	for i, f := range s.Fields() {
		if i > 0 {
			out += ", "
		}
		out += f.Name + ": " + f.Type.String()
		if !f.Nullable {
			out += " not null"
		}
	}
	return out
}

// parquetReader reads row groups [rg, end) of a Parquet file, resuming at
// row `row` of row group rg. Its position is (row group, rows of it read).
type parquetReader struct {
	pf        *file.Reader
	fr        *pqarrow.FileReader
	rg, end   int
	row       int64
	batchSize int
	// leaves are the leaf columns read; nil: all.
	leaves []int
	rr     pqarrow.RecordReader
	err    error
}

// NewParquetReader returns a RecordReader over row groups [rgStart, rgEnd)
// of the Parquet file at path, starting at row group rg, row row of it
// (the Position of an earlier reader), in batches of at most batchSize rows
// that never span row groups. With columns, only those top-level columns are
// read (their column chunks alone are fetched), unless the file lacks one of
// them: then all are, so whatever names the missing column reports it
// against the file's whole schema.
func NewParquetReader(path string, rg, rgEnd int, row int64, batchSize int, columns []string, mem memory.Allocator) (RecordReader, error) {
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, err
	}
	return newParquetReader(pf, rg, rgEnd, row, batchSize, columns, mem)
}

// NewParquetReaderFrom is NewParquetReader over r instead of a local file.
func NewParquetReaderFrom(r parquet.ReaderAtSeeker, rg, rgEnd int, row int64, batchSize int, columns []string, mem memory.Allocator) (RecordReader, error) {
	if batchSize <= 0 {
		batchSize = DefaultBatchSize
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	pf, err := file.NewParquetReader(r)
	if err != nil {
		return nil, err
	}
	return newParquetReader(pf, rg, rgEnd, row, batchSize, columns, mem)
}

func newParquetReader(pf *file.Reader, rg, rgEnd int, row int64, batchSize int, columns []string, mem memory.Allocator) (RecordReader, error) {
	if rgEnd > pf.NumRowGroups() {
		pf.Close()
		return nil, fmt.Errorf("parquet: the file has %d row groups, the split names row groups up to %d (was the file replaced?)", pf.NumRowGroups(), rgEnd)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(batchSize)}, mem)
	if err != nil {
		pf.Close()
		return nil, err
	}
	return &parquetReader{pf: pf, fr: fr, rg: rg, end: rgEnd, row: row, batchSize: batchSize, leaves: leafColumns(fr.Manifest, columns)}, nil
}

// leafColumns returns the leaf column indices of the named top-level
// fields, in file order; nil (all) for no names or when the file lacks one.
func leafColumns(m *pqarrow.SchemaManifest, names []string) []int {
	if len(names) == 0 {
		return nil
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	var leaves []int
	found := 0
	for i := range m.Fields {
		if f := &m.Fields[i]; want[f.Field.Name] {
			found++
			leaves = appendLeaves(leaves, f)
		}
	}
	if found < len(want) {
		return nil
	}
	return leaves
}

func appendLeaves(out []int, f *pqarrow.SchemaField) []int {
	if f.IsLeaf() {
		return append(out, f.ColIndex)
	}
	for i := range f.Children {
		out = appendLeaves(out, &f.Children[i])
	}
	return out
}

// Next implements RecordReader.
func (p *parquetReader) Next() (arrow.RecordBatch, []Rejected, error) {
	if p.err != nil {
		return nil, nil, p.err
	}
	for p.rg < p.end {
		if p.rr == nil && p.row >= p.pf.MetaData().RowGroup(p.rg).NumRows() {
			// Resumed at the end of a row group.
			p.rg, p.row = p.rg+1, 0
			continue
		}
		if p.rr == nil {
			rr, err := p.fr.GetRecordReader(context.Background(), p.leaves, []int{p.rg})
			if err != nil {
				p.err = fmt.Errorf("parquet: row group %d: %w", p.rg, err)
				return nil, nil, p.err
			}
			if p.row > 0 {
				if err := rr.SeekToRow(p.row); err != nil {
					rr.Release()
					p.err = fmt.Errorf("parquet: row group %d: seek to row %d: %w", p.rg, p.row, err)
					return nil, nil, p.err
				}
			}
			p.rr = rr
		}
		rec, err := p.rr.Read()
		if rec != nil && rec.NumRows() > 0 {
			rec.Retain()
			p.row += rec.NumRows()
			if p.row >= p.pf.MetaData().RowGroup(p.rg).NumRows() {
				// The row group is done: the position names the next one.
				p.rr.Release()
				p.rr = nil
				p.rg, p.row = p.rg+1, 0
			}
			return rec, nil, nil
		}
		if err != nil && err != io.EOF {
			p.err = fmt.Errorf("parquet: row group %d: %w", p.rg, err)
			return nil, nil, p.err
		}
		p.rr.Release()
		p.rr = nil
		p.rg++
		p.row = 0
	}
	return nil, nil, io.EOF
}

// Position implements RecordReader: the row group and the rows of it read.
func (p *parquetReader) Position() (int64, int64) { return int64(p.rg), p.row }

// Close releases the reader and closes the file.
func (p *parquetReader) Close() error {
	if p.rr != nil {
		p.rr.Release()
		p.rr = nil
	}
	return p.pf.Close()
}

// ParquetOptions configure the Parquet writer.
type ParquetOptions struct {
	// Compression is zstd, snappy or none.
	Compression string
	// RowGroupSize is the rows per row group (DefaultRowGroupSize if <= 0).
	RowGroupSize int64
}

// ValidCompression tells the compression names the writer knows.
func ValidCompression(c string) bool {
	switch c {
	case "zstd", "snappy", "none", "":
		return true
	}
	return false
}

// ParquetWriter writes one Parquet file. Rows are buffered into row groups
// of RowGroupSize rows; Close completes the file (its last row group and the
// footer). The Arrow schema is stored in the file (ARROW:schema), so that
// readers get back timestamps' units and zones exactly.
type ParquetWriter struct {
	cw   countingWriter
	opts ParquetOptions
	fw   *pqarrow.FileWriter
	sc   *arrow.Schema
}

// NewParquetWriter returns a writer of a Parquet file to w.
func NewParquetWriter(w io.Writer, opts ParquetOptions) *ParquetWriter {
	if opts.RowGroupSize <= 0 {
		opts.RowGroupSize = DefaultRowGroupSize
	}
	return &ParquetWriter{cw: countingWriter{w: w}, opts: opts}
}

// dictionaryWorthIt says whether a top-level column of type t is written
// with dictionary encoding: text and binary columns, whose repeated values
// the dictionary shrinks, and columns that are dictionaries already.
// Numbers and times are written plain (then compressed): hashing every
// value of an id or timestamp column into a dictionary that ends up as
// large as the column cost more than half of a sink's CPU, for files no
// smaller once compressed.
func dictionaryWorthIt(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY, arrow.DICTIONARY:
		return true
	}
	return false
}

func (p *ParquetWriter) codec() compress.Compression {
	switch p.opts.Compression {
	case "snappy":
		return compress.Codecs.Snappy
	case "none":
		return compress.Codecs.Uncompressed
	}
	return compress.Codecs.Zstd
}

// Write implements Writer. The bytes reported are those that reached the
// underlying writer, which lag behind the rows while a row group fills.
func (p *ParquetWriter) Write(rec arrow.RecordBatch) (int64, error) {
	start := p.cw.n
	if p.fw == nil {
		opts := []parquet.WriterProperty{parquet.WithCompression(p.codec()), parquet.WithMaxRowGroupLength(p.opts.RowGroupSize),
			parquet.WithAllocator(memory.DefaultAllocator), parquet.WithDictionaryDefault(false)}
		for _, f := range rec.Schema().Fields() {
			if dictionaryWorthIt(f.Type) {
				opts = append(opts, parquet.WithDictionaryFor(f.Name, true))
			}
		}
		props := parquet.NewWriterProperties(opts...)
		fw, err := pqarrow.NewFileWriter(rec.Schema(), &p.cw, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return 0, fmt.Errorf("parquet writer: %w", err)
		}
		p.fw, p.sc = fw, rec.Schema()
	} else if !p.sc.Equal(rec.Schema()) {
		return 0, fmt.Errorf("parquet writer: the batch's schema (%s) differs from the file's (%s); a Parquet file holds one schema",
			SchemaSignature(rec.Schema()), SchemaSignature(p.sc))
	}
	if err := p.fw.WriteBuffered(rec); err != nil {
		return p.cw.n - start, fmt.Errorf("parquet writer: %w", err)
	}
	return p.cw.n - start, nil
}

// Started tells whether a row was written (the file has a schema).
func (p *ParquetWriter) Started() bool { return p.fw != nil }

// Close writes the last row group and the footer, and returns the bytes
// written by it. It does not close the underlying writer.
func (p *ParquetWriter) Close() (int64, error) {
	if p.fw == nil {
		return 0, nil
	}
	start := p.cw.n
	err := p.fw.Close()
	p.fw = nil
	if err != nil {
		return p.cw.n - start, fmt.Errorf("parquet writer: %w", err)
	}
	return p.cw.n - start, nil
}

// CopyParquet appends every row of the Parquet file at path to w.
func CopyParquet(w *ParquetWriter, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return CopyParquetFrom(w, f, path)
}

// CopyParquetFrom appends every row of the Parquet file r (named path in
// errors) to w.
func CopyParquetFrom(w *ParquetWriter, r parquet.ReaderAtSeeker, path string) error {
	pf, err := file.NewParquetReader(r)
	if err != nil {
		return fmt.Errorf("parquet: read %s: %w", path, err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return fmt.Errorf("parquet: read %s: %w", path, err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		return fmt.Errorf("parquet: read %s: %w", path, err)
	}
	defer rr.Release()
	for {
		rec, err := rr.Read()
		if rec != nil && rec.NumRows() > 0 {
			if _, werr := w.Write(rec); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("parquet: read %s: %w", path, err)
		}
		if rec == nil {
			return nil
		}
	}
}
