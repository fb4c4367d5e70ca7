package sdk

import (
	"context"
	"time"
)

// What a source can report about its progress, beyond rows: the size of its
// splits, the bytes its readers consumed and how far its splits lag behind
// the source's end. All of it is optional and for display only (the host's
// progress, the API, metrics): a source that reports nothing still runs the
// same. docs/progress.md describes it for plugin authors.

// SizedSplit is a split that knows how many bytes of the source it covers,
// such as a file's byte range. The SDK sends the size with the split; the
// host adds the sizes of a run's splits into the source's total, which makes
// an ETA possible. A split whose size is not known does not implement it, or
// returns 0 (then the run's total is unknown).
type SizedSplit interface {
	Split
	SizeBytes() int64
}

// SplitAnnouncer is implemented by the SplitEnumeratorContext the SDK hands
// to an enumerator. Call it through [AnnounceSplits].
type SplitAnnouncer interface {
	// AnnounceSplits tells the host about splits found and not assigned
	// yet.
	AnnounceSplits(splits []Split) error
}

// AnnounceSplits tells the host about splits the enumerator discovered and
// has not assigned yet: the host shows them as pending and counts their
// sizes ([SizedSplit]) into the source's total before a reader gets them.
// Call it when discovery plans new splits, and from a restored enumerator's
// Start for the pending splits its state holds. Splits that are assigned
// without being announced first are fine too (they are known from their
// assignment on). A context that cannot announce (a test harness) ignores
// the call.
func AnnounceSplits(ctx SplitEnumeratorContext, splits ...Split) error {
	if a, ok := ctx.(SplitAnnouncer); ok && len(splits) > 0 {
		return a.AnnounceSplits(splits)
	}
	return nil
}

// SourceByteCounter is implemented by the ReaderOutput the SDK hands to
// PollNext. Call it through [AddSourceBytes].
type SourceByteCounter interface {
	// AddSourceBytes counts n more bytes of the source as consumed.
	AddSourceBytes(n int64)
}

// AddSourceBytes reports that the reader consumed n more bytes of its
// source: a file reader reports how far its position moved in the file,
// including headers, blank lines and rejected records. The SDK sends the
// count with the reader's next batch, or with its next split-finished report
// or state snapshot, whichever comes first, so the bytes a checkpoint counts
// match the positions it holds. Over a whole run a reader reports exactly
// the sizes of its splits ([SizedSplit]), so bytes read reach the total when
// the source is read. An output that does not count (a test harness) ignores
// the call.
func AddSourceBytes(out ReaderOutput, n int64) {
	if c, ok := out.(SourceByteCounter); ok && n > 0 {
		c.AddSourceBytes(n)
	}
}

// LagReporter is implemented by a SourceReader that can tell how many
// records the source holds behind its splits' positions: for a stream, the
// entries not yet delivered to the consumer group. The SDK calls Lag on the
// reader's goroutine (never concurrently with its other methods): before
// the first poll after the reader got splits, every [LagInterval] while it
// reads or waits for credit, and once more when it has caught up (PollNext
// said NothingAvailable after it emitted); an idle reader is not asked
// again until it reads something. The SDK sends each result to the host. The map holds split id to records
// behind; a split left out is unknown. An error skips that report (it is
// logged); it does not fail the reader.
type LagReporter interface {
	Lag(ctx context.Context) (map[string]int64, error)
}

// LagInterval is how often the SDK asks a [LagReporter] for its lag while
// the reader is busy.
const LagInterval = 2 * time.Second
