# Retention of the query log (monthly partitions, mcp_analytics.log_retention): expired
# months are archived to CSV and dropped, recent ones kept, while other sessions keep
# inserting log rows (none fails, none is lost); expired sessions and cache rows go too; and
# a job worker applies retention by itself when it starts in a database.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(sleep time);
use TestDb qw(connect_db psql_ok);

my $work = $ENV{MCP_TEST_WORK} or die 'MCP_TEST_WORK is not set';
ok(psql_ok('-d', 'postgres', '-c', 'DROP DATABASE IF EXISTS mcp_retention', '-c', 'CREATE DATABASE mcp_retention'),
   'database created');
my $dbh = connect_db('mcp_retention');
ok($dbh->do('CREATE EXTENSION mcp_analytics'), 'extension installed') or diag $dbh->errstr;
is(scalar $dbh->selectrow_array(q{SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'mcp.query_logs'::regclass}),
   'r', 'mcp.query_logs is partitioned by range');
is(scalar $dbh->selectrow_array(q{SELECT pg_get_partkeydef('mcp.query_logs'::regclass)}), 'RANGE (created_at)',
   'on created_at');
is(scalar $dbh->selectrow_array(q{SELECT current_setting('mcp_analytics.log_retention')}), '90d',
   'mcp_analytics.log_retention defaults to 90 days');

# --- eight months of history, kept whole while retention is off --------------------------
ok($dbh->do(q{SET mcp_analytics.log_retention = 0}), 'retention off for this session');
ok($dbh->do(q{INSERT INTO mcp.query_logs (query_text, tool_used, created_at)
              SELECT 'SELECT ' || g, 'history', now() - g * interval '6 hours' FROM generate_series(1, 960) g}),
   '960 rows over the last 240 days');
my $first = $dbh->selectrow_array('SELECT mcp.run_maintenance()') or diag $dbh->errstr;
like($first, qr/"log_retention": "forever"/, 'the pass reports retention off');
like($first, qr/"partitions_dropped": \[\]/, 'with retention off nothing is dropped');
my ($months) = $dbh->selectrow_array(q{SELECT count(DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC')) FROM mcp.query_logs});
cmp_ok(scalar $dbh->selectrow_array('SELECT count(*) FROM mcp.query_log_partitions()'), '>=', $months,
       "every month with rows ($months) has its partition");
is(scalar $dbh->selectrow_array('SELECT count(*) FROM mcp.query_logs_default'), 0, 'the default partition is empty');
is(scalar $dbh->selectrow_array(q{SELECT count(*) FROM mcp.query_logs WHERE tool_used = 'history'}), 960, 'no row lost');
is_deeply($dbh->selectcol_arrayref(q{SELECT regexp_replace(indexdef, 'query_logs_p[0-9]{6}', 'query_logs_pX', 'g') FROM pg_indexes
                                     WHERE schemaname = 'mcp' AND tablename = (SELECT max(partition_name) FROM mcp.query_log_partitions())
                                     ORDER BY 1}),
          $dbh->selectcol_arrayref(q{SELECT replace(indexdef, 'query_logs_default', 'query_logs_pX') FROM pg_indexes
                                     WHERE schemaname = 'mcp' AND tablename = 'query_logs_default' ORDER BY 1}),
          'a monthly partition has the key and indexes of the default partition');

# pg_dump carries the partitions as ordinary tables; a restore into a new database recreates
# them without an error, with every row.
my $dump = "$work/retention.dump";
ok(system("pg_dump -Fc -d mcp_retention -f $dump") == 0, 'pg_dump of a database with monthly partitions');
ok(psql_ok('-d', 'postgres', '-c', 'DROP DATABASE IF EXISTS mcp_retention_restored', '-c', 'CREATE DATABASE mcp_retention_restored'),
   'restore target created');
my $restore_output = `pg_restore -d mcp_retention_restored $dump 2>&1`;
is($?, 0, 'pg_restore runs without an error') or diag $restore_output;
my $restored = connect_db('mcp_retention_restored');
is(scalar $restored->selectrow_array(q{SELECT count(*) FROM mcp.query_logs WHERE tool_used = 'history'}), 960, 'every row restored');
is(scalar $restored->selectrow_array('SELECT count(*) FROM mcp.query_log_partitions()'),
   scalar $dbh->selectrow_array('SELECT count(*) FROM mcp.query_log_partitions()'), 'every partition restored');
$restored->disconnect;
psql_ok('-d', 'postgres', '-c', 'DROP DATABASE mcp_retention_restored');

my $again = $dbh->selectrow_array('SELECT mcp.run_maintenance()');
like($again, qr/"partitions_created": \[\]/, 'a second pass creates nothing');

# --- sessions and caches past their time -------------------------------------------------
my ($key) = $dbh->selectrow_array(q{SELECT mcp.create_api_key('retention reader', 'reader')});
my ($key_id) = $dbh->selectrow_array(q{SELECT id FROM mcp.api_keys WHERE name = 'retention reader'});
# Two of each, one of them then aged (signing in also clears expired ones, so age after).
$dbh->do(q{SELECT mcp.ui_sign_in($1)}, undef, $key) for 1 .. 2;
$dbh->do(q{UPDATE mcp.ui_sessions SET expires_at = now() - interval '1 minute'
            WHERE ctid = (SELECT ctid FROM mcp.ui_sessions LIMIT 1)}) or die $dbh->errstr;
$dbh->do(q{SELECT mcp.open_session($1, '2025-06-18')}, undef, $key_id) for 1 .. 2;
$dbh->do(q{UPDATE mcp.mcp_sessions SET last_seen_at = now() - interval '3 days'
            WHERE id = (SELECT min(id) FROM mcp.mcp_sessions)});
is_deeply($dbh->selectcol_arrayref(q{SELECT count(*) FROM mcp.ui_sessions UNION ALL SELECT count(*) FROM mcp.mcp_sessions}),
          [2, 2], 'two dashboard and two MCP sessions, one of each expired');
$dbh->do(q{INSERT INTO mcp.context_cache (cache_key, context_level, context_text, token_count, expires_at)
           VALUES ('old', 0, 'x', 1, now() - interval '1 minute'), ('new', 0, 'y', 1, now() + interval '1 hour')});

# --- retention on, while other sessions insert -------------------------------------------
my $archive = "$work/log_archive";
mkdir $archive;
if ($> == 0) { system('chown', 'postgres', $archive) == 0 or die 'chown failed'; }
chmod 0700, $archive;
my $stop = "$work/retention_inserters.stop";
unlink $stop;
my @children;
for my $writer (1 .. 3) {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        my $child = connect_db('mcp_retention');
        my ($ok, $failed) = (0, 0);
        my $insert = $child->prepare(q{INSERT INTO mcp.query_logs (query_text, tool_used) VALUES ($1, 'concurrent')});
        my $started = time;
        while (!-e $stop && time - $started < 120) {
            if ($insert->execute("writer $writer row $ok")) { $ok++ } else { $failed++ }
        }
        open my $out, '>', "$work/retention_writer_$writer" or die;
        print $out "$ok $failed\n";
        close $out;
        $child->disconnect;
        exit 0;
    }
    push @children, $pid;
}
sleep 1;  # the writers are inserting
my ($kept_expected) = $dbh->selectrow_array(
    q{SELECT count(*) FROM mcp.query_logs WHERE tool_used = 'history'
       AND created_at >= mcp._log_month_start(now() - interval '90 days')});
my ($dropped_expected) = $dbh->selectrow_array(
    q{SELECT count(*) FROM mcp.query_logs WHERE tool_used = 'history'
       AND created_at < mcp._log_month_start(now() - interval '90 days')});
my ($expired_months) = $dbh->selectrow_array(
    q{SELECT count(*) FROM mcp.query_log_partitions() WHERE month_end <= now() - interval '90 days'});
cmp_ok($expired_months, '>=', 3, "$expired_months monthly partitions lie wholly before the cutoff");
ok($dbh->do(q{SET mcp_analytics.log_retention = '90d'}), 'retention of 90 days');
ok($dbh->do(qq{SET mcp_analytics.log_archive_dir = '$archive'}), 'an archive folder');
my $pass = $dbh->selectrow_array('SELECT mcp.run_maintenance()') or diag $dbh->errstr;
my ($dropped_list) = $pass =~ /"partitions_dropped": \[([^\]]*)\]/;
my @dropped = ($dropped_list // '') =~ /"(query_logs_p\d{6})"/g;
is(scalar @dropped, $expired_months, 'every expired month was dropped') or diag $pass;
sleep 1;  # the writers go on after the drop
open my $flag, '>', $stop or die;
close $flag;
waitpid $_, 0 for @children;

is(scalar $dbh->selectrow_array(
       q{SELECT count(*) FROM mcp.query_logs WHERE tool_used = 'history' AND created_at < now() - interval '90 days'
           AND created_at < mcp._log_month_start(now() - interval '90 days')}),
   0, 'no row of a dropped month is left');
is(scalar $dbh->selectrow_array(q{SELECT count(*) FROM mcp.query_logs WHERE tool_used = 'history'}), $kept_expected,
   "every row of the kept months stays ($kept_expected)");
is(scalar $dbh->selectrow_array(q{SELECT count(*) FROM mcp.query_log_partitions() WHERE month_end <= now() - interval '90 days'}),
   0, 'no partition of an expired month is left');
ok(scalar $dbh->selectrow_array(q{SELECT count(*) FROM mcp.query_log_partitions() WHERE month_start > now()}) >= 1,
   "next month's partition is ready");

my ($written, $write_errors) = (0, 0);
for my $writer (1 .. 3) {
    open my $in, '<', "$work/retention_writer_$writer" or die "writer $writer left no count";
    my ($ok, $failed) = split ' ', scalar <$in>;
    $written += $ok;
    $write_errors += $failed;
}
cmp_ok($written, '>', 10, "the writers inserted $written rows meanwhile");
is($write_errors, 0, 'no concurrent insert failed');
is(scalar $dbh->selectrow_array(q{SELECT count(*) FROM mcp.query_logs WHERE tool_used = 'concurrent'}), $written,
   'every concurrent insert is in the log');

# The archive holds exactly the dropped rows, one CSV per month with a header.
my $archived_rows = 0;
for my $name (@dropped) {
    my $file = "$archive/$name.csv";
    ok(-f $file, "$name archived") or next;
    open my $csv, '<', $file or die;
    my $header = <$csv>;
    like($header, qr/^id,query_text,/, "$name.csv starts with its header");
    $archived_rows++ while <$csv>;
}
is($archived_rows, $dropped_expected, "the archive holds the $dropped_expected dropped rows");

is_deeply($dbh->selectcol_arrayref(q{SELECT count(*) FROM mcp.ui_sessions UNION ALL SELECT count(*) FROM mcp.mcp_sessions
                                     UNION ALL SELECT count(*) FROM mcp.context_cache}),
          [1, 1, 1], 'expired dashboard sessions, idle MCP sessions and expired cache rows are gone, live ones stay');
like($pass, qr/"ui_sessions_deleted": 1/, 'the pass counts what it deleted');
like($pass, qr/"mcp_sessions_deleted": 1/, 'idle MCP sessions counted too');

# An archive folder the server cannot use keeps the month: nothing is dropped unarchived.
$dbh->do(q{SET mcp_analytics.log_retention = 0});
$dbh->do(q{INSERT INTO mcp.query_logs (query_text, created_at) VALUES ('very old', now() - interval '400 days')});
$dbh->do('SELECT mcp.run_maintenance()');
$dbh->do(q{SET mcp_analytics.log_retention = '90d'});
$dbh->do(qq{SET mcp_analytics.log_archive_dir = '$work/no/such/folder'});
ok(!$dbh->do('SELECT mcp.run_maintenance()'), 'a failing archive fails the pass');
is(scalar $dbh->selectrow_array(q{SELECT count(*) FROM mcp.query_logs WHERE query_text = 'very old'}), 1,
   'and the month stays');
$dbh->do(q{SET mcp_analytics.log_archive_dir = 'relative/path'});
ok(!$dbh->do('SELECT mcp.run_maintenance()'), 'a relative archive folder is refused');
like($dbh->errstr, qr/absolute/, 'with a message that says why');
$dbh->do(q{RESET mcp_analytics.log_archive_dir});
like(scalar $dbh->selectrow_array('SELECT mcp.run_maintenance()'), qr/"partitions_dropped": \["query_logs_p\d{6}"\]/,
     'without an archive folder the month is dropped');

my $status = $dbh->selectrow_array('SELECT mcp.log_retention_status()');
like($status, qr/"log_retention": "90 days"/, 'the status shows the retention');

# Privileges: readers see the status, only admins run a pass, PUBLIC nothing.
ok($dbh->selectrow_array(q{SELECT has_function_privilege('mcp_reader', 'mcp.log_retention_status()', 'EXECUTE')
                               AND NOT has_function_privilege('mcp_reader', 'mcp.run_maintenance()', 'EXECUTE')
                               AND has_function_privilege('mcp_admin', 'mcp.run_maintenance()', 'EXECUTE')
                               AND NOT has_function_privilege('public', 'mcp.run_maintenance()', 'EXECUTE')}),
   'readers see the status, admins run a pass, PUBLIC neither');

# --- a job worker applies retention by itself ---------------------------------------------
SKIP: {
    my ($preloaded) = $dbh->selectrow_array(q{SELECT current_setting('shared_preload_libraries') ~ 'mcp_analytics'});
    skip 'the library is not preloaded: no job workers', 2 unless $preloaded;
    ok(psql_ok('-d', 'postgres', '-c', 'DROP DATABASE IF EXISTS mcp_retention_worker', '-c', 'CREATE DATABASE mcp_retention_worker'),
       'second database created');
    my $other = connect_db('mcp_retention_worker');
    $other->do('CREATE EXTENSION mcp_analytics');
    $other->do(q{INSERT INTO mcp.query_logs (query_text) VALUES ('before any partition')});
    # Any change to the job queue wakes a worker for this database; it runs the pass first.
    $other->do(q{INSERT INTO mcp.jobs (kind, status) VALUES ('profile', 'done')});
    my $deadline = time + 90;
    my $partitions = 0;
    while (time < $deadline) {
        ($partitions) = $other->selectrow_array('SELECT count(*) FROM mcp.query_log_partitions()');
        last if $partitions >= 2;
        sleep 0.5;
    }
    cmp_ok($partitions, '>=', 2, 'a job worker made this month and the next partitions');
    $other->disconnect;
}

$dbh->disconnect;
psql_ok('-d', 'postgres', '-c', 'DROP DATABASE mcp_retention', '-c', 'DROP DATABASE IF EXISTS mcp_retention_worker');
done_testing();
