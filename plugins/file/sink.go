package file

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/activedataflow/adf/plugins/file/format"
	"github.com/activedataflow/adf/sdk"
)

// sink writes one output file, or one part file per checkpoint into a
// directory, exactly once: it follows the SDK's two-phase contract (Flush
// pre-commits, Commit publishes once the host has saved the checkpoint), like
// Flink's FileSink with its in-progress → pending → finished files.
//
// Single file: rows go to a hidden temp file beside the output, named from
// flow and run so that a restored attempt finds it again. Flush syncs it and
// records its length in the writer state; the final Flush also returns the
// committable "rename temp over output". Commit performs that rename, so
// readers only ever see the complete file. A restore truncates the temp file
// back to the restored checkpoint's length, discarding whatever later,
// unsaved checkpoints appended.
//
// Directory: rows go to a hidden in-progress part; Flush syncs and renames it
// to a hidden pending part named after run and checkpoint; Commit renames
// pending parts to part-<run>-<checkpoint>.<ext>. Open deletes this run's
// in-progress parts and the pending parts of checkpoints after the restored
// one, which no durable checkpoint covers.
type sink struct {
	cfg     *SinkConfig
	dirMode bool
	init    sdk.SinkInit
	state   sinkState

	file    *os.File
	buf     *bufio.Writer
	w       format.Writer
	pw      *format.ParquetWriter  // s.w when the format is Parquet
	parts   map[string]*partWriter // partition_by: in-progress parts by partition directory
	header  bool                   // the CSV header is already in the output
	rows    int64
	bytes   int64
	partTmp string // directory mode: the in-progress part
	// dirSynced: single-file mode: the directory entry of the temp file is
	// durable (synced once after creating it).
	dirSynced bool
	// finished: single-file mode: the final Flush ran (here or before the
	// restore); nothing more may be written.
	finished bool
	// flushed: a Flush of this sink returned, so a checkpoint may name its
	// temp file.
	flushed bool
	// flushID is the checkpoint being flushed.
	flushID int64
}

// sinkState is FlushResult.State: what a restored sink continues from.
type sinkState struct {
	// CheckpointID is the checkpoint this state was flushed for; it checks
	// SinkInit.RestoredCheckpointID (and stands in for it if a host does not
	// send it).
	CheckpointID int64 `json:"checkpoint_id,omitempty"`
	// Single-file mode: the temp file and its length at this checkpoint.
	Temp      string `json:"temp,omitempty"`
	Committed int64  `json:"committed"`
	// Final is set when this checkpoint was the run's last: the temp file
	// is complete and Commit renames it over the output.
	Final bool `json:"final,omitempty"`
	// Published is the field older versions set when their final Flush had
	// already renamed the temp file; read so that such a state restores.
	Published bool `json:"published,omitempty"`
	// Directory mode: pending parts flushed but not yet known to be
	// committed; they stay in the committables of later checkpoints until a
	// Commit has published them, so none is stranded if a Commit is skipped.
	Pending []part `json:"pending,omitempty"`
	// Segments: single-file Parquet: the complete Parquet files, one per
	// checkpoint with rows, beside the output (names within its
	// directory), that the final Flush merges into the temp file.
	Segments []string `json:"segments,omitempty"`
}

// committables is FlushResult.Committables: what Commit publishes.
type committables struct {
	// Publish is the final checkpoint's rename of the temp file (single
	// file).
	Publish *publish `json:"publish,omitempty"`
	// Dir and Parts are the pending parts to rename (directory mode).
	Dir   string `json:"dir,omitempty"`
	Parts []part `json:"parts,omitempty"`
}

// publish renames the complete temp file over the output.
type publish struct {
	Temp   string `json:"temp"`
	Output string `json:"output"`
	// Size is the temp file's synced length, which tells a finished rename
	// from a lost temp file when the Commit is repeated.
	Size int64 `json:"size"`
	// Segments are Parquet segments merged into Temp, removed once it is
	// published.
	Segments []string `json:"segments,omitempty"`
}

// part is a pending part file and its published name, both within the
// output directory.
type part struct {
	CheckpointID int64  `json:"checkpoint_id"`
	Pending      string `json:"pending"`
	Final        string `json:"final"`
}

// File name suffixes of directory mode's hidden parts.
const (
	inProgressSuffix = ".inprogress"
	pendingSuffix    = ".pending"
)

func newSink(cfg *SinkConfig) (*sink, error) {
	return &sink{cfg: cfg}, nil
}

func (s *sink) ext() string {
	switch s.cfg.Format {
	case FormatCSV:
		return ".csv"
	case FormatParquet:
		return ".parquet"
	}
	return ".jsonl"
}

func (s *sink) parquet() bool { return s.cfg.Format == FormatParquet }

// ioError is an sdk.Error wrapping err, classified by fileErrorCode
// (not_found, permission_denied, else io).
func ioError(err error, detail, format string, args ...any) *sdk.Error {
	return fileError(err, detail, format, args...)
}

// dataLoss reports that output a durable checkpoint covers is gone. Retrying
// cannot bring it back, so it is not transient.
func dataLoss(format string, args ...any) *sdk.Error {
	return &sdk.Error{Code: sdk.CodeIO, Summary: "data loss: " + fmt.Sprintf(format, args...),
		Detail: "files the restored checkpoint relies on were changed or removed outside ADF; restore the files or start a new run without the checkpoint"}
}

// Open implements sdk.Sink.
func (s *sink) Open(_ context.Context, init sdk.SinkInit) error {
	s.init = init
	if init.RestoredState != nil && len(init.RestoredState) > 0 {
		if err := json.Unmarshal(init.RestoredState, &s.state); err != nil {
			return &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("restore file sink %s: bad checkpoint state: %v", s.cfg.Path, err),
				Detail: "the checkpoint was not written by this plugin; start the run without it", Err: fmt.Errorf("decode file sink state: %w", err)}
		}
	}
	restored := s.restoredID()
	if init.RestoredCheckpointID != 0 && s.state.CheckpointID != 0 && init.RestoredCheckpointID != s.state.CheckpointID {
		return &sdk.Error{Code: sdk.CodeInternal,
			Summary: fmt.Sprintf("restore file sink %s: state of checkpoint %d restored as checkpoint %d", s.cfg.Path, s.state.CheckpointID, init.RestoredCheckpointID),
			Detail:  "the host restored a checkpoint's state under another id; report this as a bug"}
	}
	s.state.CheckpointID = restored
	path := s.cfg.Path
	if st, err := os.Stat(path); strings.HasSuffix(path, "/") || (err == nil && st.IsDir()) {
		s.dirMode = true
		if err := outputDir(path); err != nil {
			return err
		}
		return s.discardUnsavedParts(restored)
	}
	if err := outputDir(filepath.Dir(path)); err != nil {
		return err
	}
	if s.state.Temp == "" {
		if init.RestoredState != nil {
			// A state without the name: the one versions before the nonce
			// gave every attempt of the run.
			s.state.Temp = filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"."+safe(init.Flow)+"."+safe(init.RunID)+".tmp")
		} else {
			s.state.Temp = s.tempName()
		}
	}
	if err := s.removeStaleTemps(); err != nil {
		return err
	}
	for _, seg := range s.state.Segments {
		if _, err := os.Stat(filepath.Join(filepath.Dir(path), seg)); err != nil && !s.state.Final {
			return dataLoss("restore file sink: Parquet segment %s of checkpoint %d is missing", filepath.Join(filepath.Dir(path), seg), s.state.CheckpointID)
		}
	}
	if s.state.Final || s.state.Published {
		// The restored checkpoint is the run's last: its Commit (which
		// follows) publishes the temp file; there is nothing to write.
		s.finished = true
		return nil
	}
	if init.RestoredState == nil {
		// A fresh run: nothing in a temp file of this run is covered by a
		// checkpoint.
		f, err := os.OpenFile(s.state.Temp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
		if err != nil {
			return ioError(err, "check that the output directory is writable", "create temp output %s", s.state.Temp)
		}
		s.file = f
	} else if err := s.reopenTemp(); err != nil {
		return err
	}
	s.buf = bufio.NewWriterSize(s.file, 1<<20)
	s.header = s.state.Committed > 0
	return nil
}

// restoredID is the restored checkpoint's id: the host's, or the one in the
// state if the host did not send it; 0 on a fresh run.
func (s *sink) restoredID() int64 {
	if s.init.RestoredState == nil {
		return 0
	}
	if s.init.RestoredCheckpointID != 0 {
		return s.init.RestoredCheckpointID
	}
	return s.state.CheckpointID
}

// outputDir makes sure dir, the directory the output goes into, exists:
// the sink creates it when its parent exists, and fails with not_found
// naming the missing directory otherwise. It creates no more than that one
// level, so that a mistyped path fails instead of growing a tree.
func outputDir(dir string) error {
	dir = filepath.Clean(dir)
	create, e := outputDirState(dir)
	if e != nil {
		return e
	}
	if !create {
		return nil
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		e := ioError(err, "", "create output directory %s", dir)
		e.Field = "path"
		return e
	}
	// The new directory's entry must survive a crash with the files that
	// checkpoints will name inside it.
	return syncDir(filepath.Dir(dir))
}

// outputDirState tells whether the output directory dir must be created,
// or why it cannot be used.
func outputDirState(dir string) (create bool, problem *sdk.Error) {
	st, err := os.Stat(dir)
	switch {
	case err == nil && st.IsDir():
		return false, nil
	case err == nil:
		return false, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "path", Summary: fmt.Sprintf("%s is not a directory", dir),
			Detail: "the output's directory is a file; fix the path"}
	case !errors.Is(err, fs.ErrNotExist):
		e := ioError(err, "", "output directory %s", dir)
		e.Field = "path"
		return false, e
	}
	parent := filepath.Dir(dir)
	if st, err := os.Stat(parent); err != nil || !st.IsDir() {
		return false, &sdk.Error{Code: sdk.CodeNotFound, Field: "path",
			Summary: fmt.Sprintf("output directory %s does not exist, and neither does its parent %s", dir, parent),
			Detail:  "the file sink creates the output's own directory, not its parents; create " + parent + " or fix the path" + relativeHint()}
	}
	return true, nil
}

// tempName is a new single-file temp file: hidden, beside the output so the
// final rename stays in one file system, named from output, flow and run
// and unique to this sink (a restored attempt finds it by the name in the
// checkpoint state).
func (s *sink) tempName() string {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	return filepath.Join(filepath.Dir(s.cfg.Path), s.tempPrefix()+safeName(s.init.RunID)+"."+hex.EncodeToString(nonce)+".tmp")
}

// tempPrefix starts the names of every temp file of this output and flow.
func (s *sink) tempPrefix() string {
	return "." + filepath.Base(s.cfg.Path) + "." + safeName(s.init.Flow) + "."
}

// removeStaleTemps deletes the temp files of this output and flow other than
// the one this sink uses: those of earlier runs of the flow, which can no
// longer resume (ADF keeps at most one resumable run per flow: adf run in
// its data directory, adf serve in its store, and a new run starts only
// when the previous one ended or was abandoned), and those of earlier
// attempts of this run that no checkpoint names (the restored checkpoint
// names this sink's temp file, and a fresh attempt has no checkpoint).
func (s *sink) removeStaleTemps() error {
	dir := filepath.Dir(s.cfg.Path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ioError(err, "check that the output directory is readable", "list output directory %s", dir)
	}
	prefix, keep := s.tempPrefix(), filepath.Base(s.state.Temp)
	removed := false
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || name == keep || !staleTempRE.MatchString(rest) || !e.Type().IsRegular() || slices.Contains(s.state.Segments, name) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return ioError(err, "remove it by hand, or check the directory's permissions", "remove stale temp output %s", filepath.Join(dir, name))
		}
		removed = true
	}
	if removed {
		return syncDir(dir)
	}
	return nil
}

// staleTempRE matches what follows tempPrefix in a temp file's name:
// <run>.<nonce>.tmp, or <run>.tmp as versions before the nonce named them.
// Parquet output adds <run>.<nonce>.tmp.seg-<checkpoint> (a checkpoint's
// segment; those the restored state names are kept) and .tmp.merge.
var staleTempRE = regexp.MustCompile(`^[^.]+(\.[0-9a-f]{16})?\.tmp(\.seg-[0-9]+|\.merge)?$`)

// reopenTemp opens the restored temp file and truncates it to the restored
// checkpoint's length, dropping what later, unsaved checkpoints appended. A
// temp file shorter than that length has lost rows the checkpoint covers:
// extending it would publish NUL bytes in their place, so that fails.
func (s *sink) reopenTemp() error {
	temp, want := s.state.Temp, s.state.Committed
	f, err := os.OpenFile(temp, os.O_RDWR, 0o644)
	if errors.Is(err, fs.ErrNotExist) && want == 0 {
		f, err = os.OpenFile(temp, os.O_CREATE|os.O_RDWR, 0o644)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return dataLoss("restore file sink: temp output %s of checkpoint %d is missing (it held %d bytes)", temp, s.state.CheckpointID, want)
	}
	if err != nil {
		return ioError(err, "check that the output directory is readable and writable", "open temp output %s", temp)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return ioError(err, "check the output directory", "stat temp output %s", temp)
	}
	if st.Size() < want {
		f.Close()
		return dataLoss("restore file sink: temp output %s holds %d bytes, checkpoint %d committed %d", temp, st.Size(), s.state.CheckpointID, want)
	}
	if err := f.Truncate(want); err != nil {
		f.Close()
		return ioError(err, "check the output file system", "truncate temp output %s to %d bytes", temp, want)
	}
	if _, err := f.Seek(want, io.SeekStart); err != nil {
		f.Close()
		return ioError(err, "check the output file system", "seek temp output %s", temp)
	}
	s.file = f
	// The truncation must be durable before new rows can be flushed after
	// it; Flush syncs the file, and the directory entry already existed.
	s.dirSynced = true
	return nil
}

// discardUnsavedParts deletes this run's parts that no durable checkpoint
// covers: every in-progress part (never flushed), pending parts of
// checkpoints after the restored one, and legacy temp parts. Pending parts
// of the restored checkpoint and earlier ones stay: its Commit follows.
func (s *sink) discardUnsavedParts(restored int64) error {
	dirs, err := s.partitionDirs()
	if err != nil {
		return ioError(err, "check that the output directory is readable", "list output directory %s", s.cfg.Path)
	}
	for _, d := range dirs {
		if err := s.discardUnsavedPartsIn(filepath.Join(s.cfg.Path, d), restored); err != nil {
			return err
		}
	}
	return nil
}

// discardUnsavedPartsIn is discardUnsavedParts for one directory.
func (s *sink) discardUnsavedPartsIn(dir string, restored int64) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ioError(err, "check that the output directory is readable", "list output directory %s", dir)
	}
	run, flow := safe(s.init.RunID), safeName(s.init.Flow)
	removed := false
	for _, e := range entries {
		name := e.Name()
		tag, base, tagged := splitFlowTag(name)
		if tagged && tag != flow {
			continue // another flow's
		}
		drop := false
		if r, _, ok := parseInProgress(base); ok && (r == run || tagged) {
			drop = true
		} else if r, id, ok := parsePending(base, ""); ok && ((r == run && id > restored) || (r != run && tagged)) {
			// This run's parts of checkpoints after the restored one, and
			// the parts of earlier runs of this flow, which can no longer
			// resume (see removeStaleTemps).
			drop = true
		} else if strings.HasPrefix(base, ".part-"+run+"-") && strings.HasSuffix(base, ".tmp") {
			drop = true // written by versions before pending parts
		}
		if !drop {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return ioError(err, "remove it by hand, or check the directory's permissions", "discard unsaved part %s", filepath.Join(dir, name))
		}
		removed = true
	}
	if removed {
		// The deletions must not come back after a crash while new parts
		// take the later checkpoint ids' place.
		return syncDir(dir)
	}
	return nil
}

// pendingName is the hidden pending part of a checkpoint; finalName is what
// Commit renames it to.
func (s *sink) pendingName(checkpointID int64) string {
	return "." + safeName(s.init.Flow) + flowTagSep + s.finalName(checkpointID) + pendingSuffix
}

// flowTagSep follows the flow in the names of hidden parts:
// .<flow>~part-<run>-<checkpoint><ext>.pending and
// .<flow>~part-<run>-<nonce>.inprogress. Versions before it named them
// .part-<run>-..., without the flow.
const flowTagSep = "~"

// splitFlowTag splits a hidden part's name into its flow and the name
// without the flow (.part-<run>-...); tagged is false for names without a
// flow, which are returned as they are.
func splitFlowTag(name string) (flow, base string, tagged bool) {
	i := strings.Index(name, flowTagSep+"part-")
	if len(name) == 0 || name[0] != '.' || i <= 1 || strings.ContainsAny(name[1:i], "."+flowTagSep) {
		return "", name, false
	}
	return name[1:i], "." + name[i+len(flowTagSep):], true
}

func (s *sink) finalName(checkpointID int64) string {
	return fmt.Sprintf("part-%s-%06d%s", safe(s.init.RunID), checkpointID, s.ext())
}

// parsePending splits .part-<run>-<checkpoint><ext>.pending; an empty ext
// stands for any. The run id may contain dashes; the checkpoint id, the
// last dash-separated field, does not.
func parsePending(name, ext string) (run string, id int64, ok bool) {
	rest, ok := strings.CutPrefix(name, ".part-")
	if !ok {
		return "", 0, false
	}
	if rest, ok = strings.CutSuffix(rest, ext+pendingSuffix); !ok {
		return "", 0, false
	}
	if ext == "" {
		i := strings.LastIndexByte(rest, '.')
		if i < 0 {
			return "", 0, false
		}
		rest = rest[:i]
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 {
		return "", 0, false
	}
	id, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return rest[:i], id, true
}

// parseInProgress splits .part-<run>-<nonce>.inprogress.
func parseInProgress(name string) (run, nonce string, ok bool) {
	rest, ok := strings.CutPrefix(name, ".part-")
	if !ok {
		return "", "", false
	}
	if rest, ok = strings.CutSuffix(rest, inProgressSuffix); !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
}

// safeName is safe, also replacing the separators of hidden names.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == '.' || r == '~' {
			return '_'
		}
		return r
	}, s)
}

func (s *sink) writer(out io.Writer) format.Writer {
	if s.parquet() {
		s.pw = format.NewParquetWriter(out, s.parquetOptions())
		return s.pw
	}
	if s.cfg.Format == FormatCSV {
		d, _ := utf8.DecodeRuneInString(s.cfg.Delimiter)
		header := (s.cfg.Header == nil || *s.cfg.Header) && !s.header
		return format.NewCSVWriter(out, d, header)
	}
	return format.NewJSONLinesWriter(out)
}

func (s *sink) parquetOptions() format.ParquetOptions {
	return format.ParquetOptions{Compression: s.cfg.Compression, RowGroupSize: s.cfg.RowGroupSize}
}

// closeParquet completes the Parquet file being written (its last row
// group and footer), so that it can be synced.
func (s *sink) closeParquet(name string) error {
	if s.pw == nil {
		return nil
	}
	n, err := s.pw.Close()
	s.bytes += n
	s.pw, s.w = nil, nil
	if err != nil {
		return ioError(err, "check the output file system (space, permissions)", "complete Parquet file %s", name)
	}
	return nil
}

// Write implements sdk.Sink.
func (s *sink) Write(_ context.Context, rec arrow.RecordBatch) error {
	if s.finished {
		return &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("write %s after the final checkpoint", s.cfg.Path),
			Detail: "the run's last checkpoint was flushed; report this as a host bug"}
	}
	if len(s.cfg.PartitionBy) > 0 {
		return s.writePartitioned(rec)
	}
	if s.dirMode && s.file == nil {
		// The nonce keeps the in-progress parts of two attempts apart
		// (the previous one may still be closing).
		nonce := make([]byte, 8)
		_, _ = rand.Read(nonce)
		s.partTmp = filepath.Join(s.cfg.Path, "."+safeName(s.init.Flow)+flowTagSep+"part-"+safe(s.init.RunID)+"-"+hex.EncodeToString(nonce)+inProgressSuffix)
		f, err := os.OpenFile(s.partTmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return ioError(err, "check that the output directory is writable", "create part file %s", s.partTmp)
		}
		s.file, s.buf, s.header = f, bufio.NewWriterSize(f, 1<<20), false
	}
	if s.w == nil {
		s.w = s.writer(s.buf)
	}
	n, err := s.w.Write(rec)
	if err != nil {
		return ioError(err, "check the output file system (space, permissions)", "write %s", s.cfg.Path)
	}
	s.rows += rec.NumRows()
	s.bytes += n
	return nil
}

// Flush implements sdk.Sink: the pre-commit. Everything written is synced;
// nothing becomes visible before Commit.
func (s *sink) Flush(_ context.Context, checkpointID int64, final bool) (sdk.FlushResult, error) {
	var c committables
	var err error
	s.flushID = checkpointID
	if s.dirMode {
		c, err = s.flushPart(checkpointID)
	} else {
		c, err = s.flushFile(final)
	}
	res := sdk.FlushResult{RowsWritten: s.rows, BytesWritten: s.bytes}
	if err != nil {
		return res, err
	}
	s.rows, s.bytes = 0, 0
	s.flushed = true
	s.state.CheckpointID = checkpointID
	if res.State, err = json.Marshal(s.state); err != nil {
		return res, &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("encode file sink state: %v", err), Err: err}
	}
	if c.Publish != nil || len(c.Parts) > 0 {
		if res.Committables, err = json.Marshal(c); err != nil {
			return res, &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("encode file sink committables: %v", err), Err: err}
		}
	}
	return res, nil
}

// sync writes the buffer out and fsyncs the open file.
func (s *sink) sync(name string) error {
	if err := s.buf.Flush(); err != nil {
		return ioError(err, "check the output file system (space, permissions)", "write %s", name)
	}
	if err := s.file.Sync(); err != nil {
		return ioError(err, "check the output file system", "sync %s", name)
	}
	return nil
}

// flushFile syncs the temp file and records its length. Non-final
// checkpoints have nothing visible to publish: the length in the state is
// what a restore needs. The final one's committable renames the temp file.
func (s *sink) flushFile(final bool) (committables, error) {
	if s.finished {
		// Flushed final before (this attempt, or the restored checkpoint):
		// the same rename publishes it.
		return committables{Publish: &publish{Temp: s.state.Temp, Output: s.cfg.Path, Size: s.state.Committed, Segments: slices.Clone(s.state.Segments)}}, nil
	}
	if s.parquet() {
		return s.flushParquetFile(final)
	}
	if err := s.sync(s.state.Temp); err != nil {
		return committables{}, err
	}
	off, err := s.file.Seek(0, io.SeekCurrent)
	if err != nil {
		return committables{}, ioError(err, "check the output file system", "read the length of temp output %s", s.state.Temp)
	}
	if !s.dirSynced {
		// Without this the synced temp file could vanish in a crash with
		// its directory entry, and the checkpoint would point at nothing.
		if err := syncDir(filepath.Dir(s.state.Temp)); err != nil {
			return committables{}, err
		}
		s.dirSynced = true
	}
	s.state.Committed = off
	if off > 0 {
		s.header = true
	}
	if !final {
		return committables{}, nil
	}
	if err := s.file.Close(); err != nil {
		return committables{}, ioError(err, "check the output file system", "close temp output %s", s.state.Temp)
	}
	s.file, s.buf, s.w = nil, nil, nil
	s.finished = true
	s.state.Final = true
	return committables{Publish: &publish{Temp: s.state.Temp, Output: s.cfg.Path, Size: off}}, nil
}

// flushParquetFile is flushFile for Parquet, which cannot be appended to
// once its footer is written. A checkpoint with rows completes the temp
// file and renames it to the checkpoint's segment (the state lists the
// segments, and a restore deletes those of later checkpoints); the temp
// file starts over empty, so the state's length stays 0. The final Flush
// merges the segments and its own rows into the temp file (or, without
// segments, just completes it), which Commit renames over the output.
func (s *sink) flushParquetFile(final bool) (committables, error) {
	dir := filepath.Dir(s.state.Temp)
	if err := s.closeParquet(s.state.Temp); err != nil {
		return committables{}, err
	}
	if err := s.sync(s.state.Temp); err != nil {
		return committables{}, err
	}
	off, err := s.file.Seek(0, io.SeekCurrent)
	if err != nil {
		return committables{}, ioError(err, "check the output file system", "read the length of temp output %s", s.state.Temp)
	}
	if !s.dirSynced {
		if err := syncDir(dir); err != nil {
			return committables{}, err
		}
		s.dirSynced = true
	}
	if !final {
		if off == 0 {
			return committables{}, nil
		}
		if err := s.file.Close(); err != nil {
			return committables{}, ioError(err, "check the output file system", "close temp output %s", s.state.Temp)
		}
		s.file = nil
		seg := filepath.Base(s.state.Temp) + ".seg-" + strconv.FormatInt(s.flushID, 10)
		if err := os.Rename(s.state.Temp, filepath.Join(dir, seg)); err != nil {
			return committables{}, ioError(err, "check the output directory", "rename %s to Parquet segment %s", s.state.Temp, seg)
		}
		f, err := os.OpenFile(s.state.Temp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
		if err != nil {
			return committables{}, ioError(err, "check that the output directory is writable", "create temp output %s", s.state.Temp)
		}
		if err := syncDir(dir); err != nil {
			f.Close()
			return committables{}, err
		}
		s.file, s.buf = f, bufio.NewWriterSize(f, 1<<20)
		s.state.Segments = append(s.state.Segments, seg)
		s.state.Committed = 0
		return committables{}, nil
	}
	if err := s.file.Close(); err != nil {
		return committables{}, ioError(err, "check the output file system", "close temp output %s", s.state.Temp)
	}
	s.file, s.buf = nil, nil
	if len(s.state.Segments) > 0 {
		if off, err = s.mergeSegments(off > 0); err != nil {
			return committables{}, err
		}
	}
	s.state.Committed = off
	s.finished = true
	s.state.Final = true
	return committables{Publish: &publish{Temp: s.state.Temp, Output: s.cfg.Path, Size: off, Segments: slices.Clone(s.state.Segments)}}, nil
}

// mergeSegments writes the segments, then the temp file when withTemp,
// into a new file renamed over the temp file, and returns its length.
func (s *sink) mergeSegments(withTemp bool) (int64, error) {
	dir := filepath.Dir(s.state.Temp)
	merge := s.state.Temp + ".merge"
	f, err := os.OpenFile(merge, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, ioError(err, "check that the output directory is writable", "create %s", merge)
	}
	defer f.Close()
	buf := bufio.NewWriterSize(f, 1<<20)
	pw := format.NewParquetWriter(buf, s.parquetOptions())
	srcs := make([]string, 0, len(s.state.Segments)+1)
	for _, seg := range s.state.Segments {
		srcs = append(srcs, filepath.Join(dir, seg))
	}
	if withTemp {
		srcs = append(srcs, s.state.Temp)
	}
	for _, src := range srcs {
		if err := format.CopyParquet(pw, src); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return 0, dataLoss("merge Parquet segment %s into %s: it is missing", src, s.cfg.Path)
			}
			return 0, ioError(err, "check the output file system", "merge Parquet segment %s into %s", src, s.state.Temp)
		}
	}
	if _, err := pw.Close(); err != nil {
		return 0, ioError(err, "check the output file system (space, permissions)", "write %s", merge)
	}
	if err := buf.Flush(); err != nil {
		return 0, ioError(err, "check the output file system (space, permissions)", "write %s", merge)
	}
	if err := f.Sync(); err != nil {
		return 0, ioError(err, "check the output file system", "sync %s", merge)
	}
	st, err := f.Stat()
	if err != nil {
		return 0, ioError(err, "check the output file system", "stat %s", merge)
	}
	if err := os.Rename(merge, s.state.Temp); err != nil {
		return 0, ioError(err, "check the output directory", "rename %s to %s", merge, s.state.Temp)
	}
	return st.Size(), syncDir(dir)
}

// flushPart closes the checkpoint's in-progress part, syncs it and renames
// it to the checkpoint's pending name. The committables list every pending
// part no Commit has published yet.
func (s *sink) flushPart(checkpointID int64) (committables, error) {
	if len(s.parts) > 0 {
		parts, err := s.flushPartitions(checkpointID)
		if err != nil {
			return committables{}, err
		}
		s.state.Pending = append(s.state.Pending, parts...)
	}
	if s.file != nil {
		if err := s.closeParquet(s.partTmp); err != nil {
			return committables{}, err
		}
		if err := s.sync(s.partTmp); err != nil {
			return committables{}, err
		}
		if err := s.file.Close(); err != nil {
			return committables{}, ioError(err, "check the output file system", "close part %s", s.partTmp)
		}
		p := part{CheckpointID: checkpointID, Pending: s.pendingName(checkpointID), Final: s.finalName(checkpointID)}
		if err := os.Rename(s.partTmp, filepath.Join(s.cfg.Path, p.Pending)); err != nil {
			return committables{}, ioError(err, "check the output directory", "rename part %s to %s", s.partTmp, p.Pending)
		}
		// The pending name must survive a crash: the checkpoint will
		// refer to it.
		if err := syncDir(s.cfg.Path); err != nil {
			return committables{}, err
		}
		s.file, s.buf, s.w, s.pw, s.partTmp = nil, nil, nil, nil, ""
		s.state.Pending = append(s.state.Pending, p)
	}
	if len(s.state.Pending) == 0 {
		return committables{}, nil
	}
	return committables{Dir: s.cfg.Path, Parts: slices.Clone(s.state.Pending)}, nil
}

// Commit implements sdk.Committer: it publishes a checkpoint's committables
// once the host has saved the checkpoint. It is idempotent: what is already
// published is recognised and left alone, so a restore may repeat it.
func (s *sink) Commit(_ context.Context, req sdk.CommitRequest) error {
	if len(req.Committables) == 0 {
		return nil // a checkpoint with nothing to publish
	}
	var c committables
	if err := json.Unmarshal(req.Committables, &c); err != nil {
		return &sdk.Error{Code: sdk.CodeInternal, Summary: fmt.Sprintf("commit checkpoint %d of file sink %s: bad committables: %v", req.CheckpointID, s.cfg.Path, err),
			Detail: "the checkpoint was not written by this plugin; start the run without it", Err: fmt.Errorf("decode file sink committables: %w", err)}
	}
	if c.Publish != nil {
		if err := commitFile(*c.Publish); err != nil {
			return err
		}
		if err := removeSegments(filepath.Dir(c.Publish.Output), c.Publish.Segments); err != nil {
			return err
		}
	}
	if len(c.Parts) > 0 {
		if err := commitParts(c.Dir, c.Parts); err != nil {
			return err
		}
		// Published parts leave the later checkpoints' committables.
		s.state.Pending = slices.DeleteFunc(s.state.Pending, func(p part) bool {
			return slices.ContainsFunc(c.Parts, func(q part) bool { return q.Pending == p.Pending })
		})
	}
	return nil
}

// commitFile renames the complete temp file over the output. A missing temp
// file with the output at the expected size is a rename that already
// happened.
func commitFile(p publish) error {
	st, err := os.Stat(p.Temp)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		out, err := os.Stat(p.Output)
		if err == nil && out.Size() == p.Size {
			// Published already; make sure the rename is durable.
			return syncDir(filepath.Dir(p.Output))
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return ioError(err, "check the output directory", "stat output %s", p.Output)
		}
		return dataLoss("publish %s: temp output %s is missing and the output does not hold the %d bytes flushed", p.Output, p.Temp, p.Size)
	case err != nil:
		return ioError(err, "check the output directory", "stat temp output %s", p.Temp)
	case st.Size() < p.Size:
		return dataLoss("publish %s: temp output %s holds %d bytes, %d were flushed", p.Output, p.Temp, st.Size(), p.Size)
	case st.Size() > p.Size:
		// Bytes after the final flush are not covered by it.
		if err := os.Truncate(p.Temp, p.Size); err != nil {
			return ioError(err, "check the output file system", "truncate temp output %s to %d bytes", p.Temp, p.Size)
		}
	}
	if err := os.Rename(p.Temp, p.Output); err != nil {
		return ioError(err, "check the output directory's permissions", "publish %s (rename from %s)", p.Output, p.Temp)
	}
	return syncDir(filepath.Dir(p.Output))
}

// removeSegments deletes Parquet segments merged into a published file.
func removeSegments(dir string, segs []string) error {
	if len(segs) == 0 {
		return nil
	}
	for _, seg := range segs {
		if err := os.Remove(filepath.Join(dir, seg)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return ioError(err, "remove it by hand, or check the directory's permissions", "remove merged Parquet segment %s", filepath.Join(dir, seg))
		}
	}
	return syncDir(dir)
}

// commitParts renames pending parts to their final names, skipping those
// renamed by an earlier Commit.
func commitParts(dir string, parts []part) error {
	subdirs := map[string]bool{}
	for _, p := range parts {
		if d := filepath.Dir(p.Final); d != "." {
			subdirs[d] = true
		}
		pending, final := filepath.Join(dir, p.Pending), filepath.Join(dir, p.Final)
		err := os.Rename(pending, final)
		if err == nil {
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return ioError(err, "check the output directory's permissions", "publish part %s", final)
		}
		if _, err := os.Stat(final); err == nil {
			continue // published by an earlier Commit
		} else if !errors.Is(err, fs.ErrNotExist) {
			return ioError(err, "check the output directory", "stat part %s", final)
		}
		return dataLoss("publish part %s of checkpoint %d: pending part %s is missing", final, p.CheckpointID, pending)
	}
	for _, d := range sortedKeys(subdirs) {
		if err := syncDir(filepath.Join(dir, d)); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

// syncDir makes renames and creations in dir durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for sync; NTFS journals renames
	}
	d, err := os.Open(dir)
	if err != nil {
		return ioError(err, "check the output directory", "open directory %s to sync it", dir)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return ioError(err, "check the output file system", "sync directory %s", dir)
	}
	return nil
}

// Close implements sdk.Sink: rows after the last Flush are dropped. In
// single-file mode the temp file is only closed, never cut: a restored
// attempt may already be writing it, and Open truncates it to the restored
// length anyway; but a temp file no checkpoint can name (this sink started
// the run afresh and never flushed) is this sink's own and is removed. An
// in-progress part is this instance's own.
func (s *sink) Close(context.Context) error {
	if err := s.closePartitions(); err != nil {
		return ioError(err, "nothing after the last checkpoint is kept; check the output file system", "close %s", s.cfg.Path)
	}
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	if !s.dirMode && !s.flushed && s.init.RestoredState == nil && s.state.Temp != "" {
		if rerr := os.Remove(s.state.Temp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
	}
	if s.dirMode && s.partTmp != "" {
		if rerr := os.Remove(s.partTmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
		s.partTmp = ""
	}
	s.file = nil
	if err != nil {
		return ioError(err, "nothing after the last checkpoint is kept; check the output file system", "close %s", s.cfg.Path)
	}
	return nil
}
