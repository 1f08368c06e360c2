------------------------------------------------------------------------------------------
-- Weighted panel analytics: survey-correct estimators (the definitions of R's survey
-- package) as parallel-safe aggregates, and weighted_query, which compiles a structured
-- request into one plain SQL statement that runs on any PostgreSQL dataset.
------------------------------------------------------------------------------------------
CREATE TYPE mcp.weighted_estimate AS (
    value     double precision,
    se        double precision,
    base      bigint,
    n_eff     double precision,
    ci_low    double precision,
    ci_high   double precision,
    low_base  boolean,
    excluded  bigint
);
COMMENT ON TYPE mcp.weighted_estimate IS 'A weighted figure: value, standard error (linearization, as R''s svymean), unweighted base, Kish effective base, 95% interval, low_base (base under mcp_analytics.min_base), and how many rows (users, for reach) were left out for a NULL or non-positive weight';

-- Support functions (internal state; callable only by the aggregates).
CREATE FUNCTION mcp._weighted_mean_transition(internal, double precision, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_mean_transition' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_mean_transition(internal, double precision, double precision, bigint)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_mean_transition' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_share_transition(internal, boolean, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_share_transition' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_share_transition(internal, boolean, double precision, bigint)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_share_transition' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION mcp._kish_transition(internal, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_kish_transition' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_moments_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_moments_combine' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_moments_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'mcp_weighted_moments_serialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_moments_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_moments_deserialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_mean_final(internal)
RETURNS mcp.weighted_estimate AS 'MODULE_PATHNAME', 'mcp_weighted_mean_final' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_total_final(internal)
RETURNS mcp.weighted_estimate AS 'MODULE_PATHNAME', 'mcp_weighted_total_final' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_share_final(internal)
RETURNS mcp.weighted_estimate AS 'MODULE_PATHNAME', 'mcp_weighted_share_final' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION mcp._kish_final(internal)
RETURNS double precision AS 'MODULE_PATHNAME', 'mcp_kish_final' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION mcp._weighted_reach_transition(internal, bigint, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_reach_transition' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_reach_transition(internal, bigint, double precision, boolean)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_reach_transition' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_reach_transition(internal, bigint, double precision, boolean, bigint)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_reach_transition' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_reach_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_reach_combine' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_reach_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'mcp_weighted_reach_serialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_reach_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_reach_deserialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_reach_final(internal)
RETURNS mcp.weighted_estimate AS 'MODULE_PATHNAME', 'mcp_weighted_reach_final' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_reach_pct_final(internal)
RETURNS mcp.weighted_estimate AS 'MODULE_PATHNAME', 'mcp_weighted_reach_pct_final' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;

CREATE FUNCTION mcp._weighted_quantile_transition(internal, double precision, double precision, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_quantile_transition' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_quantile_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_quantile_combine' LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_quantile_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'mcp_weighted_quantile_serialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_quantile_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'mcp_weighted_quantile_deserialize' LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION mcp._weighted_quantile_final(internal)
RETURNS mcp.weighted_estimate AS 'MODULE_PATHNAME', 'mcp_weighted_quantile_final' LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL SAFE;

COMMENT ON FUNCTION mcp._weighted_mean_transition(internal, double precision, double precision) IS 'Internal: adds a (value, weight) row to the moments of mcp.weighted_mean / weighted_total (West update)';
COMMENT ON FUNCTION mcp._weighted_mean_transition(internal, double precision, double precision, bigint) IS 'Internal: adds a (value, weight) row, with the design size, to the moments of mcp.weighted_mean / weighted_total';
COMMENT ON FUNCTION mcp._weighted_share_transition(internal, boolean, double precision) IS 'Internal: adds a (condition, weight) row to the moments of mcp.weighted_share';
COMMENT ON FUNCTION mcp._weighted_share_transition(internal, boolean, double precision, bigint) IS 'Internal: adds a (condition, weight) row, with the design size, to the moments of mcp.weighted_share';
COMMENT ON FUNCTION mcp._kish_transition(internal, double precision) IS 'Internal: adds a weight to the sums of mcp.kish_n_eff';
COMMENT ON FUNCTION mcp._weighted_moments_combine(internal, internal) IS 'Internal: merges two moment states (Chan et al.) for parallel aggregation';
COMMENT ON FUNCTION mcp._weighted_moments_serialize(internal) IS 'Internal: a moment state as bytes, to pass between parallel workers';
COMMENT ON FUNCTION mcp._weighted_moments_deserialize(bytea, internal) IS 'Internal: a moment state from bytes';
COMMENT ON FUNCTION mcp._weighted_mean_final(internal) IS 'Internal: the mcp.weighted_estimate of a weighted mean (normal interval)';
COMMENT ON FUNCTION mcp._weighted_total_final(internal) IS 'Internal: the mcp.weighted_estimate of a projected total (W times the mean''s SE and interval)';
COMMENT ON FUNCTION mcp._weighted_share_final(internal) IS 'Internal: the mcp.weighted_estimate of a weighted proportion (Korn-Graubard interval)';
COMMENT ON FUNCTION mcp._kish_final(internal) IS 'Internal: Kish n_eff from the weight sums';
COMMENT ON FUNCTION mcp._weighted_reach_transition(internal, bigint, double precision) IS 'Internal: adds an event row (user, weight) to the users hash set of mcp.weighted_reach';
COMMENT ON FUNCTION mcp._weighted_reach_transition(internal, bigint, double precision, boolean) IS 'Internal: adds a universe row (user, weight, reached) to the users hash set of mcp.weighted_reach / weighted_reach_pct';
COMMENT ON FUNCTION mcp._weighted_reach_transition(internal, bigint, double precision, boolean, bigint) IS 'Internal: adds a universe row, with the design size, to the users hash set of mcp.weighted_reach / weighted_reach_pct';
COMMENT ON FUNCTION mcp._weighted_reach_combine(internal, internal) IS 'Internal: unites two users hash sets (a user''s weight must agree) for parallel aggregation';
COMMENT ON FUNCTION mcp._weighted_reach_serialize(internal) IS 'Internal: a users hash set as bytes, to pass between parallel workers';
COMMENT ON FUNCTION mcp._weighted_reach_deserialize(bytea, internal) IS 'Internal: a users hash set from bytes';
COMMENT ON FUNCTION mcp._weighted_reach_final(internal) IS 'Internal: the mcp.weighted_estimate of weighted reach (a total)';
COMMENT ON FUNCTION mcp._weighted_reach_pct_final(internal) IS 'Internal: the mcp.weighted_estimate of weighted reach as a proportion';
COMMENT ON FUNCTION mcp._weighted_quantile_transition(internal, double precision, double precision, double precision) IS 'Internal: adds a (value, weight) pair to the sample of mcp.weighted_quantile';
COMMENT ON FUNCTION mcp._weighted_quantile_combine(internal, internal) IS 'Internal: joins two quantile samples for parallel aggregation';
COMMENT ON FUNCTION mcp._weighted_quantile_serialize(internal) IS 'Internal: a quantile sample as bytes, to pass between parallel workers';
COMMENT ON FUNCTION mcp._weighted_quantile_deserialize(bytea, internal) IS 'Internal: a quantile sample from bytes';
COMMENT ON FUNCTION mcp._weighted_quantile_final(internal) IS 'Internal: the mcp.weighted_estimate of a weighted quantile (no SE)';

-- The aggregates. One row per user for mean, total, share, quantile and kish_n_eff; any
-- number of rows per user for reach. design_n is the number of users with a positive weight
-- in the whole user table: pass it (e.g. a scalar sub-query) whenever the rows are a domain
-- (a group, a filter, the reached users), since the standard error depends on it; without
-- it the aggregate takes the users it saw, right only for the whole design.
CREATE AGGREGATE mcp.weighted_mean(value double precision, weight double precision) (
    SFUNC = mcp._weighted_mean_transition, STYPE = internal, FINALFUNC = mcp._weighted_mean_final,
    COMBINEFUNC = mcp._weighted_moments_combine, SERIALFUNC = mcp._weighted_moments_serialize,
    DESERIALFUNC = mcp._weighted_moments_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE mcp.weighted_mean(value double precision, weight double precision, design_n bigint) (
    SFUNC = mcp._weighted_mean_transition, STYPE = internal, FINALFUNC = mcp._weighted_mean_final,
    COMBINEFUNC = mcp._weighted_moments_combine, SERIALFUNC = mcp._weighted_moments_serialize,
    DESERIALFUNC = mcp._weighted_moments_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE mcp.weighted_mean(double precision, double precision) IS 'Weighted mean Σw·x/Σw over one row per user, with its linearized SE (as svymean), normal 95% interval, unweighted base and Kish n_eff; NULL values are skipped, NULL and non-positive weights left out and counted in excluded';
COMMENT ON AGGREGATE mcp.weighted_mean(double precision, double precision, bigint) IS 'Weighted mean of a domain: design_n, the users with a positive weight in the whole design, enters the SE as n/(n-1)';

CREATE AGGREGATE mcp.weighted_total(value double precision, weight double precision) (
    SFUNC = mcp._weighted_mean_transition, STYPE = internal, FINALFUNC = mcp._weighted_total_final,
    COMBINEFUNC = mcp._weighted_moments_combine, SERIALFUNC = mcp._weighted_moments_serialize,
    DESERIALFUNC = mcp._weighted_moments_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE mcp.weighted_total(value double precision, weight double precision, design_n bigint) (
    SFUNC = mcp._weighted_mean_transition, STYPE = internal, FINALFUNC = mcp._weighted_total_final,
    COMBINEFUNC = mcp._weighted_moments_combine, SERIALFUNC = mcp._weighted_moments_serialize,
    DESERIALFUNC = mcp._weighted_moments_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE mcp.weighted_total(double precision, double precision) IS 'Projected total Σw·x over one row per user (e.g. projected events, x = the user''s event count, zeros included); W is taken as known, so SE and interval are W times the mean''s';
COMMENT ON AGGREGATE mcp.weighted_total(double precision, double precision, bigint) IS 'Projected total of a domain; design_n as for weighted_mean';

CREATE AGGREGATE mcp.weighted_share(condition boolean, weight double precision) (
    SFUNC = mcp._weighted_share_transition, STYPE = internal, FINALFUNC = mcp._weighted_share_final,
    COMBINEFUNC = mcp._weighted_moments_combine, SERIALFUNC = mcp._weighted_moments_serialize,
    DESERIALFUNC = mcp._weighted_moments_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE mcp.weighted_share(condition boolean, weight double precision, design_n bigint) (
    SFUNC = mcp._weighted_share_transition, STYPE = internal, FINALFUNC = mcp._weighted_share_final,
    COMBINEFUNC = mcp._weighted_moments_combine, SERIALFUNC = mcp._weighted_moments_serialize,
    DESERIALFUNC = mcp._weighted_moments_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE mcp.weighted_share(boolean, double precision) IS 'Weighted share of users for whom the condition holds (NULL does not hold), with its SE and Korn-Graubard 95% interval (svyciprop method beta, NCHS small-base rule)';
COMMENT ON AGGREGATE mcp.weighted_share(boolean, double precision, bigint) IS 'Weighted share in a domain; design_n as for weighted_mean';

CREATE AGGREGATE mcp.weighted_reach(user_id bigint, weight double precision) (
    SFUNC = mcp._weighted_reach_transition, STYPE = internal, FINALFUNC = mcp._weighted_reach_final,
    COMBINEFUNC = mcp._weighted_reach_combine, SERIALFUNC = mcp._weighted_reach_serialize,
    DESERIALFUNC = mcp._weighted_reach_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE mcp.weighted_reach(user_id bigint, weight double precision, reached boolean) (
    SFUNC = mcp._weighted_reach_transition, STYPE = internal, FINALFUNC = mcp._weighted_reach_final,
    COMBINEFUNC = mcp._weighted_reach_combine, SERIALFUNC = mcp._weighted_reach_serialize,
    DESERIALFUNC = mcp._weighted_reach_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE mcp.weighted_reach(user_id bigint, weight double precision, reached boolean, design_n bigint) (
    SFUNC = mcp._weighted_reach_transition, STYPE = internal, FINALFUNC = mcp._weighted_reach_final,
    COMBINEFUNC = mcp._weighted_reach_combine, SERIALFUNC = mcp._weighted_reach_serialize,
    DESERIALFUNC = mcp._weighted_reach_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE mcp.weighted_reach(bigint, double precision) IS 'Weighted reach over event rows: the weight of distinct users, each counted once however many rows they have (no universe, so no SE); a user''s weight must be the same on every row';
COMMENT ON AGGREGATE mcp.weighted_reach(bigint, double precision, boolean) IS 'Weighted reach over a universe: rows of every universe user (e.g. users LEFT JOIN events), reached when any of the user''s rows says so; value Σw of reached users, SE and Korn-Graubard interval W times those of reach_pct';
COMMENT ON AGGREGATE mcp.weighted_reach(bigint, double precision, boolean, bigint) IS 'Weighted reach of a domain (a group of users); design_n as for weighted_mean';

CREATE AGGREGATE mcp.weighted_reach_pct(user_id bigint, weight double precision, reached boolean) (
    SFUNC = mcp._weighted_reach_transition, STYPE = internal, FINALFUNC = mcp._weighted_reach_pct_final,
    COMBINEFUNC = mcp._weighted_reach_combine, SERIALFUNC = mcp._weighted_reach_serialize,
    DESERIALFUNC = mcp._weighted_reach_deserialize, PARALLEL = SAFE);
CREATE AGGREGATE mcp.weighted_reach_pct(user_id bigint, weight double precision, reached boolean, design_n bigint) (
    SFUNC = mcp._weighted_reach_transition, STYPE = internal, FINALFUNC = mcp._weighted_reach_pct_final,
    COMBINEFUNC = mcp._weighted_reach_combine, SERIALFUNC = mcp._weighted_reach_serialize,
    DESERIALFUNC = mcp._weighted_reach_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE mcp.weighted_reach_pct(bigint, double precision, boolean) IS 'Weighted reach as a proportion of the universe (every user in the rows), each user once, with SE and Korn-Graubard interval';
COMMENT ON AGGREGATE mcp.weighted_reach_pct(bigint, double precision, boolean, bigint) IS 'Weighted reach proportion of a domain; design_n as for weighted_mean';

CREATE AGGREGATE mcp.weighted_quantile(value double precision, weight double precision, q double precision) (
    SFUNC = mcp._weighted_quantile_transition, STYPE = internal, FINALFUNC = mcp._weighted_quantile_final,
    COMBINEFUNC = mcp._weighted_quantile_combine, SERIALFUNC = mcp._weighted_quantile_serialize,
    DESERIALFUNC = mcp._weighted_quantile_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE mcp.weighted_quantile(double precision, double precision, double precision) IS 'Weighted quantile over one row per user: the smallest value whose cumulative weight reaches q·W (svyquantile qrule math); no SE or interval';

CREATE AGGREGATE mcp.kish_n_eff(weight double precision) (
    SFUNC = mcp._kish_transition, STYPE = internal, FINALFUNC = mcp._kish_final,
    COMBINEFUNC = mcp._weighted_moments_combine, SERIALFUNC = mcp._weighted_moments_serialize,
    DESERIALFUNC = mcp._weighted_moments_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE mcp.kish_n_eff(double precision) IS 'Kish effective sample size (Σw)²/Σw² over one row per user; NULL and non-positive weights left out';

CREATE FUNCTION mcp.proportion_interval(p double precision, se double precision, base bigint,
                                        OUT ci_low double precision, OUT ci_high double precision)
AS 'MODULE_PATHNAME', 'mcp_proportion_interval' LANGUAGE C CALLED ON NULL INPUT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION mcp.proportion_interval(double precision, double precision, bigint) IS 'Korn-Graubard 95% interval of a weighted proportion p with standard error se on an unweighted base: Clopper-Pearson at n* = min(base, p(1-p)/se²), n* = base when se is 0 or NULL';

CREATE FUNCTION mcp.map_dimension(mapping text, value text) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    merges jsonb;
BEGIN
    SELECT s.value INTO merges FROM mcp.settings() s WHERE s.key = 'mappings.' || mapping;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown dimension mapping %', quote_literal(mapping)
            USING ERRCODE = 'undefined_object',
                  HINT = format('Known mappings: %s (settings mappings.*).',
                                (SELECT string_agg(substr(s.key, 10), ', ' ORDER BY s.key)
                                   FROM mcp.settings() s WHERE s.key LIKE 'mappings.%'));
    END IF;
    RETURN coalesce(merges ->> value, value);
END
$$;
COMMENT ON FUNCTION mcp.map_dimension(text, text) IS 'A value merged by the dimension mapping setting mappings.<mapping> (e.g. map_dimension(''nccs'', ''A2'') = ''A''); values the mapping does not list are returned unchanged';

CREATE FUNCTION mcp.weighted_query_sql(spec jsonb, user_table text DEFAULT NULL,
                                       user_id_column text DEFAULT NULL,
                                       weight_column text DEFAULT NULL)
RETURNS text AS 'MODULE_PATHNAME', 'mcp_weighted_query_sql'
LANGUAGE C CALLED ON NULL INPUT STABLE PARALLEL UNSAFE;
COMMENT ON FUNCTION mcp.weighted_query_sql(jsonb, text, text, text) IS 'The plain SQL statement a weighted_query spec compiles to (it needs no extension where it runs); user_table, user_id_column and weight_column are used unless the spec names its own. Its rows carry value, se, base, n_eff, ci_low, ci_high, low_base, and for proportions _kg_p, _kg_n, _kg_scale, from which mcp.weighted_query finishes the Korn-Graubard interval';

CREATE FUNCTION mcp.weighted_query_local(spec jsonb, user_table text DEFAULT NULL,
                                         user_id_column text DEFAULT NULL,
                                         weight_column text DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'mcp_weighted_query_local'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mcp.weighted_query_local(jsonb, text, text, text) IS 'Runs a weighted_query spec on tables of this database, with the caller''s privileges, read-only; returns {measure, rows, sql, warnings} as mcp.weighted_query does (for DBAs and tests)';

CREATE FUNCTION mcp.weighted_query(dataset_id integer, spec jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mcp_weighted_query'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mcp.weighted_query(integer, jsonb) IS 'Survey-correct weighted figures on an approved or active dataset. spec: {measure: reach | reach_pct | avg_frequency | mean | share | projected_events | quantile, metric, condition, q, user_table, event_table, event_filter, user_filter, universe, group_by}. Compiled to one plain SQL statement (weigh users, not events) that runs read-only on the dataset and is logged as type weighted. Returns {measure, rows: [{<groups>, value, se, base, n_eff, ci_low, ci_high, low_base}], sql, warnings}';

GRANT EXECUTE ON FUNCTION
    mcp.weighted_mean(double precision, double precision),
    mcp.weighted_mean(double precision, double precision, bigint),
    mcp.weighted_total(double precision, double precision),
    mcp.weighted_total(double precision, double precision, bigint),
    mcp.weighted_share(boolean, double precision),
    mcp.weighted_share(boolean, double precision, bigint),
    mcp.weighted_reach(bigint, double precision),
    mcp.weighted_reach(bigint, double precision, boolean),
    mcp.weighted_reach(bigint, double precision, boolean, bigint),
    mcp.weighted_reach_pct(bigint, double precision, boolean),
    mcp.weighted_reach_pct(bigint, double precision, boolean, bigint),
    mcp.weighted_quantile(double precision, double precision, double precision),
    mcp.kish_n_eff(double precision),
    mcp.proportion_interval(double precision, double precision, bigint),
    mcp.map_dimension(text, text),
    mcp.weighted_query_sql(jsonb, text, text, text),
    mcp.weighted_query(integer, jsonb)
TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.weighted_query_local(jsonb, text, text, text) TO mcp_admin;
GRANT USAGE ON TYPE mcp.weighted_estimate TO mcp_reader;
