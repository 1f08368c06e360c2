------------------------------------------------------------------------------------------
-- Settings
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp.get_setting(key text) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    result jsonb;
BEGIN
    SELECT coalesce(s.value, d.value) INTO result
      FROM mcp.setting_defaults d LEFT JOIN mcp.settings s USING (key)
     WHERE d.key = get_setting.key;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown setting %', coalesce(quote_literal(get_setting.key), 'NULL')
            USING ERRCODE = 'undefined_object', HINT = 'List them with SELECT * FROM mcp.settings().';
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION mcp.get_setting(text) IS 'The effective value of a business rule or mapping (the edit, else the default).';

CREATE FUNCTION mcp.settings()
RETURNS TABLE (key text, value jsonb, is_default boolean, description text, updated_by text, updated_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT d.key, coalesce(s.value, d.value), s.key IS NULL, d.description, s.updated_by, s.updated_at
      FROM mcp.setting_defaults d LEFT JOIN mcp.settings s USING (key)
     ORDER BY d.key
$$;
COMMENT ON FUNCTION mcp.settings() IS 'Every business rule and mapping with its effective value and whether it is still the default.';

CREATE FUNCTION mcp.set_setting(key text, value jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    default_value jsonb;
BEGIN
    SELECT d.value INTO default_value FROM mcp.setting_defaults d WHERE d.key = set_setting.key;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown setting %', coalesce(quote_literal(set_setting.key), 'NULL')
            USING ERRCODE = 'undefined_object', HINT = 'List them with SELECT * FROM mcp.settings().';
    END IF;
    IF set_setting.value IS NULL OR jsonb_typeof(set_setting.value) <> jsonb_typeof(default_value) THEN
        RAISE EXCEPTION 'setting % takes a JSON %', set_setting.key, jsonb_typeof(default_value)
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Got %s.', coalesce(jsonb_typeof(set_setting.value), 'NULL'));
    END IF;
    INSERT INTO mcp.settings AS s (key, value) VALUES (set_setting.key, set_setting.value)
    ON CONFLICT ON CONSTRAINT settings_pkey
    DO UPDATE SET value = EXCLUDED.value, updated_by = session_user, updated_at = now();
    RETURN set_setting.value;
END
$$;
COMMENT ON FUNCTION mcp.set_setting(text, jsonb) IS 'Changes a business rule or mapping; the value must have the same JSON type as its default.';

CREATE FUNCTION mcp.reset_setting(key text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM mcp.settings s WHERE s.key = reset_setting.key;
    RETURN mcp.get_setting(reset_setting.key);
END
$$;
COMMENT ON FUNCTION mcp.reset_setting(text) IS 'Restores a business rule or mapping to its shipped default and returns it.';

GRANT EXECUTE ON FUNCTION mcp.get_setting(text), mcp.settings() TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.set_setting(text, jsonb), mcp.reset_setting(text) TO mcp_admin;
