------------------------------------------------------------------------------------------
-- MCP resource subscriptions (resources/subscribe, resources/unsubscribe) of 2025-11-25
-- sessions. Kept beside the sessions, not in a bridge, because the subscribe can reach one
-- bridge and the session's event stream be open on another: on a dataset change each bridge
-- asks which of ITS streams' sessions subscribed to a resource of that dataset, and sends
-- them notifications/resources/updated.
------------------------------------------------------------------------------------------
CREATE TABLE mcp.mcp_resource_subscriptions (
    session_id  text NOT NULL REFERENCES mcp.mcp_sessions (id) ON DELETE CASCADE,
    uri         text NOT NULL CHECK (length(uri) <= 1000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, uri)
);
COMMENT ON TABLE mcp.mcp_resource_subscriptions IS 'Resources each MCP session subscribed to (resources/subscribe); gone with the session';

-- Metadata edits (the writer job, a reviewer) change what a dataset's resources say.
CREATE FUNCTION mcp._notify_metadata_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    row_id integer := CASE WHEN TG_OP = 'DELETE' THEN OLD.dataset_id ELSE NEW.dataset_id END;
BEGIN
    -- The same shape as the dataset events, the dataset's current status included.
    PERFORM pg_notify('mcp_analytics', json_build_object(
        'event', 'metadata', 'dataset_id', row_id,
        'status', (SELECT d.status FROM mcp.datasets d WHERE d.id = row_id))::text);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION mcp._notify_metadata_change() IS 'Trigger: NOTIFY mcp_analytics with {event: metadata, dataset_id, status} when a dataset''s LLM metadata changes';
CREATE TRIGGER llm_metadata_notify AFTER INSERT OR UPDATE OR DELETE ON mcp.llm_metadata
    FOR EACH ROW EXECUTE FUNCTION mcp._notify_metadata_change();

CREATE FUNCTION mcp.subscribe_resource(session_id text, api_key_id integer, uri text,
                                       subscribed boolean DEFAULT true)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF subscribe_resource.uri IS NULL OR subscribe_resource.uri !~
       '^mcp-analytics://(context/global|datasets|datasets/[0-9]{1,9}/(overview|schema|tables/[^/]{1,200}))$' THEN
        RAISE EXCEPTION 'cannot subscribe to %: not a resource of this server', coalesce(quote_literal(left(subscribe_resource.uri, 200)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'resources/list and resources/templates/list show the resources.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM mcp.mcp_sessions s
                    WHERE s.id = subscribe_resource.session_id AND s.api_key_id = subscribe_resource.api_key_id) THEN
        RETURN false;
    END IF;
    IF NOT subscribed THEN
        DELETE FROM mcp.mcp_resource_subscriptions r
         WHERE r.session_id = subscribe_resource.session_id AND r.uri = subscribe_resource.uri;
        RETURN true;
    END IF;
    -- A bound per session, so one client cannot grow the table without limit.
    IF (SELECT count(*) FROM mcp.mcp_resource_subscriptions r WHERE r.session_id = subscribe_resource.session_id) >= 1000 THEN
        RAISE EXCEPTION 'a session may subscribe to at most 1000 resources'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Unsubscribe from resources you no longer need.';
    END IF;
    INSERT INTO mcp.mcp_resource_subscriptions (session_id, uri)
    VALUES (subscribe_resource.session_id, subscribe_resource.uri)
    ON CONFLICT DO NOTHING;
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.subscribe_resource(text, integer, text, boolean) IS
'resources/subscribe (subscribed true) or resources/unsubscribe (false) of a session; false when the session does not exist for that key. A URI that is not one of this server''s resources is SQLSTATE 22023.';

CREATE FUNCTION mcp.resource_subscribers(dataset_ids integer[], session_ids text[])
RETURNS TABLE (session_id text, uri text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    -- Only among the sessions the caller names (those with a stream on its bridge): no
    -- caller learns another's session ids.
    SELECT r.session_id, r.uri
      FROM mcp.mcp_resource_subscriptions r
     WHERE r.session_id = ANY (session_ids)
       AND (r.uri = 'mcp-analytics://datasets'
            OR substring(r.uri FROM '^mcp-analytics://datasets/([0-9]{1,9})/')::integer = ANY (dataset_ids))
     ORDER BY r.session_id, r.uri
$$;
COMMENT ON FUNCTION mcp.resource_subscribers(integer[], text[]) IS
'Which of the given sessions subscribed to a resource of the given datasets (their overview, schema, tables, or the dataset catalog): the notifications/resources/updated a bridge must send.';

REVOKE ALL ON TABLE mcp.mcp_resource_subscriptions FROM PUBLIC;
REVOKE ALL ON FUNCTION mcp.subscribe_resource(text, integer, text, boolean),
    mcp.resource_subscribers(integer[], text[]), mcp._notify_metadata_change() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mcp.subscribe_resource(text, integer, text, boolean),
    mcp.resource_subscribers(integer[], text[]) TO mcp_reader;
