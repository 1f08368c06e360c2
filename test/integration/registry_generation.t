# The registry's generation: each backend keeps a dataset's record, its access check, its
# profile's facts and the tool catalog between calls, until a committed change to the tables
# behind them moves the generation. Two sessions: the first calls, the second changes the
# registry; the first's next call must see the change at once, whatever it had kept.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use JSON::PP;
use TestDb qw(connect_db psql_ok);

my $json = JSON::PP->new->canonical;
my $db = 'mcp_registry_generation_it';
psql_ok('-d', 'postgres', '-c', 'SET client_min_messages = warning', '-c', "DROP DATABASE IF EXISTS $db WITH (FORCE)");
ok(psql_ok('-d', 'postgres', '-c', "CREATE DATABASE $db") && psql_ok('-d', $db, '-c', 'CREATE EXTENSION mcp_analytics'),
   'database with the extension');
END { psql_ok('-d', 'postgres', '-c', 'SET client_min_messages = warning', '-c', "DROP DATABASE IF EXISTS $db WITH (FORCE)") if $db; }

my $admin = connect_db($db);
$admin->do('SET mcp_analytics.profile_on_register = on');
my ($id) = $admin->selectrow_array('SELECT mcp.register_dataset($1, $2)', undef, 'generation_demo', $ENV{MCP_DEMO_CONNINFO});
ok($id, 'a dataset');
# Run here, or by a job worker that stayed in this database after CREATE EXTENSION's pass.
$admin->do('CALL mcp.run_pending_jobs()');
$admin->do(q{SELECT mcp.wait_for_jobs($1, '60 seconds')}, undef, $id);
ok($admin->selectrow_array(q{SELECT mcp.approve_dataset($1, 'tap')}, undef, $id), 'profiled and approved')
    or diag $admin->errstr;
ok($admin->selectrow_array(q{SELECT mcp.create_api_key('generation_reader', 'reader')}), 'a reader API key');
my ($key_id) = $admin->selectrow_array(q{SELECT id FROM mcp.api_keys WHERE name = 'generation_reader'});

# The caller: a session the bridge would hold, naming the key.
my $caller = connect_db($db);
$caller->do('SET mcp_analytics.cache_ttl = 0');
$caller->do("SET mcp.caller = '$key_id'");
sub call { return scalar $caller->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $id, $_[0] // 'SELECT 1') }
sub refusal { call(@_); return $caller->errstr // '' }

ok(call(), 'the key may query the dataset');
ok(call(), 'twice');

# Grants: once the setting asks for them, an ungranted key is refused, then granted, then not.
$admin->do(q{SELECT mcp.set_setting('access.api_keys_need_grants', 'true')});
like(refusal(), qr/does not exist/, 'a setting that needs grants applies at the next call');
$admin->do('SELECT mcp.grant_dataset($1, to_api_key => $2)', undef, $id, 'generation_reader');
ok(call(), 'a grant applies at the next call');
$admin->do('SELECT mcp.revoke_dataset($1, from_api_key => $2)', undef, $id, 'generation_reader');
like(refusal(), qr/does not exist/, 'so does its revocation');
$admin->do('SELECT mcp.grant_dataset($1, to_api_key => $2)', undef, $id, 'generation_reader');
ok(call(), 'granted again');

# The dataset's status.
$admin->do('SELECT mcp.set_dataset_status($1, $2)', undef, $id, 'inactive');
like(refusal(), qr/not live|inactive/i, 'a dataset taken offline is refused at the next call');
$admin->do('SELECT mcp.set_dataset_status($1, $2)', undef, $id, $_) for qw(metadata_pending approved);
ok(call(), 'and served again once approved') or diag $caller->errstr;

# A change the caller's own transaction made is seen by its next call (what the session kept
# from before says the key may), and is gone after its rollback.
$caller->begin_work;
ok(call(), 'a call in a transaction, its record kept');
$caller->do('SELECT mcp.revoke_dataset($1, from_api_key => $2)', undef, $id, 'generation_reader');
like(refusal(), qr/does not exist/, 'its own uncommitted revocation applies to its next call');
$caller->rollback;
ok(call(), 'and after the rollback the key may again');

# A change made with session_replication_role = replica (logical replication's apply, some
# restores) still counts: the triggers fire always.
$admin->do('SET session_replication_role = replica');
$admin->do('SELECT mcp.revoke_dataset($1, from_api_key => $2)', undef, $id, 'generation_reader');
$admin->do('RESET session_replication_role');
like(refusal(), qr/does not exist/, 'a revocation made as a replica applies at the next call');
$admin->do('SELECT mcp.grant_dataset($1, to_api_key => $2)', undef, $id, 'generation_reader');
ok(call(), 'granted once more');

# The key revoked.
$admin->do(q{SELECT mcp.revoke_api_key('generation_reader')});
like(refusal(), qr/does not exist/, 'a revoked key is refused at the next call');

# The profile's facts: the minimum cell size written on the dataset applies at once.
my $other = connect_db($db);
$other->do('SET mcp_analytics.cache_ttl = 0');
my $group_sql = 'SELECT town_class, count(DISTINCT user_id) FROM panelists GROUP BY town_class';
my $before = $json->decode(scalar $other->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $id, $group_sql));
is($before->{rows_held_back} // 0, 0, 'no group is held back at the default minimum');
$admin->do('SELECT mcp.set_min_cell_users($1, $2)', undef, $id, 1000000);
my $after = $json->decode(scalar $other->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $id, $group_sql));
cmp_ok($after->{rows_held_back}, '>', 0, 'a larger minimum on the dataset holds groups back at the next call')
    or diag explain $after;
$admin->do('SELECT mcp.set_min_cell_users($1, NULL)', undef, $id);

# A call without a key and a call whose context names key 0 are kept apart: the first may
# use every live dataset, the second none.
my $keyless = sub { return scalar $other->selectrow_array(q{SELECT mcp.call_tool('execute_query', $1::jsonb, $2::jsonb)::jsonb ->> 'isError'},
                                                          undef, qq({"dataset_id": $id, "sql": "SELECT 1"}), $_[0]) };
is($keyless->('{}'), 'false', 'a call without a key runs');
is($keyless->('{"api_key_id": 0}'), 'true', 'a context naming key 0 is refused');
is($keyless->('{}'), 'false', 'and the call without a key still runs');

# The tool catalog: a tool added, then removed, by another session.
sub tool_call { return scalar $other->selectrow_array(q{SELECT mcp.call_tool('generation_probe', '{}', '{}')::text}) }
ok(!defined tool_call(), 'an unknown tool is refused');
like($other->errstr, qr/Unknown tool: generation_probe/, '... by name');
$admin->do(q{INSERT INTO mcp.tools (name, title, description, input_schema, handler)
             VALUES ('generation_probe', 'Probe', 'A probe.', '{"type": "object"}', 'mcp._tool_get_global_context')});
like(tool_call() // '', qr/"isError": false/, 'a tool added by another session runs at the next call');
$admin->do(q{DELETE FROM mcp.tools WHERE name = 'generation_probe'});
ok(!defined tool_call(), 'and is unknown again once removed');

$_->disconnect for $caller, $other, $admin;
done_testing();
