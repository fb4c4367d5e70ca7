-- Refused heartbeat requests are sampled: a row stands for the requests of
-- one client address with one outcome within a short window, and requests
-- counts them. Rows older than the retention window are deleted by
-- received_at.
ALTER TABLE heartbeat_requests ADD COLUMN IF NOT EXISTS requests INTEGER NOT NULL DEFAULT 1;
CREATE INDEX IF NOT EXISTS heartbeat_requests_received ON heartbeat_requests (received_at);
