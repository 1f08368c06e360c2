-- The job queue: a second request joins a queued job, a claim marks it running for one
-- process, a job whose process is gone is recovered, failures back off and end in failed,
-- a result is stored only by the attempt that owns the job, and run_pending_jobs runs jobs
-- inside a transaction block (each step a subtransaction) recording failures.
\getenv demo_conninfo MCP_DEMO_CONNINFO
BEGIN;
SELECT plan(33);
SET LOCAL client_min_messages = warning;
SET LOCAL mcp_analytics.profile_on_register = off;

SELECT mcp.register_dataset('tap_jobs', :'demo_conninfo') AS id \gset
SELECT is((SELECT count(*) FROM mcp.jobs WHERE dataset_id = :id), 0::bigint,
          'with profile_on_register off, registering queues nothing');
SET LOCAL mcp_analytics.profile_on_register = on;
SELECT mcp.register_dataset('tap_jobs_on', :'demo_conninfo') AS id_on \gset
SELECT is((SELECT kind || ':' || status FROM mcp.jobs WHERE dataset_id = :id_on), 'profile:queued',
          'with it on (the default), registering queues the profile');

SELECT mcp._enqueue_job('profile', :id) AS job \gset
SELECT is(mcp._enqueue_job('profile', :id), :job::bigint, 'a second request joins the queued job');
SELECT is((SELECT count(*) FROM mcp.jobs WHERE dataset_id = :id), 1::bigint, 'one job is queued');
DELETE FROM mcp.jobs WHERE dataset_id = :id_on;

-- Claim
SELECT is((SELECT id FROM mcp._claim_job(pg_backend_pid())), :job::bigint, 'a claim takes the due job');
SELECT results_eq(format('SELECT status, attempts, worker_pid = pg_backend_pid(), started_at IS NOT NULL FROM mcp.jobs WHERE id = %s', :job),
                  $$VALUES ('running', 1, true, true)$$, 'it is running, attempt 1, for this process, with its start');
SELECT is((SELECT status FROM mcp.datasets WHERE id = :id), 'profiling', 'claiming a profile moves the dataset to profiling');
SELECT is((SELECT id FROM mcp._claim_job(pg_backend_pid())), NULL, 'nothing else is due (a live owner keeps its job)');

-- Recovery of a job whose process is gone (there is no process 4242 here)
UPDATE mcp.jobs SET worker_pid = 4242 WHERE id = :job;
SELECT is(mcp._recover_jobs(), 1, 'a running job whose process is gone is recovered');
SELECT results_eq(format($$SELECT status, attempts, worker_pid IS NULL, errors -> 0 ->> 'sqlstate' FROM mcp.jobs WHERE id = %s$$, :job),
                  $$VALUES ('queued', 1, true, '57P01')$$, 'back in the queue, its lost attempt recorded');
SELECT ok((SELECT last_error ~ 'process 4242 ended' FROM mcp.jobs WHERE id = :job), 'the error names the process');

-- A failure backs off exponentially
SELECT is((SELECT attempts FROM mcp._claim_job(pg_backend_pid())), 2, 'claimed again: attempt 2');
SELECT is(mcp._job_failed(:job, 2, 'remote went away', '08006', 10000), 'queued', 'a failed attempt is re-queued');
SELECT ok((SELECT run_after BETWEEN now() + interval '19 s' AND now() + interval '21 s' FROM mcp.jobs WHERE id = :job),
          'after 2 x job_retry_delay (the second attempt)');
SELECT is((SELECT jsonb_array_length(errors) FROM mcp.jobs WHERE id = :job), 2, 'each attempt''s error is kept');
SELECT is((SELECT id FROM mcp._claim_job(pg_backend_pid())), NULL, 'not due before its time');

-- Only the owning attempt stores a result
SELECT is(mcp._store_profile(:job, 1, '{"tables": [], "dataset": {}, "summary": {}}'), false,
          'an attempt that no longer owns the job cannot store its result');
SELECT is((SELECT last_profiled_at FROM mcp.datasets WHERE id = :id), NULL, '... and nothing was written');

-- The last attempt fails for good and puts the dataset back
UPDATE mcp.jobs SET run_after = now() WHERE id = :job;
SELECT is((SELECT attempts FROM mcp._claim_job(pg_backend_pid())), 3, 'attempt 3');
SELECT is(mcp._job_failed(:job, 3, 'remote went away', '08006', 10000), 'failed', 'out of attempts: failed');
SELECT results_eq(format('SELECT status, finished_at IS NOT NULL, last_error FROM mcp.jobs WHERE id = %s', :job),
                  $$VALUES ('failed', true, 'remote went away')$$, 'finished, with its error');
SELECT is((SELECT status FROM mcp.datasets WHERE id = :id), 'draft', 'a profile that failed for good leaves the dataset in draft');

-- Errors another attempt cannot fix are not retried
SELECT mcp._enqueue_job('profile', :id) AS job2 \gset
SELECT is((SELECT attempts FROM mcp._claim_job(pg_backend_pid())), 1, 'a new job');
SELECT is(mcp._job_failed(:job2, 1, 'no such dataset', 'P0002', 10000, false), 'failed', 'a permanent error fails at once');

-- run_pending_jobs inside a transaction block: subtransactions, failures recorded
INSERT INTO mcp.datasets (name, connection_ciphertext, connection_display) VALUES ('tap_broken', '\x01', 'u@h:1/d')
RETURNING id AS broken \gset
SELECT mcp._enqueue_job('profile', :broken) AS broken_job \gset
SELECT mcp.reprofile_dataset(:id) AS good_job \gset
SELECT lives_ok('CALL mcp.run_pending_jobs()', 'CALL mcp.run_pending_jobs() runs in a transaction block');
SELECT results_eq(format($$SELECT kind, status, attempts FROM mcp.jobs WHERE dataset_id = %s AND id >= %s ORDER BY id$$, :id, :good_job),
                  $$VALUES ('profile', 'done', 1), ('llm_metadata', 'done', 1)$$, 'the profile and then the metadata job ran');
SELECT is((SELECT status FROM mcp.datasets WHERE id = :id), 'metadata_pending', 'the dataset waits for review');
SELECT is((SELECT count(*) FROM mcp.dataset_schemas WHERE dataset_id = :id AND schema_name = 'public'), 3::bigint, 'its three public tables were profiled');
SELECT is((SELECT status FROM mcp.jobs WHERE id = :broken_job), 'failed', 'a job that cannot decrypt its connection failed');
SELECT ok((SELECT last_error IS NOT NULL AND jsonb_array_length(errors) = 1 FROM mcp.jobs WHERE id = :broken_job),
          'with its error recorded, and the other jobs still ran');

-- The queue as users see it; who may do what
SELECT ok((SELECT count(*) > 0 FROM mcp.jobs_status(:id) WHERE progress ? 'step'), 'mcp.jobs_status shows progress');
SELECT ok(has_function_privilege('mcp_reader', 'mcp.jobs_status(integer, boolean)', 'EXECUTE')
          AND NOT has_function_privilege('mcp_reader', 'mcp.run_pending_jobs(integer)', 'EXECUTE')
          AND NOT has_function_privilege('mcp_reader', 'mcp.cancel_jobs(integer)', 'EXECUTE'),
          'readers see the queue but run and cancel nothing');
SELECT ok(has_function_privilege('mcp_admin', 'mcp.run_pending_jobs(integer)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'mcp.run_pending_jobs(integer)', 'EXECUTE')
          AND NOT has_function_privilege('mcp_admin', 'mcp._claim_job(integer)', 'EXECUTE'),
          'admins run pending jobs; PUBLIC nothing; the internals nobody');

SELECT * FROM finish();
ROLLBACK;
