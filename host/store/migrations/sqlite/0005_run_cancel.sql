-- Cancelling a run: POST /v1/runs/{id}/cancel sets cancel_requested_at, and the
-- host executing the run sees it when it next renews the run's lease, stops
-- the run (a runtime's job is cancelled with it) and records it cancelled.
ALTER TABLE data_flow_runs ADD COLUMN cancel_requested_at TEXT;
