package format

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the RFC 4180 record framing shared by the CSV reader, the
// schema inference and the range planner. Framing is a pure function of the
// bytes from a record start: where a record ends does not depend on anything
// read before it. The planner and every reader therefore agree on every
// record boundary, and a range may start at any boundary the planner saw.
//
// The rules:
//
//   - A record ends at the first line feed outside a quoted field, or at the
//     end of the file. "\r\n" ends a record like "\n"; a record that is only
//     a line end is blank and skipped.
//   - A field is quoted when its first character is '"'. Inside it, '""' is
//     one quote and every other byte, line breaks included, is content. After
//     the closing quote comes the delimiter, the line end or the end of the
//     file.
//   - A '"' elsewhere in a non-quoted field, or another character after a
//     closing quote, is a quote error; so is a file that ends inside a quoted
//     field, and a record spanning several lines that grows past
//     maxRecordBytes. A record with a quote error is rejected as its first
//     physical line only, and framing restarts on the next line: a stray
//     quote costs one line, not the rest of the file.

// maxRecordBytes bounds a record that spans several lines. A quoted field
// left open by mistake would otherwise swallow the rest of the file; past
// this size the record's first line is rejected and reading resumes on the
// next line. Single-line records have no limit.
var maxRecordBytes = 64 << 20 // a variable for tests

// csvSyntax is the delimiter of a CSV dialect; the quote is always '"'.
type csvSyntax struct {
	comma []byte // the delimiter's UTF-8 encoding
}

func newCSVSyntax(opts CSVOptions) (csvSyntax, error) {
	d, err := opts.delimiter()
	if err != nil {
		return csvSyntax{}, err
	}
	return csvSyntax{comma: utf8.AppendRune(nil, d)}, nil
}

// commaAt reports whether b[i:] starts with the delimiter.
func (sx *csvSyntax) commaAt(b []byte, i int) bool {
	if len(sx.comma) == 1 {
		return i < len(b) && b[i] == sx.comma[0]
	}
	return bytes.HasPrefix(b[i:], sx.comma)
}

// commaBefore reports whether b[:i] ends with the delimiter.
func (sx *csvSyntax) commaBefore(b []byte, i int) bool {
	if len(sx.comma) == 1 {
		return i > 0 && b[i-1] == sx.comma[0]
	}
	return bytes.HasSuffix(b[:i], sx.comma)
}

// frameStatus is what frame found at the start of its input.
type frameStatus uint8

const (
	// frameMore: the input ends before the record does; read more.
	frameMore frameStatus = iota
	// frameOK: a well-formed record.
	frameOK
	// frameBlank: an empty line.
	frameBlank
	// frameBad: a record with a quote error; only its first line is
	// consumed.
	frameBad
	// frameEOF: nothing left (returned by csvSource.next only).
	frameEOF
)

// quoteProblem is the quote error of a frameBad record.
type quoteProblem uint8

const (
	problemBareQuote    quoteProblem = iota + 1 // '"' inside a non-quoted field
	problemAfterQuote                           // a character after a closing quote
	problemUnterminated                         // the file ends inside a quoted field
	problemTooLong                              // a multi-line record past maxRecordBytes
)

// frame describes the record at the start of the framed input.
type frame struct {
	status frameStatus
	// n is the number of bytes consumed: the record with its line end
	// (frameOK, frameBlank) or its first line with its line end (frameBad).
	n int
	// lines is the number of line feeds in those n bytes.
	lines int64
	// quoted tells that some field of a frameOK record is quoted.
	quoted bool
	// problem, atLine (line feeds before the offending byte), openLine
	// (line feeds before the opening quote of its field) and char (the
	// character after a closing quote, for problemAfterQuote) describe a
	// frameBad record.
	problem  quoteProblem
	atLine   int64
	openLine int64
	char     rune
}

var newline = []byte{'\n'}

// frame frames the record at the start of b; atEOF tells that nothing
// follows b. b must not be empty.
func (sx *csvSyntax) frame(b []byte, atEOF bool) frame {
	nl := bytes.IndexByte(b, '\n')
	first := b
	if nl >= 0 {
		first = b[:nl]
	}
	q := bytes.IndexByte(first, '"')
	if q >= 0 {
		return sx.frameQuoted(b, atEOF, q)
	}
	n, lines := len(b), int64(0)
	if nl >= 0 {
		n, lines = nl+1, 1
	} else if !atEOF {
		return frame{status: frameMore}
	}
	st := frameOK
	if len(trimEOL(b[:n])) == 0 {
		st = frameBlank
	}
	return frame{status: st, n: n, lines: lines}
}

// frameQuoted frames a record whose first quote is at b[i], in its first
// line, with no quote before it.
func (sx *csvSyntax) frameQuoted(b []byte, atEOF bool, i int) frame {
	firstNL := -1  // the first line feed inside a quoted field
	multiOpen := 0 // the opening quote of the field holding it
	var lines int64
	// A record spanning lines is too long when where it ends, where its
	// quote error is or where the input runs out lies past
	// maxRecordBytes: the same answer whatever part of it b holds.
	tooLong := func(event int) bool { return firstNL >= 0 && event > maxRecordBytes }
	fail := func(p quoteProblem, at, open int, char rune, event int) frame {
		if tooLong(event) {
			return sx.bad(b, atEOF, problemTooLong, multiOpen, multiOpen, 0)
		}
		return sx.bad(b, atEOF, p, at, open, char)
	}
	// more asks for more input; event is the first index the missing
	// bytes can decide something at, so that a record found too long here
	// is too long whatever follows.
	more := func(event int) frame {
		if tooLong(event) {
			return sx.bad(b, atEOF, problemTooLong, multiOpen, multiOpen, 0)
		}
		return frame{status: frameMore}
	}
	ok := func(n int) frame {
		if tooLong(n) {
			return sx.bad(b, atEOF, problemTooLong, multiOpen, multiOpen, 0)
		}
		return frame{status: frameOK, n: n, lines: lines, quoted: true}
	}
	for {
		// b[i] is a quote outside any quoted field, with no quote between
		// the start of its field and i.
		if i > 0 && !sx.commaBefore(b, i) {
			return fail(problemBareQuote, i, i, '"', i)
		}
		open := i
		j := i + 1
	quoted:
		for {
			k := bytes.IndexByte(b[j:], '"')
			seg := b[j:]
			if k >= 0 {
				seg = seg[:k]
			}
			if c := bytes.Count(seg, newline); c > 0 {
				if firstNL < 0 {
					firstNL = j + bytes.IndexByte(seg, '\n')
					multiOpen = open
				}
				lines += int64(c)
			}
			if k < 0 {
				if atEOF {
					return fail(problemUnterminated, open, open, 0, len(b))
				}
				return more(len(b))
			}
			c := j + k // a quote: closing, or the first of ""
			if c+1 == len(b) {
				if atEOF {
					return ok(len(b))
				}
				return more(len(b))
			}
			switch b[c+1] {
			case '"':
				j = c + 2
				continue
			case '\n':
				lines++
				return ok(c + 2)
			case '\r':
				if c+2 == len(b) {
					if atEOF {
						return ok(len(b))
					}
					return more(c + 1)
				}
				if b[c+2] == '\n' {
					lines++
					return ok(c + 3)
				}
				return fail(problemAfterQuote, c+1, open, '\r', c+1)
			}
			if sx.commaAt(b, c+1) {
				i = c + 1 + len(sx.comma)
				break quoted
			}
			if !atEOF && len(b)-(c+1) < len(sx.comma) && bytes.HasPrefix(sx.comma, b[c+1:]) {
				return more(c + 1)
			}
			if !atEOF && !utf8.FullRune(b[c+1:]) {
				return more(c + 1) // the reason names the whole character
			}
			r, _ := utf8.DecodeRune(b[c+1:])
			return fail(problemAfterQuote, c+1, open, r, c+1)
		}
		// i is the start of a field, outside quotes.
		if i == len(b) {
			if atEOF {
				return ok(len(b))
			}
			return more(len(b))
		}
		if b[i] == '"' {
			continue
		}
		rest := b[i:]
		nl := bytes.IndexByte(rest, '\n')
		seg := rest
		if nl >= 0 {
			seg = rest[:nl]
		}
		qq := bytes.IndexByte(seg, '"')
		if qq < 0 {
			if nl < 0 {
				if atEOF {
					return ok(len(b))
				}
				return more(len(b))
			}
			lines++
			return ok(i + nl + 1)
		}
		i += qq
	}
}

// bad returns the frameBad frame of a record whose quote error is at b[at],
// in the quoted field opened at b[open] (the bare quote itself for
// problemBareQuote): it consumes the record's first line (frameMore while
// that line is not complete in b).
func (sx *csvSyntax) bad(b []byte, atEOF bool, p quoteProblem, at, open int, char rune) frame {
	fr := frame{status: frameBad, problem: p, char: char}
	fr.atLine = int64(bytes.Count(b[:at], newline))
	fr.openLine = int64(bytes.Count(b[:open], newline))
	if nl := bytes.IndexByte(b, '\n'); nl >= 0 {
		fr.n, fr.lines = nl+1, 1
	} else if atEOF {
		fr.n = len(b)
	} else {
		return frame{status: frameMore}
	}
	return fr
}

// reason describes the quote error of a frameBad record that starts on
// line start, for Rejected.Reason.
func (fr *frame) reason(start int64) string {
	line, open := start+fr.atLine, start+fr.openLine
	only := ""
	if fr.atLine > 0 || fr.problem == problemUnterminated || fr.problem == problemTooLong {
		only = fmt.Sprintf("; only line %d is rejected, reading goes on at line %d", start, start+1)
	}
	switch fr.problem {
	case problemBareQuote:
		return fmt.Sprintf(`bare " in a non-quoted field at line %d (quote the whole field and double each " inside it, as in "say ""hi""")%s`, line, only)
	case problemAfterQuote:
		if line > open {
			return fmt.Sprintf(`quoted field opened at line %d ends at line %d with a " followed by %s: a closing " is probably missing at line %d, or a " inside the field is not doubled%s`,
				open, line, strconv.QuoteRune(fr.char), open, only)
		}
		return fmt.Sprintf(`%s after the closing " of a quoted field at line %d (a " inside a quoted field must be doubled: "")%s`, strconv.QuoteRune(fr.char), line, only)
	case problemUnterminated:
		return fmt.Sprintf(`quoted field opened at line %d is never closed: the file ends inside it (a closing " is missing, or a " inside the field is not doubled)%s`, open, only)
	case problemTooLong:
		return fmt.Sprintf(`quoted field opened at line %d is still open after %d bytes (a closing " is probably missing)%s`, open, maxRecordBytes, only)
	}
	return "quote error"
}

// fields splits the well-formed record rec (with its line end) into
// fields. They are views of one string; quoted tells which were quoted.
// buf and ends are scratch space, returned for reuse.
func (sx *csvSyntax) fields(rec []byte, wasQuoted bool, dst []string, quoted []bool, buf []byte, ends []int) ([]string, []bool, []byte, []int) {
	rec = trimEOL(rec)
	dst, quoted, ends = dst[:0], quoted[:0], ends[:0]
	if !wasQuoted {
		s := string(rec)
		for {
			k := indexComma(s, sx.comma)
			if k < 0 {
				dst = append(dst, s)
				quoted = append(quoted, false)
				return dst, quoted, buf, ends
			}
			dst = append(dst, s[:k])
			quoted = append(quoted, false)
			s = s[k+len(sx.comma):]
		}
	}
	buf = buf[:0]
	i := 0
	for {
		if i < len(rec) && rec[i] == '"' {
			j := i + 1
			for {
				k := bytes.IndexByte(rec[j:], '"')
				if k < 0 { // not reached for a framed record
					buf = append(buf, rec[j:]...)
					i = len(rec)
					break
				}
				buf = append(buf, rec[j:j+k]...)
				c := j + k
				if c+1 < len(rec) && rec[c+1] == '"' {
					buf = append(buf, '"')
					j = c + 2
					continue
				}
				i = c + 1
				break
			}
			ends = append(ends, len(buf))
			quoted = append(quoted, true)
			if i >= len(rec) {
				break
			}
			i += len(sx.comma)
			continue
		}
		k := bytes.Index(rec[i:], sx.comma)
		if k < 0 {
			buf = append(buf, rec[i:]...)
			ends = append(ends, len(buf))
			quoted = append(quoted, false)
			break
		}
		buf = append(buf, rec[i:i+k]...)
		ends = append(ends, len(buf))
		quoted = append(quoted, false)
		i += k + len(sx.comma)
	}
	s := string(buf)
	from := 0
	for _, e := range ends {
		dst = append(dst, s[from:e])
		from = e
	}
	return dst, quoted, buf, ends
}

func indexComma(s string, comma []byte) int {
	if len(comma) == 1 {
		return strings.IndexByte(s, comma[0])
	}
	return strings.Index(s, bytesString(comma))
}

// minReadBuf is the smallest buffer of a csvSource (a variable for tests,
// which shrink it to exercise refills).
var minReadBuf = 4 << 10

// csvSource frames the records of a stream, keeping the byte offset and
// line number of the next record exactly.
type csvSource struct {
	r     io.Reader
	buf   []byte
	start int   // buf[start:end] is read but not consumed
	end   int   //
	off   int64 // file offset of buf[start]
	line  int64 // line number at buf[start]
	eof   bool
	// read counts the bytes read from r.
	read int64
}

// newCSVSource returns a source reading r, whose first byte is at file
// offset off on line line. At offset 0 a UTF-8 byte order mark is skipped.
// want is about how many bytes will be read (the buffer grows past it when
// a record needs it); 0 means many.
func newCSVSource(r io.Reader, off, line, want int64) (*csvSource, error) {
	n := readBufSize
	if want > 0 && want < int64(n) {
		n = int(max(want, int64(minReadBuf)))
	}
	s := &csvSource{r: r, buf: make([]byte, n), off: off, line: line}
	if off == 0 {
		for s.end-s.start < len(utf8BOM) && !s.eof {
			if err := s.fill(); err != nil {
				return nil, err
			}
		}
		if bytes.HasPrefix(s.buf[s.start:s.end], utf8BOM) {
			s.start += len(utf8BOM)
			s.off += int64(len(utf8BOM))
		}
	}
	return s, nil
}

// fill reads more input after what is buffered, making room first.
func (s *csvSource) fill() error {
	if s.end == len(s.buf) {
		if s.start > 0 {
			n := copy(s.buf, s.buf[s.start:s.end])
			s.start, s.end = 0, n
		} else {
			nb := make([]byte, 2*len(s.buf))
			copy(nb, s.buf[:s.end])
			s.buf = nb
		}
	}
	for {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		s.read += int64(n)
		if errors.Is(err, io.EOF) {
			s.eof = true
			return nil
		}
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
	}
}

// skipPlain consumes, in one step, the buffered lines before the next quote:
// lines without a quote are records (or blank) of one line each, so the
// planner need not frame them one by one. It stops at the first record
// boundary at or after the file offset cut, and reports whether it consumed
// anything.
func (s *csvSource) skipPlain(cut int64) bool {
	b := s.buf[s.start:s.end]
	region := b
	if q := bytes.IndexByte(b, '"'); q >= 0 {
		region = b[:q]
	}
	last := bytes.LastIndexByte(region, '\n')
	if last < 0 {
		return false
	}
	n := last + 1
	if rel := cut - s.off; rel > 0 && rel < int64(n) {
		n = int(rel-1) + bytes.IndexByte(region[rel-1:], '\n') + 1
	}
	s.line += int64(bytes.Count(b[:n], newline))
	s.start += n
	s.off += int64(n)
	return true
}

// next frames and consumes the next record. The record's bytes (for
// frameBad its first line) are valid until the next call.
func (s *csvSource) next(sx *csvSyntax) (frame, []byte, error) {
	for {
		b := s.buf[s.start:s.end]
		if len(b) == 0 {
			if s.eof {
				return frame{status: frameEOF}, nil, nil
			}
			if err := s.fill(); err != nil {
				return frame{}, nil, err
			}
			continue
		}
		fr := sx.frame(b, s.eof)
		if fr.status == frameMore {
			if err := s.fill(); err != nil {
				return frame{}, nil, err
			}
			continue
		}
		s.start += fr.n
		s.off += int64(fr.n)
		s.line += fr.lines
		return fr, b[:fr.n], nil
	}
}
