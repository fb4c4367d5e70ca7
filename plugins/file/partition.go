package file

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/activedataflow/adf/plugins/file/format"
	"github.com/activedataflow/adf/sdk"
)

// Partitioned output (partition_by, directory mode): every row goes into
// the subdirectory <col>=<value>/... of its partition columns' values
// (Hive style), where the part files follow directory mode's rules: an
// in-progress part per partition and checkpoint, renamed to a pending part
// by Flush and to part-<run>-<checkpoint>.<ext> by Commit. The columns stay
// in the files too.

// hiveNull is the directory value of a null, as Hive and Spark write it.
const hiveNull = "__HIVE_DEFAULT_PARTITION__"

// partWriter is one partition's in-progress part.
type partWriter struct {
	rel  string // the partition's directory, relative to the output
	tmp  string
	file *os.File
	buf  *bufio.Writer
	w    format.Writer
	pw   *format.ParquetWriter
}

// escapePartValue percent-encodes every byte but ASCII letters, digits and
// -_.~ (and a leading dot, which would hide the directory), so a value is
// one path segment that readers decoding URIs (pyarrow, Spark) read back.
func escapePartValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '~' || (c == '.' && i > 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// partValue renders value i of col as its directory value.
func partValue(col arrow.Array, i int) string {
	if col.IsNull(i) {
		return hiveNull
	}
	var v string
	switch a := col.(type) {
	case *array.String:
		v = a.Value(i)
	case *array.LargeString:
		v = a.Value(i)
	case *array.Timestamp:
		v = a.Value(i).ToTime(a.DataType().(*arrow.TimestampType).Unit).UTC().Format(time.RFC3339Nano)
	case *array.Date32:
		v = a.Value(i).ToTime().UTC().Format("2006-01-02")
	default:
		v = col.ValueStr(i)
	}
	if !utf8.ValidString(v) {
		v = strings.ToValidUTF8(v, "\uFFFD")
	}
	return escapePartValue(v)
}

// writePartitioned writes rec's rows into their partitions, in runs of
// consecutive rows of one partition.
func (s *sink) writePartitioned(rec arrow.RecordBatch) error {
	cols := make([]arrow.Array, len(s.cfg.PartitionBy))
	for k, name := range s.cfg.PartitionBy {
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
			segs[k] = s.cfg.PartitionBy[k] + "=" + partValue(c, i)
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
			if err := s.writePartition(cur, rec, start, i); err != nil {
				return err
			}
			start = i
		}
		cur = k
	}
	s.rows += rec.NumRows()
	return nil
}

func fieldNames(sc *arrow.Schema) []string {
	out := make([]string, 0, sc.NumFields())
	for _, f := range sc.Fields() {
		out = append(out, f.Name)
	}
	return out
}

// writePartition writes rows [from, to) of rec into partition rel.
func (s *sink) writePartition(rel string, rec arrow.RecordBatch, from, to int) error {
	p := s.parts[rel]
	if p == nil {
		dir := filepath.Join(s.cfg.Path, filepath.FromSlash(rel))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return ioError(err, "check that the output directory is writable", "create partition directory %s", dir)
		}
		nonce := make([]byte, 8)
		_, _ = rand.Read(nonce)
		p = &partWriter{rel: rel, tmp: filepath.Join(dir, "."+safeName(s.init.Flow)+flowTagSep+"part-"+safe(s.init.RunID)+"-"+hex.EncodeToString(nonce)+inProgressSuffix)}
		f, err := os.OpenFile(p.tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return ioError(err, "check that the output directory is writable", "create part file %s", p.tmp)
		}
		p.file, p.buf = f, bufio.NewWriterSize(f, 256<<10)
		p.w, p.pw = s.newWriter(p.buf)
		if s.parts == nil {
			s.parts = map[string]*partWriter{}
		}
		s.parts[rel] = p
	}
	part := rec
	if from > 0 || to < int(rec.NumRows()) {
		part = rec.NewSlice(int64(from), int64(to))
		defer part.Release()
	}
	n, err := p.w.Write(part)
	if err != nil {
		return ioError(err, "check the output file system (space, permissions)", "write %s", p.tmp)
	}
	s.bytes += n
	return nil
}

// newWriter is a writer of a new part file.
func (s *sink) newWriter(out io.Writer) (format.Writer, *format.ParquetWriter) {
	switch s.cfg.Format {
	case FormatParquet:
		pw := format.NewParquetWriter(out, s.parquetOptions())
		return pw, pw
	case FormatCSV:
		d, _ := utf8.DecodeRuneInString(s.cfg.Delimiter)
		return format.NewCSVWriter(out, d, s.cfg.Header == nil || *s.cfg.Header), nil
	}
	return format.NewJSONLinesWriter(out), nil
}

// flushPartitions completes, syncs and renames every partition's
// in-progress part to its pending name, and returns the pending parts.
func (s *sink) flushPartitions(checkpointID int64) ([]part, error) {
	keys := make([]string, 0, len(s.parts))
	for k := range s.parts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []part
	dirs := map[string]bool{}
	for _, k := range keys {
		p := s.parts[k]
		if p.pw != nil {
			n, err := p.pw.Close()
			s.bytes += n
			if err != nil {
				return nil, ioError(err, "check the output file system (space, permissions)", "complete Parquet file %s", p.tmp)
			}
		}
		if err := p.buf.Flush(); err != nil {
			return nil, ioError(err, "check the output file system (space, permissions)", "write %s", p.tmp)
		}
		if err := p.file.Sync(); err != nil {
			return nil, ioError(err, "check the output file system", "sync %s", p.tmp)
		}
		if err := p.file.Close(); err != nil {
			return nil, ioError(err, "check the output file system", "close part %s", p.tmp)
		}
		p.file = nil
		pt := part{CheckpointID: checkpointID, Pending: filepath.Join(filepath.FromSlash(k), s.pendingName(checkpointID)),
			Final: filepath.Join(filepath.FromSlash(k), s.finalName(checkpointID))}
		if err := os.Rename(p.tmp, filepath.Join(s.cfg.Path, pt.Pending)); err != nil {
			return nil, ioError(err, "check the output directory", "rename part %s to %s", p.tmp, pt.Pending)
		}
		p.tmp = ""
		// The partition's directory and its parents up to the output must
		// hold their entries durably.
		for d := filepath.Dir(pt.Pending); d != "." && d != string(filepath.Separator); d = filepath.Dir(d) {
			dirs[d] = true
		}
		out = append(out, pt)
	}
	s.parts = nil
	dirs["."] = true
	for _, d := range sortedKeys(dirs) {
		if err := syncDir(filepath.Join(s.cfg.Path, d)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// closePartitions drops the in-progress parts.
func (s *sink) closePartitions() error {
	var first error
	for _, p := range s.parts {
		if p.file != nil {
			if err := p.file.Close(); err != nil && first == nil {
				first = err
			}
		}
		if p.tmp != "" {
			if err := os.Remove(p.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) && first == nil {
				first = err
			}
		}
	}
	s.parts = nil
	return first
}

// partitionDirs lists the output directory and, with partition_by, every
// partition directory below it (names holding "="), relative to it.
func (s *sink) partitionDirs() ([]string, error) {
	if len(s.cfg.PartitionBy) == 0 {
		return []string{"."}, nil
	}
	var out []string
	err := filepath.WalkDir(s.cfg.Path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(s.cfg.Path, p)
		if rel != "." && (strings.HasPrefix(d.Name(), ".") || !strings.Contains(d.Name(), "=")) {
			return filepath.SkipDir
		}
		out = append(out, rel)
		return nil
	})
	return out, err
}
