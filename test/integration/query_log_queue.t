# The query log's queue: a call whose transaction writes nothing else queues its log row for
# the database's writer, which inserts the queued rows together. Every call is logged exactly
# once whatever happens: many sessions at once, a queue too small for the burst, a writer
# terminated, the queue turned off, and a fast shutdown while the writer is blocked with rows
# still queued (the rows are all there after the restart).
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX ':sys_wait_h';
use Time::HiRes qw(time sleep);
use TestDb qw(connect_db psql_ok);

my $json = JSON::PP->new->canonical;
my $cluster = "$FindBin::Bin/../support/pg_cluster.sh";

sub register_live {
    my ($dbh, $name) = @_;
    my ($id) = $dbh->selectrow_array('SELECT mcp.register_dataset($1, $2)', undef, $name, $ENV{MCP_DEMO_CONNINFO});
    die $dbh->errstr unless $id;
    $dbh->do('SELECT mcp.set_dataset_status($1, $2)', undef, $id, $_) for qw(profiling metadata_pending approved);
    return $id;
}

sub queue_status { my ($dbh) = @_; return $json->decode(scalar $dbh->selectrow_array('SELECT mcp.query_log_queue()::text')); }

sub logged { my ($dbh, $pattern) = @_; return scalar $dbh->selectrow_array('SELECT count(*) FROM mcp.query_logs WHERE query_text LIKE $1', undef, $pattern); }

# Makes `calls` calls from each of `sessions` forked sessions (query text "SELECT <tag> ..."),
# each session its own connection to `connect`. Returns how many calls succeeded.
sub concurrent_calls {
    my ($connect, $id, $tag, $sessions, $calls) = @_;
    my @children;
    for my $session (1 .. $sessions) {
        my $pid = fork();
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            my $dbh = $connect->();
            my $ok = 0;
            for my $call (1 .. $calls) {
                $ok++ if $dbh->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $id,
                                               "SELECT '$tag' AS tag, $session AS session, $call AS call");
            }
            $dbh->disconnect;
            POSIX::_exit($ok == $calls ? 0 : 1);
        }
        push @children, $pid;
    }
    my $failed = 0;
    for my $pid (@children) { waitpid($pid, 0); $failed++ if $? != 0; }
    return $sessions - $failed;
}

sub writer_pids {
    my ($dbh, $database) = @_;
    return @{$dbh->selectcol_arrayref(q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'mcp_analytics query log writer' AND datname = $1},
                                      undef, $database)};
}

# --- on the test cluster ---------------------------------------------------------------------
my $db = 'mcp_log_queue_it';
psql_ok('-d', 'postgres', '-c', 'SET client_min_messages = warning', '-c', "DROP DATABASE IF EXISTS $db WITH (FORCE)");
ok(psql_ok('-d', 'postgres', '-c', "CREATE DATABASE $db") && psql_ok('-d', $db, '-c', 'CREATE EXTENSION mcp_analytics'),
   'database with the extension');
my $dbh = connect_db($db);
$dbh->do('SET mcp_analytics.cache_ttl = 0');
my $id = register_live($dbh, 'queue_demo');

my $status = queue_status($dbh);
ok($status->{enabled}, 'the queue is on (the library is preloaded)');
is($status->{capacity_bytes}, 256 * 1024, 'with 256 kB per database by default');

my ($before_call) = $dbh->selectrow_array('SELECT clock_timestamp()');
ok($dbh->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $id, "SELECT 'first' AS tag"), 'a call');
$status = queue_status($dbh);
is($status->{queued}, 1, 'its log row went to the queue');
is($status->{written_by_callers}, 0, '... not written by the caller');
$dbh->do('SELECT mcp.flush_query_log()');
is(logged($dbh, "SELECT 'first'%"), 1, 'after flush_query_log() the row is in mcp.query_logs');
ok($dbh->selectrow_array(q{SELECT created_at >= $1::timestamptz AND created_at <= clock_timestamp() FROM mcp.query_logs WHERE query_text LIKE 'SELECT ''first''%'},
                         undef, $before_call), 'created_at is when the call ran');
$status = queue_status($dbh);
is($status->{pending}, 0, 'nothing pending after the flush');
is($status->{writer}, 'running', 'the writer runs');
ok($status->{writer_pid}, 'and is named') or diag explain $status;

# The log's readers flush first: a call is in the search at once.
ok($dbh->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $id, "SELECT 'searched' AS tag"), 'another call');
is($dbh->selectrow_array(q{SELECT mcp.search_query_logs('{"q": "searched"}') ->> 'total'}), 1,
   'search_query_logs finds it without an explicit flush');

# A failed call's row is committed before the error reaches the caller.
ok(!$dbh->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $id, 'SELECT * FROM no_such_table_here'), 'a failing call');
is($dbh->selectrow_array(q{SELECT count(*) FROM mcp.query_logs WHERE query_text = 'SELECT * FROM no_such_table_here' AND NOT success}), 1,
   'its row is there when the error arrives');

# A transaction that wrote before the call keeps the call's row with its work.
$dbh->begin_work;
$dbh->do(q{SELECT mcp.set_setting('rules.raw_rows', '"At most 4 raw rows."')});
my $queued_before = queue_status($dbh)->{queued};
ok($dbh->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $id, "SELECT 'rolled back' AS tag"), 'a call in a transaction that wrote');
is(queue_status($dbh)->{queued}, $queued_before, 'its row was not queued');
is(logged($dbh, "SELECT 'rolled back'%"), 1, 'it is in the transaction');
$dbh->rollback;
$dbh->do('SELECT mcp.flush_query_log()');
is(logged($dbh, "SELECT 'rolled back'%"), 0, 'and rolled back with it');

# A call in a transaction that wrote nothing: its row waits in the backend until the commit,
# as an inserted row would, and goes with an abort.
sub call_in { my ($h, $tag) = @_; return $h->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $id, "SELECT '$tag' AS tag") }
$dbh->begin_work;
$queued_before = queue_status($dbh)->{queued};
ok(call_in($dbh, 'read then commit'), 'a call in a read-only transaction');
is(queue_status($dbh)->{queued}, $queued_before, 'its row is not queued before the commit');
$dbh->commit;
is(queue_status($dbh)->{queued}, $queued_before + 1, 'the commit queues it');
$dbh->do('SELECT mcp.flush_query_log()');
is(logged($dbh, "SELECT 'read then commit'%"), 1, 'and it is logged once');

$dbh->begin_work;
ok(call_in($dbh, 'read then rollback'), 'a call in a read-only transaction rolled back');
$dbh->rollback;
$dbh->do('SELECT mcp.flush_query_log()');
is(logged($dbh, "SELECT 'read then rollback'%"), 0, 'leaves no row');

$dbh->begin_work;
$dbh->do('SAVEPOINT before_call');
ok(call_in($dbh, 'savepoint rolled back'), 'a call in a savepoint');
$dbh->do('ROLLBACK TO SAVEPOINT before_call');
$dbh->do('SAVEPOINT kept');
ok(call_in($dbh, 'savepoint released'), 'a call in a savepoint then released');
$dbh->do('RELEASE SAVEPOINT kept');
$dbh->commit;
$dbh->do('SELECT mcp.flush_query_log()');
is(logged($dbh, "SELECT 'savepoint rolled back'%"), 0, 'the call of the rolled-back savepoint leaves no row');
is(logged($dbh, "SELECT 'savepoint released'%"), 1, 'the call of the released savepoint is logged');

# A session terminated after its call but before its commit leaves no row: the bridge, whose
# call then failed, writes that call's row itself (a queued row would make it two).
my $victim = connect_db($db);
$victim->do('SET mcp_analytics.cache_ttl = 0');
$victim->begin_work;
ok(call_in($victim, 'terminated before commit'), 'a call in a session about to be terminated');
my $victim_pid = $victim->{pg_pid};
ok($dbh->selectrow_array('SELECT pg_terminate_backend($1, 5000)', undef, $victim_pid), 'the session is terminated before it commits');
$dbh->do('SELECT mcp.flush_query_log()');
is(logged($dbh, "SELECT 'terminated before commit'%"), 0, 'its call leaves no row');
{ local $SIG{__WARN__} = sub {}; $victim->disconnect; }

# Many sessions at once: every call logged exactly once.
my $connect = sub { my $c = connect_db($db); $c->do('SET mcp_analytics.cache_ttl = 0'); return $c };
is(concurrent_calls($connect, $id, 'burst', 6, 150), 6, 'six sessions made 150 calls each');
$dbh->do('SELECT mcp.flush_query_log()');
is(logged($dbh, "SELECT 'burst'%"), 900, 'all 900 calls are logged');
is($dbh->selectrow_array(q{SELECT count(DISTINCT query_text) FROM mcp.query_logs WHERE query_text LIKE 'SELECT ''burst''%'}), 900,
   'each once');

# An idle writer leaves, so DROP DATABASE right after a call is not held up for long.
ok($dbh->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $id, "SELECT 'last' AS tag"), 'a last call');
is(scalar writer_pids($dbh, $db), 1, 'its writer is connected to the database');
$dbh->disconnect;
my $drop_started = time;
ok(psql_ok('-d', 'postgres', '-c', "DROP DATABASE $db"), 'DROP DATABASE (without FORCE) right after it');
cmp_ok(time - $drop_started, '<', 4.5, 'within the time DROP DATABASE waits for other sessions');

# --- a cluster of our own: a small queue, the queue off, a fast shutdown ------------------------
my $dir = tempdir('mcp_log_queue_XXXX', TMPDIR => 1, CLEANUP => 1);
chomp(my $port = `$cluster free-port 56900`);
ok(system($cluster, 'init', $dir, $port) == 0, "a private cluster on port $port");
END { system($cluster, 'stop', $dir) if $dir && -d "$dir/pgdata"; }
sub configure { my ($line) = @_; open my $conf, '>>', "$dir/pgdata/postgresql.conf" or die; print $conf "$line\n"; close $conf; }
sub own_db {
    my $c = DBI->connect("dbi:Pg:dbname=logq;host=$dir/socket;port=$port", 'postgres', '',
                         { RaiseError => 0, PrintError => 0, AutoCommit => 1 }) or die $DBI::errstr;
    $c->do('SET client_min_messages = error');
    $c->do('SET mcp_analytics.cache_ttl = 0');
    return $c;
}
configure('mcp_analytics.query_log_queue = 8kB');
ok(system($cluster, 'start', $dir) == 0, 'started with an 8 kB queue');
ok(system('psql', '-X', '-q', '-h', "$dir/socket", '-p', $port, '-d', 'postgres', '-c', 'CREATE DATABASE logq') == 0
   && system('psql', '-X', '-q', '-h', "$dir/socket", '-p', $port, '-d', 'logq', '-c', 'CREATE EXTENSION mcp_analytics') == 0,
   'database with the extension');
my $own = own_db();
my $own_id = register_live($own, 'own_demo');
$own->do('CREATE ROLE logq_reader IN ROLE mcp_reader');

is(concurrent_calls(\&own_db, $own_id, 'small', 6, 100), 6, 'six sessions made 100 calls each');
$own->do('SELECT mcp.flush_query_log()');
is(logged($own, "SELECT 'small'%"), 600, 'all 600 are logged');

# A writer that cannot keep up (stopped with SIGSTOP): the queue fills, then callers write
# their own rows; once it goes on, it writes what was queued. Each call is logged once.
SKIP: {
    my ($writer) = writer_pids($own, 'logq');
    skip 'no writer to pause, or not allowed to signal it', 6 unless $writer && kill(0, $writer);
    ok(kill('STOP', $writer), 'the writer is paused');
    my $by_callers = queue_status($own)->{written_by_callers};
    for my $n (1 .. 100) { $own->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $own_id, "SELECT 'full' AS tag, $n AS n") }
    my $status = queue_status($own);
    cmp_ok($status->{written_by_callers}, '>', $by_callers, ($status->{written_by_callers} - $by_callers) . ' rows written by their callers once the 8 kB were full');
    # A role that may not insert into mcp.query_logs: the rows the full queue cannot take at
    # its commits are written as the logging function's owner.
    my $reader = own_db();
    $reader->do('SET ROLE logq_reader');
    my $reader_ok = 0;
    for my $n (1 .. 20) { $reader_ok++ if $reader->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $own_id, "SELECT 'full reader' AS tag, $n AS n") }
    is($reader_ok, 20, 'a reader role made 20 calls while the queue was full') or diag $reader->errstr;
    $reader->disconnect;
    kill('CONT', $writer);
    $own->do('SELECT mcp.flush_query_log()');
    is(logged($own, "SELECT 'full'%"), 100, 'after it goes on, all 100 calls are logged');
    is(logged($own, "SELECT 'full reader'%"), 20, "and the reader's 20");
    is($own->selectrow_array(q{SELECT count(DISTINCT query_text) FROM mcp.query_logs WHERE query_text LIKE 'SELECT ''full''%'}), 100, 'each once');
}

# Fast shutdown while the writer waits on a lock: the queued rows are written before it exits.
my $blocker = own_db();
$blocker->begin_work;
$blocker->do('LOCK TABLE mcp.query_logs IN SHARE MODE');  # holds back every INSERT
for my $n (1 .. 10) { $own->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $own_id, "SELECT 'at stop' AS tag, $n AS n") }
my $pending = queue_status($own)->{pending};
cmp_ok($pending, '>', 0, "$pending rows are still queued when the server is stopped");
$own->disconnect;
{
    local $SIG{__WARN__} = sub {};
    ok(system($cluster, 'stop', $dir) == 0, 'fast shutdown');
}
ok(system($cluster, 'start', $dir) == 0, 'started again');
$own = own_db();
is(logged($own, "SELECT 'at stop'%"), 10, 'all ten calls are logged after the restart');

# A writer terminated by an admin: callers write their own rows meanwhile, none is lost.
ok($own->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $own_id, "SELECT 'restarted' AS tag"), 'a call starts a writer');
for (1 .. 100) { last if queue_status($own)->{writer} eq 'running'; sleep 0.05; }
my @writers = writer_pids($own, 'logq');
is(scalar @writers, 1, 'one writer for the database');
ok($own->selectrow_array('SELECT pg_terminate_backend($1)', undef, $writers[0]), 'the writer is terminated');
my $gone = 0;
for (1 .. 100) { if (!writer_pids($own, 'logq')) { $gone = 1; last } sleep 0.05; }
ok($gone, 'the writer left');
my $by_callers = queue_status($own)->{written_by_callers};
for my $n (1 .. 20) { $own->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $own_id, "SELECT 'after stop' AS tag, $n AS n") }
cmp_ok(queue_status($own)->{written_by_callers}, '>=', $by_callers + 20, 'the calls after it wrote their own rows');
is(logged($own, "SELECT 'after stop'%"), 20, 'all 20 are logged');

# The queue off: every call writes its own row.
$own->disconnect;
system($cluster, 'stop', $dir);
configure('mcp_analytics.query_log_queue = 0');
ok(system($cluster, 'start', $dir) == 0, 'started with the queue off');
$own = own_db();
ok(!queue_status($own)->{enabled}, 'the queue says it is off');
ok($own->selectrow_array('SELECT mcp.execute_query($1, $2)', undef, $own_id, "SELECT 'no queue' AS tag"), 'a call');
is(logged($own, "SELECT 'no queue'%"), 1, 'is logged at once, by the caller');
is($own->selectrow_array('SELECT mcp.flush_query_log()'), 0, 'flush_query_log() has nothing to wait for');
$own->disconnect;
system($cluster, 'stop', $dir);

done_testing();
