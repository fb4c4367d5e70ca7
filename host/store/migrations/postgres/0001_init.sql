CREATE TABLE IF NOT EXISTS data_flows (
    id               BIGSERIAL PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    description      TEXT NOT NULL DEFAULT '',
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    source           JSONB NOT NULL,
    transforms       JSONB NOT NULL DEFAULT '[]',
    sink             JSONB NOT NULL,
    runtime          JSONB NOT NULL,
    options          JSONB NOT NULL DEFAULT '{}',
    run_interval     BIGINT,
    parallelism      INTEGER NOT NULL DEFAULT 1,
    on_error         TEXT NOT NULL DEFAULT 'fail',
    next_run_at      TIMESTAMPTZ,
    last_run_at      TIMESTAMPTZ,
    last_run_status  TEXT,
    last_error       TEXT,
    config_version   INTEGER NOT NULL DEFAULT 1,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS data_flows_due ON data_flows (next_run_at) WHERE enabled AND run_interval IS NOT NULL;

CREATE TABLE IF NOT EXISTS data_flow_runs (
    id                BIGSERIAL PRIMARY KEY,
    flow_id           BIGINT NOT NULL REFERENCES data_flows (id) ON DELETE CASCADE,
    flow_name         TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'in_progress', 'success', 'failed', 'cancelled')),
    trigger           TEXT NOT NULL DEFAULT 'schedule',
    scheduled_for     TIMESTAMPTZ NOT NULL,
    started_at        TIMESTAMPTZ,
    ended_at          TIMESTAMPTZ,
    attempt           INTEGER NOT NULL DEFAULT 0,
    records_read      BIGINT NOT NULL DEFAULT 0,
    records_written   BIGINT NOT NULL DEFAULT 0,
    records_rejected  BIGINT NOT NULL DEFAULT 0,
    bytes_written     BIGINT NOT NULL DEFAULT 0,
    error_message     TEXT,
    error_backtrace   TEXT,
    config            JSONB,
    config_version    INTEGER NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (flow_id, scheduled_for)
);
CREATE INDEX IF NOT EXISTS data_flow_runs_active ON data_flow_runs (flow_id) WHERE status IN ('pending', 'in_progress');

CREATE TABLE IF NOT EXISTS checkpoints (
    run_id         BIGINT PRIMARY KEY REFERENCES data_flow_runs (id) ON DELETE CASCADE,
    checkpoint_id  BIGINT NOT NULL,
    state          JSONB NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS rejected_records (
    id          BIGSERIAL PRIMARY KEY,
    run_id      BIGINT REFERENCES data_flow_runs (id) ON DELETE CASCADE,
    flow_name   TEXT NOT NULL,
    stage       TEXT NOT NULL,
    split       TEXT,
    position    TEXT,
    reason      TEXT NOT NULL,
    record      TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS heartbeat_requests (
    id               BIGSERIAL PRIMARY KEY,
    received_at      TIMESTAMPTZ NOT NULL,
    remote_addr      TEXT NOT NULL,
    client_addr      TEXT NOT NULL,
    source           TEXT NOT NULL,
    status           INTEGER NOT NULL,
    outcome          TEXT NOT NULL,
    flows_due        INTEGER NOT NULL DEFAULT 0,
    flows_triggered  INTEGER NOT NULL DEFAULT 0,
    run_ids          TEXT NOT NULL DEFAULT ''
);
