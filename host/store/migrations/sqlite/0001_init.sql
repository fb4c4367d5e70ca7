CREATE TABLE IF NOT EXISTS data_flows (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL DEFAULT '',
    enabled          INTEGER NOT NULL DEFAULT 1,
    source           TEXT NOT NULL,
    transforms       TEXT NOT NULL DEFAULT '[]',
    sink             TEXT NOT NULL,
    runtime          TEXT NOT NULL,
    options          TEXT NOT NULL DEFAULT '{}',
    run_interval     BIGINT,
    parallelism      INTEGER NOT NULL DEFAULT 1,
    on_error         TEXT NOT NULL DEFAULT 'fail',
    next_run_at      TEXT,
    last_run_at      TEXT,
    last_run_status  TEXT,
    last_error       TEXT,
    config_version   INTEGER NOT NULL DEFAULT 1,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);
CREATE INDEX IF NOT EXISTS data_flows_due ON data_flows (next_run_at) WHERE enabled = 1 AND run_interval IS NOT NULL;

CREATE TABLE IF NOT EXISTS data_flow_runs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    flow_id           BIGINT NOT NULL REFERENCES data_flows (id) ON DELETE CASCADE,
    flow_name         TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'in_progress', 'success', 'failed', 'cancelled')),
    trigger           TEXT NOT NULL DEFAULT 'schedule',
    scheduled_for     TEXT NOT NULL,
    started_at        TEXT,
    ended_at          TEXT,
    attempt           INTEGER NOT NULL DEFAULT 0,
    records_read      BIGINT NOT NULL DEFAULT 0,
    records_written   BIGINT NOT NULL DEFAULT 0,
    records_rejected  BIGINT NOT NULL DEFAULT 0,
    bytes_written     BIGINT NOT NULL DEFAULT 0,
    error_message     TEXT,
    error_backtrace   TEXT,
    config            TEXT,
    config_version    INTEGER NOT NULL,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
    UNIQUE (flow_id, scheduled_for)
);
CREATE INDEX IF NOT EXISTS data_flow_runs_active ON data_flow_runs (flow_id) WHERE status IN ('pending', 'in_progress');

CREATE TABLE IF NOT EXISTS checkpoints (
    run_id         BIGINT PRIMARY KEY REFERENCES data_flow_runs (id) ON DELETE CASCADE,
    checkpoint_id  BIGINT NOT NULL,
    state          TEXT NOT NULL,
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TABLE IF NOT EXISTS rejected_records (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      BIGINT REFERENCES data_flow_runs (id) ON DELETE CASCADE,
    flow_name   TEXT NOT NULL,
    stage       TEXT NOT NULL,
    split       TEXT,
    position    TEXT,
    reason      TEXT NOT NULL,
    record      TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
);

CREATE TABLE IF NOT EXISTS heartbeat_requests (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at      TEXT NOT NULL,
    remote_addr      TEXT NOT NULL,
    client_addr      TEXT NOT NULL,
    source           TEXT NOT NULL,
    status           INTEGER NOT NULL,
    outcome          TEXT NOT NULL,
    flows_due        INTEGER NOT NULL DEFAULT 0,
    flows_triggered  INTEGER NOT NULL DEFAULT 0,
    run_ids          TEXT NOT NULL DEFAULT ''
);
