-- The job id a runtime (Flink) gave a run's submission: a host that resumes
-- the run, after the host that submitted it died or stopped, follows that
-- job instead of submitting a second one.
ALTER TABLE data_flow_runs ADD COLUMN IF NOT EXISTS runtime_job_id TEXT;
