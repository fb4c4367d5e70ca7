-- adf:foreign-keys-off
-- (SQLite cannot change a foreign key in place: data_flow_runs is rebuilt,
-- with foreign key enforcement off for this migration so that dropping the
-- old table does not cascade to checkpoints and rejected records, and the store
-- runs PRAGMA foreign_key_check before it commits.)
--
-- Run control and flow history.
--
-- A run outlives its flow: deleting a flow keeps its runs (their flow_name,
-- counts, errors and configs stay readable) with flow_id set to NULL, instead
-- of deleting the rows under a run that may still be going (its host then
-- failed on every write of the vanished row).
CREATE TABLE data_flow_runs_new (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    flow_id              BIGINT REFERENCES data_flows (id) ON DELETE SET NULL,
    flow_name            TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('pending', 'in_progress', 'success', 'failed', 'cancelled')),
    trigger              TEXT NOT NULL DEFAULT 'schedule',
    scheduled_for        TEXT NOT NULL,
    started_at           TEXT,
    ended_at             TEXT,
    attempt              INTEGER NOT NULL DEFAULT 0,
    records_read         BIGINT NOT NULL DEFAULT 0,
    records_written      BIGINT NOT NULL DEFAULT 0,
    records_rejected     BIGINT NOT NULL DEFAULT 0,
    bytes_written        BIGINT NOT NULL DEFAULT 0,
    error_message        TEXT,
    error_backtrace      TEXT,
    config               TEXT,
    config_version       INTEGER NOT NULL,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    lease_owner          TEXT,
    lease_expires_at     TEXT,
    job_id               BIGINT,
    cancel_requested_at  TEXT,
    runtime_job_id       TEXT,
    UNIQUE (flow_id, scheduled_for)
);
-- Run ids are never reused: the new table continues the old one's sequence.
INSERT INTO sqlite_sequence (name, seq) SELECT 'data_flow_runs_new', seq FROM sqlite_sequence WHERE name = 'data_flow_runs';
INSERT INTO data_flow_runs_new (id, flow_id, flow_name, status, trigger, scheduled_for, started_at, ended_at, attempt,
    records_read, records_written, records_rejected, bytes_written, error_message, error_backtrace, config, config_version,
    created_at, lease_owner, lease_expires_at, job_id, cancel_requested_at, runtime_job_id)
    SELECT id, flow_id, flow_name, status, trigger, scheduled_for, started_at, ended_at, attempt,
    records_read, records_written, records_rejected, bytes_written, error_message, error_backtrace, config, config_version,
    created_at, lease_owner, lease_expires_at, job_id, cancel_requested_at, runtime_job_id FROM data_flow_runs;
DROP TABLE data_flow_runs;
ALTER TABLE data_flow_runs_new RENAME TO data_flow_runs;
CREATE INDEX IF NOT EXISTS data_flow_runs_active ON data_flow_runs (flow_id) WHERE status IN ('pending', 'in_progress');
CREATE INDEX IF NOT EXISTS data_flow_runs_leases ON data_flow_runs (lease_expires_at) WHERE status = 'in_progress';
CREATE INDEX IF NOT EXISTS data_flow_runs_flow_name ON data_flow_runs (flow_name, id);

-- When the flow last had a successful run.
ALTER TABLE data_flows ADD COLUMN last_success_at TEXT;
UPDATE data_flows SET last_success_at = (SELECT max(r.ended_at) FROM data_flow_runs r
    WHERE r.flow_id = data_flows.id AND r.status = 'success');

-- Every config version a flow had: the stored flow document as it was
-- applied (or enabled, or disabled) and when. The store back-fills each
-- flow's current version in this migration's transaction. A flow's
-- versions go with it when it is deleted: they hold its credentials.
CREATE TABLE IF NOT EXISTS flow_versions (
    flow_id     BIGINT NOT NULL REFERENCES data_flows (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    config      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (flow_id, version)
);

-- Rejected records are read a page at a time, with their total.
CREATE INDEX IF NOT EXISTS rejected_records_run ON rejected_records (run_id, id);
