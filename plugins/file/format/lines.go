package format

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
)

// readBufSize is the size of the buffered reader used to split lines.
const readBufSize = 256 << 10

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// lineSource splits a stream into physical lines, keeping the byte offset and
// 1-based line number of the next line exactly.
type lineSource struct {
	br   *bufio.Reader
	back []byte // pushed-back bytes served before br (whole lines)
	long []byte // assembly buffer for lines longer than br's buffer
	off  int64  // offset of the next unread byte
	line int64  // line number of the next unread byte
}

// newLineSource returns a lineSource reading r, whose first byte is at file
// offset off on line line. At offset 0 a UTF-8 byte order mark is skipped.
func newLineSource(r io.Reader, off, line int64) (*lineSource, error) {
	s := &lineSource{br: bufio.NewReaderSize(r, readBufSize), off: off, line: line}
	if off == 0 {
		if p, err := s.br.Peek(3); err == nil && bytes.Equal(p, utf8BOM) {
			_, _ = s.br.Discard(3)
			s.off = 3
		} else if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
	}
	return s, nil
}

// sectionFrom returns a reader of f from offset to the end of the file.
func sectionFrom(f io.ReaderAt, offset int64) io.Reader {
	return io.NewSectionReader(f, offset, math.MaxInt64-offset)
}

// next returns the next line including its terminator ("\n"; the last line of
// the stream may have none). The slice is valid until the next call. At the
// end of the stream it returns (nil, io.EOF).
func (s *lineSource) next() ([]byte, error) {
	if len(s.back) > 0 {
		l := s.back
		if i := bytes.IndexByte(l, '\n'); i >= 0 {
			l = l[:i+1]
		}
		s.back = s.back[len(l):]
		s.advance(l)
		return l, nil
	}
	l, err := s.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		s.long = append(s.long[:0], l...)
		for errors.Is(err, bufio.ErrBufferFull) {
			l, err = s.br.ReadSlice('\n')
			s.long = append(s.long, l...)
		}
		l = s.long
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(l) == 0 {
		return nil, io.EOF
	}
	s.advance(l)
	return l, nil
}

func (s *lineSource) advance(l []byte) {
	s.off += int64(len(l))
	if l[len(l)-1] == '\n' {
		s.line++
	}
}

// trimEOL strips a trailing "\n" or "\r\n" (and a lone trailing "\r").
func trimEOL(l []byte) []byte {
	if n := len(l); n > 0 && l[n-1] == '\n' {
		l = l[:n-1]
	}
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	return l
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
