# The registry survives pg_dump / pg_restore into a fresh database: datasets (with working
# encrypted connection strings), metadata, edited settings, logs, keys and id sequences.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use TestDb qw(connect_db psql_ok);

my $work = $ENV{MCP_TEST_WORK} or die 'MCP_TEST_WORK is not set';
my $dump = "$work/registry.dump";

ok(psql_ok('-d', 'postgres', '-c', 'CREATE DATABASE mcp_dump_source'), 'source database created');
my $source = connect_db('mcp_dump_source');
ok($source->do('CREATE EXTENSION mcp_analytics'), 'extension installed in the source');
my $register = $source->prepare('SELECT mcp.register_dataset($1, $2, $3, $4)');
ok($register->execute('panel_a', $ENV{MCP_DEMO_CONNINFO}, 'postgres', 'first panel'), 'dataset a registered');
ok($register->execute('panel_b', $ENV{MCP_DEMO_CONNINFO}, 'fabric', undef), 'dataset b registered');
ok($source->do(q{SELECT mcp.update_dataset(1, '{"use_cases": ["reach"], "has_weight_column": true, "weight_column_name": "weight"}')}),
   'dataset a edited');
ok($source->do(q{SELECT mcp.set_dataset_status(1, 'profiling')}), 'dataset a moved on');
ok($source->do(q{SELECT mcp.set_setting('rules.raw_rows', '"At most 3 raw rows."')}), 'a rule edited');
ok($source->do(q{INSERT INTO mcp.dataset_schemas (dataset_id, table_name, columns, row_count) VALUES (1, 'panelists', '[{"name": "user_id"}]', 1000)}),
   'a table profile stored');
ok($source->do(q{INSERT INTO mcp.llm_metadata (dataset_id, description, generated) VALUES (1, 'edited', '{"description": "generated"}')}),
   'metadata stored');
ok($source->do(q{INSERT INTO mcp.query_logs (query_text, datasets_used, tool_used) VALUES ('SELECT 1', '{1}', 'claude')}),
   'a query log row stored');

my $snapshot = q{SELECT json_agg(t ORDER BY t.id)::text FROM (
    SELECT d.*, (SELECT json_agg(s.* ORDER BY s.table_name) FROM mcp.dataset_schemas s WHERE s.dataset_id = d.id) AS schemas,
           (SELECT row_to_json(m) FROM (SELECT description, generated FROM mcp.llm_metadata WHERE dataset_id = d.id) m) AS metadata
      FROM mcp.datasets() d) t};
my ($before) = $source->selectrow_array($snapshot);
my ($settings_before) = $source->selectrow_array('SELECT json_agg(s ORDER BY key)::text FROM mcp.settings() s');
$source->disconnect;

is(system('pg_dump', '-Fc', '-d', 'mcp_dump_source', '-f', $dump), 0, 'pg_dump succeeds');
ok(psql_ok('-d', 'postgres', '-c', 'CREATE DATABASE mcp_dump_target'), 'fresh target database created');
my $restore_log = "$work/restore.log";
is(system("pg_restore --exit-on-error -d mcp_dump_target '$dump' 2>'$restore_log'"), 0, 'pg_restore succeeds without errors')
    or diag(`cat '$restore_log'`);

my $target = connect_db('mcp_dump_target');
my ($after) = $target->selectrow_array($snapshot);
is($after, $before, 'datasets, profiles and metadata are identical after restore');
my ($settings_after) = $target->selectrow_array('SELECT json_agg(s ORDER BY key)::text FROM mcp.settings() s');
is($settings_after, $settings_before, 'edited and default settings are identical after restore');
is(scalar $target->selectrow_array('SELECT count(*) FROM mcp.query_logs'), 1, 'query logs restored');
like(scalar $target->selectrow_array('SELECT mcp.test_connection(1)::text'), qr/"ok": true/,
     'a restored connection string decrypts and connects');
my $register_again = $target->prepare('SELECT mcp.register_dataset($1, $2)');
ok($register_again->execute('panel_c', $ENV{MCP_DEMO_CONNINFO}), 'registering after restore works');
is(($register_again->fetchrow_array)[0], 3, 'the id sequence continues where it was');
is(scalar $target->selectrow_array('SELECT count(*) FROM mcp.setting_defaults'), 7,
   'shipped defaults are not duplicated by the restore');
$target->disconnect;

psql_ok('-d', 'postgres', '-c', 'DROP DATABASE mcp_dump_source', '-c', 'DROP DATABASE mcp_dump_target');
done_testing();
