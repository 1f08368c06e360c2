# Background jobs: registering a dataset queues its profiling, a worker takes it at once (woken
# by its latch, not a poll), records attempts, start, end and progress, moves the dataset
# draft -> profiling -> metadata_pending, and exits when idle. mcp_analytics.job_workers
# bounds how many run at once; with 0, CALL mcp.run_pending_jobs() runs them in the caller.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(time sleep);
use JSON::PP;
use TestDb qw(connect_db psql_ok);

my $db = 'mcp_jobs_it';
my $data_db = 'mcp_jobs_data';
for my $name ($db, $data_db) {
    psql_ok('-d', 'postgres', '-c', 'SET client_min_messages = warning', '-c', "DROP DATABASE IF EXISTS $name WITH (FORCE)");
    ok(psql_ok('-d', 'postgres', '-c', "CREATE DATABASE $name"), "database $name created");
}
ok(psql_ok('-d', $db, '-c', 'CREATE EXTENSION mcp_analytics'), 'extension installed');
# A small dataset whose view is slow to read, so that a running job can be watched.
ok(psql_ok('-d', $data_db, '-c', q{
    CREATE TABLE small (id int PRIMARY KEY, label text);
    INSERT INTO small SELECT g, 'label ' || (g % 3) FROM generate_series(1, 20) g;
    CREATE VIEW slow AS SELECT g + 0 * length(pg_sleep(0.08)::text) AS id FROM generate_series(1, 6) g;
    ANALYZE small;}), 'dataset with a slow view created');

my $dbh = connect_db($db);
my $listener = connect_db($db);
$listener->do('LISTEN mcp_analytics');
$dbh->do('SET mcp_analytics.profile_on_register = on');
my $json = JSON::PP->new;

sub wait_jobs {
    my ($seconds) = @_;
    my ($done) = $dbh->selectrow_array('SELECT mcp.wait_for_jobs(NULL, make_interval(secs => $1))', undef, $seconds // 60);
    return $done;
}

sub notifications {
    my @seen;
    $listener->do('SELECT 1');
    while (my $n = $listener->pg_notifies) { push @seen, $json->decode($n->[2]); }
    return @seen;
}

# --- registration queues profiling; a worker takes it at once --------------------------
my $register = $dbh->prepare('SELECT mcp.register_dataset($1, $2)');
ok($register->execute('jobs_demo', $ENV{MCP_DEMO_CONNINFO}), 'demo registered');
my ($demo_id) = $register->fetchrow_array;
ok(wait_jobs(60), 'its jobs finished');
my $jobs = $dbh->selectall_hashref(q{
    SELECT kind, status, attempts, progress, errors, result, worker_pid,
           started_at IS NOT NULL AS started, finished_at IS NOT NULL AS finished,
           extract(epoch FROM started_at - created_at) AS wait_s
      FROM mcp.jobs_status($1)}, 'kind', undef, $demo_id);
is($jobs->{profile}{status}, 'done', 'the profile job is done');
is($jobs->{profile}{attempts}, 1, 'in one attempt');
ok($jobs->{profile}{started} && $jobs->{profile}{finished}, 'start and end are recorded');
cmp_ok($jobs->{profile}{wait_s}, '<', 1.0, 'a worker started it within a second (the launcher naps 60 s: the latch woke it)');
my $progress = $json->decode($jobs->{profile}{progress});
ok($progress->{of} >= 3 && $progress->{table} == $progress->{of}, "its last progress is table $progress->{table} of $progress->{of}");
is($jobs->{llm_metadata}{status}, 'done', 'the metadata job followed and is done');
like($jobs->{llm_metadata}{result}, qr/"written_by": "profile"/, 'with no endpoint configured the deterministic writer wrote it');
is($dbh->selectrow_array('SELECT status FROM mcp.dataset($1)', undef, $demo_id), 'metadata_pending',
   'the dataset waits for review');
my @statuses = map { $_->{status} } grep { $_->{dataset_id} == $demo_id } notifications();
my @steps;
for my $s (@statuses) { push @steps, $s unless @steps && $steps[-1] eq $s; }
is_deeply(\@steps, [qw(draft profiling metadata_pending)], 'announced draft -> profiling -> metadata_pending');

# --- approval: only from metadata_pending, recorded, announced --------------------------
my $approved = $dbh->selectrow_hashref('SELECT status, approved_by, approved_at IS NOT NULL AS has_at FROM mcp.approve_dataset($1, $2)',
                                       undef, $demo_id, 'jobs tester');
is_deeply($approved, { status => 'approved', approved_by => 'jobs tester', has_at => 1 }, 'approved, with approver and time');
my @approval = grep { $_->{dataset_id} == $demo_id } notifications();
is($approval[-1]{status}, 'approved', 'approval sends NOTIFY mcp_analytics with the new status');
ok(!$dbh->do('SELECT mcp.approve_dataset($1)', undef, $demo_id), 'approving twice is refused');
is($dbh->state, '55000', '... with object_not_in_prerequisite_state');

# --- progress is visible while a job runs -----------------------------------------------
my $slow_conninfo = "host=$ENV{PGHOST} port=$ENV{PGPORT} dbname=$data_db user=postgres";
ok($register->execute('jobs_slow', $slow_conninfo), 'a dataset with a slow view registered');
my ($slow_id) = $register->fetchrow_array;
my %seen_progress;
my $shown_busy = 0;
my $deadline = time + 30;
while (time < $deadline) {
    my ($status, $p, $job) = $dbh->selectrow_array(
        q{SELECT status, progress::text, id FROM mcp.jobs_status($1) WHERE kind = 'profile'}, undef, $slow_id);
    if ($status && $status eq 'running') {
        my $now = $json->decode($p);
        $seen_progress{"table $now->{table} of $now->{of}"} = 1 if defined $now->{of};
        $shown_busy ||= $dbh->selectrow_array(q{SELECT count(*) FROM mcp.job_workers()
            WHERE role = 'worker' AND busy AND database_name = $1 AND job_id = $2}, undef, $db, $job);
    }
    last if $status && $status eq 'done';
    sleep 0.05;
}
ok($seen_progress{'table 1 of 2'}, 'while it ran, "table 1 of 2" was visible')
    or diag explain \%seen_progress;
ok($shown_busy, 'mcp.job_workers() showed the busy worker and its job');
ok(wait_jobs(60), 'the slow dataset was profiled');
is($dbh->selectrow_array(q{SELECT row_count FROM mcp.dataset_profile($1, 'slow')}, undef, $slow_id), 6,
   'the view was profiled (6 rows)');

# --- several jobs at once, bounded by mcp_analytics.job_workers ------------------------
sub max_parallel {
    my ($ids) = @_;
    my $max = 0;
    my $until = time + 60;
    while (time < $until) {
        my ($running, $open) = $dbh->selectrow_array(q{
            SELECT count(*) FILTER (WHERE status = 'running'), count(*) FILTER (WHERE status IN ('queued', 'running'))
              FROM mcp.jobs WHERE kind = 'profile' AND dataset_id = ANY ($1)}, undef, $ids);
        $max = $running if $running > $max;
        last if $open == 0;
        sleep 0.02;
    }
    return $max;
}
my $admin = connect_db('postgres');
sub set_workers {
    my ($n) = @_;
    $admin->do(defined $n ? "ALTER SYSTEM SET mcp_analytics.job_workers = $n" : 'ALTER SYSTEM RESET mcp_analytics.job_workers');
    $admin->do('SELECT pg_reload_conf()');
    sleep 0.3;
}
my @parallel_ids;
$dbh->begin_work;
for my $i (1 .. 3) {
    $register->execute("jobs_parallel_$i", $slow_conninfo);
    push @parallel_ids, ($register->fetchrow_array)[0];
}
$dbh->commit;
is(max_parallel(\@parallel_ids), 2, 'three queued profiles ran two at a time (job_workers = 2)');
ok(wait_jobs(60), 'and all finished');

set_workers(1);
$dbh->do('SELECT mcp.reprofile_dataset(id) FROM unnest($1::int[]) id', undef, \@parallel_ids);
is(max_parallel(\@parallel_ids), 1, 'with job_workers = 1 they ran one at a time');
ok(wait_jobs(60), 'and all finished');

# --- job_workers = 0: nothing runs in the background; run_pending_jobs does it ----------
set_workers(0);
my ($queued_job) = $dbh->selectrow_array('SELECT mcp.reprofile_dataset($1)', undef, $demo_id);
sleep 1;
is($dbh->selectrow_array('SELECT status FROM mcp.jobs WHERE id = $1', undef, $queued_job), 'queued',
   'with job_workers = 0 the job stays queued');
# Two sessions claiming at once get different jobs (FOR UPDATE SKIP LOCKED).
my $other = connect_db($db);
$dbh->do('SELECT mcp.reprofile_dataset($1)', undef, $slow_id);
$dbh->begin_work;
$other->begin_work;
my ($first) = $dbh->selectrow_array('SELECT id FROM mcp._claim_job(pg_backend_pid())');
my ($second) = $other->selectrow_array('SELECT id FROM mcp._claim_job(pg_backend_pid())');
ok($first && $second && $first != $second, 'two sessions claiming at once take different jobs');
$dbh->rollback;
$other->rollback;
{
    local $dbh->{PrintWarn} = 0;
    ok($dbh->do('CALL mcp.run_pending_jobs()'), 'CALL mcp.run_pending_jobs() runs them in this session');
}
my $after = $dbh->selectall_arrayref(q{SELECT kind, status, attempts FROM mcp.jobs_status($1) WHERE id >= $2 ORDER BY id},
                                     { Slice => {} }, $demo_id, $queued_job);
is_deeply([map { "$_->{kind}:$_->{status}:$_->{attempts}" } @$after],
          ['profile:done:1', 'llm_metadata:done:1'], 'profile and metadata ran, once each, committed');
is($dbh->selectrow_array('SELECT status FROM mcp.dataset($1)', undef, $demo_id), 'metadata_pending',
   'a reprofiled dataset goes back to review');
set_workers(undef);

# --- idle workers exit, so DROP DATABASE needs no FORCE -------------------------------
ok(wait_jobs(60), 'queue drained');
my $gone = 0;
for (1 .. 100) {
    ($gone) = $admin->selectrow_array(q{SELECT count(*) = 0 FROM pg_stat_activity
        WHERE backend_type = 'mcp_analytics job worker' AND datname = $1}, undef, $db);
    last if $gone;
    sleep 0.05;
}
ok($gone, 'no job worker stays connected once the queue is empty');
$register->finish;
$_->disconnect for $dbh, $listener, $other;
ok(psql_ok('-d', 'postgres', '-c', "DROP DATABASE $db"), 'the database drops without FORCE');
psql_ok('-d', 'postgres', '-c', "DROP DATABASE IF EXISTS $data_db WITH (FORCE)");
done_testing();
