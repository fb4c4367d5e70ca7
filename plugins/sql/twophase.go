package sql

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/activedataflow/adf/sdk"
)

// markerTable records, per flow, run and checkpoint, that the checkpoint's
// transaction is committed. The row is written inside that transaction, so
// it is visible exactly when the checkpoint's rows are: when COMMIT
// PREPARED finds no prepared transaction, the marker tells "already
// committed" from "rolled back" (data lost).
const markerTable = "adf_sink_commits"

// markerDDL creates the marker table; %s is its qualified name.
const markerDDL = `CREATE TABLE IF NOT EXISTS %s (
	flow text NOT NULL,
	run_id text NOT NULL,
	checkpoint_id bigint NOT NULL,
	target_table text NOT NULL,
	rows bigint NOT NULL,
	token text NOT NULL,
	written_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (flow, run_id, checkpoint_id))`

// codeDataLoss classifies a Commit whose pre-committed rows are gone: the
// prepared transaction was rolled back by someone else. Retrying cannot
// bring them back, so it is not transient.
const codeDataLoss = "data_loss"

// SQLSTATE codes the two-phase path tells apart.
const (
	sqlstateUndefinedObject = "42704" // COMMIT/ROLLBACK PREPARED: no such gid
	sqlstateDuplicateObject = "42710" // PREPARE TRANSACTION: gid in use
	sqlstateUndefinedTable  = "42P01" // marker table missing
	sqlstateOutOfSlots      = "53200" // max_prepared_transactions reached
)

// gidMax is the longest transaction identifier PREPARE TRANSACTION takes:
// PostgreSQL requires it to be shorter than 200 bytes.
const gidMax = 199

// gidPrefix is the prefix of the prepared transactions' identifiers of
// one flow and run: "adf:<flow>:<run>:", each part escaped so the prefix is
// unambiguous and the identifier a safe SQL literal. When that would leave
// no room for a checkpoint id it is "adf:#<hash of flow and run>:" ('#'
// never appears in an escaped part, so the two forms cannot collide).
func gidPrefix(flow, run string) string {
	p := "adf:" + gidEscape(flow) + ":" + gidEscape(run) + ":"
	if len(p)+19 <= gidMax { // 19: digits of the largest int64
		return p
	}
	h := sha256.Sum256([]byte(flow + "\x00" + run))
	return "adf:#" + hex.EncodeToString(h[:16]) + ":"
}

// gidFor is the identifier of checkpoint id's prepared transaction.
func gidFor(flow, run string, checkpointID int64) string {
	return gidPrefix(flow, run) + strconv.FormatInt(checkpointID, 10)
}

// gidCheckpoint is the checkpoint id of gid if it has prefix.
func gidCheckpoint(gid, prefix string) (int64, bool) {
	rest, ok := strings.CutPrefix(gid, prefix)
	if !ok || rest == "" {
		return 0, false
	}
	for _, r := range rest {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil
}

// gidEscape percent-encodes every byte outside [A-Za-z0-9._-].
func gidEscape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// literal quotes s as an SQL string literal. Identifiers from gidFor have
// no quote; doubling them anyway keeps any gid read back from
// pg_prepared_xacts safe.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// newToken is a random value identifying one pre-commit, stored in its
// marker row and in its committable: a marker left by an earlier use of
// the same flow and run id cannot pass for this checkpoint's.
func newToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// committable is what Flush hands the host (FlushResult.Committables) and
// Commit publishes: the prepared transaction and its marker row.
type committable struct {
	GID          string `json:"gid"`
	Flow         string `json:"flow"`
	RunID        string `json:"run_id"`
	CheckpointID int64  `json:"checkpoint_id"`
	// MarkerSchema is the schema of adf_sink_commits ("" = search_path).
	MarkerSchema string `json:"marker_schema,omitempty"`
	// Token is the marker row's token; "" when unknown (a prepared
	// transaction found at Open), then any marker of the checkpoint counts.
	Token string `json:"token,omitempty"`
}

// twoPhaseFor decides how a sink in mode commits on a server whose
// max_prepared_transactions is maxPrepared: true for PREPARE TRANSACTION
// at Flush and COMMIT PREPARED at Commit. Without prepared transactions
// upsert and insert_ignore commit at Flush, which their replay makes
// idempotent; append would write a replayed checkpoint twice, so it is
// refused rather than silently downgraded.
func twoPhaseFor(mode string, maxPrepared int, server string) (bool, error) {
	if maxPrepared > 0 {
		return true, nil
	}
	if mode == ModeAppend {
		return false, &sdk.Error{Code: sdk.CodeInvalidConfig, Field: "mode",
			Summary: fmt.Sprintf("mode append writes exactly once through prepared transactions, and PostgreSQL at %s has max_prepared_transactions = 0", server),
			Detail:  "set max_prepared_transactions (e.g. 64) in postgresql.conf and restart PostgreSQL, or use mode upsert or insert_ignore with a key (idempotent without prepared transactions)"}
	}
	return false, nil
}

// pgCode is the SQLSTATE of err, "" when it is not a PostgreSQL error.
func pgCode(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code
	}
	return ""
}

// marker is the qualified name of the marker table.
func (s *sink) marker() string { return qualified(s.schema, markerTable) }

// execOutside runs sql on a pooled connection outside any transaction
// (COMMIT PREPARED and ROLLBACK PREPARED refuse to run inside one), through
// the simple protocol.
func (s *sink) execOutside(ctx context.Context, sql string) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	_, err = conn.Conn().PgConn().Exec(ctx, sql).ReadAll()
	return err
}

// retry runs op once and classifies its error. The name stays from when the
// plugin retried on its own: now an unreachable server fails the attempt
// and the host restarts it, which re-commits the checkpoint (publishing is
// idempotent, so a commit whose reply was lost is simply asked again).
func (s *sink) retry(ctx context.Context, what string, op func() error) error {
	return wrapErr(what, op(), s.cfg.URL)
}

// Commit implements sdk.Committer: COMMIT PREPARED of the checkpoint's
// transaction. When the transaction is gone the marker row decides: there,
// it was committed before (a restored or repeated Commit; nothing to do);
// missing, its rows were rolled back by someone else, which is reported as
// data loss rather than passed over. A Commit without committables is that
// of a checkpoint that pre-committed nothing; one for a checkpoint whose
// transaction is prepared and waiting is refused (see commitWithout).
func (s *sink) Commit(ctx context.Context, req sdk.CommitRequest) error {
	if len(req.Committables) == 0 {
		return s.commitWithout(req)
	}
	var c committable
	if err := json.Unmarshal(req.Committables, &c); err != nil || c.GID == "" {
		return &sdk.Error{Code: sdk.CodeInternal,
			Summary: fmt.Sprintf("commit checkpoint %d to %s: committables %q are not this sink's", req.CheckpointID, s.target, req.Committables),
			Detail:  "the checkpoint was written by another sink type or version; restore from a checkpoint of this flow's postgres sink", Err: err}
	}
	if err := s.commitPrepared(ctx, &c); err != nil {
		return err
	}
	if s.pending != nil && s.pending.CheckpointID == c.CheckpointID {
		s.pending = nil
	}
	s.lastCommitted = max(s.lastCommitted, c.CheckpointID)
	return nil
}

// commitWithout handles a Commit that carries no committables: nothing to
// publish, unless a transaction prepared for that checkpoint (or an
// earlier one whose Commit never came) is waiting, which the host's
// Commit must name. That is a protocol violation, reported instead of
// guessing what to publish.
func (s *sink) commitWithout(req sdk.CommitRequest) error {
	p := s.pending
	if p == nil || p.CheckpointID > req.CheckpointID {
		return nil
	}
	what := fmt.Sprintf("checkpoint %d pre-committed rows to %s (prepared transaction %s)", p.CheckpointID, s.target, p.GID)
	if p.CheckpointID < req.CheckpointID {
		what = fmt.Sprintf("checkpoint %d before it pre-committed rows to %s (prepared transaction %s) and was never committed", p.CheckpointID, s.target, p.GID)
	}
	return &sdk.Error{Code: sdk.CodeInternal,
		Summary: fmt.Sprintf("commit of checkpoint %d carries no committables, but %s: the host broke the two-phase sink protocol", req.CheckpointID, what),
		Detail:  "Commit must carry the committables that Flush returned for the checkpoint, for every checkpoint in order; the transaction stays prepared (a restore from the checkpoint commits it, one from an earlier checkpoint rolls it back)"}
}

// writeBeforeCommit is the error of a Write while a prepared transaction
// awaits its Commit: under the two-phase contract no Write comes between
// Flush(N) and Commit(N), nor after a restore before the restored Commit.
func (s *sink) writeBeforeCommit() error {
	p := s.pending
	return &sdk.Error{Code: sdk.CodeInternal,
		Summary: fmt.Sprintf("write to %s before Commit(%d): checkpoint %d is pre-committed (prepared transaction %s) and its Commit has not come; the host broke the two-phase sink protocol",
			s.target, p.CheckpointID, p.CheckpointID, p.GID),
		Detail: "the host must send Commit with the checkpoint's committables before the next Write; the transaction stays prepared (a restore from the checkpoint commits it, one from an earlier checkpoint rolls it back)"}
}

// commitPrepared publishes c (see Commit).
func (s *sink) commitPrepared(ctx context.Context, c *committable) error {
	return s.retry(ctx, fmt.Sprintf("commit checkpoint %d (prepared transaction %s)", c.CheckpointID, c.GID), func() error {
		err := s.execOutside(ctx, "COMMIT PREPARED "+literal(c.GID))
		if pgCode(err) != sqlstateUndefinedObject {
			return err
		}
		committed, err := s.markerPresent(ctx, c)
		if err != nil {
			return err
		}
		if committed {
			return nil
		}
		return &sdk.Error{Code: codeDataLoss,
			Summary: fmt.Sprintf("checkpoint %d of flow %q run %q: prepared transaction %s no longer exists and its row in %s is missing, so the rows it pre-committed to %s were rolled back and are lost",
				c.CheckpointID, c.Flow, c.RunID, c.GID, qualified(c.MarkerSchema, markerTable), s.target),
			Detail: "something ran ROLLBACK PREPARED on it, or the database was restored from an older backup; run the flow again from the start (or from an earlier checkpoint) to write those rows"}
	})
}

// markerPresent reports whether c's marker row is committed.
func (s *sink) markerPresent(ctx context.Context, c *committable) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM %s WHERE flow = $1 AND run_id = $2 AND checkpoint_id = $3 AND ($4 = '' OR token = $4))`,
		qualified(c.MarkerSchema, markerTable)), c.Flow, c.RunID, c.CheckpointID, c.Token).Scan(&ok)
	if pgCode(err) == sqlstateUndefinedTable {
		return false, nil
	}
	return ok, err
}

// resolvePrepared settles, at Open, the prepared transactions of this flow
// and run left by earlier attempts, given the restored checkpoint
// restored:
//   - a later checkpoint's is covered by no durable checkpoint: rolled
//     back (the restored attempt writes those rows again);
//   - the restored checkpoint's is left for the host's restored Commit,
//     which comes before any Write;
//   - an earlier one's is covered by the durable restored checkpoint, so
//     it is committed.
func (s *sink) resolvePrepared(ctx context.Context, restored int64) error {
	prefix := gidPrefix(s.init.Flow, s.init.RunID)
	rows, err := s.pool.Query(ctx, `SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND left(gid, length($1)) = $1`, prefix)
	if err != nil {
		return wrapErr("list prepared transactions (pg_prepared_xacts)", err, s.cfg.URL)
	}
	var gids []string
	for rows.Next() {
		var gid string
		if err := rows.Scan(&gid); err != nil {
			rows.Close()
			return wrapErr("list prepared transactions (pg_prepared_xacts)", err, s.cfg.URL)
		}
		gids = append(gids, gid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return wrapErr("list prepared transactions (pg_prepared_xacts)", err, s.cfg.URL)
	}
	for _, gid := range gids {
		id, ok := gidCheckpoint(gid, prefix)
		if !ok {
			continue
		}
		switch {
		case id > restored:
			logger.Info("rolling back a checkpoint no durable checkpoint covers (pre-committed by an earlier attempt)",
				"table", s.target, "gid", gid, "checkpoint", id, "restored_checkpoint", restored)
			err := s.retry(ctx, "roll back prepared transaction "+gid, func() error {
				if err := s.execOutside(ctx, "ROLLBACK PREPARED "+literal(gid)); pgCode(err) != sqlstateUndefinedObject {
					return err
				}
				return nil
			})
			if err != nil {
				return err
			}
		case id == restored:
			s.pending = &committable{GID: gid, Flow: s.init.Flow, RunID: s.init.RunID, CheckpointID: id, MarkerSchema: s.schema}
		default:
			logger.Info("committing a checkpoint the restored checkpoint covers (pre-committed by an earlier attempt)",
				"table", s.target, "gid", gid, "checkpoint", id, "restored_checkpoint", restored)
			if err := s.commitPrepared(ctx, &committable{GID: gid, Flow: s.init.Flow, RunID: s.init.RunID, CheckpointID: id, MarkerSchema: s.schema}); err != nil {
				return err
			}
		}
	}
	return nil
}

// precommit ends the checkpoint's transaction: the marker row, then
// PREPARE TRANSACTION (two-phase) or COMMIT (one-phase fallback). It
// returns the committables, nil when the transaction committed.
func (s *sink) precommit(ctx context.Context, checkpointID int64) ([]byte, error) {
	token := newToken()
	// The marker of checkpoint N replaces those this run no longer needs:
	// a restore goes back to the last committed checkpoint at the earliest,
	// and only its marker is consulted then. Done in this transaction, so
	// a rollback keeps them.
	_, err := s.tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE flow = $1 AND run_id = $2 AND checkpoint_id < $3`, s.marker()),
		s.init.Flow, s.init.RunID, s.lastCommitted)
	if err == nil {
		// A marker of the same checkpoint id can only come from an earlier
		// run that used the same run id; the token tells them apart.
		_, err = s.tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (flow, run_id, checkpoint_id, target_table, rows, token) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (flow, run_id, checkpoint_id) DO UPDATE SET target_table = EXCLUDED.target_table, rows = EXCLUDED.rows,
			token = EXCLUDED.token, written_at = EXCLUDED.written_at`, s.marker()),
			s.init.Flow, s.init.RunID, checkpointID, s.target, s.rows, token)
	}
	if err != nil {
		return nil, wrapErr(fmt.Sprintf("record checkpoint %d in %s", checkpointID, s.marker()), err, s.cfg.URL)
	}
	end := "COMMIT"
	gid := gidFor(s.init.Flow, s.init.RunID, checkpointID)
	if s.twoPhase {
		end = "PREPARE TRANSACTION " + literal(gid)
	}
	if s.stage != "" {
		// The stage is created and dropped inside the transaction, so it is
		// never left behind and never seen by other sessions.
		end = "DROP TABLE " + s.stage + "; " + end
	}
	// Whatever the outcome, the session is out of the transaction now
	// (a failed PREPARE rolls it back), so the connection can be reused.
	_, err = s.conn.Conn().PgConn().Exec(ctx, end).ReadAll()
	s.tx = nil
	s.conn.Release()
	s.conn = nil
	if err != nil {
		return nil, s.precommitErr(checkpointID, gid, err)
	}
	if !s.twoPhase {
		s.lastCommitted = checkpointID
		return nil, nil
	}
	c := &committable{GID: gid, Flow: s.init.Flow, RunID: s.init.RunID, CheckpointID: checkpointID, MarkerSchema: s.schema, Token: token}
	s.pending = c
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode committables of checkpoint %d: %w", checkpointID, err)
	}
	return b, nil
}

// precommitErr explains a failed PREPARE TRANSACTION or COMMIT.
func (s *sink) precommitErr(checkpointID int64, gid string, err error) error {
	what := fmt.Sprintf("commit checkpoint %d to %s", checkpointID, s.target)
	if s.twoPhase {
		what = fmt.Sprintf("prepare checkpoint %d of %s as transaction %s", checkpointID, s.target, gid)
	}
	e := wrapErr(what, err, s.cfg.URL)
	var se *sdk.Error
	if !errors.As(e, &se) {
		return e
	}
	switch pgCode(err) {
	case sqlstateDuplicateObject:
		se.Detail = "prepared transaction identifiers are per server: another database on it, or a run that used the same flow name and run id, holds this one; see pg_prepared_xacts and ROLLBACK PREPARED it if it is stale"
	case sqlstateOutOfSlots:
		se.Detail = "every prepared-transaction slot is taken: look for stale ones (SELECT gid, prepared, database FROM pg_prepared_xacts) and ROLLBACK PREPARED them, or raise max_prepared_transactions and restart PostgreSQL"
	}
	return e
}
