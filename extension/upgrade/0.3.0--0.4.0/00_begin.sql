-- mcp_analytics 0.3.0 → 0.4.0. Assembled from the parts in this folder, in name order, one
-- part per concern; each mirrors what the matching part of extension/sql/ now creates, so a
-- 0.3.0 database updated with ALTER EXTENSION ends up with the same objects as a new 0.4.0
-- install (test/integration/extension_upgrade.t compares them, from 0.1.0, 0.2.0 and 0.3.0).
\echo Use "ALTER EXTENSION mcp_analytics UPDATE TO '0.4.0'" to load this file. \quit
