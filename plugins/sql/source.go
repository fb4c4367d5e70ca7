package sql

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activedataflow/adf/sdk"
)

// cursorsDDL keeps incremental high-water marks between runs, in the source
// database; splitsDDL records which splits of a run are durably read.
const (
	cursorsDDL = `CREATE TABLE IF NOT EXISTS adf_source_cursors (
	name text PRIMARY KEY,
	cursor_column text NOT NULL,
	position text,
	updated_at timestamptz NOT NULL DEFAULT now())`
	splitsDDL = `CREATE TABLE IF NOT EXISTS adf_source_splits (
	name text NOT NULL,
	token text NOT NULL,
	split_id text NOT NULL,
	PRIMARY KEY (name, token, split_id))`
)

// Split is a range [Lo, Hi] of the split column, read in key order; Pos is
// the last key read (nil before the first row). In incremental mode every split of a run also filters
// Cursor in (CurLo, CurHi], the high-water marks at the run's start.
type Split struct {
	ID string `json:"id"`
	// Column is the split column.
	Column string `json:"column"`
	Lo     int64  `json:"lo"`
	Hi     int64  `json:"hi"`
	Pos    *int64 `json:"pos,omitempty"`
	// Incremental mode.
	CursorName string  `json:"cursor_name,omitempty"`
	CurLo      *string `json:"cur_lo,omitempty"`
	CurHi      *string `json:"cur_hi,omitempty"`
	CurType    string  `json:"cur_type,omitempty"`
	Token      string  `json:"token,omitempty"`
	Total      int     `json:"total,omitempty"`
}

// SplitID implements sdk.Split.
func (s *Split) SplitID() string { return s.ID }

// source is the postgres source factory.
type source struct{ cfg *SourceConfig }

func newSource(cfg *SourceConfig) *source { return &source{cfg: cfg} }

// Boundedness implements sdk.Source: the rows present at start.
func (s *source) Boundedness() sdk.Boundedness { return sdk.Bounded }

// DecodeSplit implements sdk.Source.
func (s *source) DecodeSplit(id string, data []byte) (sdk.Split, error) {
	var sp Split
	if err := json.Unmarshal(data, &sp); err != nil {
		return nil, fmt.Errorf("decode postgres split %s: %w", id, err)
	}
	return &sp, nil
}

// from is the FROM item: the table or the query as a subquery.
func (c *SourceConfig) from() string {
	if c.Query != "" {
		return "(" + strings.TrimRight(strings.TrimSpace(c.Query), ";") + ") AS adf_q"
	}
	schema, table := splitTable(c.Schema, c.Table, c.Model)
	return qualified(schema, table)
}

// cursorName is the key of the high-water mark in adf_source_cursors.
func (c *SourceConfig) cursorName() string {
	if c.CursorName != "" {
		return c.CursorName
	}
	if c.Query != "" {
		h := sha256.Sum256([]byte(c.Query))
		return "query:" + hex.EncodeToString(h[:8]) + ":" + c.Cursor
	}
	schema, table := splitTable(c.Schema, c.Table, c.Model)
	if schema != "" {
		table = schema + "." + table
	}
	return table + ":" + c.Cursor
}

// enumerator plans the key-range splits at start and hands them out.
type enumerator struct {
	cfg     *SourceConfig
	ctx     sdk.SplitEnumeratorContext
	Pending []*Split `json:"pending"`
	Planned bool     `json:"planned"`
}

// CreateEnumerator implements sdk.Source.
func (s *source) CreateEnumerator(ctx sdk.SplitEnumeratorContext) (sdk.SplitEnumerator, error) {
	return &enumerator{cfg: s.cfg, ctx: ctx}, nil
}

// RestoreEnumerator implements sdk.Source.
func (s *source) RestoreEnumerator(ctx sdk.SplitEnumeratorContext, state []byte) (sdk.SplitEnumerator, error) {
	e := &enumerator{cfg: s.cfg, ctx: ctx}
	if err := json.Unmarshal(state, e); err != nil {
		return nil, fmt.Errorf("restore postgres enumerator: %w", err)
	}
	return e, nil
}

// Start implements sdk.SplitEnumerator: a fresh run computes the splits.
func (e *enumerator) Start(ctx context.Context) error {
	if e.Planned {
		return nil
	}
	pool, err := connect(ctx, e.cfg.URL, 1, 0)
	if err != nil {
		return err
	}
	defer pool.Close()
	splits, err := plan(ctx, pool, e.cfg, e.ctx.Parallelism())
	if err != nil {
		return err
	}
	e.Pending, e.Planned = splits, true
	return nil
}

// plan finds the split column's range (within the incremental window) and
// cuts it into splits.
func plan(ctx context.Context, pool *pgxpool.Pool, cfg *SourceConfig, parallelism int) ([]*Split, error) {
	col, err := splitColumn(ctx, pool, cfg)
	if err != nil {
		return nil, err
	}
	from := cfg.from()
	var where string
	var args []any
	var curLo, curHi *string
	var curType, token string
	if cfg.Mode == ModeIncremental {
		if _, err := pool.Exec(ctx, cursorsDDL); err != nil && !isDuplicateObject(err) {
			return nil, wrapErr("create adf_source_cursors", err, cfg.URL)
		}
		if _, err := pool.Exec(ctx, splitsDDL); err != nil && !isDuplicateObject(err) {
			return nil, wrapErr("create adf_source_splits", err, cfg.URL)
		}
		name := cfg.cursorName()
		if _, err := pool.Exec(ctx, `INSERT INTO adf_source_cursors (name, cursor_column) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, cfg.Cursor); err != nil {
			return nil, wrapErr("init adf_source_cursors", err, cfg.URL)
		}
		if err := pool.QueryRow(ctx, `SELECT position FROM adf_source_cursors WHERE name = $1`, name).Scan(&curLo); err != nil {
			return nil, wrapErr("read adf_source_cursors", err, cfg.URL)
		}
		q := fmt.Sprintf("SELECT max(%s)::text, pg_typeof(max(%s))::text FROM %s", ident(cfg.Cursor), ident(cfg.Cursor), from)
		if err := pool.QueryRow(ctx, q).Scan(&curHi, &curType); err != nil {
			return nil, wrapErr("read the cursor's high-water mark", err, cfg.URL)
		}
		if curHi == nil || (curLo != nil && *curLo == *curHi) {
			return nil, nil // nothing new
		}
		where, args = cursorFilter(cfg.Cursor, curType, curLo, curHi, 1)
		token = randomToken()
	}
	var lo, hi *int64
	q := fmt.Sprintf("SELECT min(%s)::int8, max(%s)::int8 FROM %s %s", ident(col), ident(col), from, where)
	if err := pool.QueryRow(ctx, q, args...).Scan(&lo, &hi); err != nil {
		return nil, wrapErr("read the range of split column "+col, err, cfg.URL)
	}
	if lo == nil {
		return nil, nil
	}
	n := int64(cfg.Splits)
	if n <= 0 {
		n = int64(4 * max(parallelism, 1))
	}
	// Unsigned arithmetic: the key range may span all of int64.
	width := uint64(*hi) - uint64(*lo) + 1
	if width != 0 && width < uint64(n) {
		n = int64(width)
	}
	var name string
	if cfg.Mode == ModeIncremental {
		name = cfg.cursorName()
	}
	var out []*Split
	start := *lo
	for i := int64(0); i < n; i++ {
		end := *hi
		if i < n-1 {
			// Wrapping arithmetic: the result is in range even when the
			// intermediate lo-1 is not.
			end = *lo - 1 + int64(mulDiv(width, uint64(i+1), uint64(n)))
		}
		out = append(out, &Split{ID: fmt.Sprintf("%s[%d,%d]", col, start, end), Column: col, Lo: start, Hi: end,
			CursorName: name, CurLo: curLo, CurHi: curHi, CurType: curType, Token: token})
		start = end + 1
	}
	for _, s := range out {
		if token != "" {
			s.Total = len(out)
		}
	}
	return out, nil
}

// mulDiv is a*b/c without overflow (a*b/c must fit in 64 bits; a = 0
// stands for 2^64).
func mulDiv(a, b, c uint64) uint64 {
	if a == 0 {
		q, _ := bits.Div64(b, 0, c)
		return q
	}
	hi, lo := bits.Mul64(a, b)
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// cursorFilter is the WHERE clause of the incremental window, with its
// parameters numbered from n.
func cursorFilter(cursor, typ string, lo, hi *string, n int) (string, []any) {
	c := ident(cursor)
	if lo == nil {
		return fmt.Sprintf("WHERE %s <= $%d::text::%s", c, n, typ), []any{*hi}
	}
	return fmt.Sprintf("WHERE %s > $%d::text::%s AND %s <= $%d::text::%s", c, n, typ, c, n+1, typ), []any{*lo, *hi}
}

// splitColumn picks the unique integer column that splits and pages reads.
func splitColumn(ctx context.Context, pool *pgxpool.Pool, cfg *SourceConfig) (string, error) {
	switch {
	case cfg.SplitColumn != "":
		return cfg.SplitColumn, nil
	case len(cfg.Key) == 1:
		return cfg.Key[0], nil
	}
	if cfg.Query == "" {
		// The primary key, when it is one integer column.
		var pk []string
		err := pool.QueryRow(ctx, `SELECT coalesce(array_agg(a.attname::text) FILTER (WHERE a.atttypid IN (20, 21, 23)), '{}')
			FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
			WHERE i.indrelid = to_regclass($1) AND i.indisprimary AND i.indnatts = 1`, cfg.from()).Scan(&pk)
		if err != nil {
			return "", wrapErr("read the primary key of "+cfg.from(), err, cfg.URL)
		}
		var exists bool
		if err := pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, cfg.from()).Scan(&exists); err != nil {
			return "", wrapErr("look up "+cfg.from(), err, cfg.URL)
		}
		if !exists {
			return "", &sdk.Error{Code: sdk.CodeNotFound, Field: "table", Summary: fmt.Sprintf("table %s does not exist", cfg.from())}
		}
		if len(pk) == 1 {
			return pk[0], nil
		}
	}
	if cfg.Cursor != "" {
		var typ string
		q := fmt.Sprintf("SELECT pg_typeof(%s)::text FROM %s LIMIT 1", ident(cfg.Cursor), cfg.from())
		err := pool.QueryRow(ctx, q).Scan(&typ)
		if err == nil && (typ == "bigint" || typ == "integer" || typ == "smallint") {
			return cfg.Cursor, nil
		}
	}
	return "", sdk.ConfigError("split_column", "%s has no single-column integer primary key: set split_column (or key) to a unique integer column", cfg.from())
}

// randomToken names one run's set of splits in adf_source_splits.
func randomToken() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// HandleSplitRequest implements sdk.SplitEnumerator.
func (e *enumerator) HandleSplitRequest(_ context.Context, readerID int, _ string) error {
	if len(e.Pending) == 0 {
		return e.ctx.SignalNoMoreSplits(readerID)
	}
	sp := e.Pending[0]
	e.Pending = e.Pending[1:]
	return e.ctx.AssignSplit(sp, readerID)
}

// AddSplitsBack implements sdk.SplitEnumerator.
func (e *enumerator) AddSplitsBack(_ context.Context, splits []sdk.Split, _ int) error {
	for _, s := range splits {
		e.Pending = append(e.Pending, s.(*Split))
	}
	return nil
}

// AddReader implements sdk.SplitEnumerator.
func (e *enumerator) AddReader(context.Context, int) error { return nil }

// SnapshotState implements sdk.SplitEnumerator.
func (e *enumerator) SnapshotState(context.Context, int64) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode postgres enumerator state: %w", err)
	}
	return b, nil
}

// NotifyCheckpointComplete implements sdk.SplitEnumerator.
func (e *enumerator) NotifyCheckpointComplete(context.Context, int64) error { return nil }

// Close implements sdk.SplitEnumerator.
func (e *enumerator) Close() error { return nil }

// CreateReader implements sdk.Source.
func (s *source) CreateReader(ctx sdk.SourceReaderContext) (sdk.SourceReader, error) {
	return &reader{cfg: s.cfg, splits: sdk.NewSplitQueue[*Split](ctx), mem: memory.DefaultAllocator, pending: map[int64][]*Split{}, meta: map[string]*pageMeta{}}, nil
}

// reader reads its splits one after another, a keyset page per PollNext.
type reader struct {
	cfg    *SourceConfig
	splits *sdk.SplitQueue[*Split]
	mem    memory.Allocator
	pool   *pgxpool.Pool
	meta   map[string]*pageMeta // by page query

	// finished splits not yet covered by a snapshot, and those waiting for
	// their checkpoint to complete (incremental bookkeeping).
	finished []*Split
	pending  map[int64][]*Split
}

// Start implements sdk.SourceReader.
func (r *reader) Start(ctx context.Context) error {
	pool, err := connect(ctx, r.cfg.URL, 2, 0)
	if err != nil {
		return err
	}
	r.pool = pool
	return r.splits.Request()
}

// AddSplits implements sdk.SourceReader.
func (r *reader) AddSplits(splits []sdk.Split) error { return r.splits.Add(splits) }

// NotifyNoMoreSplits implements sdk.SourceReader.
func (r *reader) NotifyNoMoreSplits() { r.splits.NoMore() }

// PollNext implements sdk.SourceReader: one page of the current split.
func (r *reader) PollNext(ctx context.Context, out sdk.ReaderOutput) (sdk.InputStatus, error) {
	sp, _, status, err := r.splits.Next()
	if sp == nil {
		return status, err
	}
	rec, last, n, err := r.page(ctx, sp)
	if err != nil {
		return 0, err
	}
	if rec != nil {
		err := out.Emit(sp.ID, rec)
		rec.Release()
		if err != nil {
			return 0, err
		}
		sp.Pos = &last
	}
	if n < r.cfg.BatchSize || (sp.Pos != nil && *sp.Pos >= sp.Hi) {
		hi := sp.Hi
		sp.Pos = &hi
		if sp.Token != "" {
			r.finished = append(r.finished, sp)
		}
		if err := out.SplitFinished(sp.ID); err != nil {
			return 0, err
		}
		return sdk.MoreAvailable, r.splits.Finish()
	}
	return sdk.MoreAvailable, nil
}

// page reads the next keyset page of sp: the batch, the last key and the
// number of rows.
func (r *reader) page(ctx context.Context, sp *Split) (arrow.RecordBatch, int64, int, error) {
	col := sp.Column
	c := ident(col)
	where := fmt.Sprintf("WHERE %s >= $1 AND %s <= $2", c, c)
	args := []any{sp.Lo, sp.Hi}
	if sp.Pos != nil {
		where = fmt.Sprintf("WHERE %s > $1 AND %s <= $2", c, c)
		args = []any{*sp.Pos, sp.Hi}
	}
	if sp.CurHi != nil {
		w, a := cursorFilter(r.cfg.Cursor, sp.CurType, sp.CurLo, sp.CurHi, 3)
		where += " AND " + strings.TrimPrefix(w, "WHERE ")
		args = append(args, a...)
	}
	sql := fmt.Sprintf("SELECT * FROM %s %s ORDER BY %s LIMIT %d", r.cfg.from(), where, c, r.cfg.BatchSize)
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return nil, 0, 0, wrapErr("connect to PostgreSQL", err, r.cfg.URL)
	}
	defer conn.Release()
	m := r.meta[sql]
	if m == nil {
		if m, err = r.describe(ctx, conn, sql, col); err != nil {
			return nil, 0, 0, err
		}
		r.meta[sql] = m
	}
	decs, formats, keyIdx, schema := m.decs, m.formats, m.keyIdx, m.schema
	rows, err := conn.Query(ctx, sql, append([]any{formats}, args...)...)
	if err != nil {
		return nil, 0, 0, wrapErr("read "+r.cfg.from(), err, r.cfg.URL)
	}
	defer rows.Close()
	b := array.NewRecordBuilder(r.mem, schema)
	defer b.Release()
	var last int64
	n := 0
	for rows.Next() {
		raw := rows.RawValues()
		for i, v := range raw {
			fb := b.Field(i)
			if v == nil {
				fb.AppendNull()
				continue
			}
			if err := decs[i].append(fb, v); err != nil {
				return nil, 0, 0, &sdk.Error{Code: sdk.CodeBadRecord, Summary: fmt.Sprintf("read %s: %v", r.cfg.from(), err)}
			}
		}
		k := raw[keyIdx]
		switch len(k) {
		case 2:
			last = int64(int16(uint16(k[0])<<8 | uint16(k[1])))
		case 4:
			last = int64(int32(uint32(k[0])<<24 | uint32(k[1])<<16 | uint32(k[2])<<8 | uint32(k[3])))
		case 8:
			var v uint64
			for _, x := range k {
				v = v<<8 | uint64(x)
			}
			last = int64(v)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, wrapErr("read "+r.cfg.from(), err, r.cfg.URL)
	}
	if n == 0 {
		return nil, 0, 0, nil
	}
	return b.NewRecordBatch(), last, n, nil
}

// pageMeta is what a page query returns: its decoders, the result formats
// to ask for, the split column's position and the Arrow schema.
type pageMeta struct {
	decs    []decoder
	formats pgx.QueryResultFormatsByOID
	keyIdx  int
	schema  *arrow.Schema
}

// describe prepares the page query once to learn its result columns.
func (r *reader) describe(ctx context.Context, conn *pgxpool.Conn, sql, col string) (*pageMeta, error) {
	sd, err := conn.Conn().Prepare(ctx, "", sql)
	if err != nil {
		return nil, wrapErr("read "+r.cfg.from(), err, r.cfg.URL)
	}
	m := &pageMeta{decs: make([]decoder, len(sd.Fields)), formats: pgx.QueryResultFormatsByOID{}, keyIdx: -1}
	fields := make([]arrow.Field, len(sd.Fields))
	for i, fd := range sd.Fields {
		m.decs[i] = decoderFor(fd)
		fields[i] = m.decs[i].field
		if m.decs[i].text {
			m.formats[fd.DataTypeOID] = pgx.TextFormatCode
		} else {
			m.formats[fd.DataTypeOID] = pgx.BinaryFormatCode
		}
		if fd.Name == col {
			m.keyIdx = i
		}
	}
	if m.keyIdx < 0 {
		return nil, sdk.ConfigError("split_column", "column %q is not in the result of %s", col, r.cfg.from())
	}
	switch sd.Fields[m.keyIdx].DataTypeOID {
	case oidInt2, oidInt4, oidInt8:
	default:
		return nil, sdk.ConfigError("split_column", "column %q must be an integer column (smallint, integer or bigint)", col)
	}
	m.schema = arrow.NewSchema(fields, nil)
	return m, nil
}

// SnapshotState implements sdk.SourceReader: the current split at its
// position, and the queued ones.
func (r *reader) SnapshotState(_ context.Context, checkpointID int64) ([]sdk.Split, error) {
	out := r.splits.Splits()
	if len(r.finished) > 0 {
		r.pending[checkpointID] = r.finished
		r.finished = nil
	}
	return out, nil
}

// NotifyCheckpointComplete implements sdk.SourceReader: splits finished
// before the checkpoint are durably read; when every split of an
// incremental run is, the high-water mark advances.
func (r *reader) NotifyCheckpointComplete(ctx context.Context, checkpointID int64) error {
	var ids []int64
	for id := range r.pending {
		if id <= checkpointID {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		for _, sp := range r.pending[id] {
			if err := r.markDone(ctx, sp); err != nil {
				return err
			}
		}
		delete(r.pending, id)
	}
	return nil
}

// markDone records a durably read split and advances the high-water mark
// when it was the run's last one. The cursor row lock serializes readers.
func (r *reader) markDone(ctx context.Context, sp *Split) error {
	err := pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
		var pos *string
		if err := tx.QueryRow(ctx, `SELECT position FROM adf_source_cursors WHERE name = $1 FOR UPDATE`, sp.CursorName).Scan(&pos); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO adf_source_splits (name, token, split_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			sp.CursorName, sp.Token, sp.ID); err != nil {
			return err
		}
		var done int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM adf_source_splits WHERE name = $1 AND token = $2`, sp.CursorName, sp.Token).Scan(&done); err != nil {
			return err
		}
		if done < sp.Total {
			return nil
		}
		if (pos == nil) != (sp.CurLo == nil) || (pos != nil && *pos != *sp.CurLo) {
			logger.Warn("high-water mark moved since this run started; not advancing it", "cursor", sp.CursorName)
		} else if _, err := tx.Exec(ctx, `UPDATE adf_source_cursors SET position = $2, updated_at = now() WHERE name = $1`, sp.CursorName, *sp.CurHi); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM adf_source_splits WHERE name = $1 AND token = $2`, sp.CursorName, sp.Token)
		return err
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return wrapErr("record the incremental position", err, r.cfg.URL)
	}
	return err
}

// Close implements sdk.SourceReader.
func (r *reader) Close() error {
	if r.pool != nil {
		r.pool.Close()
	}
	return nil
}
