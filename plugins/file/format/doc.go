// Package format decodes CSV, JSON (one array of objects) and JSON-lines files
// into Apache Arrow record batches, and encodes Arrow records as CSV and
// JSON-lines.
//
// Readers work on byte ranges of a file (see [PlanRanges]) so that one large
// file can be read in parallel, can be resumed exactly at a [RecordReader]
// position, and report every bad input record as a [Rejected] value with its
// exact line number, byte offset and raw text instead of failing or silently
// dropping it.
//
// CSV is parsed with encoding/csv. Unless CSVOptions.Multiline is set, every
// record is exactly one physical line: a quote error rejects that line only.
// String values must be valid UTF-8; a record holding invalid UTF-8 is
// rejected.
package format
