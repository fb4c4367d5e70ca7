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
// Ranges assume records do not span lines; files with multi-line records must
// be read as a single range.
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
