-- The admin API's audit trail: one row per write request (create, update
-- or delete a flow, trigger a run, ...) of an authenticated caller, with its
-- role, its token id (a prefix of the token's SHA-256, never the token),
-- its addresses, what it asked for and the status it was answered.
CREATE TABLE IF NOT EXISTS api_audit (
    id           BIGSERIAL PRIMARY KEY,
    received_at  TIMESTAMPTZ NOT NULL,
    role         TEXT NOT NULL,
    token_id     TEXT NOT NULL,
    remote_addr  TEXT NOT NULL,
    client_addr  TEXT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    target       TEXT NOT NULL DEFAULT '',
    status       INTEGER NOT NULL
);
