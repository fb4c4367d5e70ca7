package file

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/activedataflow/adf/plugins/file/format"
	"github.com/activedataflow/adf/sdk"
)

// sinkState is what a restarted sink needs to continue after a checkpoint.
type sinkState struct {
	// Single-file mode: the temp file and its committed length.
	Temp      string `json:"temp,omitempty"`
	Committed int64  `json:"committed"`
	// Published is set once the final flush renamed the temp file.
	Published bool `json:"published,omitempty"`
}

// sink writes one output file, or one part file per checkpoint into a
// directory.
//
// Single file: rows go to a hidden temp file beside the output; each flush
// syncs it and records its length; the final flush renames it over the
// output, so readers never see a partial file. A restart truncates the temp
// file back to the last committed length, so nothing is duplicated.
//
// Directory: each flush renames the checkpoint's temp part into place as
// part-<run>-<checkpoint>.<ext>; uncommitted temp parts are deleted.
type sink struct {
	cfg     *SinkConfig
	dirMode bool
	init    sdk.SinkInit
	state   sinkState

	file    *os.File
	buf     *bufio.Writer
	w       format.Writer
	header  bool
	rows    int64
	bytes   int64
	partTmp string
}

func newSink(cfg *SinkConfig) (*sink, error) {
	return &sink{cfg: cfg}, nil
}

func (s *sink) ext() string {
	if s.cfg.Format == FormatCSV {
		return ".csv"
	}
	return ".jsonl"
}

// Open implements sdk.Sink.
func (s *sink) Open(_ context.Context, init sdk.SinkInit) error {
	s.init = init
	path := s.cfg.Path
	if st, err := os.Stat(path); strings.HasSuffix(path, "/") || (err == nil && st.IsDir()) {
		s.dirMode = true
		if err := os.MkdirAll(path, 0o755); err != nil {
			return &sdk.Error{Code: sdk.CodeIO, Field: "path", Summary: fmt.Sprintf("create output directory: %v", err)}
		}
		// Temp parts of this run were never committed: drop them.
		old, _ := filepath.Glob(filepath.Join(path, ".part-"+safe(init.RunID)+"-*.tmp"))
		for _, o := range old {
			os.Remove(o)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return &sdk.Error{Code: sdk.CodeIO, Field: "path", Summary: fmt.Sprintf("create output directory: %v", err)}
	}
	if init.RestoredState != nil && len(init.RestoredState) > 0 {
		if err := json.Unmarshal(init.RestoredState, &s.state); err != nil {
			return fmt.Errorf("restore file sink state: %w", err)
		}
	}
	if s.state.Published {
		return nil
	}
	if s.state.Temp == "" {
		s.state.Temp = filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+"."+safe(init.RunID)+".tmp")
	}
	flags := os.O_CREATE | os.O_RDWR
	if init.RestoredState == nil {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(s.state.Temp, flags, 0o644)
	if err != nil {
		return &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("open temp output %s: %v", s.state.Temp, err)}
	}
	// Drop whatever was written after the last committed flush.
	if err := f.Truncate(s.state.Committed); err != nil {
		f.Close()
		return &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("truncate temp output %s: %v", s.state.Temp, err)}
	}
	if _, err := f.Seek(s.state.Committed, io.SeekStart); err != nil {
		f.Close()
		return &sdk.Error{Code: sdk.CodeIO, Summary: err.Error()}
	}
	s.file = f
	s.buf = bufio.NewWriterSize(f, 1<<20)
	s.header = s.state.Committed > 0
	return nil
}

func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
}

func (s *sink) writer(out io.Writer) format.Writer {
	if s.cfg.Format == FormatCSV {
		d, _ := utf8.DecodeRuneInString(s.cfg.Delimiter)
		header := (s.cfg.Header == nil || *s.cfg.Header) && !s.header
		return format.NewCSVWriter(out, d, header)
	}
	return format.NewJSONLinesWriter(out)
}

// Write implements sdk.Sink.
func (s *sink) Write(_ context.Context, rec arrow.RecordBatch) error {
	if s.state.Published {
		return errors.New("file sink: output already published")
	}
	if s.dirMode && s.file == nil {
		s.partTmp = filepath.Join(s.cfg.Path, fmt.Sprintf(".part-%s-%d.tmp", safe(s.init.RunID), s.rows))
		f, err := os.OpenFile(s.partTmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
		if err != nil {
			return &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("create part file: %v", err)}
		}
		s.file, s.buf, s.header = f, bufio.NewWriterSize(f, 1<<20), false
	}
	if s.w == nil {
		s.w = s.writer(s.buf)
	}
	n, err := s.w.Write(rec)
	if err != nil {
		return &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("write %s: %v", s.cfg.Path, err)}
	}
	s.rows += rec.NumRows()
	s.bytes += n
	return nil
}

// Flush implements sdk.Sink.
func (s *sink) Flush(_ context.Context, checkpointID int64, final bool) (sdk.FlushResult, error) {
	res := sdk.FlushResult{RowsWritten: s.rows, BytesWritten: s.bytes}
	if s.file != nil {
		if err := s.buf.Flush(); err != nil {
			return res, &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("write %s: %v", s.cfg.Path, err)}
		}
		if err := s.file.Sync(); err != nil {
			return res, &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("sync %s: %v", s.cfg.Path, err)}
		}
	}
	if s.dirMode {
		if s.file != nil {
			if err := s.file.Close(); err != nil {
				return res, &sdk.Error{Code: sdk.CodeIO, Summary: err.Error()}
			}
			part := filepath.Join(s.cfg.Path, fmt.Sprintf("part-%s-%06d%s", safe(s.init.RunID), checkpointID, s.ext()))
			if err := os.Rename(s.partTmp, part); err != nil {
				return res, &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("commit %s: %v", part, err)}
			}
			syncDir(s.cfg.Path)
			s.file, s.buf, s.w, s.partTmp = nil, nil, nil, ""
		}
	} else if !s.state.Published {
		off, err := s.file.Seek(0, io.SeekCurrent)
		if err != nil {
			return res, &sdk.Error{Code: sdk.CodeIO, Summary: err.Error()}
		}
		s.state.Committed = off
		if off > 0 {
			s.header = true
		}
		if final {
			if err := s.file.Close(); err != nil {
				return res, &sdk.Error{Code: sdk.CodeIO, Summary: err.Error()}
			}
			s.file = nil
			if err := os.Rename(s.state.Temp, s.cfg.Path); err != nil {
				return res, &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("publish %s: %v", s.cfg.Path, err)}
			}
			syncDir(filepath.Dir(s.cfg.Path))
			s.state.Published = true
		}
	}
	s.rows, s.bytes = 0, 0
	st, err := json.Marshal(s.state)
	if err != nil {
		return res, err
	}
	res.State = st
	return res, nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// NotifyCheckpointComplete implements sdk.Sink.
func (s *sink) NotifyCheckpointComplete(context.Context, int64) error { return nil }

// Close implements sdk.Sink: unflushed rows are dropped (the next attempt
// truncates the temp file to the committed length anyway).
func (s *sink) Close(context.Context) error {
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	if s.dirMode && s.partTmp != "" {
		os.Remove(s.partTmp)
	} else if !s.dirMode {
		os.Truncate(s.state.Temp, s.state.Committed)
	}
	s.file = nil
	return err
}
