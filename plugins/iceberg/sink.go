package iceberg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/activedataflow/adf/sdk"
)

// Snapshot summary properties the sink writes. A snapshot that appends a
// checkpoint's data carries all three; a snapshot that removes the data of
// checkpoints the host never made durable carries SummaryReverted instead of
// SummaryCheckpoint.
const (
	SummaryFlow       = "adf.flow"
	SummaryRun        = "adf.run-id"
	SummaryCheckpoint = "adf.checkpoint-id"
	SummaryReverted   = "adf.reverted-checkpoints"
)

// sinkState is FlushResult.State: the checkpoint flushed and the snapshot it
// committed (0 when the checkpoint had no rows).
type sinkState struct {
	CheckpointID int64 `json:"checkpoint_id"`
	SnapshotID   int64 `json:"snapshot_id,omitempty"`
}

type sink struct {
	cfg   *SinkConfig
	init  sdk.SinkInit
	ident table.Identifier
	cat   catalog.Catalog
	tbl   *table.Table

	stage  *stager            // writes the current schema's data files
	staged []iceberg.DataFile // data files written since the last flush
	rows   int64              // rows written since the last flush
	state  sinkState

	// wctx bounds the Parquet writers' goroutines; Close cancels it.
	wctx    context.Context
	wcancel context.CancelFunc
}

func newSink(cfg *SinkConfig) (*sink, error) {
	ident, err := parseIdent(cfg.Table)
	if err != nil {
		return nil, sdk.ConfigError("table", "%v", err)
	}
	wctx, wcancel := context.WithCancel(context.Background())
	return &sink{cfg: cfg, ident: ident, wctx: wctx, wcancel: wcancel}, nil
}

// Open implements sdk.Sink: it connects to the catalog, loads (or creates)
// the table and removes the data of checkpoints that an earlier attempt of
// this run committed but the host never made durable.
func (s *sink) Open(ctx context.Context, init sdk.SinkInit) error {
	s.init = init
	if len(init.RestoredState) > 0 {
		if err := json.Unmarshal(init.RestoredState, &s.state); err != nil {
			return fmt.Errorf("iceberg sink: restore state %q: %w", init.RestoredState, err)
		}
	}
	cat, err := openCatalog(ctx, &s.cfg.CatalogConfig)
	if err != nil {
		return err
	}
	s.cat = cat
	tbl, err := cat.LoadTable(ctx, s.ident)
	switch {
	case err == nil:
		s.tbl = tbl
	case errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace):
		if !s.cfg.createTable() {
			return &sdk.Error{Code: sdk.CodeNotFound, Field: "table", Summary: fmt.Sprintf("table %s does not exist", s.cfg.Table), Err: err,
				Detail: "create it, or set create_table: true to create it from the data's schema"}
		}
		if init.Schema != nil {
			if err := s.createTable(ctx, init.Schema); err != nil {
				return err
			}
		}
		return nil
	default:
		return unavailable(fmt.Sprintf("load table %s", s.cfg.Table), err)
	}
	return s.revertUndurable(ctx)
}

// createTable creates the namespace and the table from the data's schema.
func (s *sink) createTable(ctx context.Context, sc *arrow.Schema) error {
	schema, err := icebergSchema(sc)
	if err != nil {
		return &sdk.Error{Code: sdk.CodeInvalidConfig, Summary: err.Error(), Err: err}
	}
	spec, err := partitionSpec(s.cfg.PartitionBy, schema)
	if err != nil {
		return &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "partition_by", Summary: err.Error(), Err: err}
	}
	ns := s.ident[:len(s.ident)-1]
	if exists, err := s.cat.CheckNamespaceExists(ctx, ns); err != nil {
		return unavailable("check namespace "+strings.Join(ns, "."), err)
	} else if !exists {
		if err := s.cat.CreateNamespace(ctx, ns, nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
			return unavailable("create namespace "+strings.Join(ns, "."), err)
		}
	}
	props := iceberg.Properties{}
	for k, v := range s.cfg.TableProps {
		props[k] = v
	}
	mapping, err := json.Marshal(schema.NameMapping())
	if err != nil {
		return fmt.Errorf("iceberg sink: name mapping: %w", err)
	}
	props[table.DefaultNameMappingKey] = string(mapping)
	tbl, err := s.cat.CreateTable(ctx, s.ident, schema, catalog.WithPartitionSpec(spec), catalog.WithProperties(props))
	if errors.Is(err, catalog.ErrTableAlreadyExists) {
		tbl, err = s.cat.LoadTable(ctx, s.ident)
	}
	if err != nil {
		return unavailable("create table "+s.cfg.Table, err)
	}
	s.tbl = tbl
	return nil
}

// revertUndurable finds the snapshots of this flow and run whose checkpoint
// id is above the restored one: an earlier attempt committed them, but the
// host never persisted those checkpoints, so it replays their rows. Their
// data files still in the table are removed in one snapshot, before any new
// data is committed.
func (s *sink) revertUndurable(ctx context.Context) error {
	cur := s.tbl.CurrentSnapshot()
	if cur == nil {
		return nil
	}
	meta := s.tbl.Metadata()
	undurable := map[int64]int64{}
	for _, snap := range table.AncestorsOf(cur.SnapshotID, meta.SnapshotByID) {
		cp, ok := s.ownCheckpoint(&snap)
		if ok && cp > s.state.CheckpointID {
			undurable[snap.SnapshotID] = cp
		}
	}
	if len(undurable) == 0 {
		return nil
	}
	fs, err := s.tbl.FS(ctx)
	if err != nil {
		return fmt.Errorf("iceberg sink: table file system: %w", err)
	}
	manifests, err := cur.Manifests(fs)
	if err != nil {
		return unavailable("read the manifest list", err)
	}
	var drop []iceberg.DataFile
	cps := map[int64]bool{}
	for _, m := range manifests {
		if m.ManifestContent() != iceberg.ManifestContentData {
			continue
		}
		entries, err := m.FetchEntries(fs, true)
		if err != nil {
			return unavailable("read manifest "+m.FilePath(), err)
		}
		for _, e := range entries {
			if cp, ok := undurable[e.SnapshotID()]; ok && e.Status() != iceberg.EntryStatusDELETED {
				drop = append(drop, e.DataFile())
				cps[cp] = true
			}
		}
	}
	if len(drop) == 0 {
		return nil
	}
	var list []string
	for cp := range cps {
		list = append(list, strconv.FormatInt(cp, 10))
	}
	sort.Strings(list)
	tx := s.tbl.NewTransaction()
	props := iceberg.Properties{SummaryFlow: s.init.Flow, SummaryRun: s.init.RunID, SummaryReverted: strings.Join(list, ",")}
	if err := tx.ReplaceDataFilesWithDataFiles(ctx, drop, nil, props); err != nil {
		return fmt.Errorf("iceberg sink: remove the data of checkpoints %s, committed but never made durable: %w", strings.Join(list, ","), err)
	}
	tbl, err := tx.Commit(ctx)
	if err != nil {
		return unavailable(fmt.Sprintf("commit the removal of checkpoints %s", strings.Join(list, ",")), err)
	}
	s.tbl = tbl
	return nil
}

// ownCheckpoint returns the checkpoint id of a snapshot this flow and run
// appended.
func (s *sink) ownCheckpoint(snap *table.Snapshot) (int64, bool) {
	if snap.Summary == nil {
		return 0, false
	}
	p := snap.Summary.Properties
	if p[SummaryFlow] != s.init.Flow || p[SummaryRun] != s.init.RunID {
		return 0, false
	}
	cp, err := strconv.ParseInt(p[SummaryCheckpoint], 10, 64)
	if err != nil {
		return 0, false
	}
	return cp, true
}

// Write implements sdk.Sink: the batch goes to the Parquet writer of the
// current schema; the files are committed at the next Flush.
func (s *sink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if rec.NumRows() == 0 {
		return nil
	}
	if s.tbl == nil {
		if err := s.createTable(ctx, rec.Schema()); err != nil {
			return err
		}
	}
	if s.stage == nil || !s.stage.schema.Equal(rec.Schema()) {
		if err := s.finishStage(ctx); err != nil {
			return err
		}
		if err := s.prepareSchema(ctx, rec.Schema()); err != nil {
			return err
		}
		s.stage = newStager(s.wctx, s.tbl, rec.Schema(), s.cfg.TargetFileSize)
	}
	if err := s.stage.add(ctx, rec); err != nil {
		return err
	}
	s.rows += rec.NumRows()
	return nil
}

// prepareSchema checks the data's columns against the table and adds new
// nullable ones when evolve_schema is set.
func (s *sink) prepareSchema(ctx context.Context, sc *arrow.Schema) error {
	added := newColumns(s.tbl, sc)
	if len(added) == 0 {
		return nil
	}
	if !s.cfg.EvolveSchema {
		return &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "evolve_schema",
			Summary: fmt.Sprintf("the data has columns that table %s lacks: %s", s.cfg.Table, describeFields(added)),
			Detail:  "set evolve_schema: true to add them to the table, or drop them with a select transform"}
	}
	tx := s.tbl.NewTransaction()
	var opts []table.UpdateSchemaOption
	if nm := s.tbl.NameMapping(); nm != nil {
		opts = append(opts, table.WithNameMapping(nm))
	}
	us := tx.UpdateSchema(true, false, opts...)
	for _, f := range added {
		if !f.Nullable {
			return &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "evolve_schema",
				Summary: fmt.Sprintf("cannot add column %s to table %s: it is not nullable, and Iceberg adds only optional columns to existing tables", f.Name, s.cfg.Table)}
		}
		typ, err := table.ArrowTypeToIceberg(f.Type, true)
		if err != nil {
			return &sdk.Error{Code: sdk.CodeInvalidConfig, Summary: fmt.Sprintf("column %s: %v", f.Name, err), Err: err}
		}
		us.AddColumn([]string{f.Name}, typ, "", false, nil)
	}
	if err := us.Commit(); err != nil {
		return fmt.Errorf("iceberg sink: add columns %s: %w", describeFields(added), err)
	}
	tbl, err := tx.Commit(ctx)
	if err != nil {
		return unavailable(fmt.Sprintf("commit new columns %s", describeFields(added)), err)
	}
	s.tbl = tbl
	return nil
}

// finishStage closes the current writer and keeps its data files.
func (s *sink) finishStage(ctx context.Context) error {
	if s.stage == nil {
		return nil
	}
	files, err := s.stage.finish(ctx)
	s.staged = append(s.staged, files...)
	s.stage = nil
	if err != nil {
		return fmt.Errorf("iceberg sink: write data files: %w", err)
	}
	return nil
}

// Flush implements sdk.Sink: it closes the data files written since the
// last flush and commits them as one append snapshot whose summary carries
// the flow, the run and the checkpoint id.
func (s *sink) Flush(ctx context.Context, checkpointID int64, _ bool) (sdk.FlushResult, error) {
	if err := s.finishStage(ctx); err != nil {
		return sdk.FlushResult{}, err
	}
	res := sdk.FlushResult{RowsWritten: s.rows}
	if len(s.staged) > 0 {
		var bytes int64
		for _, f := range s.staged {
			bytes += f.FileSizeBytes()
		}
		tx := s.tbl.NewTransaction()
		props := iceberg.Properties{
			SummaryFlow:       s.init.Flow,
			SummaryRun:        s.init.RunID,
			SummaryCheckpoint: strconv.FormatInt(checkpointID, 10),
		}
		if err := tx.AddDataFiles(ctx, s.staged, props, table.WithoutDuplicateCheck()); err != nil {
			return sdk.FlushResult{}, fmt.Errorf("iceberg sink: append checkpoint %d: %w", checkpointID, err)
		}
		tbl, err := tx.Commit(ctx)
		if err != nil {
			return sdk.FlushResult{}, unavailable(fmt.Sprintf("commit checkpoint %d to table %s", checkpointID, s.cfg.Table), err)
		}
		s.tbl = tbl
		res.BytesWritten = bytes
		s.state.SnapshotID = tbl.CurrentSnapshot().SnapshotID
	}
	s.state.CheckpointID = checkpointID
	st, err := json.Marshal(s.state)
	if err != nil {
		return sdk.FlushResult{}, fmt.Errorf("iceberg sink: state: %w", err)
	}
	res.State = st
	s.staged, s.rows = nil, 0
	return res, nil
}

// NotifyCheckpointComplete implements sdk.Sink.
func (s *sink) NotifyCheckpointComplete(context.Context, int64) error { return nil }

// Close implements sdk.Sink: data files written since the last flush are
// deleted, never committed.
func (s *sink) Close(ctx context.Context) error {
	var errs []error
	if s.stage != nil {
		files, _ := s.stage.finish(ctx)
		s.staged = append(s.staged, files...)
		s.stage = nil
	}
	if len(s.staged) > 0 && s.tbl != nil {
		if err := deleteFiles(ctx, s.tbl, s.staged); err != nil {
			errs = append(errs, err)
		}
	}
	s.staged = nil
	s.wcancel()
	if s.cat != nil {
		errs = append(errs, closeCatalog(s.cat))
	}
	return errors.Join(errs...)
}

// deleteFiles removes uncommitted data files.
func deleteFiles(ctx context.Context, tbl *table.Table, files []iceberg.DataFile) error {
	fs, err := tbl.FS(ctx)
	if err != nil {
		return fmt.Errorf("iceberg sink: table file system: %w", err)
	}
	var errs []error
	for _, f := range files {
		if err := fs.Remove(f.FilePath()); err != nil {
			errs = append(errs, fmt.Errorf("iceberg sink: remove uncommitted %s: %w", f.FilePath(), err))
		}
	}
	return errors.Join(errs...)
}

// stager feeds batches of one schema to iceberg-go's Parquet writer
// (table.WriteRecords) running in its own goroutine, so files are written
// while the flow runs and only committed at Flush.
type stager struct {
	schema *arrow.Schema
	ch     chan arrow.RecordBatch
	done   chan struct{}
	files  []iceberg.DataFile
	err    error
	closed bool
}

func newStager(ctx context.Context, tbl *table.Table, sc *arrow.Schema, targetSize int64) *stager {
	st := &stager{schema: sc, ch: make(chan arrow.RecordBatch, 8), done: make(chan struct{})}
	records := func(yield func(arrow.RecordBatch, error) bool) {
		for rec := range st.ch {
			if !yield(rec, nil) {
				// The writer stopped (an error): release what is queued.
				for r := range st.ch {
					r.Release()
				}
				return
			}
		}
	}
	go func() {
		defer close(st.done)
		// The writer outlives Write calls: it runs on the sink's context.
		for df, err := range table.WriteRecords(ctx, tbl, sc, records,
			table.WithTargetFileSize(targetSize), table.WithWriteUUID(uuid.New())) {
			if err != nil {
				st.err = err
				// Keep draining so that add never blocks.
				for r := range st.ch {
					r.Release()
				}
				return
			}
			st.files = append(st.files, df)
		}
	}()
	return st
}

// add queues rec (retained) for the writer.
func (st *stager) add(ctx context.Context, rec arrow.RecordBatch) error {
	rec.Retain()
	select {
	case st.ch <- rec:
		return nil
	case <-st.done:
		rec.Release()
		return fmt.Errorf("iceberg sink: write data files: %w", st.err)
	case <-ctx.Done():
		rec.Release()
		return ctx.Err()
	}
}

// finish closes the input and waits for the writer's files.
func (st *stager) finish(ctx context.Context) ([]iceberg.DataFile, error) {
	if !st.closed {
		close(st.ch)
		st.closed = true
	}
	select {
	case <-st.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return st.files, st.err
}
