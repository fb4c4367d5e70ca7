package sql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/activedataflow/adf/sdk"
)

// sinkState is the sink's part of a checkpoint.
type sinkState struct {
	// CheckpointID is the checkpoint whose transaction committed last.
	CheckpointID int64 `json:"checkpoint_id"`
}

// bookkeeping is the table recording, per flow, run and target table, the
// checkpoint whose transaction committed last. It is written in that same
// transaction.
const bookkeepingDDL = `CREATE TABLE IF NOT EXISTS adf_sink_checkpoints (
	flow text NOT NULL,
	run_id text NOT NULL,
	target text NOT NULL,
	checkpoint_id bigint NOT NULL,
	committed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (flow, run_id, target))`

// sink writes batches into one table, one transaction per checkpoint.
//
// Write encodes the batch into PostgreSQL's binary COPY format straight
// from the Arrow columns, then loads it in a goroutine while the next batch
// is decoded and encoded (one load in flight). A load runs under a
// savepoint; when PostgreSQL refuses it for a bad value or a violated
// constraint the savepoint is rolled back and the rows are loaded again in
// halves, down to single rows, which are rejected with PostgreSQL's error.
// Flush commits the transaction together with the checkpoint id in
// adf_sink_checkpoints.
type sink struct {
	cfg    *SinkConfig
	init   sdk.SinkInit
	pool   *pgxpool.Pool
	schema string
	table  string
	target string // quoted schema.table

	// plan for the current Arrow schema.
	arrowSchema *arrow.Schema
	cols        []column
	plans       []planFn
	copySQL     string
	mergeSQL    string

	conn *pgxpool.Conn
	tx   pgx.Tx

	inflight *load
	rows     int64
	bytes    int64
	restored int64
}

func newSink(cfg *SinkConfig) *sink { return &sink{cfg: cfg} }

// load is one batch being written in the background.
type load struct {
	done    chan struct{}
	rows    int64
	rejects []sdk.Rejected
	err     error
}

// Open implements sdk.Sink: it connects (retrying with backoff), makes sure
// the bookkeeping table exists and checks the target table.
func (s *sink) Open(ctx context.Context, init sdk.SinkInit) error {
	s.init = init
	s.schema, s.table = s.cfg.table()
	s.target = qualified(s.schema, s.table)
	if len(init.RestoredState) > 0 {
		var st sinkState
		if err := json.Unmarshal(init.RestoredState, &st); err != nil {
			return fmt.Errorf("restore postgres sink state: %w", err)
		}
		s.restored = st.CheckpointID
	}
	pool, err := connect(ctx, s.cfg.URL, s.cfg.PoolMaxConns, s.cfg.ConnectTimeout.D())
	if err != nil {
		return err
	}
	s.pool = pool
	if _, err := pool.Exec(ctx, bookkeepingDDL); err != nil && !isDuplicateObject(err) {
		return wrapErr("create adf_sink_checkpoints", err, s.cfg.URL)
	}
	exists, err := s.tableExists(ctx)
	if err != nil {
		return err
	}
	if !exists && !s.cfg.CreateTable {
		field := "table"
		if s.cfg.Model != "" {
			field = "model"
		}
		return &sdk.Error{Code: sdk.CodeNotFound, Field: field, Summary: fmt.Sprintf("table %s does not exist", s.target),
			Detail: "create it, or set create_table: true to create it from the data's schema"}
	}
	// Detect checkpoints committed after the restored one (the attempt
	// died between our commit and the host persisting the checkpoint).
	var last int64
	err = pool.QueryRow(ctx, `SELECT checkpoint_id FROM adf_sink_checkpoints WHERE flow = $1 AND run_id = $2 AND target = $3`,
		init.Flow, init.RunID, s.target).Scan(&last)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return wrapErr("read adf_sink_checkpoints", err, s.cfg.URL)
	}
	if last > s.restored {
		if s.cfg.Mode == ModeAppend {
			logger.Warn("checkpoints committed to PostgreSQL after the restored one will be written again (append is at-least-once in this case; use mode upsert for effectively-once)",
				"flow", init.Flow, "run", init.RunID, "table", s.target, "restored_checkpoint", s.restored, "committed_checkpoint", last)
		} else {
			logger.Info("replaying checkpoints already committed; upsert/insert_ignore make the replay idempotent",
				"table", s.target, "restored_checkpoint", s.restored, "committed_checkpoint", last)
		}
	}
	if init.Schema != nil && exists {
		if err := s.planFor(ctx, init.Schema); err != nil {
			return err
		}
	}
	return nil
}

func isDuplicateObject(err error) bool {
	m := pgMessage(err)
	return strings.Contains(m, "SQLSTATE 23505") || strings.Contains(m, "SQLSTATE 42P07")
}

func (s *sink) tableExists(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.target).Scan(&ok); err != nil {
		return false, wrapErr("look up table "+s.target, err, s.cfg.URL)
	}
	return ok, nil
}

// createTable creates the target from the Arrow schema (create_table).
func (s *sink) createTable(ctx context.Context, schema *arrow.Schema) error {
	var defs []string
	for _, f := range schema.Fields() {
		t, err := pgTypeFor(f.Type)
		if err != nil {
			return &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "create_table", Summary: fmt.Sprintf("column %q: %v", f.Name, err)}
		}
		defs = append(defs, ident(f.Name)+" "+t)
	}
	if len(s.cfg.Key) > 0 {
		keys := make([]string, len(s.cfg.Key))
		for i, k := range s.cfg.Key {
			keys[i] = ident(k)
		}
		defs = append(defs, "PRIMARY KEY ("+strings.Join(keys, ", ")+")")
	}
	sql := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s)", s.target, strings.Join(defs, ", "))
	if _, err := s.pool.Exec(ctx, sql); err != nil && !isDuplicateObject(err) {
		return wrapErr("create table "+s.target, err, s.cfg.URL)
	}
	logger.Info("created table", "table", s.target)
	return nil
}

// planFor matches the Arrow schema to the table's columns and plans the
// encoding of each; a column missing from the table or a type that cannot
// be converted is an error naming the column and both types.
func (s *sink) planFor(ctx context.Context, schema *arrow.Schema) error {
	rows, err := s.pool.Query(ctx, `SELECT a.attname, a.atttypid, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, s.target)
	if err != nil {
		return wrapErr("read columns of "+s.target, err, s.cfg.URL)
	}
	byName := map[string]column{}
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.Name, &c.OID, &c.TypeStr); err != nil {
			rows.Close()
			return wrapErr("read columns of "+s.target, err, s.cfg.URL)
		}
		byName[c.Name] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return wrapErr("read columns of "+s.target, err, s.cfg.URL)
	}
	var errs sdk.ConfigErrors
	cols := make([]column, 0, schema.NumFields())
	plans := make([]planFn, 0, schema.NumFields())
	for _, f := range schema.Fields() {
		c, ok := byName[f.Name]
		if !ok {
			c, ok = byName[strings.ToLower(f.Name)]
		}
		if !ok {
			errs = append(errs, &sdk.Error{Code: sdk.CodeInvalidConfig, Summary: fmt.Sprintf("column %q of the data (Arrow type %s) is not in table %s", f.Name, f.Type, s.target)})
			continue
		}
		p, err := planColumn(c, f.Type)
		if err != nil {
			errs = append(errs, &sdk.Error{Code: sdk.CodeInvalidConfig, Summary: fmt.Sprintf("table %s: %v", s.target, err)})
			continue
		}
		cols = append(cols, c)
		plans = append(plans, p)
	}
	for _, k := range s.cfg.Key {
		found := false
		for _, c := range cols {
			found = found || c.Name == k
		}
		if !found {
			errs = append(errs, sdk.ConfigError("key", "key column %q is not in the data (columns: %s)", k, fieldNames(schema)))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = ident(c.Name)
	}
	list := strings.Join(names, ", ")
	s.cols, s.plans, s.arrowSchema = cols, plans, schema
	switch s.cfg.Mode {
	case ModeAppend:
		s.copySQL = fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", s.target, list)
	default:
		s.copySQL = fmt.Sprintf("COPY adf_stage (%s) FROM STDIN (FORMAT binary)", list)
		keys := make([]string, len(s.cfg.Key))
		for i, k := range s.cfg.Key {
			keys[i] = ident(k)
		}
		keyList := strings.Join(keys, ", ")
		var sets []string
		for _, c := range cols {
			if !contains(s.cfg.Key, c.Name) {
				sets = append(sets, fmt.Sprintf("%s = EXCLUDED.%s", ident(c.Name), ident(c.Name)))
			}
		}
		action := "DO NOTHING"
		if s.cfg.Mode == ModeUpsert && len(sets) > 0 {
			action = "DO UPDATE SET " + strings.Join(sets, ", ")
		}
		// The last row of a key within one batch wins (ctid is insertion
		// order in the freshly truncated stage).
		s.mergeSQL = fmt.Sprintf("INSERT INTO %s (%s) SELECT DISTINCT ON (%s) %s FROM adf_stage ORDER BY %s, ctid DESC ON CONFLICT (%s) %s",
			s.target, list, keyList, list, keyList, keyList, action)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func fieldNames(schema *arrow.Schema) string {
	var n []string
	for _, f := range schema.Fields() {
		n = append(n, f.Name)
	}
	return strings.Join(n, ", ")
}

// encoded is one batch in binary COPY format: row k (of those that encoded)
// is data[offs[k]:offs[k+1]] and is row idx[k] of the batch.
type encoded struct {
	rec  arrow.RecordBatch
	data []byte
	offs []int
	idx  []int
}

func (e *encoded) n() int { return len(e.idx) }

// encode converts the batch; rows that cannot be encoded (a value out of the
// column type's range) are rejected here.
func (s *sink) encode(rec arrow.RecordBatch) (*encoded, []sdk.Rejected) {
	n := int(rec.NumRows())
	fns := make([]encodeFn, len(s.plans))
	arrs := make([]arrow.Array, len(s.plans))
	for j, p := range s.plans {
		arrs[j] = rec.Column(j)
		fns[j] = p(arrs[j])
	}
	e := &encoded{rec: rec, data: make([]byte, 0, n*(8+len(fns)*12)), offs: make([]int, 1, n+1), idx: make([]int, 0, n)}
	var rejects []sdk.Rejected
	ncols := uint16(len(fns))
	buf := e.data
	for i := 0; i < n; i++ {
		start := len(buf)
		buf = append(buf, byte(ncols>>8), byte(ncols))
		var err error
		for j, fn := range fns {
			if arrs[j].IsNull(i) {
				buf = append(buf, 0xff, 0xff, 0xff, 0xff)
				continue
			}
			if buf, err = fn(buf, i); err != nil {
				break
			}
		}
		if err != nil {
			buf = buf[:start]
			rejects = append(rejects, sdk.Rejected{Position: fmt.Sprintf("row %d of batch", i+1), Raw: rowJSON(rec, i), Reason: err.Error()})
			continue
		}
		e.offs = append(e.offs, len(buf))
		e.idx = append(e.idx, i)
	}
	e.data = buf
	return e, rejects
}

// Write implements sdk.Sink.
func (s *sink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if rec.NumRows() == 0 {
		return nil
	}
	if s.arrowSchema == nil || !s.arrowSchema.Equal(rec.Schema()) {
		if err := s.wait(); err != nil {
			return err
		}
		if s.cfg.CreateTable {
			if ok, err := s.tableExists(ctx); err != nil {
				return err
			} else if !ok {
				if err := s.createTable(ctx, rec.Schema()); err != nil {
					return err
				}
			}
		}
		if err := s.planFor(ctx, rec.Schema()); err != nil {
			return err
		}
	}
	rec.Retain()
	enc, rejects := s.encode(rec)
	for _, r := range rejects {
		if err := s.init.Reject(r); err != nil {
			rec.Release()
			return err
		}
	}
	if err := s.wait(); err != nil {
		rec.Release()
		return err
	}
	if err := s.begin(ctx); err != nil {
		rec.Release()
		return err
	}
	s.bytes += int64(len(enc.data))
	l := &load{done: make(chan struct{})}
	s.inflight = l
	go func() {
		defer close(l.done)
		defer rec.Release()
		l.rows, l.err = s.loadRange(ctx, enc, 0, enc.n(), &l.rejects)
	}()
	return nil
}

// wait waits for the load in flight and reports its rejected rows.
func (s *sink) wait() error {
	l := s.inflight
	if l == nil {
		return nil
	}
	<-l.done
	s.inflight = nil
	s.rows += l.rows
	for _, r := range l.rejects {
		if err := s.init.Reject(r); err != nil {
			return err
		}
	}
	if l.err != nil {
		return wrapErr("write to "+s.target, l.err, s.cfg.URL)
	}
	return nil
}

// begin starts the checkpoint's transaction at the first write after a
// flush.
func (s *sink) begin(ctx context.Context) error {
	if s.tx != nil {
		return nil
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return wrapErr("connect to PostgreSQL", err, s.cfg.URL)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		conn.Release()
		return wrapErr("begin transaction", err, s.cfg.URL)
	}
	s.conn, s.tx = conn, tx
	if s.cfg.Mode != ModeAppend {
		names := make([]string, len(s.cols))
		for i, c := range s.cols {
			names[i] = ident(c.Name)
		}
		sql := fmt.Sprintf("CREATE TEMP TABLE adf_stage ON COMMIT DROP AS SELECT %s FROM %s WITH NO DATA", strings.Join(names, ", "), s.target)
		if _, err := tx.Exec(ctx, sql); err != nil {
			return wrapErr("create staging table", err, s.cfg.URL)
		}
	}
	return nil
}

// loadRange writes rows [a, b) of e under a savepoint, isolating bad rows by
// halving. It returns the rows written.
func (s *sink) loadRange(ctx context.Context, e *encoded, a, b int, rejects *[]sdk.Rejected) (int64, error) {
	if a >= b {
		return 0, nil
	}
	pc := s.conn.Conn().PgConn()
	if _, err := pc.Exec(ctx, "SAVEPOINT adf_load").ReadAll(); err != nil {
		return 0, err
	}
	err := s.loadOnce(ctx, e, a, b)
	if err == nil {
		_, err = pc.Exec(ctx, "RELEASE SAVEPOINT adf_load").ReadAll()
		return int64(b - a), err
	}
	if !isRowError(err) {
		return 0, err
	}
	if _, rerr := pc.Exec(ctx, "ROLLBACK TO SAVEPOINT adf_load; RELEASE SAVEPOINT adf_load").ReadAll(); rerr != nil {
		return 0, rerr
	}
	if b-a == 1 {
		i := e.idx[a]
		*rejects = append(*rejects, sdk.Rejected{Position: fmt.Sprintf("row %d of batch", i+1), Raw: rowJSON(e.rec, i), Reason: pgMessage(err)})
		return 0, nil
	}
	// COPY names the failing row ("COPY t, line N"): reject it and load the
	// rows around it. Otherwise (the merge of upsert failed) halve.
	if bad := a + copyLine(err) - 1; bad >= a && bad < b {
		i := e.idx[bad]
		*rejects = append(*rejects, sdk.Rejected{Position: fmt.Sprintf("row %d of batch", i+1), Raw: rowJSON(e.rec, i), Reason: pgMessage(err)})
		n1, err := s.loadRange(ctx, e, a, bad, rejects)
		if err != nil {
			return n1, err
		}
		n2, err := s.loadRange(ctx, e, bad+1, b, rejects)
		return n1 + n2, err
	}
	mid := (a + b) / 2
	n1, err := s.loadRange(ctx, e, a, mid, rejects)
	if err != nil {
		return n1, err
	}
	n2, err := s.loadRange(ctx, e, mid, b, rejects)
	return n1 + n2, err
}

var copyLineRE = regexp.MustCompile(`^COPY [^\n]*, line (\d+)`)

// copyLine is the 1-based row of a failed COPY that PostgreSQL blames, 0
// when it names none.
func copyLine(err error) int {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return 0
	}
	m := copyLineRE.FindStringSubmatch(pg.Where)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// loadOnce copies rows [a, b) (into the table, or the stage then merges).
func (s *sink) loadOnce(ctx context.Context, e *encoded, a, b int) error {
	pc := s.conn.Conn().PgConn()
	r := io.MultiReader(bytes.NewReader(copyHeader), bytes.NewReader(e.data[e.offs[a]:e.offs[b]]), bytes.NewReader(copyTrailer))
	if _, err := pc.CopyFrom(ctx, r, s.copySQL); err != nil {
		return err
	}
	if s.mergeSQL == "" || s.cfg.Mode == ModeAppend {
		return nil
	}
	_, err := pc.Exec(ctx, s.mergeSQL+"; TRUNCATE adf_stage").ReadAll()
	return err
}

// Flush implements sdk.Sink: it commits the checkpoint's transaction with
// the checkpoint id in adf_sink_checkpoints.
func (s *sink) Flush(ctx context.Context, checkpointID int64, final bool) (sdk.FlushResult, error) {
	if err := s.wait(); err != nil {
		return sdk.FlushResult{}, err
	}
	res := sdk.FlushResult{RowsWritten: s.rows, BytesWritten: s.bytes}
	if s.tx != nil {
		_, err := s.tx.Exec(ctx, `INSERT INTO adf_sink_checkpoints (flow, run_id, target, checkpoint_id) VALUES ($1, $2, $3, $4)
			ON CONFLICT (flow, run_id, target) DO UPDATE SET checkpoint_id = EXCLUDED.checkpoint_id, committed_at = now()`,
			s.init.Flow, s.init.RunID, s.target, checkpointID)
		if err != nil {
			return res, wrapErr("record checkpoint", err, s.cfg.URL)
		}
		err = s.tx.Commit(ctx)
		s.conn.Release()
		s.tx, s.conn = nil, nil
		if err != nil {
			return res, wrapErr(fmt.Sprintf("commit checkpoint %d", checkpointID), err, s.cfg.URL)
		}
	}
	s.rows, s.bytes = 0, 0
	st, err := json.Marshal(sinkState{CheckpointID: checkpointID})
	if err != nil {
		return res, fmt.Errorf("encode postgres sink state: %w", err)
	}
	res.State = st
	return res, nil
}

// NotifyCheckpointComplete implements sdk.Sink.
func (s *sink) NotifyCheckpointComplete(context.Context, int64) error { return nil }

// Close implements sdk.Sink: the open transaction (rows not covered by a
// Flush) is rolled back.
func (s *sink) Close(ctx context.Context) error {
	if s.inflight != nil {
		<-s.inflight.done
		s.inflight = nil
	}
	if s.tx != nil {
		_ = s.tx.Rollback(ctx)
		s.conn.Release()
		s.tx, s.conn = nil, nil
	}
	if s.pool != nil {
		s.pool.Close()
		s.pool = nil
	}
	return nil
}
