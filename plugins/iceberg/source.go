package iceberg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/activedataflow/adf/sdk"
)

// Split is one scan task: (a range of) one data file of the planned
// snapshot. Done counts the rows already emitted, so a restored split skips
// them.
type Split struct {
	Path   string `json:"path"`
	Start  int64  `json:"start"`
	Length int64  `json:"length"`
	// Snapshot is the snapshot the scan reads; From, in incremental mode,
	// the snapshot after which appended files are read (0 for a full scan).
	Snapshot int64 `json:"snapshot"`
	From     int64 `json:"from,omitempty"`
	Done     int64 `json:"done"`
}

// SplitID implements sdk.Split.
func (s *Split) SplitID() string { return fmt.Sprintf("%s@%d", s.Path, s.Start) }

type source struct{ cfg *SourceConfig }

func newSource(cfg *SourceConfig) (*source, error) { return &source{cfg: cfg}, nil }

// Boundedness implements sdk.Source: a scan ends.
func (s *source) Boundedness() sdk.Boundedness { return sdk.Bounded }

// DecodeSplit implements sdk.Source.
func (s *source) DecodeSplit(_ string, data []byte) (sdk.Split, error) {
	var sp Split
	if err := json.Unmarshal(data, &sp); err != nil {
		return nil, fmt.Errorf("decode iceberg split: %w", err)
	}
	return &sp, nil
}

// enumState is the enumerator's checkpoint.
type enumState struct {
	Planned  bool     `json:"planned"`
	Pending  []*Split `json:"pending"`
	Snapshot int64    `json:"snapshot"`
	// AllRead: every split was read (each reader asked for more and got
	// none) before this checkpoint.
	AllRead bool `json:"all_read"`
}

// CreateEnumerator implements sdk.Source.
func (s *source) CreateEnumerator(ctx sdk.SplitEnumeratorContext) (sdk.SplitEnumerator, error) {
	return &enumerator{cfg: s.cfg, ctx: ctx, signaled: map[int]bool{}}, nil
}

// RestoreEnumerator implements sdk.Source.
func (s *source) RestoreEnumerator(ctx sdk.SplitEnumeratorContext, state []byte) (sdk.SplitEnumerator, error) {
	var st enumState
	if err := json.Unmarshal(state, &st); err != nil {
		return nil, fmt.Errorf("restore iceberg enumerator: %w", err)
	}
	return &enumerator{cfg: s.cfg, ctx: ctx, signaled: map[int]bool{}, st: st}, nil
}

// CreateReader implements sdk.Source.
func (s *source) CreateReader(ctx sdk.SourceReaderContext) (sdk.SourceReader, error) {
	rctx, cancel := context.WithCancel(context.Background())
	return &reader{cfg: s.cfg, rctx: rctx, cancel: cancel, plans: map[[2]int64]*plan{}, splits: sdk.NewSplitQueue[*Split](ctx)}, nil
}

// enumerator plans the scan once and hands out one split per request.
type enumerator struct {
	cfg      *SourceConfig
	ctx      sdk.SplitEnumeratorContext
	st       enumState
	signaled map[int]bool
	doneAt   int64 // first checkpoint taken after every split was read
	saved    bool  // the incremental cursor was written
}

// Start implements sdk.SplitEnumerator: it plans the scan (unless restored).
func (e *enumerator) Start(ctx context.Context) error {
	if e.st.Planned {
		return nil
	}
	cat, err := openCatalog(ctx, &e.cfg.CatalogConfig)
	if err != nil {
		return err
	}
	defer closeCatalog(cat)
	ident, _ := parseIdent(e.cfg.Table)
	tbl, err := loadTable(ctx, cat, ident, e.cfg.Table)
	if err != nil {
		return err
	}
	snap, from, err := e.selectSnapshots(ctx, tbl)
	if err != nil {
		return err
	}
	e.st.Snapshot = snap
	if snap != 0 {
		tasks, err := planTasks(ctx, tbl, e.cfg, snap, from)
		if err != nil {
			return err
		}
		for _, t := range tasks {
			e.st.Pending = append(e.st.Pending, &Split{Path: t.File.FilePath(), Start: t.Start, Length: t.Length, Snapshot: snap, From: from})
		}
	}
	e.st.Planned = true
	return nil
}

// selectSnapshots picks the snapshot to read and, in incremental mode, the
// snapshot after which to read.
func (e *enumerator) selectSnapshots(ctx context.Context, tbl *table.Table) (snap, from int64, err error) {
	switch {
	case e.cfg.Mode == ModeIncremental:
		cur := tbl.CurrentSnapshot()
		if cur == nil {
			return 0, 0, nil
		}
		c, err := readCursor(ctx, &e.cfg.CatalogConfig, e.cfg.Cursor)
		if err != nil {
			return 0, 0, catalogErr("incremental cursor", err)
		}
		if c == nil {
			return cur.SnapshotID, 0, nil
		}
		if c.SnapshotID == cur.SnapshotID {
			return 0, 0, nil
		}
		if !table.IsAncestorOf(cur.SnapshotID, c.SnapshotID, tbl.Metadata().SnapshotByID) {
			return 0, 0, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "cursor",
				Summary: fmt.Sprintf("cursor %q points at snapshot %d, which is no longer an ancestor of the current snapshot %d of %s (expired, or the table was rolled back)", e.cfg.Cursor, c.SnapshotID, cur.SnapshotID, e.cfg.Table),
				Detail:  fmt.Sprintf("delete %s to read the whole table again, or use a new cursor name", cursorPath(&e.cfg.CatalogConfig, e.cfg.Cursor))}
		}
		return cur.SnapshotID, c.SnapshotID, nil
	case e.cfg.SnapshotID != 0:
		if tbl.SnapshotByID(e.cfg.SnapshotID) == nil {
			return 0, 0, &sdk.Error{Code: sdk.CodeNotFound, Field: "snapshot_id", Summary: fmt.Sprintf("table %s has no snapshot %d", e.cfg.Table, e.cfg.SnapshotID)}
		}
		return e.cfg.SnapshotID, 0, nil
	case e.cfg.AsOf != "":
		t, _ := time.Parse(time.RFC3339Nano, e.cfg.AsOf)
		s, err := tbl.Scan(table.WithSnapshotAsOf(t.UnixMilli())).ResolveSnapshot()
		if err != nil || s == nil {
			return 0, 0, &sdk.Error{Code: sdk.CodeNotFound, Field: "as_of", Summary: fmt.Sprintf("table %s has no snapshot as of %s", e.cfg.Table, e.cfg.AsOf), Err: err}
		}
		return s.SnapshotID, 0, nil
	}
	if cur := tbl.CurrentSnapshot(); cur != nil {
		return cur.SnapshotID, 0, nil
	}
	return 0, 0, nil
}

// scanOptions are the column selection and the row filter.
func scanOptions(cfg *SourceConfig, snap int64) ([]table.ScanOption, error) {
	opts := []table.ScanOption{table.WithSnapshotID(snap), table.WithArrowBatchSize(cfg.BatchSize)}
	if len(cfg.Columns) > 0 {
		opts = append(opts, table.WithSelectedFields(cfg.Columns...))
	}
	if cfg.Filter != "" {
		f, err := parseFilter(cfg.Filter)
		if err != nil {
			return nil, sdk.ConfigError("filter", "%v", err)
		}
		opts = append(opts, table.WithRowFilter(f))
	}
	return opts, nil
}

// planTasks plans the scan of snap (full) or of the files appended after
// from up to snap (incremental).
func planTasks(ctx context.Context, tbl *table.Table, cfg *SourceConfig, snap, from int64) ([]table.FileScanTask, error) {
	opts, err := scanOptions(cfg, snap)
	if err != nil {
		return nil, err
	}
	var tasks []table.FileScanTask
	if from == 0 {
		tasks, err = tbl.Scan(opts...).PlanFiles(ctx)
	} else {
		tasks, err = tbl.NewIncrementalAppendScan(opts...).FromSnapshotExclusive(from).ToSnapshot(snap).PlanFiles(ctx)
	}
	if err != nil {
		return nil, planError(cfg, snap, err)
	}
	if from != 0 {
		return dropRemoved(ctx, tbl, cfg, tasks, snap, from)
	}
	return tasks, nil
}

func planError(cfg *SourceConfig, snap int64, err error) error {
	var ce sdk.ConfigErrors
	if errors.As(err, &ce) {
		return err
	}
	return &sdk.Error{Code: sdk.CodeInvalidConfig, Summary: fmt.Sprintf("plan the scan of %s at snapshot %d: %v", cfg.Table, snap, err), Err: err,
		Detail: "check columns and filter against the table's schema"}
}

// dropRemoved keeps, of the files appended after from, those still in the
// table at snap. An incremental append scan returns every file an append
// snapshot added, even one that a later overwrite or delete snapshot in the
// range removed again, such as the data of a checkpoint the iceberg sink
// committed but the host never made durable (the sink removes it with an
// overwrite snapshot, see README). The check reads the manifests of snap,
// and only when the range holds such a snapshot.
func dropRemoved(ctx context.Context, tbl *table.Table, cfg *SourceConfig, tasks []table.FileScanTask, snap, from int64) ([]table.FileScanTask, error) {
	between, _ := table.AncestorsBetween(snap, from, tbl.Metadata().SnapshotByID)
	removes := false
	for _, s := range between {
		if s.Summary != nil && s.Summary.Operation != table.OpAppend {
			removes = true
		}
	}
	if !removes || len(tasks) == 0 {
		return tasks, nil
	}
	live, err := tbl.Scan(table.WithSnapshotID(snap)).PlanFiles(ctx)
	if err != nil {
		return nil, planError(cfg, snap, err)
	}
	paths := make(map[string]bool, len(live))
	for _, t := range live {
		paths[t.File.FilePath()] = true
	}
	kept := tasks[:0]
	for _, t := range tasks {
		if paths[t.File.FilePath()] {
			kept = append(kept, t)
		}
	}
	return kept, nil
}

// HandleSplitRequest implements sdk.SplitEnumerator. A reader asks only when
// it has read all its splits, so once every reader was told that no more
// splits come, everything was read.
func (e *enumerator) HandleSplitRequest(_ context.Context, readerID int, _ string) error {
	if len(e.st.Pending) > 0 {
		sp := e.st.Pending[0]
		e.st.Pending = e.st.Pending[1:]
		return e.ctx.AssignSplit(sp, readerID)
	}
	e.signaled[readerID] = true
	if len(e.signaled) >= e.ctx.Parallelism() {
		e.st.AllRead = true
	}
	return e.ctx.SignalNoMoreSplits(readerID)
}

// AddSplitsBack implements sdk.SplitEnumerator.
func (e *enumerator) AddSplitsBack(_ context.Context, splits []sdk.Split, readerID int) error {
	back := make([]*Split, 0, len(splits))
	for _, s := range splits {
		back = append(back, s.(*Split))
	}
	e.st.Pending = append(back, e.st.Pending...)
	delete(e.signaled, readerID)
	e.st.AllRead = false
	return nil
}

// AddReader implements sdk.SplitEnumerator.
func (e *enumerator) AddReader(context.Context, int) error { return nil }

// SnapshotState implements sdk.SplitEnumerator.
func (e *enumerator) SnapshotState(_ context.Context, checkpointID int64) ([]byte, error) {
	if e.st.AllRead && e.doneAt == 0 {
		e.doneAt = checkpointID
	}
	return json.Marshal(e.st)
}

// NotifyCheckpointComplete implements sdk.SplitEnumerator: in incremental
// mode, once a durable checkpoint covers every split, the cursor moves to
// the snapshot read, so the next run starts after it.
func (e *enumerator) NotifyCheckpointComplete(ctx context.Context, checkpointID int64) error {
	if e.cfg.Mode != ModeIncremental || e.saved || e.doneAt == 0 || checkpointID < e.doneAt || e.st.Snapshot == 0 {
		return nil
	}
	if err := writeCursor(ctx, &e.cfg.CatalogConfig, e.cfg.Cursor, cursor{SnapshotID: e.st.Snapshot, UpdatedAt: time.Now().UTC()}); err != nil {
		return catalogErr("save the incremental cursor", err)
	}
	e.saved = true
	return nil
}

// Close implements sdk.SplitEnumerator.
func (e *enumerator) Close() error { return nil }

// plan is a reader's copy of the planned scan, to find its splits' tasks.
type plan struct {
	scan  *table.Scan
	tasks map[string]table.FileScanTask
}

// reader reads its splits one after another.
type reader struct {
	cfg    *SourceConfig
	rctx   context.Context
	cancel context.CancelFunc
	cat    catalog.Catalog
	tbl    *table.Table
	plans  map[[2]int64]*plan

	splits *sdk.SplitQueue[*Split]
	cur    *Split
	skip   int64
	next   func() (arrow.RecordBatch, error, bool)
	stop   func()
}

// Start implements sdk.SourceReader.
func (r *reader) Start(context.Context) error { return r.splits.Request() }

// AddSplits implements sdk.SourceReader.
func (r *reader) AddSplits(splits []sdk.Split) error { return r.splits.Add(splits) }

// NotifyNoMoreSplits implements sdk.SourceReader.
func (r *reader) NotifyNoMoreSplits() { r.splits.NoMore() }

// PollNext implements sdk.SourceReader.
func (r *reader) PollNext(ctx context.Context, out sdk.ReaderOutput) (sdk.InputStatus, error) {
	sp, opened, status, err := r.splits.Next()
	if sp == nil {
		return status, err
	}
	if opened {
		if err := r.open(ctx, sp); err != nil {
			return 0, err
		}
	}
	for {
		rec, err, ok := r.next()
		if !ok {
			id := r.cur.SplitID()
			r.closeCurrent()
			if err := out.SplitFinished(id); err != nil {
				return 0, err
			}
			return sdk.MoreAvailable, r.splits.Finish()
		}
		if err != nil {
			return 0, &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("read %s: %v", r.cur.Path, err), Err: err, Transient: true}
		}
		n := rec.NumRows()
		if r.skip >= n {
			// Emitted before the checkpoint this split was restored from.
			r.skip -= n
			rec.Release()
			continue
		}
		if r.skip > 0 {
			s := rec.NewSlice(r.skip, n)
			rec.Release()
			rec, r.skip = s, 0
		}
		emitErr := out.Emit(r.cur.SplitID(), rec)
		r.cur.Done += rec.NumRows()
		rec.Release()
		if emitErr != nil {
			return 0, emitErr
		}
		return sdk.MoreAvailable, nil
	}
}

// open starts reading sp: it finds sp's task in the reader's plan of the
// same scan and reads it with iceberg-go.
func (r *reader) open(ctx context.Context, sp *Split) error {
	if r.tbl == nil {
		cat, err := openCatalog(ctx, &r.cfg.CatalogConfig)
		if err != nil {
			return err
		}
		r.cat = cat
		ident, _ := parseIdent(r.cfg.Table)
		tbl, err := loadTable(ctx, cat, ident, r.cfg.Table)
		if err != nil {
			return err
		}
		r.tbl = tbl
	}
	key := [2]int64{sp.Snapshot, sp.From}
	p := r.plans[key]
	if p == nil {
		if r.tbl.SnapshotByID(sp.Snapshot) == nil {
			// Committed after this reader loaded the table.
			if err := r.tbl.Refresh(ctx); err != nil {
				return catalogErr("refresh table "+r.cfg.Table, err)
			}
		}
		tasks, err := planTasks(ctx, r.tbl, r.cfg, sp.Snapshot, sp.From)
		if err != nil {
			return err
		}
		opts, err := scanOptions(r.cfg, sp.Snapshot)
		if err != nil {
			return err
		}
		p = &plan{scan: r.tbl.Scan(opts...), tasks: map[string]table.FileScanTask{}}
		for _, t := range tasks {
			p.tasks[(&Split{Path: t.File.FilePath(), Start: t.Start}).SplitID()] = t
		}
		r.plans[key] = p
	}
	task, ok := p.tasks[sp.SplitID()]
	if !ok {
		return &sdk.Error{Code: sdk.CodeNotFound, Summary: fmt.Sprintf("split %s is not in the plan of snapshot %d of %s (data file removed?)", sp.SplitID(), sp.Snapshot, r.cfg.Table)}
	}
	_, seq, err := p.scan.ReadTasks(r.rctx, []table.FileScanTask{task})
	if err != nil {
		return &sdk.Error{Code: sdk.CodeIO, Summary: fmt.Sprintf("read %s: %v", sp.Path, err), Err: err, Transient: true}
	}
	next, stop := iter.Pull2(seq)
	r.cur, r.skip, r.next, r.stop = sp, sp.Done, next, stop
	return nil
}

func (r *reader) closeCurrent() {
	if r.stop != nil {
		r.stop()
	}
	r.cur, r.next, r.stop = nil, nil, nil
}

// SnapshotState implements sdk.SourceReader: the split being read with the
// rows emitted so far, and the queued ones.
func (r *reader) SnapshotState(context.Context, int64) ([]sdk.Split, error) {
	return r.splits.Splits(), nil
}

// NotifyCheckpointComplete implements sdk.SourceReader.
func (r *reader) NotifyCheckpointComplete(context.Context, int64) error { return nil }

// Close implements sdk.SourceReader.
func (r *reader) Close() error {
	r.closeCurrent()
	r.cancel()
	if r.cat != nil {
		return closeCatalog(r.cat)
	}
	return nil
}
