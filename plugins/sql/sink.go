package sql

import (
	"bytes"
	"context"
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

// sink writes batches into one table, one transaction per checkpoint,
// committed in two phases.
//
// Write encodes the batch into PostgreSQL's binary COPY format straight
// from the Arrow columns into a group; a group of copy_rows rows is loaded
// in a goroutine while the next batches are decoded and encoded (one load
// in flight). A load runs under a savepoint; when PostgreSQL refuses it
// for a bad value or a violated constraint the savepoint is rolled back
// and the rows are loaded again in halves, down to single rows, which are
// rejected with PostgreSQL's error.
//
// Flush (pre-commit) adds a marker row to adf_sink_commits and ends the
// transaction with PREPARE TRANSACTION: the rows are durable but
// invisible. Commit runs COMMIT PREPARED once the host has persisted the
// checkpoint; Open of a restored attempt rolls back what was prepared for
// later checkpoints. Without prepared transactions on the server, upsert
// and insert_ignore commit at Flush instead (idempotent), and append
// refuses to open.
type sink struct {
	cfg    *SinkConfig
	init   sdk.SinkInit
	pool   *pgxpool.Pool
	schema string
	table  string
	target string // quoted schema.table
	stage  string // quoted staging table of upsert and insert_ignore

	// plan for the current Arrow schema.
	arrowSchema *arrow.Schema
	cols        []column
	otherCols   []string // table columns the data does not have
	plans       []planFn
	copySQL     string
	mergeSQL    string

	conn *pgxpool.Conn
	tx   pgx.Tx

	group *encoded // batches encoded, not yet loaded
	// spare is the group whose load finished, kept for its buffers: a
	// group grown from nothing again spends more on copying its growing
	// buffer than on encoding.
	spare    *encoded
	batches  int // batches written by this sink
	inflight *load
	rows     int64
	bytes    int64

	// twoPhase: PREPARE TRANSACTION at Flush, COMMIT PREPARED at Commit.
	twoPhase bool
	// pending is the prepared checkpoint not yet committed, if any: the
	// host's Commit of it must come before the next Write.
	pending *committable
	// lastCommitted is the last checkpoint known committed (or restored).
	lastCommitted int64
}

func newSink(cfg *SinkConfig) *sink { return &sink{cfg: cfg} }

// load is one group of batches being written in the background.
type load struct {
	done    chan struct{}
	group   *encoded
	rows    int64
	rejects []sdk.Rejected
	err     error
}

// Open implements sdk.Sink: it connects (retrying with backoff), makes
// sure the marker table exists, decides between two-phase and one-phase
// commits, checks the target table and settles the prepared transactions
// earlier attempts of this run left (see resolvePrepared).
func (s *sink) Open(ctx context.Context, init sdk.SinkInit) error {
	s.init = init
	s.schema, s.table = s.cfg.table()
	s.target = qualified(s.schema, s.table)
	if s.cfg.Mode != ModeAppend {
		s.stage = qualified(s.schema, "adf_stage_"+newToken())
	}
	restored := init.RestoredCheckpointID
	if init.RestoredState != nil && restored <= 0 {
		// Taken for a fresh run, Open would roll back every prepared
		// transaction of the run, the restored checkpoint's included.
		return &sdk.Error{Code: sdk.CodeInternal,
			Summary: fmt.Sprintf("open postgres sink for %s: restored from a checkpoint, but the host gave no restored checkpoint id (SinkInit.RestoredCheckpointID = %d)", s.target, restored),
			Detail:  "the host does not follow the two-phase sink protocol; run the plugin with the host it ships with"}
	}
	s.lastCommitted = restored
	pool, err := connect(ctx, s.cfg.URL, s.cfg.PoolMaxConns, s.cfg.ConnectTimeout.D())
	if err != nil {
		return err
	}
	s.pool = pool
	if _, err := pool.Exec(ctx, fmt.Sprintf(markerDDL, s.marker())); err != nil && !isDuplicateObject(err) {
		return wrapErr("create "+s.marker(), err, s.cfg.URL)
	}
	var maxPrepared int
	if err := pool.QueryRow(ctx, `SELECT current_setting('max_prepared_transactions')::int`).Scan(&maxPrepared); err != nil {
		return wrapErr("read max_prepared_transactions", err, s.cfg.URL)
	}
	if s.twoPhase, err = twoPhaseFor(s.cfg.Mode, maxPrepared, hostOf(s.cfg.URL)); err != nil {
		return err
	}
	if !s.twoPhase {
		logger.Warn("PostgreSQL has max_prepared_transactions = 0: each checkpoint commits at flush; a replay after a crash is idempotent through the key, not exactly-once (set max_prepared_transactions > 0 and restart PostgreSQL for exactly-once)",
			"table", s.target, "mode", s.cfg.Mode)
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
	if s.twoPhase {
		if err := s.resolvePrepared(ctx, restored); err != nil {
			return err
		}
	}
	// Checkpoints of this run committed after the restored one: expected
	// without prepared transactions (replayed idempotently); with them, the
	// host committed a checkpoint it had not persisted, which the contract
	// rules out, so say so.
	var later int64
	err = pool.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(max(checkpoint_id), 0) FROM %s WHERE flow = $1 AND run_id = $2 AND target_table = $3 AND checkpoint_id > $4`, s.marker()),
		init.Flow, init.RunID, s.target, restored).Scan(&later)
	if err != nil {
		return wrapErr("read "+s.marker(), err, s.cfg.URL)
	}
	if later > 0 {
		if s.twoPhase {
			logger.Warn("checkpoints after the restored one are committed in PostgreSQL; their rows will be written again",
				"table", s.target, "restored_checkpoint", restored, "committed_checkpoint", later)
		} else {
			logger.Info("replaying checkpoints already committed; upsert/insert_ignore make the replay idempotent",
				"table", s.target, "restored_checkpoint", restored, "committed_checkpoint", later)
		}
	}
	if init.Schema != nil && exists {
		if err := s.planFor(ctx, init.Schema); err != nil {
			return err
		}
	}
	return nil
}

// isDuplicateObject reports an error of a concurrent CREATE ... IF NOT
// EXISTS that lost the race (unique_violation on the catalog,
// duplicate_table, duplicate_object).
func isDuplicateObject(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "23505" || pg.Code == "42P07" || pg.Code == "42710")
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
	s.otherCols = s.otherCols[:0]
	for name := range byName {
		found := false
		for _, c := range cols {
			found = found || c.Name == name
		}
		if !found {
			s.otherCols = append(s.otherCols, name)
		}
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
		s.copySQL = fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", s.stage, list)
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
		s.mergeSQL = fmt.Sprintf("INSERT INTO %s (%s) SELECT DISTINCT ON (%s) %s FROM %s ORDER BY %s, ctid DESC ON CONFLICT (%s) %s; TRUNCATE %s",
			s.target, list, keyList, list, s.stage, keyList, keyList, action, s.stage)
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

// encoded is a group of batches in binary COPY format: row k (of those
// that encoded) is data[offs[k]:offs[k+1]] and comes from refs[k].
type encoded struct {
	recs []arrow.RecordBatch
	data []byte
	offs []int
	refs []rowRef
}

// rowRef locates an encoded row: the record in the group, the row in it,
// and the sink's batch number (for Position).
type rowRef struct {
	rec, row, batch int
}

func (e *encoded) n() int { return len(e.refs) }

// reset empties the group for reuse, keeping its buffers' capacity.
func (e *encoded) reset() *encoded {
	e.release()
	e.recs, e.data, e.offs, e.refs = e.recs[:0], e.data[:0], e.offs[:0], e.refs[:0]
	return e
}

func (e *encoded) release() {
	for _, r := range e.recs {
		r.Release()
	}
	e.recs = nil
}

// rejected builds the report of encoded row k.
func (e *encoded) rejected(k int, reason string) sdk.Rejected {
	ref := e.refs[k]
	return sdk.Rejected{Position: fmt.Sprintf("row %d of batch %d", ref.row+1, ref.batch), Raw: rowJSON(e.recs[ref.rec], ref.row), Reason: reason}
}

// encode appends the batch to the group e (retaining it); rows that cannot
// be encoded (a value out of the column type's range) are rejected here.
func (s *sink) encode(e *encoded, rec arrow.RecordBatch, batch int) []sdk.Rejected {
	n := int(rec.NumRows())
	fns := make([]encodeFn, len(s.plans))
	arrs := make([]arrow.Array, len(s.plans))
	for j, p := range s.plans {
		arrs[j] = rec.Column(j)
		fns[j] = p(arrs[j])
	}
	rec.Retain()
	e.recs = append(e.recs, rec)
	ri := len(e.recs) - 1
	if len(e.offs) == 0 {
		e.offs = append(e.offs, 0)
	}
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
			rejects = append(rejects, sdk.Rejected{Position: fmt.Sprintf("row %d of batch %d", i+1, batch), Raw: rowJSON(rec, i), Reason: err.Error()})
			continue
		}
		e.offs = append(e.offs, len(buf))
		e.refs = append(e.refs, rowRef{rec: ri, row: i, batch: batch})
	}
	e.data = buf
	return rejects
}

// Write implements sdk.Sink: the batch is encoded into the current group;
// a full group (copy_rows) is loaded in the background.
func (s *sink) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if s.pending != nil {
		return s.writeBeforeCommit()
	}
	if rec.NumRows() == 0 {
		return nil
	}
	if s.arrowSchema == nil || !s.arrowSchema.Equal(rec.Schema()) {
		if err := s.launch(ctx); err != nil {
			return err
		}
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
	if s.group == nil {
		s.group, s.spare = s.spare, nil
		if s.group == nil {
			s.group = &encoded{}
		}
	}
	s.batches++
	for _, r := range s.encode(s.group, rec, s.batches) {
		if err := s.init.Reject(r); err != nil {
			return err
		}
	}
	if s.group.n() >= s.cfg.CopyRows || len(s.group.data) >= 64<<20 {
		return s.launch(ctx)
	}
	return nil
}

// launch starts loading the current group once the previous load is done.
func (s *sink) launch(ctx context.Context) error {
	g := s.group
	if g == nil {
		return nil
	}
	s.group = nil
	if err := s.wait(); err != nil {
		g.release()
		return err
	}
	if err := s.begin(ctx); err != nil {
		g.release()
		return err
	}
	s.bytes += int64(len(g.data))
	l := &load{done: make(chan struct{}), group: g}
	s.inflight = l
	go func() {
		defer close(l.done)
		defer g.release()
		l.rows, l.err = s.loadRange(ctx, g, 0, g.n(), &l.rejects)
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
	s.spare = l.group.reset()
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
		return wrapErr("acquire a connection", err, s.cfg.URL)
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
		// The stage has the target's CHECK and NOT NULL constraints, so most
		// bad rows fail the COPY, which names them; columns the data does
		// not have may be null in the stage. It is an unlogged table of
		// this transaction, not a temporary one: PREPARE TRANSACTION
		// refuses transactions that touched temporary tables. Flush drops
		// it; a rollback takes it away.
		stmts := []string{fmt.Sprintf("CREATE UNLOGGED TABLE %s (LIKE %s INCLUDING CONSTRAINTS)", s.stage, s.target)}
		for _, c := range s.otherCols {
			stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL", s.stage, ident(c)))
		}
		if _, err := s.conn.Conn().PgConn().Exec(ctx, strings.Join(stmts, "; ")).ReadAll(); err != nil {
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
		*rejects = append(*rejects, e.rejected(a, pgMessage(err)))
		return 0, nil
	}
	// COPY names the failing row ("COPY t, line N"): reject it and load the
	// rows around it. Otherwise (the merge of upsert failed) halve.
	if bad := a + copyLine(err) - 1; bad >= a && bad < b {
		*rejects = append(*rejects, e.rejected(bad, pgMessage(err)))
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
	_, err := pc.Exec(ctx, s.mergeSQL).ReadAll()
	return err
}

// Flush implements sdk.Sink: the pre-commit. The checkpoint's
// transaction gets its marker row and is prepared (PREPARE TRANSACTION);
// the committables name it for Commit. Without prepared transactions it
// commits here.
func (s *sink) Flush(ctx context.Context, checkpointID int64, final bool) (sdk.FlushResult, error) {
	if err := s.launch(ctx); err != nil {
		return sdk.FlushResult{}, err
	}
	if err := s.wait(); err != nil {
		return sdk.FlushResult{}, err
	}
	res := sdk.FlushResult{RowsWritten: s.rows, BytesWritten: s.bytes}
	if s.tx != nil {
		c, err := s.precommit(ctx, checkpointID)
		if err != nil {
			return res, err
		}
		res.Committables = c
	}
	s.rows, s.bytes = 0, 0
	return res, nil
}

// Close implements sdk.Sink: the open transaction (rows not covered by a
// Flush) is rolled back. A prepared transaction not yet committed stays:
// it belongs to a checkpoint the host may still commit or restore.
func (s *sink) Close(ctx context.Context) error {
	if s.group != nil {
		s.group.release()
		s.group = nil
	}
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
