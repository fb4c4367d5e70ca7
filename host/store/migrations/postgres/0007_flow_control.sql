-- Run control and flow history.
--
-- A run outlives its flow: deleting a flow keeps its runs (their flow_name,
-- counts, errors and configs stay readable) with flow_id set to NULL, instead
-- of deleting the rows under a run that may still be going (its host then
-- failed on every write of the vanished row).
ALTER TABLE data_flow_runs ALTER COLUMN flow_id DROP NOT NULL;
ALTER TABLE data_flow_runs DROP CONSTRAINT IF EXISTS data_flow_runs_flow_id_fkey;
ALTER TABLE data_flow_runs ADD CONSTRAINT data_flow_runs_flow_id_fkey
    FOREIGN KEY (flow_id) REFERENCES data_flows (id) ON DELETE SET NULL;
CREATE INDEX IF NOT EXISTS data_flow_runs_flow_name ON data_flow_runs (flow_name, id);

-- When the flow last had a successful run.
ALTER TABLE data_flows ADD COLUMN IF NOT EXISTS last_success_at TIMESTAMPTZ;
UPDATE data_flows SET last_success_at = (SELECT max(r.ended_at) FROM data_flow_runs r
    WHERE r.flow_id = data_flows.id AND r.status = 'success');

-- Every config version a flow had: the stored flow document as it was
-- applied (or enabled, or disabled) and when. The store back-fills each
-- flow's current version in this migration's transaction. A flow's
-- versions go with it when it is deleted: they hold its credentials.
CREATE TABLE IF NOT EXISTS flow_versions (
    flow_id     BIGINT NOT NULL REFERENCES data_flows (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    config      JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (flow_id, version)
);

-- Rejected records are read a page at a time, with their total.
CREATE INDEX IF NOT EXISTS rejected_records_run ON rejected_records (run_id, id);
