// Package store keeps ADF's state: data flows, their runs, checkpoints,
// rejected records and the heartbeat request log, in PostgreSQL (through
// pgx) or in an embedded SQLite file when no database URL is configured.
// One schema, with migrations for both; the River job queue's tables live in
// the same database, so a run row and its job commit in one transaction.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/activedataflow/adf/host/redact"
)

//go:embed migrations
var migrations embed.FS

// Dialect is the kind of database.
type Dialect string

// Dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Store is the state database.
type Store struct {
	db      *sql.DB
	dialect Dialect
	// where is a printable location without credentials.
	where string
}

// Open connects to PostgreSQL when databaseURL is set, otherwise opens (and
// creates) the SQLite file adf.db in dataDir. It does not migrate.
func Open(ctx context.Context, databaseURL, dataDir string) (*Store, error) {
	if databaseURL != "" {
		db, err := sql.Open("pgx", databaseURL)
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL %s: %w", Redact(databaseURL), err)
		}
		db.SetMaxOpenConns(40)
		db.SetMaxIdleConns(10)
		db.SetConnMaxIdleTime(time.Minute)
		s := &Store{db: db, dialect: Postgres, where: Redact(databaseURL)}
		if err := s.ping(ctx); err != nil {
			db.Close()
			return nil, err
		}
		return s, nil
	}
	if dataDir == "" {
		dataDir = "adf-data"
	}
	if err := EnsurePrivateDir(dataDir); err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, "adf.db")
	// SQLite gives the WAL and shared-memory files the database file's mode.
	if err := EnsurePrivateFile(path); err != nil {
		return nil, err
	}
	for _, side := range []string{path + "-wal", path + "-shm"} {
		if _, err := os.Stat(side); err == nil {
			if err := EnsurePrivateFile(side); err != nil {
				return nil, err
			}
		}
	}
	// synchronous(FULL): in WAL mode every commit syncs the WAL, so a
	// checkpoint that Save reported durable survives a power loss (NORMAL
	// may roll back the last commits, after a source already acknowledged).
	dsn := "file:" + path + "?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open SQLite %s: %w", path, err)
	}
	// SQLite allows one writer; one connection serialises every transaction
	// (heartbeats included) in the process, which River's SQLite driver
	// also recommends.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, dialect: SQLite, where: path}
	if err := s.ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect to %s database %s: %w", s.dialect, s.where, err)
	}
	return nil
}

// DB is the underlying pool (for the job queue's driver).
func (s *Store) DB() *sql.DB { return s.db }

// Dialect of the database.
func (s *Store) Dialect() Dialect { return s.dialect }

// Where says which database this is, without credentials.
func (s *Store) Where() string { return s.where }

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the database is reachable (for /readyz).
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Migrate applies the schema migrations not applied yet, in order, each in a
// transaction, recording them in adf_schema_migrations.
func (s *Store) Migrate(ctx context.Context) ([]string, error) { return s.migrate(ctx, "") }

// migrate applies the migrations not applied yet up to the version upTo
// ("" for all of them).
func (s *Store) migrate(ctx context.Context, upTo string) ([]string, error) {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS adf_schema_migrations (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	dir := "migrations/" + string(s.dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var applied []string
	for _, name := range names {
		version := strings.TrimSuffix(name, ".sql")
		if upTo != "" && version > upTo {
			break
		}
		var one int
		err := s.db.QueryRowContext(ctx, `SELECT 1 FROM adf_schema_migrations WHERE version = $1`, version).Scan(&one)
		if err == nil {
			continue
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return applied, fmt.Errorf("migrate: %w", err)
		}
		body, err := fs.ReadFile(migrations, dir+"/"+name)
		if err != nil {
			return applied, fmt.Errorf("migrate: %w", err)
		}
		if err := s.applyMigration(ctx, name, version, string(body)); err != nil {
			return applied, fmt.Errorf("migrate: %w", err)
		}
		applied = append(applied, version)
	}
	return applied, nil
}

// foreignKeysOff marks a SQLite migration that rebuilds a table other
// tables reference: it runs with foreign key enforcement off (with it on,
// dropping the old table would cascade to the rows referencing it) and is
// committed only when PRAGMA foreign_key_check finds nothing dangling.
const foreignKeysOff = "-- adf:foreign-keys-off"

// afterMigration returns what a migration does beyond its SQL, in its
// transaction (back-fills that need the Go model of a flow), or nil.
func afterMigration(version string) func(ctx context.Context, s *Store, tx *sql.Tx) error {
	switch version {
	case "0007_flow_control":
		return backfillFlowVersions
	}
	return nil
}

// applyMigration runs one migration's statements, its afterMigration step
// and its adf_schema_migrations row in one transaction on one connection.
func (s *Store) applyMigration(ctx context.Context, name, version, body string) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer conn.Close()
	fkOff := s.dialect == SQLite && strings.HasPrefix(body, foreignKeysOff)
	if fkOff {
		// A no-op inside a transaction: it must come before BEGIN.
		if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`) }()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: begin transaction: %w", name, err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, stmt := range splitStatements(body) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if fn := afterMigration(version); fn != nil {
		if err := fn(ctx, s, tx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if fkOff {
		rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
		if err != nil {
			return fmt.Errorf("%s: foreign key check: %w", name, err)
		}
		dangling := rows.Next()
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("%s: foreign key check: %w", name, err)
		}
		if dangling {
			return fmt.Errorf("%s: foreign key check found rows referencing missing ones; nothing was changed", name)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO adf_schema_migrations (version, applied_at) VALUES ($1, $2)`, version, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", name, err)
	}
	return nil
}

func splitStatements(body string) []string {
	var out []string
	for _, stmt := range strings.Split(body, ";") {
		if strings.TrimSpace(stmt) != "" {
			out = append(out, stmt)
		}
	}
	return out
}

// tx runs fn in a transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// ts converts a time for a query parameter: PostgreSQL takes time.Time;
// SQLite keeps fixed-width UTC text so that text order is time order.
func (s *Store) ts(t time.Time) any {
	if s.dialect == Postgres {
		return t.UTC()
	}
	return t.UTC().Format(sqliteTime)
}

func (s *Store) tsOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.ts(*t)
}

const sqliteTime = "2006-01-02T15:04:05.000000Z"

// nullTime scans a timestamp from either database.
type nullTime struct {
	T     time.Time
	Valid bool
}

// Scan implements sql.Scanner.
func (n *nullTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		n.Valid = false
		return nil
	case time.Time:
		n.T, n.Valid = x.UTC(), true
		return nil
	case string:
		return n.parse(x)
	case []byte:
		return n.parse(string(x))
	}
	return fmt.Errorf("cannot scan %T as a time", v)
}

func (n *nullTime) parse(s string) error {
	for _, layout := range []string{sqliteTime, time.RFC3339Nano, "2006-01-02T15:04:05.000Z", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			n.T, n.Valid = t.UTC(), true
			return nil
		}
	}
	return fmt.Errorf("cannot parse time %q", s)
}

func (n nullTime) ptr() *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.T
	return &t
}

// Redact returns a database URL or keyword connection string without its
// password (host/redact: postgres://user:xxxxx@host/db, password=xxxxx).
func Redact(u string) string { return redact.String(u) }
