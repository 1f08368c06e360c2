------------------------------------------------------------------------------------------
-- MCP tasks (the io.modelcontextprotocol/tasks extension of 2026-07-28): a long tool call
-- (execute_multi_query, weighted_query, reprofile_dataset) answered at once with a handle,
-- run in the background by the bridge that took it, polled with tasks/get and cancelled with
-- tasks/cancel from any bridge. The handle is the row's id; the row belongs to the API key
-- that started it. While it runs, the backend running it is named mcp_task:<id> in
-- pg_stat_activity, which is how a cancel from anywhere finds and stops the SQL. A
-- re-profiling task follows the profile job it queued (mcp.jobs) until that job ends.
------------------------------------------------------------------------------------------
CREATE TABLE mcp.mcp_tasks (
    id                text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    api_key_id        integer NOT NULL REFERENCES mcp.api_keys (id) ON DELETE CASCADE,
    tool              text NOT NULL,
    arguments         jsonb NOT NULL DEFAULT '{}',
    context           jsonb NOT NULL DEFAULT '{}',
    status            text NOT NULL DEFAULT 'working'
                      CHECK (status IN ('working', 'completed', 'failed', 'cancelled')),
    status_message    text,
    result            jsonb,
    error             jsonb,
    cancel_requested  boolean NOT NULL DEFAULT false,
    job_id            bigint,  -- the background job a reprofile_dataset task waits for
    ttl_ms            integer NOT NULL DEFAULT 3600000 CHECK (ttl_ms > 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mcp_tasks_created_idx ON mcp.mcp_tasks (created_at);
COMMENT ON TABLE mcp.mcp_tasks IS 'MCP tasks: tool calls run in the background, their status and, when done, their result; kept for ttl_ms after creation';

CREATE FUNCTION mcp._task_json(t mcp.mcp_tasks) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'taskId', t.id, 'status', t.status, 'statusMessage', t.status_message,
        'createdAt', to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'lastUpdatedAt', to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'ttlMs', t.ttl_ms, 'pollIntervalMs', 500,
        'result', CASE WHEN t.status = 'completed' THEN t.result END,
        'error', CASE WHEN t.status = 'failed' THEN t.error END))
$$;
COMMENT ON FUNCTION mcp._task_json(mcp.mcp_tasks) IS 'Internal: a task as MCP shows it (taskId, status, statusMessage, createdAt, lastUpdatedAt, ttlMs, pollIntervalMs, result or error)';

CREATE FUNCTION mcp.create_task(api_key_id integer, tool text, arguments jsonb DEFAULT '{}',
                                context jsonb DEFAULT '{}', ttl_ms integer DEFAULT 3600000)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    created mcp.mcp_tasks;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM mcp.mcp_tools() t WHERE t.name = create_task.tool) THEN
        RAISE EXCEPTION 'Unknown tool: %', coalesce(left(create_task.tool, 128), 'NULL')
            USING ERRCODE = 'undefined_function';
    END IF;
    -- Expired tasks go when new ones come, as sessions do.
    DELETE FROM mcp.mcp_tasks t WHERE t.created_at + t.ttl_ms * interval '1 millisecond' < now();
    INSERT INTO mcp.mcp_tasks (id, api_key_id, tool, arguments, context, status_message, ttl_ms)
    VALUES (encode(uuid_send(gen_random_uuid()), 'hex'), create_task.api_key_id, create_task.tool,
            coalesce(create_task.arguments, '{}'),
            CASE WHEN jsonb_typeof(create_task.context) = 'object' THEN create_task.context ELSE '{}' END,
            'queued', least(greatest(coalesce(create_task.ttl_ms, 3600000), 1000), 86400000))
    RETURNING * INTO created;
    RETURN mcp._task_json(created);
END
$$;
COMMENT ON FUNCTION mcp.create_task(integer, text, jsonb, jsonb, integer) IS
'Starts an MCP task for an API key: stores the tool call and returns the task (status working) with its handle, 32 random hex digits. The bridge then runs it with mcp.run_task. An unknown tool is SQLSTATE 42883. Removes expired tasks.';

CREATE FUNCTION mcp.run_task(task_id text, api_key_id integer) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t       mcp.mcp_tasks;
    answer  jsonb;
BEGIN
    -- Read without a lock: tasks/cancel must be able to mark the row while this runs.
    SELECT * INTO t FROM mcp.mcp_tasks x WHERE x.id = run_task.task_id AND x.api_key_id = run_task.api_key_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF t.status <> 'working' THEN
        RETURN t.status;
    END IF;
    IF t.cancel_requested THEN
        UPDATE mcp.mcp_tasks x SET status = 'cancelled', status_message = 'cancelled before it started', updated_at = now()
         WHERE x.id = t.id;
        RETURN 'cancelled';
    END IF;
    -- The name a cancel looks for in pg_stat_activity, until this transaction ends.
    PERFORM set_config('application_name', 'mcp_task:' || t.id, true);
    BEGIN
        answer := mcp.call_tool(t.tool, t.arguments, t.context);
        IF (answer -> 'structuredContent' ->> 'job_id') ~ '^[0-9]{1,18}$'
           AND NOT coalesce((answer ->> 'isError')::boolean, false) THEN
            -- Work handed to a background job: the task lasts as long as the job does.
            UPDATE mcp.mcp_tasks x
               SET job_id = (answer -> 'structuredContent' ->> 'job_id')::bigint, result = answer,
                   status_message = 'job queued', updated_at = now()
             WHERE x.id = t.id;
            RETURN 'working';
        END IF;
        UPDATE mcp.mcp_tasks x
           SET status = 'completed', result = answer, updated_at = now(),
               status_message = CASE WHEN coalesce((answer ->> 'isError')::boolean, false)
                                     THEN 'finished with an error result' ELSE 'finished' END
         WHERE x.id = t.id;
    EXCEPTION WHEN query_canceled THEN
        -- A tasks/cancel, or the statement timeout. The columns are read by the UPDATE
        -- itself: if the cancel's own transaction has not committed yet, the UPDATE waits for
        -- it and then sees cancel_requested.
        UPDATE mcp.mcp_tasks x
           SET status = CASE WHEN x.cancel_requested THEN 'cancelled' ELSE 'failed' END,
               status_message = CASE WHEN x.cancel_requested THEN 'cancelled; its queries were stopped'
                                     ELSE 'stopped: it ran longer than the server allows' END,
               error = CASE WHEN x.cancel_requested THEN NULL
                            ELSE jsonb_build_object('code', -32603, 'message', 'The task ran longer than the server allows and was stopped.') END,
               updated_at = now()
         WHERE x.id = t.id;
    END;
    RETURN (SELECT x.status FROM mcp.mcp_tasks x WHERE x.id = t.id);
END
$$;
COMMENT ON FUNCTION mcp.run_task(text, integer) IS
'Runs a created task''s tool call (the bridge does, in the background) and stores its result; returns the final status (working when the tool handed its work to a background job, whose end then ends the task). While it runs its backend''s application_name is mcp_task:<id>, so that mcp.cancel_task can stop it from any connection.';

CREATE FUNCTION mcp.get_task(task_id text, api_key_id integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t        mcp.mcp_tasks;
    j        mcp.jobs;
    running  boolean;
    seconds  numeric;
BEGIN
    SELECT * INTO t FROM mcp.mcp_tasks x WHERE x.id = get_task.task_id AND x.api_key_id = get_task.api_key_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF t.status = 'working' AND t.job_id IS NOT NULL THEN
        -- The job's state is the task's: progress while it runs, its outcome when it ends.
        SELECT * INTO j FROM mcp.jobs x WHERE x.id = t.job_id;
        t.status := CASE WHEN j.id IS NULL THEN 'failed'
                         WHEN j.status = 'done' THEN 'completed'
                         WHEN j.status IN ('failed', 'cancelled') THEN j.status
                         ELSE 'working' END;
        t.updated_at := greatest(t.updated_at, coalesce(j.finished_at, j.started_at, j.created_at));
        t.status_message := CASE
            WHEN j.id IS NULL THEN 'its job is gone'
            WHEN j.status = 'queued' THEN format('%s job %s queued', j.kind, j.id)
            WHEN j.status = 'running' THEN format('%s job %s running (attempt %s)%s', j.kind, j.id, j.attempts,
                                                  coalesce(': ' || nullif(j.progress::text, '{}'), ''))
            ELSE format('%s job %s %s', j.kind, j.id, j.status) END;
        IF t.status = 'failed' THEN
            t.error := jsonb_build_object('code', -32603, 'message',
                                          'The job failed: ' || coalesce(j.last_error, 'it is gone'));
        END IF;
        RETURN mcp._task_json(t);
    END IF;
    IF t.status = 'working' THEN
        running := EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'mcp_task:' || t.id);
        seconds := round(extract(epoch FROM now() - t.created_at)::numeric, 1);
        IF NOT running AND t.created_at + t.ttl_ms * interval '1 millisecond' < now() THEN
            -- Its bridge went away before it finished.
            t.status := 'failed';
            t.error := jsonb_build_object('code', -32603, 'message', 'The task was lost before it finished.');
        ELSE
            t.status_message := format('%s %s for %s s%s', t.tool,
                                       CASE WHEN running THEN 'running' ELSE 'queued' END, seconds,
                                       CASE WHEN t.cancel_requested THEN ', cancelling' ELSE '' END);
        END IF;
    END IF;
    RETURN mcp._task_json(t);
END
$$;
COMMENT ON FUNCTION mcp.get_task(text, integer) IS
'tasks/get: the task with that handle if it belongs to that API key (status, a progress message while working, the result when completed, the error when failed), else NULL.';

CREATE FUNCTION mcp.cancel_task(task_id text, api_key_id integer) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE mcp.mcp_tasks x SET cancel_requested = true, updated_at = now()
     WHERE x.id = cancel_task.task_id AND x.api_key_id = cancel_task.api_key_id;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- Stops the running statement wherever it runs; its run_task records the outcome.
    PERFORM pg_cancel_backend(a.pid) FROM pg_stat_activity a
      WHERE a.application_name = 'mcp_task:' || cancel_task.task_id;
    -- A job the task waits for is cancelled as mcp.cancel_jobs does it: a running worker
    -- stops storing results when it finds the job no longer its own.
    UPDATE mcp.jobs j SET status = 'cancelled', finished_at = now(), worker_pid = NULL
      FROM mcp.mcp_tasks x
     WHERE x.id = cancel_task.task_id AND j.id = x.job_id AND j.status IN ('queued', 'running');
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.cancel_task(text, integer) IS
'tasks/cancel: marks the task cancelled and cancels its running statement (pg_cancel_backend on the backend named mcp_task:<id>); false when no such task belongs to that key. A finished task stays as it is.';

CREATE FUNCTION mcp._tool_reprofile_dataset(arguments jsonb, context jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- mcp.call_tool runs handlers as the extension's owner, so the caller's own role is
    -- checked here: the role SET ROLE chose (the bridge picks it from the API key), else the
    -- login role.
    caller_role text := CASE WHEN current_setting('role') = 'none' THEN session_user::text
                             ELSE current_setting('role') END;
    job_id      bigint;
BEGIN
    IF NOT pg_has_role(caller_role, 'mcp_admin', 'MEMBER') THEN
        RAISE EXCEPTION 'reprofile_dataset needs an admin key'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Ask an administrator; reader keys can only read.';
    END IF;
    job_id := mcp.reprofile_dataset((arguments ->> 'dataset_id')::integer);
    RETURN jsonb_build_object(
        'text', format('Re-profiling dataset %s: job %s is queued. It goes back to review (metadata_pending) when done.',
                       arguments ->> 'dataset_id', job_id),
        'structured', jsonb_build_object('dataset_id', (arguments ->> 'dataset_id')::integer, 'job_id', job_id));
END
$$;
COMMENT ON FUNCTION mcp._tool_reprofile_dataset(jsonb, jsonb) IS 'Tool reprofile_dataset: queues a profile job through mcp.reprofile_dataset (admin keys only)';

INSERT INTO mcp.tools (name, title, sort_order, handler, requires, annotations, icons, description, input_schema, output_schema) VALUES
('reprofile_dataset', 'Re-profile a dataset', 80, 'mcp._tool_reprofile_dataset', '{"mcp.reprofile_dataset(integer,text[])"}',
 '{"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false, "openWorldHint": false}', mcp._icon('database'),
 'Profile a dataset again after its data changed (admin keys only): tables, columns, statistics and samples are read anew, the metadata is rewritten, and the dataset returns to review before clients see it again. It runs in the background and can take minutes; clients that support tasks get a task to poll and can cancel it.',
 $j${"type": "object", "properties": {"dataset_id": {"type": "integer", "minimum": 1, "description": "Id of the dataset to profile again"}}, "required": ["dataset_id"], "additionalProperties": false}$j$,
 $j${"type": "object", "properties": {"dataset_id": {"type": "integer"}, "job_id": {"type": "integer"}}, "required": ["dataset_id", "job_id"]}$j$)
ON CONFLICT (name) DO NOTHING;

REVOKE ALL ON TABLE mcp.mcp_tasks FROM PUBLIC;
REVOKE ALL ON FUNCTION mcp.create_task(integer, text, jsonb, jsonb, integer), mcp.run_task(text, integer),
    mcp.get_task(text, integer), mcp.cancel_task(text, integer), mcp._task_json(mcp.mcp_tasks),
    mcp._tool_reprofile_dataset(jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mcp.create_task(integer, text, jsonb, jsonb, integer), mcp.run_task(text, integer),
    mcp.get_task(text, integer), mcp.cancel_task(text, integer) TO mcp_reader;
