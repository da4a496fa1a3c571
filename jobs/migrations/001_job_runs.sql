-- One row per run of a job (`pulse run JOB`, the scheduler, `pulse scheduler --once`).
-- A row is 'running' only while its process holds the job's lock: a 'running' row whose lock
-- is free belongs to a process that died, and the next start marks it 'killed'.
CREATE TABLE job_runs (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    started_at TEXT NOT NULL,          -- pulse.core.instants.iso: fixed-width UTC, sorts as instants
    finished_at TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'failed', 'interrupted', 'killed')),
    line TEXT,                         -- what the job did, in one line
    counts TEXT NOT NULL DEFAULT '{}', -- JSON object of the job's counts (accepted, published, ...)
    error TEXT,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    trigger TEXT NOT NULL DEFAULT 'run' -- who started it: run (pulse run), scheduler, once
);
CREATE INDEX job_runs_by_job ON job_runs (job, id);
CREATE INDEX job_runs_running ON job_runs (outcome) WHERE outcome = 'running';
