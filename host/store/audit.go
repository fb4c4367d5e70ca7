package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// AuditEntry is one row of the admin API's audit trail (table api_audit):
// a write request of an authenticated caller and the status it was
// answered.
type AuditEntry struct {
	ID   int64     `json:"id"`
	Time time.Time `json:"time"`
	// Role of the caller's token: viewer, operator or admin.
	Role string `json:"role"`
	// TokenID is a prefix of the SHA-256 of the caller's token, never the
	// token.
	TokenID string `json:"token_id"`
	// RemoteAddr is the TCP peer (ip:port); ClientAddr the client address
	// after the trusted-proxy rules.
	RemoteAddr string `json:"remote_addr"`
	ClientAddr string `json:"client_addr"`
	Method     string `json:"method"`
	Path       string `json:"path"`
	// Target is what the request acted on: a flow name or a run id ("" if
	// unknown, e.g. a body that could not be read).
	Target string `json:"target"`
	Status int    `json:"status"`
}

// DefaultAuditLimit and MaxAuditLimit bound [Store.AuditLog].
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// RecordAudit appends e to the audit trail (e.ID is ignored).
func (s *Store) RecordAudit(ctx context.Context, e AuditEntry) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_audit (received_at, role, token_id, remote_addr, client_addr, method, path, target, status)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, s.ts(e.Time), e.Role, e.TokenID, e.RemoteAddr, e.ClientAddr, e.Method, e.Path, e.Target, e.Status)
	if err != nil {
		return fmt.Errorf("record audit entry %s %s: %w", e.Method, e.Path, err)
	}
	return nil
}

// AuditLog returns the newest audit entries, newest first: limit of them
// (DefaultAuditLimit when limit <= 0, at most MaxAuditLimit).
func (s *Store) AuditLog(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)
	rows, err := s.db.QueryContext(ctx, `SELECT id, received_at, role, token_id, remote_addr, client_addr, method, path, target, status
		FROM api_audit ORDER BY id DESC LIMIT `+strconv.Itoa(limit))
	if err != nil {
		return nil, fmt.Errorf("read the audit trail: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at nullTime
		if err := rows.Scan(&e.ID, &at, &e.Role, &e.TokenID, &e.RemoteAddr, &e.ClientAddr, &e.Method, &e.Path, &e.Target, &e.Status); err != nil {
			return nil, fmt.Errorf("read the audit trail: %w", err)
		}
		e.Time = at.T
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the audit trail: %w", err)
	}
	return out, nil
}

// LogRefusedHeartbeat records a refused heartbeat request, standing for one
// request until [Store.AddHeartbeatRequests] adds the requests folded into
// it, and returns the row's id.
func (s *Store) LogRefusedHeartbeat(ctx context.Context, at time.Time, remote, client string, status int, outcome string) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO heartbeat_requests (received_at, remote_addr, client_addr, source, status, outcome, requests)
		VALUES ($1, $2, $3, 'http', $4, $5, 1) RETURNING id`, s.ts(at), remote, client, status, outcome).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("log refused heartbeat from %s: %w", client, err)
	}
	return id, nil
}

// AddHeartbeatRequests adds, to each heartbeat log row named, the number of
// further requests it stands for, in one transaction.
func (s *Store) AddHeartbeatRequests(ctx context.Context, counts map[int64]int) error {
	if len(counts) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for id, n := range counts {
			if _, err := tx.ExecContext(ctx, `UPDATE heartbeat_requests SET requests = requests + $1 WHERE id = $2`, n, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("count folded heartbeat requests (%d rows): %w", len(counts), err)
	}
	return nil
}

// deleteBatch bounds the rows one statement of DeleteHeartbeatLogBefore
// deletes, so that a large backlog does not hold a long transaction.
const deleteBatch = 5000

// DeleteHeartbeatLogBefore deletes the heartbeat log rows received before
// t and returns how many it deleted.
func (s *Store) DeleteHeartbeatLogBefore(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, `DELETE FROM heartbeat_requests WHERE id IN
			(SELECT id FROM heartbeat_requests WHERE received_at < $1 LIMIT `+strconv.Itoa(deleteBatch)+`)`, s.ts(t))
		if err != nil {
			return total, fmt.Errorf("delete heartbeat log rows before %s: %w", t.UTC().Format(time.RFC3339), err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("delete heartbeat log rows before %s: %w", t.UTC().Format(time.RFC3339), err)
		}
		total += n
		if n < deleteBatch {
			return total, nil
		}
	}
}
