------------------------------------------------------------------------------------------
-- Background jobs: a queue in mcp.jobs, taken with FOR UPDATE SKIP LOCKED by the background
-- workers (shared_preload_libraries) or by CALL mcp.run_pending_jobs(). Every state change
-- is its own committed transaction, so a crash at any point leads to a retry, and a result
-- is stored only by the attempt that still owns the job (see mcp._job_owned).
------------------------------------------------------------------------------------------

-- Wakes the job workers of this database when the inserting transaction commits.
CREATE FUNCTION mcp._jobs_wake() RETURNS trigger
AS 'MODULE_PATHNAME', 'mcp_jobs_wake' LANGUAGE C;
COMMENT ON FUNCTION mcp._jobs_wake() IS 'Trigger: sets the latch of this database''s job worker (or asks the launcher for one) when the transaction commits';
CREATE TRIGGER jobs_wake AFTER INSERT OR UPDATE OF status, run_after ON mcp.jobs
    FOR EACH STATEMENT EXECUTE FUNCTION mcp._jobs_wake();

CREATE FUNCTION mcp._enqueue_job(kind text, dataset_id integer, payload jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    job_id bigint;
BEGIN
    -- One queued job of a kind per dataset is enough: a second request joins the first.
    SELECT j.id INTO job_id FROM mcp.jobs j
     WHERE j.kind = _enqueue_job.kind AND j.dataset_id = _enqueue_job.dataset_id AND j.status = 'queued'
     ORDER BY j.id LIMIT 1;
    IF FOUND THEN
        UPDATE mcp.jobs j SET payload = _enqueue_job.payload, run_after = least(j.run_after, now())
         WHERE j.id = job_id;
        RETURN job_id;
    END IF;
    INSERT INTO mcp.jobs (kind, dataset_id, payload)
    VALUES (_enqueue_job.kind, _enqueue_job.dataset_id, coalesce(_enqueue_job.payload, '{}'))
    RETURNING id INTO job_id;
    RETURN job_id;
END
$$;
COMMENT ON FUNCTION mcp._enqueue_job(text, integer, jsonb) IS 'Internal: queues a job (profile or llm_metadata) for a dataset, joining a queued one of the same kind; returns its id';

-- Jobs whose process died (crash, SIGKILL, restart) while running: back to the queue, or
-- failed for good when they used their attempts.
CREATE FUNCTION mcp._recover_jobs() RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    recovered integer;
BEGIN
    WITH stale AS (
        SELECT j.id FROM mcp.jobs j
         WHERE j.status = 'running'
           AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                            WHERE a.pid = j.worker_pid AND a.backend_start <= j.started_at)
         FOR UPDATE SKIP LOCKED),
    moved AS (
        UPDATE mcp.jobs j SET
            status = CASE WHEN j.attempts >= j.max_attempts THEN 'failed' ELSE 'queued' END,
            finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
            run_after = now(),
            last_error = format('attempt %s stopped before finishing: process %s ended (crash, kill or restart)',
                                j.attempts, j.worker_pid),
            errors = j.errors || jsonb_build_array(jsonb_build_object(
                'attempt', j.attempts, 'at', now(), 'sqlstate', '57P01',
                'error', format('process %s ended before finishing', j.worker_pid))),
            worker_pid = NULL
          FROM stale WHERE j.id = stale.id
        RETURNING j.*),
    -- A profile that will never finish leaves its dataset where it was before.
    reverted AS (
        UPDATE mcp.datasets d SET status = 'draft', updated_at = now()
          FROM moved m
         WHERE m.dataset_id = d.id AND m.kind = 'profile' AND m.status = 'failed' AND d.status = 'profiling'
        RETURNING d.id)
    SELECT count(*) INTO recovered FROM moved;
    RETURN recovered;
END
$$;
COMMENT ON FUNCTION mcp._recover_jobs() IS 'Internal: re-queues (or fails, when out of attempts) running jobs whose process is gone';

CREATE FUNCTION mcp._move_dataset(dataset_id integer, from_status text[], to_status text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE mcp.datasets d SET status = to_status, updated_at = now()
     WHERE d.id = dataset_id AND d.status = ANY (from_status) AND d.status <> to_status;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION mcp._move_dataset(integer, text[], text) IS 'Internal: moves a dataset to to_status only when it is in one of from_status';

CREATE FUNCTION mcp._claim_job(worker_pid integer) RETURNS mcp.jobs
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    claimed mcp.jobs;
BEGIN
    PERFORM mcp._recover_jobs();
    SELECT * INTO claimed FROM mcp.jobs j
     WHERE j.status = 'queued' AND j.run_after <= now()
     ORDER BY j.run_after, j.id
     LIMIT 1
     FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE mcp.jobs j SET status = 'running', attempts = j.attempts + 1, started_at = now(),
                          finished_at = NULL, worker_pid = _claim_job.worker_pid,
                          progress = jsonb_build_object('step', 'starting')
     WHERE j.id = claimed.id
    RETURNING * INTO claimed;
    IF claimed.kind = 'profile' THEN
        PERFORM mcp._move_dataset(claimed.dataset_id, ARRAY['draft', 'metadata_pending', 'approved', 'active'], 'profiling');
    END IF;
    RETURN claimed;
END
$$;
COMMENT ON FUNCTION mcp._claim_job(integer) IS 'Internal: recovers stale jobs, then takes the next due job (FOR UPDATE SKIP LOCKED) and marks it running for this process';

CREATE FUNCTION mcp._job_owned(job_id bigint, attempt integer) RETURNS mcp.jobs
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM mcp.jobs j
     WHERE j.id = job_id AND j.status = 'running' AND j.attempts = attempt
       FOR UPDATE
$$;
COMMENT ON FUNCTION mcp._job_owned(bigint, integer) IS 'Internal: the job row, locked, if this attempt still owns it (else NULL): a result is stored at most once';

CREATE FUNCTION mcp._job_progress(job_id bigint, attempt integer, progress jsonb) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    UPDATE mcp.jobs j SET progress = _job_progress.progress
     WHERE j.id = job_id AND j.status = 'running' AND j.attempts = attempt
$$;
COMMENT ON FUNCTION mcp._job_progress(bigint, integer, jsonb) IS 'Internal: records how far a running job got (visible in mcp.jobs_status while it runs)';

CREATE FUNCTION mcp._job_done(job_id bigint, attempt integer, result jsonb, error text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE mcp.jobs j SET
        status = CASE WHEN _job_done.error IS NULL THEN 'done' ELSE 'failed' END,
        -- the moment it ends, not when its transaction began: request-to-done is measured
        finished_at = clock_timestamp(), result = _job_done.result, worker_pid = NULL,
        last_error = coalesce(_job_done.error, j.last_error),
        errors = CASE WHEN _job_done.error IS NULL THEN j.errors
                      ELSE j.errors || jsonb_build_array(jsonb_build_object(
                           'attempt', j.attempts, 'at', now(), 'error', _job_done.error)) END,
        progress = j.progress || jsonb_build_object('step', 'finished')
     WHERE j.id = job_id AND j.status = 'running' AND j.attempts = attempt;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION mcp._job_done(bigint, integer, jsonb, text) IS 'Internal: marks an owned job done (or failed with error), with its result summary';

CREATE FUNCTION mcp._job_failed(job_id bigint, attempt integer, error text, sqlstate text,
                                retry_delay_ms integer, retryable boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    job mcp.jobs := mcp._job_owned(job_id, attempt);
    final boolean;
BEGIN
    IF job.id IS NULL THEN
        RETURN 'not_owned';
    END IF;
    final := NOT retryable OR job.attempts >= job.max_attempts;
    UPDATE mcp.jobs j SET
        status = CASE WHEN final THEN 'failed' ELSE 'queued' END,
        finished_at = CASE WHEN final THEN now() END,
        -- exponential backoff: delay, 2 x delay, 4 x delay, ...
        run_after = now() + make_interval(secs => retry_delay_ms / 1000.0 * 2 ^ (j.attempts - 1)),
        worker_pid = NULL,
        last_error = error,
        errors = j.errors || jsonb_build_array(jsonb_build_object(
            'attempt', j.attempts, 'at', now(), 'sqlstate', sqlstate, 'error', error))
     WHERE j.id = job.id;
    IF final AND job.kind = 'profile' THEN
        PERFORM mcp._move_dataset(job.dataset_id, ARRAY['profiling'], 'draft');
    END IF;
    RETURN CASE WHEN final THEN 'failed' ELSE 'queued' END;
END
$$;
COMMENT ON FUNCTION mcp._job_failed(bigint, integer, text, text, integer, boolean) IS 'Internal: records a failed attempt; re-queues it with exponential backoff, or fails the job when out of attempts';

CREATE FUNCTION mcp._job_next_due() RETURNS double precision
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN min(run_after) IS NOT NULL  -- greatest() would turn "none" into 0
                THEN greatest(0, extract(epoch FROM min(run_after) - clock_timestamp()))::double precision END
      FROM mcp.jobs WHERE status = 'queued'
$$;
COMMENT ON FUNCTION mcp._job_next_due() IS 'Internal: seconds until the next queued job is due (0 if one is due now, NULL if none)';

------------------------------------------------------------------------------------------
-- The public surface
------------------------------------------------------------------------------------------
CREATE PROCEDURE mcp.run_pending_jobs(max_jobs integer DEFAULT NULL)
AS 'MODULE_PATHNAME', 'mcp_run_pending_jobs' LANGUAGE C;
COMMENT ON PROCEDURE mcp.run_pending_jobs(integer) IS
'Runs the due jobs in this session, one after another (at most max_jobs), committing every state change; for servers where mcp_analytics is not in shared_preload_libraries. Inside a transaction block it runs them in that transaction instead. Admins and superusers only.';

CREATE FUNCTION mcp.jobs_status(dataset_id integer DEFAULT NULL, include_finished boolean DEFAULT true)
RETURNS TABLE (id bigint, kind text, dataset_id integer, dataset_name text, status text,
               attempts integer, max_attempts integer, progress jsonb, last_error text,
               errors jsonb, result jsonb, worker_pid integer, created_at timestamptz,
               run_after timestamptz, started_at timestamptz, finished_at timestamptz,
               seconds double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT j.id, j.kind, j.dataset_id, d.name, j.status, j.attempts, j.max_attempts, j.progress,
           j.last_error, j.errors, j.result, j.worker_pid, j.created_at, j.run_after,
           j.started_at, j.finished_at,
           round(extract(epoch FROM coalesce(j.finished_at, clock_timestamp()) - j.started_at)::numeric, 3)::double precision
      FROM mcp.jobs j LEFT JOIN mcp.datasets d ON d.id = j.dataset_id
     WHERE (jobs_status.dataset_id IS NULL OR j.dataset_id = jobs_status.dataset_id)
       AND (include_finished OR j.status IN ('queued', 'running'))
     ORDER BY (j.status IN ('queued', 'running')) DESC, j.id DESC
$$;
COMMENT ON FUNCTION mcp.jobs_status(integer, boolean) IS
'The job queue: every job (or only queued and running ones) with its attempts, progress (e.g. table 2 of 3), errors of each attempt, start, end and duration; newest first, unfinished on top.';

CREATE FUNCTION mcp.job_workers()
RETURNS TABLE (role text, pid integer, database_name text, busy boolean, job_id bigint)
AS 'MODULE_PATHNAME', 'mcp_job_workers' LANGUAGE C STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mcp.job_workers() IS
'The background processes of mcp_analytics on this server: the launcher and the job workers (one or more per database with queued work), what each is doing; empty when the library is not preloaded.';

CREATE FUNCTION mcp.wait_for_jobs(dataset_id integer DEFAULT NULL, timeout interval DEFAULT '60 seconds')
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + timeout;
BEGIN
    LOOP
        IF NOT EXISTS (SELECT 1 FROM mcp.jobs j
                        WHERE j.status IN ('queued', 'running')
                          AND (wait_for_jobs.dataset_id IS NULL OR j.dataset_id = wait_for_jobs.dataset_id)) THEN
            RETURN true;
        END IF;
        IF clock_timestamp() >= deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
END
$$;
COMMENT ON FUNCTION mcp.wait_for_jobs(integer, interval) IS
'Waits until no job (of one dataset, or at all) is queued or running; true when the queue drained, false on timeout. For scripts: run it outside a transaction block so it sees the workers'' commits.';

CREATE FUNCTION mcp.cancel_jobs(dataset_id integer) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cancelled integer;
BEGIN
    UPDATE mcp.jobs j SET status = 'cancelled', finished_at = now(), worker_pid = NULL
     WHERE j.dataset_id = cancel_jobs.dataset_id AND j.status IN ('queued', 'running');
    GET DIAGNOSTICS cancelled = ROW_COUNT;
    RETURN cancelled;
END
$$;
COMMENT ON FUNCTION mcp.cancel_jobs(integer) IS
'Cancels the queued and running jobs of a dataset; a running one stops storing results (its worker finds it no longer owns the job). Returns how many were cancelled.';

GRANT EXECUTE ON FUNCTION mcp.jobs_status(integer, boolean), mcp.job_workers() TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.wait_for_jobs(integer, interval), mcp.cancel_jobs(integer) TO mcp_admin;
GRANT EXECUTE ON PROCEDURE mcp.run_pending_jobs(integer) TO mcp_admin;
-- GRANT/REVOKE ... ALL FUNCTIONS leaves procedures alone.
REVOKE ALL ON PROCEDURE mcp.run_pending_jobs(integer) FROM PUBLIC;
