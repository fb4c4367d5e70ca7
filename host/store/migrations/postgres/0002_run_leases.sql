-- Run leases: the host executing a run holds it until lease_expires_at and
-- renews it. A run whose lease expired belongs to a dead host and is
-- resumed elsewhere. job_id is the River job executing the run.
ALTER TABLE data_flow_runs ADD COLUMN IF NOT EXISTS lease_owner TEXT;
ALTER TABLE data_flow_runs ADD COLUMN IF NOT EXISTS lease_expires_at TIMESTAMPTZ;
ALTER TABLE data_flow_runs ADD COLUMN IF NOT EXISTS job_id BIGINT;
CREATE INDEX IF NOT EXISTS data_flow_runs_leases ON data_flow_runs (lease_expires_at) WHERE status = 'in_progress';
