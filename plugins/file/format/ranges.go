package format

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Range is a byte range [Start, End) of a file whose records are read by one
// reader. Start is always the start of a line and StartLine is the 1-based
// line number at Start. A record that starts before End belongs to the range
// and is read whole, even if it extends past End.
type Range struct{ Start, End, StartLine int64 }

// planBufSize is the read size used by PlanRanges.
const planBufSize = 1 << 20

// PlanRanges cuts a file of the given size into ranges of about target bytes,
// each starting at a line start. It reads the whole file sequentially to find
// the newline following each cut point and to count newlines, so every
// StartLine is exact. When header is true the first line is a header and is
// excluded: the first range starts after it (a file holding only a header gives
// no ranges). An empty file gives no ranges; target <= 0 gives one range.
//
// These ranges assume records do not span lines, as in JSON lines (a JSON
// string cannot hold a raw line break); CSV files are planned with
// PlanCSVRanges.
func PlanRanges(f io.ReaderAt, size int64, target int64, header bool) ([]Range, error) {
	if size <= 0 {
		return nil, nil
	}
	buf := make([]byte, min(int64(planBufSize), size))
	start, startLine := int64(0), int64(1)
	pos := int64(0) // file offset of the next byte to read
	line := int64(1)

	// readChunk reads the chunk at pos into buf.
	readChunk := func() ([]byte, error) {
		want := min(int64(len(buf)), size-pos)
		n, err := f.ReadAt(buf[:want], pos)
		if int64(n) < want {
			if err == nil || errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("plan ranges: read at %d: %w", pos, err)
		}
		return buf[:n], nil
	}

	if header {
		found := false
		for pos < size && !found {
			chunk, err := readChunk()
			if err != nil {
				return nil, err
			}
			if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
				start, startLine, found = pos+int64(i)+1, 2, true
			}
			pos += int64(len(chunk))
		}
		if !found || start >= size {
			return nil, nil
		}
		pos, line = start, startLine
	}
	if target <= 0 {
		return []Range{{Start: start, End: size, StartLine: startLine}}, nil
	}

	var ranges []Range
	curStart, curLine := start, startLine
	cut := curStart + target // the next range starts at the first line start >= cut
	for pos < size && cut < size {
		chunk, err := readChunk()
		if err != nil {
			return nil, err
		}
		i := 0 // bytes of chunk already counted
		for cut < size {
			from := max(int(cut-1-pos), i)
			if from >= len(chunk) {
				break
			}
			j := bytes.IndexByte(chunk[from:], '\n')
			if j < 0 {
				break
			}
			nl := from + j
			line += int64(bytes.Count(chunk[i:nl+1], []byte{'\n'}))
			i = nl + 1
			next := pos + int64(nl) + 1
			if next >= size {
				break
			}
			ranges = append(ranges, Range{Start: curStart, End: next, StartLine: curLine})
			curStart, curLine = next, line
			cut = curStart + target
		}
		line += int64(bytes.Count(chunk[i:], []byte{'\n'}))
		pos += int64(len(chunk))
	}
	ranges = append(ranges, Range{Start: curStart, End: size, StartLine: curLine})
	return ranges, nil
}

// PlanCSVRanges cuts a CSV file of the given size into ranges of about
// target bytes, each starting at a record boundary: it frames every record
// of the file with the rules the CSV reader follows (see the package
// documentation), so no range starts inside a quoted field, whatever line
// breaks its fields hold, and every StartLine is exact. A range starts at
// the first record boundary at or after target bytes past the previous
// range's start. With opts.Header the header record is excluded: the first
// range starts after it (a file holding only a header gives no ranges). An
// empty file gives no ranges; target <= 0 gives one range.
func PlanCSVRanges(f io.ReaderAt, size int64, target int64, opts CSVOptions) ([]Range, error) {
	if size <= 0 {
		return nil, nil
	}
	sx, err := newCSVSyntax(opts)
	if err != nil {
		return nil, err
	}
	src, err := newCSVSource(io.NewSectionReader(f, 0, size), 0, 1, 0)
	if err != nil {
		return nil, fmt.Errorf("plan ranges: %w", err)
	}
	if opts.Header {
		if _, _, _, err := readCSVHeader(src, &sx); err != nil {
			return nil, fmt.Errorf("plan ranges: header: %w", err)
		}
	}
	if src.off >= size {
		return nil, checkPlanned(src, size)
	}
	curStart, curLine := src.off, src.line
	if target <= 0 {
		return []Range{{Start: curStart, End: size, StartLine: curLine}}, nil
	}
	var ranges []Range
	cut := curStart + target
	for {
		off, line := src.off, src.line
		if off >= cut && off < size {
			ranges = append(ranges, Range{Start: curStart, End: off, StartLine: curLine})
			curStart, curLine = off, line
			cut = off + target
		}
		if src.skipPlain(cut) {
			continue
		}
		fr, _, err := src.next(&sx)
		if err != nil {
			return nil, fmt.Errorf("plan ranges: read line %d: %w", line, err)
		}
		if fr.status == frameEOF {
			break
		}
	}
	if err := checkPlanned(src, size); err != nil {
		return nil, err
	}
	return append(ranges, Range{Start: curStart, End: size, StartLine: curLine}), nil
}

// checkPlanned fails when the file was shorter than its planned size.
func checkPlanned(src *csvSource, size int64) error {
	if src.eof && src.read < size {
		return fmt.Errorf("plan ranges: read %d of %d bytes: %w", src.read, size, io.ErrUnexpectedEOF)
	}
	return nil
}
