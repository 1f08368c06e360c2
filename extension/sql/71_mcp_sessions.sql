------------------------------------------------------------------------------------------
-- MCP sessions. Kept here, not in a bridge's memory, so that any bridge behind a load
-- balancer serves any request of a session. Sessions are transient: not dumped.
------------------------------------------------------------------------------------------
CREATE TABLE mcp.mcp_sessions (
    id                   text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
    api_key_id           integer NOT NULL REFERENCES mcp.api_keys (id) ON DELETE CASCADE,
    transport            text NOT NULL DEFAULT 'http' CHECK (transport IN ('http', 'stdio')),
    protocol_version     text NOT NULL CHECK (protocol_version ~ '^\d{4}-\d{2}-\d{2}$'),
    client_name          text,
    client_version       text,
    client_info          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(client_info) = 'object'),
    client_capabilities  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(client_capabilities) = 'object'),
    user_agent           text,
    log_level            text NOT NULL DEFAULT 'info'
                         CHECK (log_level IN ('debug', 'info', 'notice', 'warning', 'error',
                                              'critical', 'alert', 'emergency')),
    initialized          boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    last_seen_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mcp_sessions_last_seen_idx ON mcp.mcp_sessions (last_seen_at);
CREATE INDEX mcp_sessions_api_key_idx ON mcp.mcp_sessions (api_key_id);
COMMENT ON TABLE mcp.mcp_sessions IS 'Open MCP sessions (Mcp-Session-Id): the negotiated protocol version and who the client is, shared by all bridges';

-- Bridges keep a verified session for a moment; a session closed anywhere ends that at once.
-- The payload names no session: ids are credentials, and any role may LISTEN.
CREATE FUNCTION mcp._notify_sessions_closed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM gone) THEN
        PERFORM pg_notify('mcp_analytics', '{"event": "sessions_closed"}');
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION mcp._notify_sessions_closed() IS 'Trigger: NOTIFY mcp_analytics with {event: sessions_closed} when sessions are deleted, so bridges drop cached sessions';
CREATE TRIGGER mcp_sessions_notify_closed AFTER DELETE ON mcp.mcp_sessions
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION mcp._notify_sessions_closed();

CREATE FUNCTION mcp.open_session(api_key_id integer, protocol_version text,
                                 client_info jsonb DEFAULT '{}', client_capabilities jsonb DEFAULT '{}',
                                 user_agent text DEFAULT NULL, transport text DEFAULT 'http',
                                 idle_timeout interval DEFAULT '24 hours')
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_id text := encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'hex');
    info   jsonb := CASE WHEN jsonb_typeof(client_info) = 'object' THEN client_info ELSE '{}' END;
BEGIN
    -- Expired sessions go when new ones come: no job needed, and the table stays small.
    DELETE FROM mcp.mcp_sessions s WHERE s.last_seen_at < now() - idle_timeout;
    INSERT INTO mcp.mcp_sessions (id, api_key_id, transport, protocol_version, client_name,
                                  client_version, client_info, client_capabilities, user_agent)
    VALUES (new_id, open_session.api_key_id, open_session.transport, open_session.protocol_version,
            left(info ->> 'name', 200), left(info ->> 'version', 100), info,
            CASE WHEN jsonb_typeof(client_capabilities) = 'object' THEN client_capabilities ELSE '{}' END,
            left(open_session.user_agent, 500));
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION mcp.open_session(integer, text, jsonb, jsonb, text, text, interval) IS
'Starts an MCP session for an API key after initialize (the negotiated version, the clientInfo {name, version}, capabilities, User-Agent) and returns its id, 64 random hex digits. Removes sessions idle longer than idle_timeout.';

CREATE FUNCTION mcp.resume_session(session_id text, api_key_id integer,
                                   idle_timeout interval DEFAULT '24 hours')
RETURNS TABLE (protocol_version text, client_name text, client_version text, user_agent text,
               log_level text, initialized boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- Refreshing last_seen_at at most every 30 s keeps reads from becoming a write each.
    UPDATE mcp.mcp_sessions s SET last_seen_at = now()
     WHERE s.id = resume_session.session_id AND s.api_key_id = resume_session.api_key_id
       AND s.last_seen_at < now() - interval '30 seconds'
       AND s.last_seen_at >= now() - idle_timeout;
    RETURN QUERY
    SELECT s.protocol_version, s.client_name, s.client_version, s.user_agent, s.log_level, s.initialized
      FROM mcp.mcp_sessions s
     WHERE s.id = resume_session.session_id AND s.api_key_id = resume_session.api_key_id
       AND s.last_seen_at >= now() - idle_timeout;
END
$$;
COMMENT ON FUNCTION mcp.resume_session(text, integer, interval) IS
'The session with that id if it is open, belongs to that API key and was seen within idle_timeout, else no row (the bridge answers 404 and the client initializes again).';

CREATE FUNCTION mcp.update_session(session_id text, api_key_id integer,
                                   initialized boolean DEFAULT NULL, log_level text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF update_session.log_level IS NOT NULL AND update_session.log_level NOT IN
       ('debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency') THEN
        RAISE EXCEPTION 'unknown log level %', quote_literal(update_session.log_level)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Levels: debug, info, notice, warning, error, critical, alert, emergency.';
    END IF;
    UPDATE mcp.mcp_sessions s
       SET initialized = coalesce(update_session.initialized, s.initialized),
           log_level = coalesce(update_session.log_level, s.log_level),
           last_seen_at = now()
     WHERE s.id = update_session.session_id AND s.api_key_id = update_session.api_key_id;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION mcp.update_session(text, integer, boolean, text) IS
'Records notifications/initialized or a logging/setLevel of a session; false when the session does not exist for that key.';

CREATE FUNCTION mcp.close_session(session_id text, api_key_id integer) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH gone AS (
        DELETE FROM mcp.mcp_sessions s
         WHERE s.id = close_session.session_id AND s.api_key_id = close_session.api_key_id
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM gone)
$$;
COMMENT ON FUNCTION mcp.close_session(text, integer) IS
'Ends a session (DELETE /mcp); false when it did not exist for that key.';

CREATE FUNCTION mcp.mcp_sessions()
RETURNS TABLE (id_prefix text, api_key text, transport text, protocol_version text,
               client_name text, client_version text, user_agent text, initialized boolean,
               created_at timestamptz, last_seen_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT left(s.id, 8), k.name, s.transport, s.protocol_version, s.client_name,
           s.client_version, s.user_agent, s.initialized, s.created_at, s.last_seen_at
      FROM mcp.mcp_sessions s JOIN mcp.api_keys k ON k.id = s.api_key_id
     ORDER BY s.last_seen_at DESC
$$;
COMMENT ON FUNCTION mcp.mcp_sessions() IS
'Open MCP sessions with their client, key name and protocol version (ids shortened to 8 digits: a whole id would let a reader act in the session).';

GRANT EXECUTE ON FUNCTION
    mcp.open_session(integer, text, jsonb, jsonb, text, text, interval),
    mcp.resume_session(text, integer, interval),
    mcp.update_session(text, integer, boolean, text),
    mcp.close_session(text, integer)
TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.mcp_sessions() TO mcp_admin;
