package file

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/activedataflow/adf/plugins/file/format"
	"github.com/activedataflow/adf/sdk"
)

// objSink is the file sink on an object store, exactly once: directory
// output (the path ends in /) gets one part object per checkpoint; a
// single output object is composed of the checkpoints' temporary objects
// by the final Commit (see compose).
//
// Rows are uploaded to a hidden temporary key under the prefix,
// .<flow>~part-<run>-<nonce><ext>.tmp (gocloud's writer uploads in parts;
// nothing is visible under that key before the upload completes). Flush
// completes the upload (the pre-commit) and lists the temporary object in
// the state and the committables. Commit copies it to its final key,
// part-<run>-<checkpoint><ext>, and deletes it; a repeated Commit finds the
// final key present and the temporary one gone, and succeeds. Open deletes
// every temporary object of the flow that the restored checkpoint does not
// name: those of checkpoints after it, of attempts that never flushed and
// of earlier runs.
type objSink struct {
	cfg    *SinkConfig
	obj    *objURL
	bucket *blob.Bucket
	init   sdk.SinkInit
	state  objSinkState
	ctx    context.Context
	cancel context.CancelFunc

	// writers: the temporary objects being uploaded, by partition ("" without
	// partition_by).
	writers map[string]*objWriter
	rows    int64
}

// objWriter uploads one temporary object.
type objWriter struct {
	bw   *blob.Writer
	cw   *countWriter
	temp string // its key
	w    format.Writer
	pw   *format.ParquetWriter
}

// objSinkState is FlushResult.State of objSink.
type objSinkState struct {
	CheckpointID int64 `json:"checkpoint_id,omitempty"`
	// Single-file output: Segments are the temporary objects of the
	// checkpoints so far, in order, that the final Commit composes into
	// the output; HeaderDone: a CSV header is in the first segment; Final:
	// the run's last checkpoint was flushed.
	Segments   []objPart `json:"segments,omitempty"`
	HeaderDone bool      `json:"header_done,omitempty"`
	Final      bool      `json:"final,omitempty"`
	// Pending: temporary objects flushed and not yet known to be
	// published; they stay in later checkpoints' committables until then.
	Pending []objPart `json:"pending,omitempty"`
}

// objPart is a flushed temporary object and its final key.
type objPart struct {
	CheckpointID int64  `json:"checkpoint_id"`
	Temp         string `json:"temp"`
	Final        string `json:"final"`
	Size         int64  `json:"size"`
}

// objCommittables is FlushResult.Committables of objSink.
type objCommittables struct {
	Parts []objPart `json:"object_parts,omitempty"`
	// Compose: single-file output: the output key and the segments it is
	// composed of.
	Compose *objCompose `json:"compose,omitempty"`
}

// objCompose composes segments into the output key.
type objCompose struct {
	Output   string    `json:"output"`
	Segments []objPart `json:"segments"`
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newObjSink(cfg *SinkConfig) (*objSink, error) { return &objSink{cfg: cfg}, nil }

func (s *objSink) ext() string { return (&sink{cfg: s.cfg}).ext() }

// prefix is the output prefix (the key ending in /, or "" for a bucket's
// root).
func (s *objSink) prefix() string {
	if s.single() {
		return s.obj.Key[:strings.LastIndexByte(s.obj.Key, '/')+1]
	}
	return s.obj.Key
}

// single: the output is one object (the path does not end in /).
func (s *objSink) single() bool { return !strings.HasSuffix(s.obj.Key, "/") }

// tempPrefix starts the keys of this flow's temporary objects.
func (s *objSink) tempPrefix() string {
	return s.prefix() + "." + safeName(s.init.Flow) + flowTagSep + "part-"
}

// Open implements sdk.Sink.
func (s *objSink) Open(ctx context.Context, init sdk.SinkInit) error {
	s.init = init
	if len(init.RestoredState) > 0 {
		if err := json.Unmarshal(init.RestoredState, &s.state); err != nil {
			return &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("restore file sink %s: bad checkpoint state: %v", stripQuery(s.cfg.Path), err),
				Detail: "the checkpoint was not written by this plugin; start the run without it", Err: err}
		}
	}
	o, err := parseObjURL(s.cfg.Path)
	if err != nil {
		return err
	}
	s.obj = o
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.bucket, err = openBucket(ctx, o, s.cfg.stores()); err != nil {
		return err
	}
	return s.discardUnreferenced(ctx)
}

// discardUnreferenced deletes this flow's temporary objects that the
// restored state does not name.
func (s *objSink) discardUnreferenced(ctx context.Context) error {
	keep := map[string]bool{}
	for _, p := range append(slices.Clone(s.state.Pending), s.state.Segments...) {
		keep[p.Temp] = true
	}
	prefix := s.tempPrefix()
	if len(s.cfg.PartitionBy) > 0 {
		prefix = s.prefix() // temporary objects are in the partitions too
	}
	mine := "." + safeName(s.init.Flow) + flowTagSep + "part-"
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return objError(err, "list %s", s.obj.objectName(s.tempPrefix()))
		}
		base := obj.Key[strings.LastIndexByte(obj.Key, '/')+1:]
		if obj.IsDir || keep[obj.Key] || !strings.HasSuffix(base, ".tmp") || !strings.HasPrefix(base, mine) {
			continue
		}
		if err := s.bucket.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return objError(err, "discard unsaved temporary object %s", s.obj.objectName(obj.Key))
		}
	}
}

// Write implements sdk.Sink.
func (s *objSink) Write(_ context.Context, rec arrow.RecordBatch) error {
	if s.state.Final {
		return &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("write %s after the final checkpoint", stripQuery(s.cfg.Path)),
			Detail: "the run's last checkpoint was flushed; report this as a host bug"}
	}
	if len(s.cfg.PartitionBy) > 0 {
		err := partitionRuns(s.cfg.PartitionBy, rec, func(rel string, from, to int) error {
			part := rec
			if from > 0 || to < int(rec.NumRows()) {
				part = rec.NewSlice(int64(from), int64(to))
				defer part.Release()
			}
			return s.writeTo(rel, part)
		})
		if err != nil {
			return err
		}
	} else if err := s.writeTo("", rec); err != nil {
		return err
	}
	s.rows += rec.NumRows()
	return nil
}

// dirOf is the prefix of a partition's objects.
func (s *objSink) dirOf(rel string) string {
	if rel == "" {
		return s.prefix()
	}
	return s.prefix() + rel + "/"
}

// writeTo writes rec to the temporary object of partition rel, starting
// its upload on the first rows.
func (s *objSink) writeTo(rel string, rec arrow.RecordBatch) error {
	w := s.writers[rel]
	if w == nil {
		nonce := make([]byte, 8)
		_, _ = rand.Read(nonce)
		w = &objWriter{temp: s.dirOf(rel) + "." + safeName(s.init.Flow) + flowTagSep + "part-" + safe(s.init.RunID) + "-" + hex.EncodeToString(nonce) + s.ext() + ".tmp"}
		bw, err := s.bucket.NewWriter(s.ctx, w.temp, nil)
		if err != nil {
			return objError(err, "create temporary object %s", s.obj.objectName(w.temp))
		}
		w.bw, w.cw = bw, &countWriter{w: bw}
		if s.cfg.Format == FormatParquet {
			w.pw = format.NewParquetWriter(w.cw, (&sink{cfg: s.cfg}).parquetOptions())
			w.w = w.pw
		} else {
			w.w = (&sink{cfg: s.cfg, header: s.single() && s.state.HeaderDone}).writer(w.cw)
		}
		if s.writers == nil {
			s.writers = map[string]*objWriter{}
		}
		s.writers[rel] = w
	}
	if _, err := w.w.Write(rec); err != nil {
		return objError(err, "write %s", s.obj.objectName(w.temp))
	}
	return nil
}

// partitionRuns calls fn for each run of consecutive rows of rec in one
// partition, with the partition's relative directory (as the local sink
// names it: <col>=<value>/...).
func partitionRuns(by []string, rec arrow.RecordBatch, fn func(rel string, from, to int) error) error {
	cols := make([]arrow.Array, len(by))
	for k, name := range by {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) == 0 {
			return &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "partition_by",
				Summary: fmt.Sprintf("partition column %q is not in the rows (columns: %s)", name, strings.Join(fieldNames(rec.Schema()), ", "))}
		}
		cols[k] = rec.Column(idx[0])
	}
	key := func(i int) string {
		segs := make([]string, len(cols))
		for k, c := range cols {
			segs[k] = by[k] + "=" + partValue(c, i)
		}
		return strings.Join(segs, "/")
	}
	n := int(rec.NumRows())
	start, cur := 0, ""
	for i := 0; i <= n; i++ {
		k := ""
		if i < n {
			k = key(i)
		}
		if i > 0 && (i == n || k != cur) {
			if err := fn(cur, start, i); err != nil {
				return err
			}
			start = i
		}
		cur = k
	}
	return nil
}

// Flush implements sdk.Sink: the pre-commit completes the temporary
// object's upload.
func (s *objSink) Flush(_ context.Context, checkpointID int64, final bool) (sdk.FlushResult, error) {
	res := sdk.FlushResult{RowsWritten: s.rows}
	rels := make([]string, 0, len(s.writers))
	for rel := range s.writers {
		rels = append(rels, rel)
	}
	slices.Sort(rels)
	for _, rel := range rels {
		w := s.writers[rel]
		if w.pw != nil {
			if _, err := w.pw.Close(); err != nil {
				return res, objError(err, "complete Parquet object %s", s.obj.objectName(w.temp))
			}
		}
		if err := w.bw.Close(); err != nil {
			return res, objError(err, "upload temporary object %s", s.obj.objectName(w.temp))
		}
		delete(s.writers, rel)
		res.BytesWritten += w.cw.n
		if s.single() {
			s.state.Segments = append(s.state.Segments, objPart{CheckpointID: checkpointID, Temp: w.temp, Size: w.cw.n})
			s.state.HeaderDone = s.state.HeaderDone || w.cw.n > 0
		} else {
			s.state.Pending = append(s.state.Pending, objPart{CheckpointID: checkpointID, Temp: w.temp,
				Final: s.dirOf(rel) + (&sink{cfg: s.cfg, init: s.init}).finalName(checkpointID), Size: w.cw.n})
		}
	}
	s.rows = 0
	s.state.CheckpointID = checkpointID
	s.state.Final = s.state.Final || (final && s.single())
	var err error
	if res.State, err = json.Marshal(s.state); err != nil {
		return res, &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("encode file sink state: %v", err), Err: err}
	}
	if s.single() && s.state.Final {
		c := objCommittables{Compose: &objCompose{Output: s.obj.Key, Segments: slices.Clone(s.state.Segments)}}
		if res.Committables, err = json.Marshal(c); err != nil {
			return res, &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("encode file sink committables: %v", err), Err: err}
		}
	} else if len(s.state.Pending) > 0 {
		if res.Committables, err = json.Marshal(objCommittables{Parts: slices.Clone(s.state.Pending)}); err != nil {
			return res, &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("encode file sink committables: %v", err), Err: err}
		}
	}
	return res, nil
}

// Commit implements sdk.Committer: copy each temporary object to its final
// key, then delete it. Idempotent.
func (s *objSink) Commit(ctx context.Context, req sdk.CommitRequest) error {
	if len(req.Committables) == 0 {
		return nil
	}
	var c objCommittables
	if err := json.Unmarshal(req.Committables, &c); err != nil {
		return &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("commit checkpoint %d of file sink %s: bad committables: %v", req.CheckpointID, stripQuery(s.cfg.Path), err), Err: err}
	}
	if c.Compose != nil {
		if err := s.compose(ctx, *c.Compose); err != nil {
			return err
		}
	}
	for _, p := range c.Parts {
		if err := s.publish(ctx, p); err != nil {
			return err
		}
	}
	s.state.Pending = slices.DeleteFunc(s.state.Pending, func(p objPart) bool {
		return slices.ContainsFunc(c.Parts, func(q objPart) bool { return q.Temp == p.Temp })
	})
	return nil
}

// publish copies one temporary object to its final key and deletes it.
func (s *objSink) publish(ctx context.Context, p objPart) error {
	attrs, err := s.bucket.Attributes(ctx, p.Temp)
	switch {
	case gcerrors.Code(err) == gcerrors.NotFound:
		fin, ferr := s.bucket.Attributes(ctx, p.Final)
		if ferr == nil && fin.Size == p.Size {
			return nil // published by an earlier Commit
		}
		if ferr != nil && gcerrors.Code(ferr) != gcerrors.NotFound {
			return objError(ferr, "look up part %s", s.obj.objectName(p.Final))
		}
		return dataLoss("publish part %s of checkpoint %d: temporary object %s is missing", s.obj.objectName(p.Final), p.CheckpointID, s.obj.objectName(p.Temp))
	case err != nil:
		return objError(err, "look up temporary object %s", s.obj.objectName(p.Temp))
	case attrs.Size != p.Size:
		return dataLoss("publish part %s of checkpoint %d: temporary object %s holds %d bytes, %d were flushed", s.obj.objectName(p.Final), p.CheckpointID, s.obj.objectName(p.Temp), attrs.Size, p.Size)
	}
	if err := s.bucket.Copy(ctx, p.Final, p.Temp, nil); err != nil {
		return objError(err, "publish part %s (copy from %s)", s.obj.objectName(p.Final), s.obj.objectName(p.Temp))
	}
	if err := s.bucket.Delete(ctx, p.Temp); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return objError(err, "delete published temporary object %s", s.obj.objectName(p.Temp))
	}
	return nil
}

// Close implements sdk.Sink: an upload not flushed is aborted (nothing
// after the last checkpoint is kept).
func (s *objSink) Close(context.Context) error {
	if s.cancel != nil {
		s.cancel() // aborts an unfinished upload
	}
	for rel, w := range s.writers {
		_ = w.bw.Close()
		delete(s.writers, rel)
	}
	if s.bucket != nil {
		err := s.bucket.Close()
		s.bucket = nil
		if err != nil {
			return objError(err, "close bucket of %s", stripQuery(s.cfg.Path))
		}
	}
	return nil
}

// compose writes the output object from the segments, in order (CSV and
// JSON lines concatenated, Parquet merged into one file), then deletes the
// segments. The output is written completely before any segment is
// deleted, so a repeated Commit that finds a segment gone finds the
// output published (of the segments' total size, for CSV and JSON lines)
// and only deletes what is left.
func (s *objSink) compose(ctx context.Context, c objCompose) error {
	out := s.obj.objectName(c.Output)
	missing := false
	var total int64
	for _, seg := range c.Segments {
		total += seg.Size
		ok, err := s.bucket.Exists(ctx, seg.Temp)
		if err != nil {
			return objError(err, "look up segment %s", s.obj.objectName(seg.Temp))
		}
		missing = missing || !ok
	}
	if missing {
		attrs, err := s.bucket.Attributes(ctx, c.Output)
		if err != nil || (s.cfg.Format != FormatParquet && attrs.Size != total) {
			return dataLoss("publish %s: a segment is missing and the output is not the composed one", out)
		}
	} else if err := s.writeComposed(ctx, c); err != nil {
		return err
	}
	for _, seg := range c.Segments {
		if err := s.bucket.Delete(ctx, seg.Temp); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return objError(err, "delete composed segment %s", s.obj.objectName(seg.Temp))
		}
	}
	return nil
}

// writeComposed uploads the output composed of the segments; the output
// appears only when complete.
func (s *objSink) writeComposed(ctx context.Context, c objCompose) error {
	out := s.obj.objectName(c.Output)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bw, err := s.bucket.NewWriter(wctx, c.Output, nil)
	if err != nil {
		return objError(err, "create output %s", out)
	}
	fail := func(err error, format string, args ...any) error {
		cancel() // aborts the upload
		_ = bw.Close()
		return objError(err, format, args...)
	}
	if s.cfg.Format == FormatParquet && len(c.Segments) > 1 {
		pw := format.NewParquetWriter(bw, (&sink{cfg: s.cfg}).parquetOptions())
		for _, seg := range c.Segments {
			ra := newRangeReaderAt(ctx, s.bucket, seg.Temp, seg.Size)
			if err := format.CopyParquetFrom(pw, ra, s.obj.objectName(seg.Temp)); err != nil {
				return fail(err, "merge Parquet segment %s into %s", s.obj.objectName(seg.Temp), out)
			}
		}
		if _, err := pw.Close(); err != nil {
			return fail(err, "complete Parquet output %s", out)
		}
	} else {
		for _, seg := range c.Segments {
			r, err := s.bucket.NewReader(ctx, seg.Temp, nil)
			if err != nil {
				return fail(err, "read segment %s", s.obj.objectName(seg.Temp))
			}
			_, err = io.Copy(bw, r)
			r.Close()
			if err != nil {
				return fail(err, "copy segment %s into %s", s.obj.objectName(seg.Temp), out)
			}
		}
	}
	if err := bw.Close(); err != nil {
		return objError(err, "upload output %s", out)
	}
	return nil
}
