package iceberg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/activedataflow/adf/sdk"
)

// Snapshot summary properties the sink writes. Every snapshot that appends
// a checkpoint's data carries all three; together they name the checkpoint
// uniquely, which is what makes Commit idempotent.
const (
	SummaryFlow       = "adf.flow"
	SummaryRun        = "adf.run-id"
	SummaryCheckpoint = "adf.checkpoint-id"
)

type sink struct {
	cfg   *SinkConfig
	init  sdk.SinkInit
	ident table.Identifier
	cat   catalog.Catalog
	tbl   *table.Table

	stage  *stager            // writes the current schema's data files
	staged []iceberg.DataFile // data files written since the last flush
	rows   int64              // rows written since the last flush

	// flushed counts the data files of the checkpoints this sink flushed
	// and has not committed yet, so that a Commit that comes without their
	// committables is refused rather than taken for an empty checkpoint.
	flushed map[int64]int

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
	return &sink{cfg: cfg, ident: ident, wctx: wctx, wcancel: wcancel, flushed: map[int64]int{}}, nil
}

// Open implements sdk.Sink: it connects to the catalog, loads (or creates)
// the table and discards the data files an earlier attempt of this run
// pre-committed for checkpoints after the restored one (best effort: they
// are invisible either way, see discardAfter).
//
// The sink keeps no writer state: a restored writer starts with no staged
// files, and the restored checkpoint's id is all it needs. The host
// publishes the restored checkpoint itself, with a restored Commit before
// any Write, so init.RestoredState is not read.
func (s *sink) Open(ctx context.Context, init sdk.SinkInit) error {
	s.init = init
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
	default:
		return catalogErr(fmt.Sprintf("load table %s", s.cfg.Table), err)
	}
	s.discardAfter(ctx, init.RestoredCheckpointID)
	return nil
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
		return catalogErr("check namespace "+strings.Join(ns, "."), err)
	} else if !exists {
		if err := s.cat.CreateNamespace(ctx, ns, nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
			return catalogErr("create namespace "+strings.Join(ns, "."), err)
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
		return catalogErr("create table "+s.cfg.Table, err)
	}
	s.tbl = tbl
	return nil
}

// Write implements sdk.Sink: the batch goes to the Parquet writer of the
// current schema; the files are closed at the next Flush and appended by
// the Commit of that checkpoint.
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
		return catalogErr(fmt.Sprintf("commit new columns %s", describeFields(added)), err)
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

// Flush implements sdk.Sink: the pre-commit. It closes the data files
// written since the last flush (they are durable in the warehouse but no
// snapshot references them, so no reader sees them) and returns their
// metadata as the committables; Commit appends them. The state is empty
// (see Open).
func (s *sink) Flush(ctx context.Context, checkpointID int64, _ bool) (sdk.FlushResult, error) {
	if err := s.finishStage(ctx); err != nil {
		return sdk.FlushResult{}, err
	}
	c := &committable{Flow: s.init.Flow, RunID: s.init.RunID, CheckpointID: checkpointID}
	res := sdk.FlushResult{RowsWritten: s.rows}
	if len(s.staged) > 0 {
		if err := c.setFiles(s.tbl, s.staged); err != nil {
			return sdk.FlushResult{}, err
		}
		for _, f := range s.staged {
			res.BytesWritten += f.FileSizeBytes()
		}
		// Recorded before the host learns of the checkpoint, so that an
		// attempt restoring an earlier one can find and delete the files.
		if err := s.recordPending(ctx, c); err != nil {
			return sdk.FlushResult{}, err
		}
		s.flushed[checkpointID] = len(c.Files)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return sdk.FlushResult{}, &sdk.Error{Code: sdk.CodeInternal, Err: err,
			Summary: fmt.Sprintf("iceberg sink: encode the committables of checkpoint %d: %v", checkpointID, err)}
	}
	res.Committables = b
	s.staged, s.rows = nil, 0
	return res, nil
}

// Close implements sdk.Sink: data files written since the last flush are
// deleted, never committed. Flushed files stay: they are pre-committed, and
// a restored attempt commits them (or discards them at Open).
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
