# ALTER EXTENSION mcp_analytics UPDATE from each earlier release (0.1.0, 0.2.0 and 0.3.0, their frozen
# install scripts; from 0.1.0 it chains through every upgrade script) keeps every row
# (datasets with their encrypted connection strings, keys, logs, settings, profiles, jobs,
# sessions), and leaves schema mcp identical to a fresh install of the current version:
# columns, constraints, indexes, partitioning, functions (signature, result, labels, settings,
# body, comment, grants), triggers, views, table grants, extension membership and the tables
# pg_dump carries. Every upgrade part must keep this test green.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use TestDb qw(connect_db psql_ok);

my ($current) = `grep -E '^default_version' $FindBin::Bin/../../mcp_analytics.control` =~ /'([^']+)'/;
my @releases = ('0.1.0', '0.2.0', '0.3.0');
ok($current && !grep({ $_ eq $current } @releases), "the current version ($current) is newer than @releases");

for my $from (@releases) {
    (my $tag = $from) =~ tr/./_/;
    subtest "update from $from" => sub {
        ok(psql_ok('-d', 'postgres', '-c', "DROP DATABASE IF EXISTS mcp_upgrade_old_$tag",
                   '-c', "DROP DATABASE IF EXISTS mcp_upgrade_fresh_$tag",
                   '-c', "CREATE DATABASE mcp_upgrade_old_$tag", '-c', "CREATE DATABASE mcp_upgrade_fresh_$tag"),
           'databases created');
        my $old = connect_db("mcp_upgrade_old_$tag");
        ok($old->do(qq{CREATE EXTENSION mcp_analytics VERSION '$from'}), "version $from installed from its frozen script")
            or diag $old->errstr;
        is(scalar $old->selectrow_array(q{SELECT extversion FROM pg_extension WHERE extname = 'mcp_analytics'}), $from,
           "the database runs $from");

        # --- a $from database in use -------------------------------------------------------------
        $old->do('SET mcp_analytics.profile_on_register = off');
        my $register = $old->prepare('SELECT mcp.register_dataset($1, $2, $3, $4)');
        ok($register->execute('panel_one', $ENV{MCP_DEMO_CONNINFO}, 'postgres', 'first panel'), 'dataset registered')
            or diag $old->errstr;
        ok($register->execute('panel_two', $ENV{MCP_DEMO_CONNINFO}, 'fabric', undef), 'second dataset registered');
        ok($old->do(q{SELECT mcp.update_dataset(1, '{"use_cases": ["reach"], "has_weight_column": true, "weight_column_name": "weight"}')}),
           'dataset edited');
        ok($old->do(q{INSERT INTO mcp.dataset_schemas (dataset_id, table_name, columns, row_count) VALUES (1, 'panelists', '[{"name": "user_id"}]', 1000)}),
           'a table profile stored');
        ok($old->do(q{INSERT INTO mcp.llm_metadata (dataset_id, description, generated, written_by) VALUES (1, 'edited', '{"description": "generated"}', 'profile')}),
           'metadata stored');
        ok($old->do(q{SELECT mcp.set_dataset_status(1, 'profiling')}) && $old->do(q{SELECT mcp.set_dataset_status(1, 'metadata_pending')})
           && $old->do(q{SELECT mcp.approve_dataset(1, 'upgrade test')}), 'dataset approved');
        ok($old->do(q{SELECT mcp.set_setting('rules.raw_rows', '"At most 3 raw rows."')}), 'a rule edited');
        my ($reader_key) = $old->selectrow_array(q{SELECT mcp.create_api_key('upgrade reader', 'reader')});
        my ($admin_key) = $old->selectrow_array(q{SELECT mcp.create_api_key('upgrade admin', 'admin', now() + interval '30 days')});
        ok($reader_key && $admin_key, 'API keys created');
        ok($old->do(q{SELECT mcp.revoke_api_key('upgrade admin')}),
           'one key revoked') or diag $old->errstr;
        if ($from eq '0.1.0') {
            # The library is already the new one: until the update, a query says what to run.
            ok(!$old->selectrow_array(q{SELECT mcp.execute_query(1, 'SELECT count(*) FROM panelists')::text}), 'a query before the update fails');
            like($old->errstr // '', qr/library is newer than this database's extension/, '... saying the extension must be updated first');
        }
        ok($old->do(q{INSERT INTO mcp.query_logs (query_text, datasets_used, tool_used, rows_returned)
                      VALUES ('SELECT count(*) FROM panelists', '{1}', 'api', 1)}), "a query logged under $from");
        ok(!$old->selectrow_array(q{SELECT mcp.execute_query(1, 'DELETE FROM panelists')}), 'a refused query (logged too)');
        # From 0.1.0 the log spans most of a year, so the update's conversion and the first
        # retention pass have work; a later log is already partitioned and its job workers
        # apply the retention as they go, so its rows stay within it.
        my ($spacing, $spread) = $from eq '0.1.0' ? (q{interval '13 hours'}, 'over most of a year')
                                                   : (q{interval '3 hours'}, 'over two months');
        ok($old->do(qq{INSERT INTO mcp.query_logs (query_text, datasets_used, tool_used, created_at)
                      SELECT 'SELECT ' || g, '{1}', 'claude', now() - g * $spacing FROM generate_series(1, 500) g}, undef),
           "five hundred older log rows, $spread");
        ok($old->do(q{INSERT INTO mcp.jobs (kind, dataset_id, status) VALUES ('profile', 2, 'done')}), 'a finished job');
        ok($old->selectrow_array(q{SELECT mcp.open_session((SELECT id FROM mcp.api_keys WHERE name = 'upgrade reader'), '2025-06-18', '{"name": "claude-ai"}')}),
           'an MCP session open');
        ok($old->selectrow_array('SELECT session_token FROM mcp.ui_sign_in($1)', undef, $reader_key), 'a dashboard session open');

        # Every table's rows over the columns it has in the old release (later versions may add columns). The
        # catalogs the extension ships (tools, prompts, default settings, status moves) are not the
        # user's data: a new version may change them, and they are compared with a fresh install below.
        my @shipped = qw(prompts setting_defaults status_transitions tools);
        my $tables = $old->selectall_arrayref(q{
            SELECT c.relname, string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
              FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             WHERE c.relnamespace = 'mcp'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND c.relname <> ALL ($1)
             GROUP BY c.relname ORDER BY c.relname}, undef, \@shipped);
        ok(@$tables >= 10, scalar(@$tables) . ' tables to compare');
        my $snapshot = sub {
            my ($dbh) = @_;
            my %rows;
            for my $t (@$tables) {
                my ($name, $columns) = @$t;
                my $sql = "SELECT count(*), md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) "
                        . "FROM (SELECT $columns FROM mcp.$name) r";
                my ($count, $digest) = $dbh->selectrow_array($sql);
                $rows{$name} = defined $count ? "$count rows, $digest" : 'unreadable: ' . $dbh->errstr;
            }
            return \%rows;
        };
        my $before = $snapshot->($old);
        my ($max_log_id) = $old->selectrow_array('SELECT max(id) FROM mcp.query_logs');
        cmp_ok($before->{query_logs} =~ /^(\d+) rows/ && $1, '>=', 502, 'the log holds every row written before the update');

        # --- the update ------------------------------------------------------------------------------
        ok($old->do('ALTER EXTENSION mcp_analytics UPDATE'), "ALTER EXTENSION mcp_analytics UPDATE") or diag $old->errstr;
        is(scalar $old->selectrow_array(q{SELECT extversion FROM pg_extension WHERE extname = 'mcp_analytics'}), $current,
           "the database runs $current");
        undef $register;
        $old->disconnect;
        $old = connect_db("mcp_upgrade_old_$tag");  # a new session: no plan or function cached from the old release
        is_deeply($snapshot->($old), $before, 'every row of every table survived the update');

        # The data still works, not just exists.
        my $tested = $old->selectrow_array(q{SELECT mcp.test_connection(1)->>'ok'});
        is($tested, 'true', 'the encrypted connection string still decrypts and connects') or diag $old->errstr;
        ok($old->selectrow_array(q{SELECT mcp.execute_query(1, 'SELECT count(*) AS n FROM panelists')}), 'the approved dataset still answers')
            or diag $old->errstr;
        is(scalar $old->selectrow_array('SELECT name FROM mcp.authenticate($1)', undef, $reader_key), 'upgrade reader',
           "an API key made under $from still authenticates");
        is(scalar $old->selectrow_array(q{SELECT value #>> '{}' FROM mcp.settings() WHERE key = 'rules.raw_rows'}), 'At most 3 raw rows.',
           'the edited rule is still in force');
        my ($new_id) = $old->selectrow_array(q{INSERT INTO mcp.query_logs (query_text) VALUES ('after the update') RETURNING id});
        cmp_ok($new_id, '>', $max_log_id, 'new log ids continue after the old ones');
        is(scalar $old->selectrow_array(q{SELECT (mcp.search_query_logs('{"q": "after the update"}') ->> 'total')::int}), 1,
           'the log search reads the converted table') or diag $old->errstr;
        ok($old->selectrow_array('SELECT mcp.query_log($1)', undef, $max_log_id), 'one entry reads by id') or diag $old->errstr;

        # --- same schema as a fresh install ----------------------------------------------------------
        my $fresh = connect_db("mcp_upgrade_fresh_$tag");
        ok($fresh->do('CREATE EXTENSION mcp_analytics'), 'a fresh install of the current version') or diag $fresh->errstr;

        # One line per object of schema mcp (and per extension member), independent of OIDs and of
        # column order (an upgrade can only append columns).
        my $catalog = <<~'SQL';
        WITH rel AS (
            -- The monthly log partitions come and go with the data and the retention.
            SELECT c.oid, c.relname, c.relkind FROM pg_class c WHERE c.relnamespace = 'mcp'::regnamespace
               AND c.relname !~ '^query_logs_p[0-9]{6}($|_)'
        )
        SELECT line FROM (
            SELECT format('relation %s kind=%s persistence=%s partition_key=%s bound=%s acl=%s comment=%s',
                          c.relname, c.relkind, c.relpersistence, pg_get_partkeydef(c.oid),
                          pg_get_expr(c.relpartbound, c.oid),
                          (SELECT array_agg(x ORDER BY x) FROM unnest(c.relacl::text[]) x),
                          obj_description(c.oid, 'pg_class')) AS line
              FROM pg_class c JOIN rel USING (oid)
            UNION ALL
            SELECT format('column %s.%s %s not_null=%s default=%s identity=%s generated=%s comment=%s',
                          r.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                          pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
                          col_description(a.attrelid, a.attnum))
              FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE r.relkind IN ('r', 'p', 'v', 'm', 'c', 'f')
            UNION ALL
            SELECT format('constraint %s.%s %s', r.relname, k.conname, pg_get_constraintdef(k.oid))
              FROM pg_constraint k JOIN rel r ON r.oid = k.conrelid
            UNION ALL
            SELECT format('index %s', pg_get_indexdef(i.indexrelid)) FROM pg_index i JOIN rel r ON r.oid = i.indrelid
            UNION ALL
            SELECT format('trigger %s', pg_get_triggerdef(t.oid)) FROM pg_trigger t JOIN rel r ON r.oid = t.tgrelid
             WHERE NOT t.tgisinternal
            UNION ALL
            SELECT format('view %s %s', r.relname, pg_get_viewdef(r.oid)) FROM rel r WHERE r.relkind IN ('v', 'm')
            UNION ALL
            SELECT format('sequence %s %s start=%s increment=%s cycle=%s',
                          r.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqcycle)
              FROM pg_sequence s JOIN rel r ON r.oid = s.seqrelid
            UNION ALL
            SELECT format('function %s kind=%s returns=%s language=%s volatility=%s strict=%s parallel=%s '
                          'security_definer=%s leakproof=%s cost=%s rows=%s config=%s acl=%s comment=%s body=%s',
                          p.oid::regprocedure, p.prokind, pg_get_function_result(p.oid), l.lanname,
                          p.provolatile, p.proisstrict, p.proparallel, p.prosecdef, p.proleakproof,
                          p.procost, p.prorows, p.proconfig,
                          (SELECT array_agg(x ORDER BY x) FROM unnest(p.proacl::text[]) x),
                          obj_description(p.oid, 'pg_proc'), md5(coalesce(p.prosrc, '') || coalesce(p.probin, '')))
              FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
             WHERE p.pronamespace = 'mcp'::regnamespace
            UNION ALL
            SELECT format('function %s argument_defaults=%s', p.oid::regprocedure, pg_get_function_arguments(p.oid))
              FROM pg_proc p WHERE p.pronamespace = 'mcp'::regnamespace
            UNION ALL
            SELECT format('type %s kind=%s', t.typname, t.typtype) FROM pg_type t
             WHERE t.typnamespace = 'mcp'::regnamespace AND t.typtype IN ('c', 'd', 'e', 'r')
               AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.reltype = t.oid AND c.relkind <> 'c')
            UNION ALL
            SELECT format('member %s', pg_describe_object(d.classid, d.objid, d.objsubid))
              FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND d.refclassid = 'pg_extension'::regclass
             WHERE e.extname = 'mcp_analytics' AND d.deptype = 'e'
            UNION ALL
            SELECT format('dumped %s where=%s', x.tab::regclass, coalesce(x.cond, ''))
              FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(tab, cond)
             WHERE e.extname = 'mcp_analytics'
        ) lines ORDER BY line COLLATE "C"
        SQL
        my $upgraded_lines = $old->selectcol_arrayref($catalog) or diag $old->errstr;
        my $fresh_lines = $fresh->selectcol_arrayref($catalog) or diag $fresh->errstr;
        cmp_ok(scalar @$fresh_lines, '>', 300, scalar(@$fresh_lines) . ' catalog lines describe a fresh install');
        my %in_fresh = map { $_ => 1 } @$fresh_lines;
        my %in_upgraded = map { $_ => 1 } @$upgraded_lines;
        my @only_upgraded = grep { !$in_fresh{$_} } @$upgraded_lines;
        my @only_fresh = grep { !$in_upgraded{$_} } @$fresh_lines;
        ok(!@only_upgraded && !@only_fresh, 'the upgraded schema equals a fresh install')
            or diag(join("\n", (map { "only after the upgrade: $_" } @only_upgraded),
                               (map { "only in a fresh install: $_" } @only_fresh)));

        # The shipped catalogs, row for row over every column, as a fresh install ships them.
        for my $table (@shipped) {
            my $rows = "SELECT md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) FROM mcp.$table r";
            is(scalar $old->selectrow_array($rows), scalar $fresh->selectrow_array($rows),
               "the shipped $table are those of a fresh install") or diag $old->errstr;
        }

        if ($from eq '0.1.0') {
            # Retention works on the converted log: the first pass makes the monthly partitions from the
            # rows the update put in the default partition, and drops nothing that is still kept.
            my ($kept_before) = $old->selectrow_array(q{SELECT count(*) FROM mcp.query_logs WHERE created_at >= now() - interval '90 days'});
            my $pass = $old->selectrow_array('SELECT mcp.run_maintenance()') or diag $old->errstr;
            like($pass, qr/"partitions_created": \["query_logs_p\d{6}"/, 'the first maintenance pass makes monthly partitions');
            is(scalar $old->selectrow_array(q{SELECT count(*) FROM mcp.query_logs WHERE created_at >= now() - interval '90 days'}),
               $kept_before, 'every row younger than the retention is kept');
            is(scalar $old->selectrow_array('SELECT count(*) FROM mcp.query_logs_default'), 0, 'the default partition is emptied');

        }

        $old->disconnect;
        $fresh->disconnect;
        ok(psql_ok('-d', 'postgres', '-c', "DROP DATABASE mcp_upgrade_old_$tag", '-c', "DROP DATABASE mcp_upgrade_fresh_$tag"),
           'databases dropped');
    };
}
done_testing();
