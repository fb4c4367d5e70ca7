// Package format decodes CSV, JSON (one array of objects) and JSON-lines files
// into Apache Arrow record batches, and encodes Arrow records as CSV and
// JSON-lines.
//
// Readers work on byte ranges of a file (see [PlanCSVRanges] and
// [PlanRanges]) so that one large file can be read in parallel, can be
// resumed exactly at a [RecordReader] position, and report every bad input
// record as a [Rejected] value with its exact line number, byte offset and
// raw text instead of failing or silently dropping it.
//
// CSV follows RFC 4180: a field whose first character is '"' is quoted and
// may hold delimiters, line breaks (kept as written, "\r\n" included) and
// doubled quotes (""), which stand for one quote. Records end in "\n" or
// "\r\n" outside quotes, or at the end of the file; blank lines are skipped
// and a UTF-8 byte order mark at the start of the file is dropped. Framing is
// memoryless: where a record ends depends only on the bytes from its start,
// so that the planner and every range reader agree on each record boundary.
// A quote error (a bare '"' inside a non-quoted field, a character after a
// closing quote, a file ending inside a quoted field, a multi-line record
// over 64 MiB) rejects the record's first line only, with a reason naming
// the lines involved, and reading goes on with the next line.
//
// String values must be valid UTF-8; a record holding invalid UTF-8 is
// rejected. Inferred schemas are lossless: see [InferCSV] and [InferJSON].
package format
