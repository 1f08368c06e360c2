# Background jobs in several databases of one cluster, which share mcp_analytics.job_workers
# (2, the default): a job queued in a third database starts at once although both workers sit
# idle in two other databases (waiting for a retry due later): they hand their slots over, and
# their retries still run when due. With both workers busy elsewhere, the third database gets
# the first slot that a finished job frees, not one after the other queues drain.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use Time::HiRes qw(time sleep);
use TestDb qw(connect_db psql_ok);

my @names = map { "mcp_jobs_db$_" } 1 .. 3;
my $data_db = 'mcp_jobs_db_data';
for my $name (@names, $data_db) {
    psql_ok('-d', 'postgres', '-c', 'SET client_min_messages = warning', '-c', "DROP DATABASE IF EXISTS $name WITH (FORCE)");
    ok(psql_ok('-d', 'postgres', '-c', "CREATE DATABASE $name"), "database $name created");
}
ok(psql_ok('-d', $_, '-c', 'CREATE EXTENSION mcp_analytics'), "extension installed in $_") for @names;
# A dataset whose view is slow to read: its profile takes about a second.
ok(psql_ok('-d', $data_db, '-c', q{
    CREATE VIEW slow AS SELECT g + 0 * length(pg_sleep(0.08)::text) AS id FROM generate_series(1, 6) g;}),
   'dataset with a slow view created');
my $slow_conninfo = "host=$ENV{PGHOST} port=$ENV{PGPORT} dbname=$data_db user=postgres";

my $admin = connect_db('postgres');
$admin->do('ALTER SYSTEM RESET mcp_analytics.job_workers');
$admin->do('SELECT pg_reload_conf()');
is($admin->selectrow_array('SHOW mcp_analytics.job_workers'), '2', 'job_workers = 2 (the default)');

my (@dbh, @demo);
for my $i (0 .. 2) {
    $dbh[$i] = connect_db($names[$i]);
    ($demo[$i]) = $dbh[$i]->selectrow_array('SELECT mcp.register_dataset($1, $2)', undef, 'demo', $ENV{MCP_DEMO_CONNINFO});
    ok($demo[$i], "demo dataset registered in $names[$i] (nothing queued yet)");
}

my $watch = connect_db($names[2]);  # mcp.job_workers() shows the whole cluster's workers
sub workers {  # database name => [busy flags] of the job workers attached to one of ours
    my %attached;
    for my $w (@{ $watch->selectall_arrayref(q{SELECT database_name, busy FROM mcp.job_workers()
                                                 WHERE role LIKE 'worker%' AND database_name = ANY ($1)},
                                               { Slice => {} }, \@names) }) {
        push @{ $attached{ $w->{database_name} } }, $w->{busy};
    }
    return \%attached;
}

# --- idle workers in two databases give way to a third --------------------------------
# In db1 and db2: a profile due now, and one due in 15 s (as after a failed attempt). Each
# database's worker runs the first, then waits for the second.
for my $i (0, 1) {
    $dbh[$i]->begin_work;
    $dbh[$i]->do('SELECT mcp.reprofile_dataset($1)', undef, $demo[$i]);
    $dbh[$i]->do(q{INSERT INTO mcp.jobs (kind, dataset_id, run_after) VALUES ('profile', $1, now() + interval '15 s')},
                 undef, $demo[$i]);
    $dbh[$i]->commit;
}
my $parked;
my $deadline = time + 30;
while (time < $deadline) {
    my $open = 0;
    $open += $dbh[$_]->selectrow_array(q{SELECT count(*) FROM mcp.jobs WHERE status = 'running'
        OR (status = 'queued' AND run_after <= now())}) for 0, 1;
    my $attached = workers();
    $parked = $open == 0 && (grep { @{ $attached->{ $names[$_] } // [] } == 1 && !$attached->{ $names[$_] }[0] } 0, 1) == 2;
    last if $parked;
    sleep 0.05;
}
ok($parked, 'db1 and db2 ran their due jobs; one idle worker waits in each for the retry')
    or diag explain workers();

my ($job3) = $dbh[2]->selectrow_array('SELECT mcp.reprofile_dataset($1)', undef, $demo[2]);
my $wait_s;
$deadline = time + 20;
while (time < $deadline) {
    ($wait_s) = $dbh[2]->selectrow_array(q{SELECT extract(epoch FROM started_at - created_at) FROM mcp.jobs WHERE id = $1},
                                         undef, $job3);
    last if defined $wait_s;
    sleep 0.05;
}
ok(defined $wait_s && $wait_s < 2, 'a job queued in db3 started within 2 s although both workers were idle elsewhere')
    or diag('it waited ' . ($wait_s // 'more than 20') . ' s');
is($dbh[$_]->selectrow_array(q{SELECT count(*) FROM mcp.jobs WHERE status = 'queued' AND run_after > now()}), 1,
   "the retry in $names[$_] is still waiting for its time") for 0, 1;
ok($dbh[2]->selectrow_array(q{SELECT mcp.wait_for_jobs(NULL, '60 s')}), 'db3 queue drained');
for my $i (0, 1) {
    ok($dbh[$i]->selectrow_array(q{SELECT mcp.wait_for_jobs(NULL, '60 s')}), "$names[$i]: the retry ran later");
    my $retry = $dbh[$i]->selectrow_hashref(q{SELECT status, started_at >= run_after AS on_time,
                                                     started_at < run_after + interval '3 s' AS promptly
                                                FROM mcp.jobs WHERE kind = 'profile' ORDER BY id DESC LIMIT 1});
    is_deeply($retry, { status => 'done', on_time => 1, promptly => 1 },
              "$names[$i]: when it fell due (the launcher came back for it), not before");
}

# --- busy workers hand over between jobs ---------------------------------------------
# Six slow profiles in db1 and in db2 keep both workers busy; a job queued in db3 starts when
# one of their current jobs ends, while both other queues still have jobs to run.
my %slow;
for my $i (0, 1) {
    $dbh[$i]->begin_work;
    for my $n (1 .. 6) {
        my ($id) = $dbh[$i]->selectrow_array('SELECT mcp.register_dataset($1, $2)', undef, "slow_$n", $slow_conninfo);
        $dbh[$i]->do('SELECT mcp.reprofile_dataset($1)', undef, $id);
        push @{ $slow{$i} }, $id;
    }
    $dbh[$i]->commit;
}
my $both_busy;
$deadline = time + 20;
while (time < $deadline) {
    my $attached = workers();
    $both_busy = (grep { my $b = $attached->{$_} // []; grep { $_ } @$b } @names[0, 1]) == 2;
    last if $both_busy;
    sleep 0.02;
}
ok($both_busy, 'a busy worker in db1 and one in db2') or diag explain workers();
my ($job3b) = $dbh[2]->selectrow_array('SELECT mcp.reprofile_dataset($1)', undef, $demo[2]);
my ($max_busy, $started3) = (0, undef);
$deadline = time + 60;
while (time < $deadline) {
    my $attached = workers();
    my $busy = grep { $_ } map { @$_ } values %$attached;
    $max_busy = $busy if $busy > $max_busy;
    ($started3) = $dbh[2]->selectrow_array('SELECT started_at FROM mcp.jobs WHERE id = $1', undef, $job3b);
    my $open = 0;
    $open += $dbh[$_]->selectrow_array(q{SELECT count(*) FROM mcp.jobs WHERE status IN ('queued', 'running')}) for 0 .. 2;
    last if $open == 0;
    sleep 0.02;
}
ok($started3, 'the db3 job ran');
for my $i (0, 1) {
    my ($later) = $dbh[$i]->selectrow_array(q{SELECT count(*) FROM mcp.jobs WHERE kind = 'profile' AND started_at > $1},
                                            undef, $started3);
    cmp_ok($later, '>', 0, "it started before $names[$i]'s queue drained ($later profile(s) there started after it)");
}
cmp_ok($max_busy, '<=', 2, 'never more than job_workers jobs ran at once across the databases');
for my $i (0, 1) {
    is($dbh[$i]->selectrow_array(q{SELECT count(*) FROM mcp.jobs WHERE kind = 'profile' AND dataset_id = ANY ($1)
                                     AND status = 'done' AND attempts = 1}, undef, $slow{$i}), 6,
       "$names[$i]: its six profiles ran once each");
}

# --- and no worker stays attached -----------------------------------------------------
my $gone;
$deadline = time + 10;
while (time < $deadline) {
    $gone = !%{ workers() };
    last if $gone;
    sleep 0.05;
}
ok($gone, 'with every queue empty no job worker is left') or diag explain workers();
$_->disconnect for @dbh, $watch, $admin;
ok(psql_ok('-d', 'postgres', '-c', "DROP DATABASE $_"), "$_ drops without FORCE") for @names;
psql_ok('-d', 'postgres', '-c', "DROP DATABASE IF EXISTS $data_db WITH (FORCE)");
done_testing();
