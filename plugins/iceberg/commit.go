package iceberg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	iofs "io/fs"
	"strconv"
	"strings"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/codec"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/activedataflow/adf/sdk"
)

// committable is FlushResult.Committables: the data files one checkpoint
// wrote, with what is needed to append them to the table later, in another
// process if need be.
type committable struct {
	Flow         string `json:"flow"`
	RunID        string `json:"run_id"`
	CheckpointID int64  `json:"checkpoint_id"`
	// TableUUID is the table the files were written for: a table dropped
	// and created again under the same name must not receive them.
	TableUUID string `json:"table_uuid,omitempty"`
	// FormatVersion and SchemaID select the manifest-entry encoding of the
	// files (with each file's partition spec).
	FormatVersion int             `json:"format_version,omitempty"`
	SchemaID      int             `json:"schema_id,omitempty"`
	Files         []committedFile `json:"files,omitempty"`
}

// committedFile is one data file of a committable.
type committedFile struct {
	Path   string `json:"path"`
	SpecID int    `json:"spec_id"`
	Rows   int64  `json:"rows"`
	// Entry is the file's manifest entry as iceberg-go's codec encodes it
	// (the Avro a manifest carries): statistics and partition values
	// survive exactly, and Commit needs no second read of the file.
	Entry []byte `json:"entry"`
}

// setFiles encodes the data files written for tbl.
func (c *committable) setFiles(tbl *table.Table, files []iceberg.DataFile) error {
	meta := tbl.Metadata()
	schema := tbl.Schema()
	c.TableUUID = meta.TableUUID().String()
	c.FormatVersion = meta.Version()
	c.SchemaID = schema.ID
	for _, f := range files {
		spec := meta.PartitionSpecByID(int(f.SpecID()))
		if spec == nil {
			return &sdk.Error{Code: sdk.CodeInternal,
				Summary: fmt.Sprintf("iceberg sink: data file %s has partition spec %d, which table %s does not have", f.FilePath(), f.SpecID(), tbl.Identifier())}
		}
		b, err := codec.EncodeDataFile(f, *spec, schema, c.FormatVersion)
		if err != nil {
			return &sdk.Error{Code: sdk.CodeInternal, Err: err,
				Summary: fmt.Sprintf("iceberg sink: encode data file %s of checkpoint %d: %v", f.FilePath(), c.CheckpointID, err)}
		}
		c.Files = append(c.Files, committedFile{Path: f.FilePath(), SpecID: int(f.SpecID()), Rows: f.Count(), Entry: b})
	}
	return nil
}

// dataFiles decodes the files against tbl, which must be the table they
// were written for.
func (c *committable) dataFiles(tbl *table.Table, name string) ([]iceberg.DataFile, error) {
	meta := tbl.Metadata()
	if c.TableUUID != "" && c.TableUUID != meta.TableUUID().String() {
		return nil, &sdk.Error{Code: sdk.CodeNotFound, Field: "table",
			Summary: fmt.Sprintf("table %s was replaced since checkpoint %d was flushed (table uuid %s, the checkpoint's files were written for %s)", name, c.CheckpointID, meta.TableUUID(), c.TableUUID),
			Detail:  "the checkpoint's data files belong to the dropped table and cannot be committed to the new one: start a new run (the old files are orphans, remove them with your orphan-file cleanup)"}
	}
	var schema *iceberg.Schema
	for _, sc := range meta.Schemas() {
		if sc.ID == c.SchemaID {
			schema = sc
		}
	}
	if schema == nil {
		return nil, &sdk.Error{Code: sdk.CodeInternal,
			Summary: fmt.Sprintf("iceberg sink: table %s has no schema %d, which checkpoint %d's data files were written with", name, c.SchemaID, c.CheckpointID)}
	}
	files := make([]iceberg.DataFile, 0, len(c.Files))
	for _, f := range c.Files {
		spec := meta.PartitionSpecByID(f.SpecID)
		if spec == nil {
			return nil, &sdk.Error{Code: sdk.CodeInternal,
				Summary: fmt.Sprintf("iceberg sink: table %s has no partition spec %d, which data file %s of checkpoint %d was written with", name, f.SpecID, f.Path, c.CheckpointID)}
		}
		df, err := codec.DecodeDataFile(f.Entry, *spec, schema, c.FormatVersion)
		if err != nil {
			return nil, &sdk.Error{Code: sdk.CodeInternal, Err: err,
				Summary: fmt.Sprintf("iceberg sink: decode data file %s of checkpoint %d: %v", f.Path, c.CheckpointID, err)}
		}
		files = append(files, df)
	}
	return files, nil
}

// summary is the snapshot summary naming the checkpoint.
func (c *committable) summary() iceberg.Properties {
	return iceberg.Properties{
		SummaryFlow:       c.Flow,
		SummaryRun:        c.RunID,
		SummaryCheckpoint: strconv.FormatInt(c.CheckpointID, 10),
	}
}

// Commit implements sdk.Committer: it appends the checkpoint's data files
// in one snapshot whose summary carries the flow, the run and the
// checkpoint id. It is idempotent: when the table's history (the current
// snapshot and its ancestors) already has that snapshot, it does nothing.
//
// The committables are the only source of the files to append: a Commit
// without them for a checkpoint that flushed data files is a protocol
// violation and fails, rather than dropping the checkpoint's rows.
func (s *sink) Commit(ctx context.Context, req sdk.CommitRequest) error {
	if len(req.Committables) == 0 {
		if n := s.flushedFiles(ctx, req.CheckpointID); n > 0 {
			return &sdk.Error{Code: sdk.CodeInternal,
				Summary: fmt.Sprintf("iceberg sink: asked to commit checkpoint %d without its committables, but its Flush pre-committed %d data files", req.CheckpointID, n),
				Detail:  "the host must pass the committables the checkpoint's Flush returned to Commit (sdk.CommitRequest.Committables); the files stay uncommitted"}
		}
		// No data files flushed under that id: nothing to append.
		return nil
	}
	c := &committable{}
	if err := json.Unmarshal(req.Committables, c); err != nil {
		return &sdk.Error{Code: sdk.CodeInternal, Err: err,
			Summary: fmt.Sprintf("iceberg sink: the committables of checkpoint %d are not this sink's: %v", req.CheckpointID, err),
			Detail:  "the checkpoint was written by another sink or version; restart the run without restoring it"}
	}
	if c.CheckpointID != req.CheckpointID {
		return &sdk.Error{Code: sdk.CodeInternal,
			Summary: fmt.Sprintf("iceberg sink: asked to commit checkpoint %d with the committables of checkpoint %d", req.CheckpointID, c.CheckpointID)}
	}
	return s.commit(ctx, c)
}

// flushedFiles returns how many data files checkpoint id pre-committed and
// no Commit has appended yet, as far as this sink knows: the checkpoints it
// flushed itself and, for one an earlier attempt flushed, the pending
// record (best effort: a record that cannot be read counts as none).
func (s *sink) flushedFiles(ctx context.Context, id int64) int {
	if n, ok := s.flushed[id]; ok {
		return n
	}
	_, rec, err := s.readPending(ctx)
	if err != nil {
		return 0
	}
	return len(rec.Checkpoints[id])
}

// commitAttempts bounds the commits tried when the catalog rejects one
// (another writer committed to the table in between).
const commitAttempts = 3

// commit appends c's files unless a snapshot of the table's history
// already did.
func (s *sink) commit(ctx context.Context, c *committable) error {
	if len(c.Files) == 0 {
		delete(s.flushed, c.CheckpointID)
		return nil
	}
	if s.tbl == nil {
		tbl, err := loadTable(ctx, s.cat, s.ident, s.cfg.Table)
		if err != nil {
			return err
		}
		s.tbl = tbl
	}
	var lastErr error
	for attempt := 0; attempt < commitAttempts; attempt++ {
		if committedSnapshot(s.tbl, c) != nil {
			s.committed(ctx, c)
			return nil
		}
		files, err := c.dataFiles(s.tbl, s.cfg.Table)
		if err != nil {
			return err
		}
		tx := s.tbl.NewTransaction()
		if err := tx.AddDataFiles(ctx, files, c.summary(), table.WithoutDuplicateCheck()); err != nil {
			return &sdk.Error{Code: sdk.CodeInternal, Err: err,
				Summary: fmt.Sprintf("iceberg sink: append the %d data files of checkpoint %d to table %s: %v", len(files), c.CheckpointID, s.cfg.Table, err)}
		}
		tbl, err := tx.Commit(ctx)
		if err == nil {
			s.tbl = tbl
			s.committed(ctx, c)
			return nil
		}
		lastErr = err
		// The catalog may have applied the commit although the call failed
		// (a lost response), or rejected it because another writer moved
		// the table on: the fresh table tells which, and the loop either
		// stops or tries again on top of it.
		fresh, lerr := s.cat.LoadTable(ctx, s.ident)
		if lerr != nil {
			break
		}
		s.tbl = fresh
	}
	if committedSnapshot(s.tbl, c) != nil {
		s.committed(ctx, c)
		return nil
	}
	return &sdk.Error{Code: sdk.CodeUnavailable, Transient: true, Err: lastErr,
		Summary: fmt.Sprintf("iceberg sink: append checkpoint %d (%d data files) to table %s: %v", c.CheckpointID, len(c.Files), s.cfg.Table, lastErr),
		Detail:  "the host retries from the checkpoint, and the retry commits it once; check the catalog if this persists"}
}

// committed forgets a checkpoint once its snapshot is in the table.
func (s *sink) committed(ctx context.Context, c *committable) {
	delete(s.flushed, c.CheckpointID)
	s.clearPending(ctx, c.CheckpointID)
}

// committedSnapshot returns the snapshot of tbl's current history that
// appended c's checkpoint, if any.
func committedSnapshot(tbl *table.Table, c *committable) *table.Snapshot {
	cur := tbl.CurrentSnapshot()
	if cur == nil {
		return nil
	}
	id := strconv.FormatInt(c.CheckpointID, 10)
	for _, snap := range table.AncestorsOf(cur.SnapshotID, tbl.Metadata().SnapshotByID) {
		if snap.Summary == nil {
			continue
		}
		p := snap.Summary.Properties
		if p[SummaryFlow] == c.Flow && p[SummaryRun] == c.RunID && p[SummaryCheckpoint] == id {
			return &snap
		}
	}
	return nil
}

// pendingRecord lists the data files of this run's checkpoints that were
// flushed and not yet committed, by checkpoint id. It lives next to the
// incremental cursors, <warehouse>/adf/pending/<namespace.table>/<flow>/<run>.json,
// and lets an attempt that restores checkpoint K delete the files of the
// checkpoints after K, which no durable checkpoint covers and no snapshot
// will ever reference.
type pendingRecord struct {
	Checkpoints map[int64][]string `json:"checkpoints"`
}

// pendingPath is the run's pending record.
func (s *sink) pendingPath() string {
	return strings.TrimRight(s.cfg.Warehouse, "/") + "/adf/pending/" + s.cfg.Table + "/" +
		pathPart(s.init.Flow) + "/" + pathPart(s.init.RunID) + ".json"
}

// pathPart escapes a flow or run name into one path element: anything but
// letters, digits, '-' and '_' becomes %XX, so "." and ".." cannot climb.
func pathPart(s string) string {
	if s == "" {
		return "%"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

func (s *sink) readPending(ctx context.Context) (iceio.IO, *pendingRecord, error) {
	loc := s.pendingPath()
	fsys, err := iceio.LoadFS(ctx, s.cfg.Properties, loc)
	if err != nil {
		return nil, nil, err
	}
	rec := &pendingRecord{Checkpoints: map[int64][]string{}}
	f, err := fsys.Open(loc)
	if errors.Is(err, iofs.ErrNotExist) {
		return fsys, rec, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if err := json.NewDecoder(f).Decode(rec); err != nil {
		return nil, nil, fmt.Errorf("decode %s: %w", loc, err)
	}
	if rec.Checkpoints == nil {
		rec.Checkpoints = map[int64][]string{}
	}
	return fsys, rec, nil
}

func (s *sink) writePending(fsys iceio.IO, rec *pendingRecord) error {
	loc := s.pendingPath()
	if len(rec.Checkpoints) == 0 {
		if err := fsys.Remove(loc); err != nil && !errors.Is(err, iofs.ErrNotExist) {
			return err
		}
		return nil
	}
	w, ok := fsys.(iceio.WriteFileIO)
	if !ok {
		return fmt.Errorf("the warehouse's file system is read-only")
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if m, ok := fsys.(iceio.MkdirAllIO); ok {
		if err := m.MkdirAll(loc[:strings.LastIndexByte(loc, '/')]); err != nil {
			return err
		}
	}
	// Replace atomically where the file system can rename (local): a torn
	// record would hide the files it lists.
	if r, ok := fsys.(iceio.RenameIO); ok {
		tmp := loc + ".tmp"
		if err := w.WriteFile(tmp, data); err != nil {
			return err
		}
		return r.Rename(tmp, loc)
	}
	return w.WriteFile(loc, data)
}

// recordPending adds a flushed checkpoint's files to the pending record.
func (s *sink) recordPending(ctx context.Context, c *committable) error {
	fsys, rec, err := s.readPending(ctx)
	if err == nil {
		paths := make([]string, len(c.Files))
		for i, f := range c.Files {
			paths[i] = f.Path
		}
		rec.Checkpoints[c.CheckpointID] = paths
		err = s.writePending(fsys, rec)
	}
	if err != nil {
		return &sdk.Error{Code: sdk.CodeIO, Transient: true, Err: err,
			Summary: fmt.Sprintf("iceberg sink: record the data files of checkpoint %d in %s: %v", c.CheckpointID, s.pendingPath(), err),
			Detail:  "the sink keeps the list of pre-committed files under <warehouse>/adf/pending; check that the warehouse is writable"}
	}
	return nil
}

// clearPending drops the entries up to checkpoint id from the pending
// record. Best effort: an entry left behind for a committed checkpoint is
// only a few bytes, and discardAfter never deletes files a snapshot of the
// table references.
func (s *sink) clearPending(ctx context.Context, id int64) {
	fsys, rec, err := s.readPending(ctx)
	if err != nil {
		return
	}
	n := len(rec.Checkpoints)
	for cp := range rec.Checkpoints {
		if cp <= id {
			delete(rec.Checkpoints, cp)
		}
	}
	if len(rec.Checkpoints) != n {
		_ = s.writePending(fsys, rec)
	}
}

// discardAfter deletes the data files an earlier attempt of this run
// flushed for checkpoints after restoredID: no durable checkpoint covers
// them, the host replays their rows, and no Commit will ever append them.
// They are invisible already (no snapshot references them), so this only
// saves space, and it is best effort: the record is written at Flush, so
// files of a checkpoint the dead attempt had not flushed yet, or a record
// that cannot be read, leave orphan files for the table's orphan-file
// cleanup (e.g. Spark's remove_orphan_files). A file that a snapshot of
// this table's history references is never deleted.
func (s *sink) discardAfter(ctx context.Context, restoredID int64) {
	fsys, rec, err := s.readPending(ctx)
	if err != nil || len(rec.Checkpoints) == 0 {
		return
	}
	var tableFS iceio.IO
	if s.tbl != nil {
		tableFS, _ = s.tbl.FS(ctx)
	}
	for cp, paths := range rec.Checkpoints {
		if cp <= restoredID {
			// Durable: the restored Commit appends these files (or did).
			continue
		}
		if tableFS != nil {
			c := &committable{Flow: s.init.Flow, RunID: s.init.RunID, CheckpointID: cp}
			if committedSnapshot(s.tbl, c) == nil {
				loc := strings.TrimRight(s.tbl.Location(), "/") + "/"
				for _, p := range paths {
					// Only files under the table's location: the record
					// names nothing else, and a file that is not ours is
					// never deleted.
					if strings.HasPrefix(p, loc) {
						_ = tableFS.Remove(p)
					}
				}
			}
		}
		delete(rec.Checkpoints, cp)
	}
	_ = s.writePending(fsys, rec)
}
