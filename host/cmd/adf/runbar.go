package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/activedataflow/adf/host/engine"
)

// runBar is the progress display of `adf run` on a terminal. When the
// source knows its size (the engine's progress events carry BytesTotal, as
// a file source's do) it is a bar over the bytes read, with the total and
// the time left; otherwise a spinner over the rows read. Both always show
// the rows read, written and rejected and the rows per second.
type runBar struct {
	w    io.Writer
	name string

	mu      sync.Mutex
	bar     *progressbar.ProgressBar
	byBytes bool
	total   int64
	start   time.Time
}

func newRunBar(w io.Writer, name string) *runBar {
	return &runBar{w: w, name: name, start: time.Now()}
}

// event takes one engine event; the engine may call it from several
// goroutines.
func (b *runBar) event(ev engine.Event) {
	if ev.Kind != "progress" {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.bar == nil:
		b.open(ev.BytesTotal)
	case !b.byBytes && ev.BytesTotal > 0:
		// The size became known (the splits arrive after the first rows):
		// the spinner gives way to the bar.
		_ = b.bar.Clear()
		b.open(ev.BytesTotal)
	case b.byBytes && ev.BytesTotal > b.total:
		// A continuous source found more input.
		b.total = ev.BytesTotal
		b.bar.ChangeMax64(ev.BytesTotal)
	}
	secs := time.Since(b.start).Seconds()
	perSec := 0.0
	if secs > 0 {
		perSec = float64(ev.RowsRead) / secs
	}
	b.bar.Describe(fmt.Sprintf("%s: %s read, %s written, %s rejected, %s rows/s", b.name,
		num(ev.RowsRead), num(ev.RowsWritten), num(ev.RowsRejected), rate(perSec)))
	if b.byBytes {
		// The bar stops drawing once it reaches its max, and a continuous
		// source may find more input after all it knew is read: it stays
		// a byte short until the run ends.
		_ = b.bar.Set64(min(ev.BytesRead, b.total-1))
	} else {
		_ = b.bar.Set64(ev.RowsRead)
	}
}

// open makes the bar: over total bytes, or a spinner when total is 0.
func (b *runBar) open(total int64) {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
	}
	if total > 0 {
		b.byBytes, b.total = true, total
		opts = append(opts,
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(20),
			progressbar.OptionShowDescriptionAtLineEnd())
		b.bar = progressbar.NewOptions64(total, opts...)
		return
	}
	opts = append(opts, progressbar.OptionSpinnerType(14), progressbar.OptionShowDescriptionAtLineEnd())
	b.bar = progressbar.NewOptions64(-1, opts...)
}

// finish clears the display; the summary line follows it.
func (b *runBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		_ = b.bar.Finish()
	}
}
