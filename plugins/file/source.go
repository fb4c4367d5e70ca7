package file

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"gocloud.dev/blob"

	"github.com/activedataflow/adf/plugins/file/format"
	"github.com/activedataflow/adf/sdk"
)

// Split is one file, or one byte range of a file (FLIP-27 FileSourceSplit).
// Offset and Line are the reader's position inside the range.
//
// A Parquet split is a range of row groups [Start, End) of a file; its
// position is Offset, the row group being read, and Line, the rows of it
// already emitted. StartLine is unused and Schema empty (the file carries
// its own); Stored holds each of its row groups' sizes in the file, for
// progress.
//
// Lead is, for a file's first range, the bytes before it that no range
// holds (a CSV header): they count as part of the split's size, so that the
// splits of a file add up to its size.
type Split struct {
	Path      string        `json:"path"`
	Format    string        `json:"format"`
	Start     int64         `json:"start"`
	End       int64         `json:"end"`
	StartLine int64         `json:"start_line"`
	Offset    int64         `json:"offset"`
	Line      int64         `json:"line"`
	Size      int64         `json:"size"`
	Schema    format.Schema `json:"schema"`
	Stored    []int64       `json:"stored,omitempty"`
	Lead      int64         `json:"lead,omitempty"`
}

// SplitID implements sdk.Split.
func (s *Split) SplitID() string { return fmt.Sprintf("%s:%d-%d", s.Path, s.Start, s.End) }

// SizeBytes implements sdk.SizedSplit: the bytes of the file the split
// covers (its byte range, or its row groups' stored sizes).
func (s *Split) SizeBytes() int64 {
	if s.Format != FormatParquet {
		return s.End - s.Start + s.Lead
	}
	var n int64
	for _, b := range s.Stored {
		n += b
	}
	return n
}

// consumed is how many bytes of the split reading from position from to
// position to went over (to the split's end at eof), for progress: over a
// whole split they add up to SizeBytes.
func (s *Split) consumed(from, to int64, eof bool) int64 {
	if s.Format == FormatParquet {
		// Positions are row groups: a row group counts once it is read.
		lo, hi := int(from-s.Start), len(s.Stored)
		if !eof {
			hi = int(to - s.Start)
		}
		var n int64
		for i := max(lo, 0); i < min(hi, len(s.Stored)); i++ {
			n += s.Stored[i]
		}
		return n
	}
	clamp := func(off int64) int64 { return min(max(off, s.Start), s.End) }
	if eof {
		to = s.End
	}
	n := max(clamp(to)-clamp(from), 0)
	if from <= s.Start {
		// The first read of the split: its lead (the header) too.
		n += s.Lead
	}
	return n
}

type source struct {
	cfg *SourceConfig
}

func newSource(cfg *SourceConfig) (*source, error) { return &source{cfg: cfg}, nil }

// Boundedness implements sdk.Source.
func (s *source) Boundedness() sdk.Boundedness {
	if s.cfg.Mode == "continuous" {
		return sdk.ContinuousUnbounded
	}
	return sdk.Bounded
}

// DecodeSplit implements sdk.Source.
func (s *source) DecodeSplit(_ string, data []byte) (sdk.Split, error) {
	var sp Split
	if err := json.Unmarshal(data, &sp); err != nil {
		return nil, fmt.Errorf("decode file split: %w", err)
	}
	return &sp, nil
}

// enumState is the enumerator's checkpoint.
type enumState struct {
	Pending []*Split `json:"pending"`
	Seen    []string `json:"seen"`
	// ParquetFirst and ParquetSchema are the first Parquet file planned and
	// its schema's signature, which every later one must match.
	ParquetFirst  string `json:"parquet_first,omitempty"`
	ParquetSchema string `json:"parquet_schema,omitempty"`
}

// CreateEnumerator implements sdk.Source.
func (s *source) CreateEnumerator(ctx sdk.SplitEnumeratorContext) (sdk.SplitEnumerator, error) {
	return &enumerator{cfg: s.cfg, ctx: ctx, seen: map[string]bool{}, waiting: map[int]bool{}}, nil
}

// RestoreEnumerator implements sdk.Source.
func (s *source) RestoreEnumerator(ctx sdk.SplitEnumeratorContext, state []byte) (sdk.SplitEnumerator, error) {
	var st enumState
	if err := json.Unmarshal(state, &st); err != nil {
		return nil, fmt.Errorf("restore file enumerator: %w", err)
	}
	e := &enumerator{cfg: s.cfg, ctx: ctx, seen: map[string]bool{}, waiting: map[int]bool{}, pending: st.Pending, restored: true,
		pqFirst: st.ParquetFirst, pqSchema: st.ParquetSchema}
	for _, p := range st.Seen {
		e.seen[p] = true
	}
	return e, nil
}

// CreateReader implements sdk.Source.
func (s *source) CreateReader(ctx sdk.SourceReaderContext) (sdk.SourceReader, error) {
	return &reader{cfg: s.cfg, mem: memory.NewGoAllocator(), splits: sdk.NewSplitQueue[*Split](ctx), columns: sdk.ProjectedColumns(ctx)}, nil
}

// enumerator discovers files and hands out their splits, one per request.
type enumerator struct {
	cfg      *SourceConfig
	ctx      sdk.SplitEnumeratorContext
	pending  []*Split
	seen     map[string]bool
	waiting  map[int]bool
	restored bool
	// pqFirst and pqSchema: see enumState.
	pqFirst, pqSchema string
	// obj and bucket: an object-store path (nil for a local one).
	obj    *objURL
	bucket *blob.Bucket
	sizes  map[string]int64 // object sizes of the last listing
}

// openBucket opens the bucket of an object-store path once.
func (e *enumerator) openBucket(ctx context.Context) error {
	if e.bucket != nil {
		return nil
	}
	o, err := parseObjURL(e.cfg.Path)
	if err != nil {
		return err
	}
	b, err := openBucket(ctx, o, e.cfg.stores())
	if err != nil {
		return err
	}
	e.obj, e.bucket = o, b
	return nil
}

// list lists the input: local files, or objects.
func (e *enumerator) list(ctx context.Context) ([]string, error) {
	if !isURL(e.cfg.Path) {
		return listFiles(e.cfg)
	}
	if err := e.openBucket(ctx); err != nil {
		return nil, err
	}
	objs, err := listObjects(ctx, e.bucket, e.obj, e.cfg.Format != "", 0)
	if err != nil {
		return nil, err
	}
	e.sizes = map[string]int64{}
	names := make([]string, 0, len(objs))
	for _, o := range objs {
		names = append(names, o.Name)
		e.sizes[o.Name] = o.Size
	}
	return names, nil
}

// input is an opened input file or object.
type input struct {
	ra    io.ReaderAt
	size  int64
	close func()
	// rs is the object reader (nil for a local file).
	rs *rangeReaderAt
}

// openInput opens a local file, or an object for ranged reads.
func (e *enumerator) openInput(ctx context.Context, path string) (*input, error) {
	if e.obj == nil {
		f, err := os.Open(path)
		if err != nil {
			return nil, fileError(err, "", "open input %s", path)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fileError(err, "", "stat input %s", path)
		}
		return &input{ra: f, size: st.Size(), close: func() { f.Close() }}, nil
	}
	key, err := objectKey(path)
	if err != nil {
		return nil, err
	}
	size, ok := e.sizes[path]
	if !ok {
		attrs, err := e.bucket.Attributes(ctx, key)
		if err != nil {
			return nil, objError(err, "look up input %s", path)
		}
		size = attrs.Size
	}
	rs := newRangeReaderAt(ctx, e.bucket, key, size)
	return &input{ra: rs, size: size, close: func() {}, rs: rs}, nil
}

// Start implements sdk.SplitEnumerator.
func (e *enumerator) Start(ctx context.Context) error {
	if e.restored {
		if err := e.announce(e.pending); err != nil {
			return err
		}
	} else {
		if err := e.discover(ctx); err != nil {
			return err
		}
		if len(e.seen) == 0 && e.cfg.Mode != "continuous" {
			if isURL(e.cfg.Path) {
				return &sdk.Error{Code: sdk.CodeNotFound, Field: "path", Summary: fmt.Sprintf("no input object matches %s", stripQuery(e.cfg.Path)),
					Detail: "a glob is matched on keys; a key that is no object is a prefix whose objects are taken by extension (.csv, .tsv, .json, .jsonl, .ndjson, .parquet, .pq; hidden ones skipped) unless format is set"}
			}
			if hasGlob(e.cfg.Path) {
				return missingInput(e.cfg.Path)
			}
			return &sdk.Error{Code: sdk.CodeNotFound, Field: "path", Summary: fmt.Sprintf("directory %s holds no input files", e.cfg.Path),
				Detail: "files are taken by extension (.csv, .tsv, .json, .jsonl, .ndjson, .parquet, .pq; hidden ones skipped) unless format is set"}
		}
	}
	if e.cfg.Mode == "continuous" {
		e.ctx.CallPeriodically(e.cfg.Discover.D(), func(ctx context.Context) error {
			if err := e.discover(ctx); err != nil {
				return err
			}
			return e.serveWaiting()
		})
	}
	return nil
}

// discover finds files not seen before and plans their splits.
func (e *enumerator) discover(ctx context.Context) error {
	files, err := e.list(ctx)
	if err != nil {
		return err
	}
	for _, path := range files {
		if e.seen[path] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		splits, err := e.plan(ctx, path)
		if errors.Is(err, errIncompleteParquet) && e.cfg.Mode == "continuous" {
			// Probably still being written: looked at again by the next
			// discovery, not marked seen.
			continue
		}
		if err != nil {
			return err
		}
		e.seen[path] = true
		e.pending = append(e.pending, splits...)
		if err := e.announce(splits); err != nil {
			return err
		}
	}
	return nil
}

// announce tells the host about planned splits not assigned yet, for its
// progress (pending splits and the input's size).
func (e *enumerator) announce(splits []*Split) error {
	out := make([]sdk.Split, 0, len(splits))
	for _, s := range splits {
		out = append(out, s)
	}
	return sdk.AnnounceSplits(e.ctx, out...)
}

// listFiles expands the configured path: a file, a directory (its files,
// recursively, hidden ones skipped) or a glob.
func listFiles(cfg *SourceConfig) ([]string, error) {
	var out []string
	if hasGlob(cfg.Path) {
		matches, err := filepath.Glob(cfg.Path)
		if err != nil {
			return nil, sdk.ConfigError("path", "bad glob %q: %v", cfg.Path, err)
		}
		for _, m := range matches {
			if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
				out = append(out, m)
			}
		}
		sort.Strings(out)
		return out, nil
	}
	st, err := os.Stat(cfg.Path)
	if errors.Is(err, fs.ErrNotExist) {
		if cfg.Mode == "continuous" {
			return nil, nil
		}
		return nil, missingInput(cfg.Path)
	}
	if err != nil {
		e := fileError(err, "", "stat input %s", cfg.Path)
		e.Field = "path"
		return nil, e
	}
	if !st.IsDir() {
		return []string{cfg.Path}, nil
	}
	err = filepath.WalkDir(cfg.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != cfg.Path {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && (cfg.Format != "" || formatOf(p) != "") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		e := fileError(err, "", "list input directory %s", cfg.Path)
		e.Field = "path"
		return nil, e
	}
	sort.Strings(out)
	return out, nil
}

// Bounds of the default split size.
const (
	minAutoSplit = 4 << 20
	maxAutoSplit = 64 << 20
)

// splitSize is the byte-range size of a file's splits: the config's
// split_size, or by default the file cut into two splits per reader (every
// reader gets work, and a faster one takes more), no smaller than 4 MiB
// (splitting smaller files costs more than it gives) and no larger than
// 64 MiB (a reader's memory and its checkpoint position stay bounded).
func (e *enumerator) splitSize(fileSize int64) int64 {
	if e.cfg.SplitSize > 0 {
		return e.cfg.SplitSize
	}
	p := int64(max(1, e.ctx.Parallelism()))
	return min(max((fileSize+2*p-1)/(2*p), minAutoSplit), maxAutoSplit)
}

// plan infers a file's schema (unless given) and cuts it into splits.
func (e *enumerator) plan(ctx context.Context, path string) ([]*Split, error) {
	in, err := e.openInput(ctx, path)
	if err != nil {
		return nil, err
	}
	defer in.close()
	f, size := in.ra, in.size
	fmtName := e.cfg.formatFor(path)
	if e.obj != nil {
		key, _ := objectKey(path)
		fmtName = e.cfg.formatFor(key)
	}
	if fmtName == "" {
		return nil, sdk.ConfigError("format", "cannot tell the format of %s from its extension; set format: csv, json, jsonl or parquet", path)
	}
	if fmtName == FormatParquet {
		return e.planParquet(path, size, in.rs)
	}
	schema := format.Schema(e.cfg.Schema)
	if len(schema) == 0 {
		head := io.NewSectionReader(f, 0, size)
		switch fmtName {
		case FormatCSV:
			schema, err = format.InferCSV(head, e.cfg.csvOptions(), e.cfg.InferRows)
		case FormatJSON:
			schema, err = format.InferJSON(head, true, e.cfg.InferRows)
		default:
			schema, err = format.InferJSON(head, false, e.cfg.InferRows)
		}
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return nil, fileError(err, "", "read %s to infer its schema", path)
			}
			return nil, &sdk.Error{Code: sdk.CodeBadRecord, Summary: fmt.Sprintf("infer the schema of %s: %v", path, err),
				Detail: "set an explicit schema in the source config", Err: fmt.Errorf("infer the schema of %s: %w", path, err)}
		}
	}
	var ranges []format.Range
	switch fmtName {
	case FormatCSV:
		ranges, err = format.PlanCSVRanges(f, size, e.splitSize(size), e.cfg.csvOptions())
	case FormatJSONL:
		ranges, err = format.PlanRanges(f, size, e.splitSize(size), false)
	default:
		if size > 0 {
			ranges = []format.Range{{Start: 0, End: size, StartLine: 1}}
		}
	}
	if err != nil {
		return nil, readError(err, "plan splits of %s", path)
	}
	out := make([]*Split, 0, len(ranges))
	for i, r := range ranges {
		sp := &Split{Path: path, Format: fmtName, Start: r.Start, End: r.End, StartLine: r.StartLine,
			Offset: r.Start, Line: r.StartLine, Size: size, Schema: schema}
		if i == 0 {
			sp.Lead = r.Start
		}
		out = append(out, sp)
	}
	return out, nil
}

// errIncompleteParquet: a Parquet file's footer cannot be read.
var errIncompleteParquet = errors.New("incomplete Parquet file")

// planParquet cuts a Parquet file into splits of whole row groups: one per
// row group, or with split_size consecutive row groups of about that many
// bytes. Every file must have the schema of the first one.
func (e *enumerator) planParquet(path string, size int64, obj *rangeReaderAt) ([]*Split, error) {
	var info *format.ParquetInfo
	var err error
	if obj != nil {
		info, err = format.ReadParquetInfoFrom(obj)
	} else {
		info, err = format.ReadParquetInfo(path)
	}
	if err != nil {
		return nil, &sdk.Error{Code: sdk.CodeBadRecord, Summary: fmt.Sprintf("read the Parquet footer of %s: %v", path, err),
			Detail: "the file is not a complete Parquet file (was it still being written?)", Err: fmt.Errorf("%w: %w", errIncompleteParquet, err)}
	}
	sig := format.SchemaSignature(info.Schema)
	if e.pqFirst == "" {
		e.pqFirst, e.pqSchema = path, sig
	} else if sig != e.pqSchema {
		return nil, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "path",
			Summary: fmt.Sprintf("Parquet files with different schemas: %s has (%s), %s has (%s)", e.pqFirst, e.pqSchema, path, sig),
			Detail:  "every file of a source must have the same columns and types; read them with separate sources, or narrow path"}
	}
	var out []*Split
	start, bytes := 0, int64(0)
	for i, n := range info.RowGroupBytes {
		bytes += n
		last := i == len(info.RowGroupBytes)-1
		if e.cfg.SplitSize <= 0 || bytes >= e.cfg.SplitSize || last {
			out = append(out, &Split{Path: path, Format: FormatParquet, Start: int64(start), End: int64(i + 1),
				Offset: int64(start), Size: size, Stored: append([]int64(nil), info.RowGroupStored[start:i+1]...)})
			start, bytes = i+1, 0
		}
	}
	return out, nil
}

// HandleSplitRequest implements sdk.SplitEnumerator.
func (e *enumerator) HandleSplitRequest(_ context.Context, readerID int, _ string) error {
	if len(e.pending) > 0 {
		sp := e.pending[0]
		e.pending = e.pending[1:]
		return e.ctx.AssignSplit(sp, readerID)
	}
	if e.cfg.Mode == "continuous" {
		e.waiting[readerID] = true
		return nil
	}
	return e.ctx.SignalNoMoreSplits(readerID)
}

// serveWaiting assigns newly discovered splits to readers that asked.
func (e *enumerator) serveWaiting() error {
	for _, id := range e.ctx.RegisteredReaders() {
		if !e.waiting[id] || len(e.pending) == 0 {
			continue
		}
		delete(e.waiting, id)
		sp := e.pending[0]
		e.pending = e.pending[1:]
		if err := e.ctx.AssignSplit(sp, id); err != nil {
			return err
		}
	}
	return nil
}

// AddSplitsBack implements sdk.SplitEnumerator.
func (e *enumerator) AddSplitsBack(_ context.Context, splits []sdk.Split, _ int) error {
	back := make([]*Split, 0, len(splits))
	for _, s := range splits {
		back = append(back, s.(*Split))
	}
	e.pending = append(back, e.pending...)
	return e.serveWaiting()
}

// AddReader implements sdk.SplitEnumerator.
func (e *enumerator) AddReader(context.Context, int) error { return nil }

// SnapshotState implements sdk.SplitEnumerator.
func (e *enumerator) SnapshotState(context.Context, int64) ([]byte, error) {
	st := enumState{Pending: e.pending, Seen: make([]string, 0, len(e.seen)), ParquetFirst: e.pqFirst, ParquetSchema: e.pqSchema}
	for p := range e.seen {
		st.Seen = append(st.Seen, p)
	}
	sort.Strings(st.Seen)
	return json.Marshal(st)
}

// NotifyCheckpointComplete implements sdk.SplitEnumerator.
func (e *enumerator) NotifyCheckpointComplete(context.Context, int64) error { return nil }

// Close implements sdk.SplitEnumerator.
func (e *enumerator) Close() error {
	if e.bucket != nil {
		return e.bucket.Close()
	}
	return nil
}

// reader reads its splits one after another.
type reader struct {
	cfg    *SourceConfig
	mem    memory.Allocator
	splits *sdk.SplitQueue[*Split]
	// columns are the host's projection hint: Parquet reads only these.
	columns []string
	cur     *Split
	file    *os.File
	rr      format.RecordReader
	// bucket: an object-store path's bucket, opened at the first split.
	bucket *blob.Bucket
	ctx    context.Context
	cancel context.CancelFunc
}

// openObject opens a split's object for ranged reads.
func (r *reader) openObject(sp *Split) (*rangeReaderAt, error) {
	if r.bucket == nil {
		o, err := parseObjURL(r.cfg.Path)
		if err != nil {
			return nil, err
		}
		r.ctx, r.cancel = context.WithCancel(context.Background())
		b, err := openBucket(r.ctx, o, r.cfg.stores())
		if err != nil {
			return nil, err
		}
		r.bucket = b
	}
	key, err := objectKey(sp.Path)
	if err != nil {
		return nil, err
	}
	return newRangeReaderAt(r.ctx, r.bucket, key, sp.Size), nil
}

// Start implements sdk.SourceReader.
func (r *reader) Start(context.Context) error { return r.splits.Request() }

// AddSplits implements sdk.SourceReader.
func (r *reader) AddSplits(splits []sdk.Split) error { return r.splits.Add(splits) }

// NotifyNoMoreSplits implements sdk.SourceReader.
func (r *reader) NotifyNoMoreSplits() { r.splits.NoMore() }

// PollNext implements sdk.SourceReader.
func (r *reader) PollNext(_ context.Context, out sdk.ReaderOutput) (sdk.InputStatus, error) {
	sp, opened, status, err := r.splits.Next()
	if sp == nil {
		return status, err
	}
	if opened {
		if err := r.open(sp); err != nil {
			return 0, err
		}
	}
	rec, rejects, err := r.rr.Next()
	// The bytes this poll read go with its batch (or the split's end).
	offset, line := r.rr.Position()
	sdk.AddSourceBytes(out, sp.consumed(sp.Offset, offset, err == io.EOF))
	for _, rj := range rejects {
		if err := out.Reject(sdk.Rejected{SplitID: sp.SplitID(), Position: fmt.Sprintf("%s:%d", sp.Path, rj.Line),
			Raw: rj.Raw, Reason: rj.Reason}); err != nil {
			return 0, err
		}
	}
	if rec != nil {
		emitErr := out.Emit(sp.SplitID(), rec)
		rec.Release()
		if emitErr != nil {
			return 0, emitErr
		}
	}
	sp.Offset, sp.Line = offset, line
	if err == io.EOF {
		r.closeCurrent()
		if err := out.SplitFinished(sp.SplitID()); err != nil {
			return 0, err
		}
		return sdk.MoreAvailable, r.splits.Finish()
	}
	if err != nil {
		return 0, readError(err, "read %s", sp.Path)
	}
	return sdk.MoreAvailable, nil
}

func (r *reader) open(sp *Split) error {
	if isURL(r.cfg.Path) {
		return r.openObj(sp)
	}
	f, err := os.Open(sp.Path)
	if err != nil {
		detail := ""
		if errors.Is(err, fs.ErrNotExist) {
			detail = "the file was there when the run planned its splits; input files must stay in place until the run ends"
		}
		return fileError(err, detail, "open input %s", sp.Path)
	}
	rng := format.Range{Start: sp.Start, End: sp.End, StartLine: sp.StartLine}
	var rr format.RecordReader
	switch sp.Format {
	case FormatCSV:
		rr, err = format.NewCSVReader(f, rng, sp.Offset, sp.Line, sp.Schema, r.cfg.csvOptions(), r.cfg.BatchSize, r.mem)
	case FormatParquet:
		rr, err = format.NewParquetReader(sp.Path, int(sp.Offset), int(sp.End), sp.Line, r.cfg.BatchSize, r.columns, r.mem)
	case FormatJSON:
		rr, err = format.NewJSONArrayReader(f, sp.Size, sp.Offset, sp.Line, sp.Schema, r.cfg.BatchSize, r.mem)
	default:
		rr, err = format.NewJSONLinesReader(f, rng, sp.Offset, sp.Line, sp.Schema, r.cfg.BatchSize, r.mem)
	}
	if err != nil {
		f.Close()
		return readError(err, "read %s", sp.Path)
	}
	r.cur, r.file, r.rr = sp, f, rr
	return nil
}

// openObj is open for an object: the same readers over ranged reads.
func (r *reader) openObj(sp *Split) error {
	ra, err := r.openObject(sp)
	if err != nil {
		return err
	}
	rng := format.Range{Start: sp.Start, End: sp.End, StartLine: sp.StartLine}
	var rr format.RecordReader
	switch sp.Format {
	case FormatCSV:
		rr, err = format.NewCSVReader(ra, rng, sp.Offset, sp.Line, sp.Schema, r.cfg.csvOptions(), r.cfg.BatchSize, r.mem)
	case FormatParquet:
		rr, err = format.NewParquetReaderFrom(ra, int(sp.Offset), int(sp.End), sp.Line, r.cfg.BatchSize, r.columns, r.mem)
	case FormatJSON:
		rr, err = format.NewJSONArrayReader(ra, sp.Size, sp.Offset, sp.Line, sp.Schema, r.cfg.BatchSize, r.mem)
	default:
		rr, err = format.NewJSONLinesReader(ra, rng, sp.Offset, sp.Line, sp.Schema, r.cfg.BatchSize, r.mem)
	}
	if err != nil {
		return readError(err, "read %s", sp.Path)
	}
	r.cur, r.file, r.rr = sp, nil, rr
	return nil
}

func (r *reader) closeCurrent() {
	if c, ok := r.rr.(io.Closer); ok {
		c.Close()
	}
	if r.file != nil {
		r.file.Close()
	}
	r.cur, r.file, r.rr = nil, nil, nil
}

// SnapshotState implements sdk.SourceReader: the split being read, at its
// current position, and the queued ones.
func (r *reader) SnapshotState(context.Context, int64) ([]sdk.Split, error) {
	return r.splits.Splits(), nil
}

// NotifyCheckpointComplete implements sdk.SourceReader.
func (r *reader) NotifyCheckpointComplete(context.Context, int64) error { return nil }

// Close implements sdk.SourceReader.
func (r *reader) Close() error {
	if r.cur != nil {
		r.closeCurrent()
	}
	if r.bucket != nil {
		r.cancel()
		r.bucket.Close()
		r.bucket = nil
	}
	return nil
}
