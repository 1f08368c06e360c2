------------------------------------------------------------------------------------------
-- MCP tasks (the io.modelcontextprotocol/tasks extension of 2026-07-28): a long tool call
-- (execute_multi_query, weighted_query) answered at once with a handle, run in the
-- background by the bridge that took it, polled with tasks/get and cancelled with
-- tasks/cancel from any bridge. The handle is the row's id; the row belongs to the API key
-- that started it. While it runs, the backend running it is named mcp_task:<id> in
-- pg_stat_activity, which is how a cancel from anywhere finds and stops the SQL.
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
'Runs a created task''s tool call (the bridge does, in the background) and stores its result; returns the final status. While it runs its backend''s application_name is mcp_task:<id>, so that mcp.cancel_task can stop it from any connection.';

CREATE FUNCTION mcp.get_task(task_id text, api_key_id integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t        mcp.mcp_tasks;
    running  boolean;
    seconds  numeric;
BEGIN
    SELECT * INTO t FROM mcp.mcp_tasks x WHERE x.id = get_task.task_id AND x.api_key_id = get_task.api_key_id;
    IF NOT FOUND THEN
        RETURN NULL;
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
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.cancel_task(text, integer) IS
'tasks/cancel: marks the task cancelled and cancels its running statement (pg_cancel_backend on the backend named mcp_task:<id>); false when no such task belongs to that key. A finished task stays as it is.';

REVOKE ALL ON FUNCTION mcp.create_task(integer, text, jsonb, jsonb, integer), mcp.run_task(text, integer),
    mcp.get_task(text, integer), mcp.cancel_task(text, integer), mcp._task_json(mcp.mcp_tasks) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mcp.create_task(integer, text, jsonb, jsonb, integer), mcp.run_task(text, integer),
    mcp.get_task(text, integer), mcp.cancel_task(text, integer) TO mcp_reader;
