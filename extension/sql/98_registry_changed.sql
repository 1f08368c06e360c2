-- Installing the extension, or updating it, counts as a change to the registry: the
-- functions that decide access may be new, and a database whose extension was dropped and
-- created again reuses dataset ids. Every upgrade folder links this part.
UPDATE mcp.setting_defaults SET key = key WHERE false;
