# A job worker killed with SIGKILL in the middle of a job (waiting for the LLM): PostgreSQL
# restarts, the launcher looks at every database again, the job is recovered and completed
# exactly once: one more attempt, one metadata row written once, no duplicate profile.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin, "$FindBin::Bin/../support";
use Test::More;
use Time::HiRes qw(time sleep);
use TestDb qw(connect_db psql_ok);
use FakeLlm;

my $fake = FakeLlm->new;
my $db = 'mcp_crash_it';
psql_ok('-d', 'postgres', '-c', 'SET client_min_messages = warning', '-c', "DROP DATABASE IF EXISTS $db WITH (FORCE)");
ok(psql_ok('-d', 'postgres', '-c', "CREATE DATABASE $db"), 'database created');
ok(psql_ok('-d', $db, '-c', 'CREATE EXTENSION mcp_analytics',
           '-c', "ALTER DATABASE $db SET mcp_analytics.llm_base_url = '" . $fake->url . "'",
           '-c', "ALTER DATABASE $db SET mcp_analytics.llm_timeout = '20s'"), 'extension, LLM endpoint (the fake) set');

my $dbh = connect_db($db);
$dbh->do('SET mcp_analytics.profile_on_register = on');
my ($id) = $dbh->selectrow_array('SELECT mcp.register_dataset($1, $2)', undef, 'crash_case_slow', $ENV{MCP_DEMO_CONNINFO});
ok($id, 'registered (the fake LLM answers its first request after 6 s)');

# Wait until the metadata job is running and its request reached the LLM.
my ($pid, $job_id);
my $deadline = time + 30;
while (time < $deadline) {
    ($job_id, $pid) = $dbh->selectrow_array(
        q{SELECT id, worker_pid FROM mcp.jobs WHERE dataset_id = $1 AND kind = 'llm_metadata' AND status = 'running'}, undef, $id);
    last if $pid && $fake->requests('crash_case_slow') >= 1;
    sleep 0.05;
}
ok($pid, "the metadata job runs in worker $pid and waits for the LLM");
my ($backend_type) = $dbh->selectrow_array('SELECT backend_type FROM pg_stat_activity WHERE pid = $1', undef, $pid);
is($backend_type, 'mcp_analytics job worker', 'that process is a job worker');

ok(kill('KILL', $pid), 'SIGKILL the worker mid-job');
{
    local $SIG{__WARN__} = sub {};  # "terminating connection because of crash of another server process"
    $dbh->disconnect;  # the postmaster restarts every backend after a crash
}

# Reconnect once the server accepts connections again, then wait for the queue.
my $done;
$deadline = time + 90;
while (time < $deadline) {
    my $again = eval { DBI->connect("dbi:Pg:dbname=$db", 'postgres', '', { RaiseError => 1, PrintError => 0, AutoCommit => 1 }) };
    if ($again) {
        $dbh = $again;
        $done = eval { $dbh->selectrow_array(q{SELECT mcp.wait_for_jobs($1, '60 s')}, undef, $id) };
        last if defined $done;
    }
    sleep 0.2;
}
ok($done, 'after the restart the jobs finished');

my $job = $dbh->selectrow_hashref(q{SELECT status, attempts, errors::text AS errors, jsonb_array_length(errors) AS error_count, result::text AS result
                                      FROM mcp.jobs WHERE id = $1}, undef, $job_id);
is($job->{status}, 'done', 'the killed job completed');
is($job->{attempts}, 2, 'in a second attempt');
is($job->{error_count}, 1, 'the first attempt is recorded as an error');
like($job->{errors}, qr/"error": "process $pid ended before finishing"/, '... saying its process ended before finishing');
like($job->{errors}, qr/"sqlstate": "57P01"/, '... as an admin shutdown (57P01)');
like($job->{result}, qr/"written_by": "llm"/, 'the second attempt got the LLM answer');
is(scalar($fake->requests('crash_case_slow')), 2, 'the LLM was asked twice (once per attempt)');
is($dbh->selectrow_array('SELECT count(*) FROM mcp.llm_metadata WHERE dataset_id = $1', undef, $id), 1,
   'exactly one metadata row');
ok($dbh->selectrow_array('SELECT created_at = updated_at FROM mcp.llm_metadata WHERE dataset_id = $1', undef, $id),
   'written once (never updated after its insert)');
is($dbh->selectrow_array(q{SELECT count(*) FROM mcp.jobs WHERE dataset_id = $1 AND kind = 'llm_metadata'}, undef, $id), 1,
   'no second metadata job was queued');
is($dbh->selectrow_array(q{SELECT count(*) FROM mcp.jobs WHERE dataset_id = $1 AND kind = 'profile' AND status = 'done' AND attempts = 1}, undef, $id), 1,
   'the profile (done before the kill) was not redone');
is($dbh->selectrow_array(q{SELECT count(*) FROM mcp.dataset_schemas WHERE dataset_id = $1 AND schema_name = 'public'}, undef, $id), 3,
   'the three demo tables profiled once each');
is($dbh->selectrow_array('SELECT status FROM mcp.dataset($1)', undef, $id), 'metadata_pending', 'the dataset reached review');

open my $log, '<', $ENV{MCP_TEST_LOG} or die;
my $log_text = do { local $/; <$log> };
like($log_text, qr/mcp_analytics job worker.*\(PID $pid\) was terminated by signal 9/, 'the server log shows the kill');
$dbh->disconnect;
$fake->stop;
psql_ok('-d', 'postgres', '-c', "DROP DATABASE $db WITH (FORCE)");
done_testing();
