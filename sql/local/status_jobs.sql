-- The last run of every job.
SELECT job, started_at, finished_at, result, summary,
  CAST(epoch_ms(finished_at) - epoch_ms(started_at) AS BIGINT) AS duration_ms
FROM job_runs
QUALIFY row_number() OVER (PARTITION BY job ORDER BY started_at DESC, finished_at DESC) = 1
ORDER BY job
