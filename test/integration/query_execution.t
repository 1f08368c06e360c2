# Query execution against a real dataset server: timeouts and cancellation stop the remote
# query, 30 slow queries run in parallel, a dataset whose server is down fails alone, a
# broken pooled connection is retried, failed queries keep their log row, and every format
# round-trips the demo's types.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use DBD::Pg qw(:async);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ':sys_wait_h';
use Time::HiRes qw(time sleep);
use TestDb qw(connect_db);

my $json = JSON::PP->new->canonical;
my $dbh = connect_db('mcp_tap');
my $watcher = connect_db('mcp_demo');

sub register_live {
    my ($name, $conninfo) = @_;
    my ($id) = $dbh->selectrow_array('SELECT mcp.register_dataset($1, $2)', undef, $name, $conninfo);
    die $dbh->errstr unless $id;
    $dbh->do('SELECT mcp.set_dataset_status($1, $2)', undef, $id, $_) for qw(profiling metadata_pending approved);
    return $id;
}

sub query {
    my ($id, $sql, %options) = @_;
    my ($answer) = $dbh->selectrow_array('SELECT mcp.execute_query($1, $2, $3, $4)::text', undef,
        $id, $sql, $options{max_rows} // 1000, $options{format} // 'markdown');
    return $answer ? $json->decode($answer) : undef;
}

# Remote statements of ours still running on the dataset's server (a client query; nothing
# else of ours runs there while this test does).
sub remote_running {
    my ($count) = $watcher->selectrow_array(
        q{SELECT count(*) FROM pg_stat_activity WHERE datname = 'mcp_demo'
           AND application_name = 'mcp_analytics' AND state = 'active'});
    return $count;
}

# Up to 5 s: a cancel request is a new connection to the dataset server, slow to fork on a
# loaded machine; an uncancelled statement (a count over 10^11 rows) would run for minutes.
sub wait_until_gone {
    for (1 .. 100) { return 1 if remote_running() == 0; sleep 0.05; }
    return 0;
}

# Waits until a remote statement of ours runs (so the tests below check a real query).
sub wait_until_running {
    for (1 .. 40) { return 1 if remote_running() > 0; sleep 0.05; }
    return 0;
}

my ($test_started) = $dbh->selectrow_array('SELECT clock_timestamp()');
my $id = register_live('execution_demo', $ENV{MCP_DEMO_CONNINFO});

# --- the statement timeout cancels the remote query --------------------------------------
$dbh->do('SET mcp_analytics.statement_timeout = 700');
my $started = time;
my $timing_out = $dbh->prepare('SELECT mcp.execute_query($1, $2)', { pg_async => PG_ASYNC });
$timing_out->execute($id, 'SELECT count(*) AS timeout_marker FROM generate_series(1, 100000000000)');
ok(wait_until_running(), 'the endless query runs on the dataset');
ok(!$dbh->pg_result, 'then fails');
my $elapsed = time - $started;
is($dbh->state, '57014', 'with SQLSTATE 57014 (query canceled)');
like($dbh->errstr, qr/statement timeout/, 'the message names the statement timeout');
like($dbh->errstr, qr/mcp_analytics\.statement_timeout/, 'the hint names the setting to change');
cmp_ok($elapsed, '<', 3, 'within the timeout (plus a margin)');
ok(wait_until_gone(), 'the query is gone from the dataset\'s pg_stat_activity');
$dbh->do('RESET mcp_analytics.statement_timeout');

# --- pg_cancel_backend and the caller's own statement_timeout cancel it too --------------
my $canceller = connect_db('mcp_tap');
my $async = $dbh->prepare('SELECT mcp.execute_query($1, $2)', { pg_async => PG_ASYNC });
$async->execute($id, 'SELECT count(*) AS cancel_marker FROM generate_series(1, 100000000000)');
ok(wait_until_running(), 'the remote query runs while the caller waits');
$started = time;
$canceller->do('SELECT pg_cancel_backend($1)', undef, $dbh->{pg_pid});
$dbh->pg_result;
is($dbh->state, '57014', 'pg_cancel_backend cancels the call');
cmp_ok(time - $started, '<', 2, 'promptly');
ok(wait_until_gone(), 'and the remote query with it');

$dbh->do('SET statement_timeout = 600');
$timing_out->execute($id, 'SELECT count(*) AS local_timeout_marker FROM generate_series(1, 100000000000)');
ok(wait_until_running(), 'a remote query runs under the caller\'s statement_timeout');
ok(!$dbh->pg_result, 'the caller\'s statement_timeout interrupts the wait');
is($dbh->state, '57014', 'with SQLSTATE 57014');
$dbh->do('RESET statement_timeout');
ok(wait_until_gone(), 'and the remote query is cancelled');
ok(query($id, 'SELECT 1 AS still_fine'), 'the session and the dataset still work afterwards');

# --- 30 slow-but-allowed queries in parallel (not from the cache) ------------------------
$dbh->do('SET mcp_analytics.cache_ttl = 0');
my @slow = map { { dataset_id => $id, sql => "SELECT trap.slow(0.4) AS s, $_ AS n", label => "q$_" } } 1 .. 30;
$started = time;
my ($multi) = $dbh->selectrow_array('SELECT mcp.execute_multi_query($1, 30)::text', undef, $json->encode(\@slow));
my $parallel = time - $started;
$multi = $json->decode($multi);
is($multi->{succeeded}, 30, '30 slow queries all succeed');
is_deeply([map { $_->{label} } @{ $multi->{results} }], [map { "q$_" } 1 .. 30], 'results come back in input order');
cmp_ok($parallel, '<', 30 * 0.4 / 4, sprintf('they finish far faster than one after another (%.2f s vs %.1f s)', $parallel, 30 * 0.4));
$started = time;
($multi) = $dbh->selectrow_array('SELECT mcp.execute_multi_query($1, 2)::text', undef,
    $json->encode([@slow[0 .. 3]]));
cmp_ok(time - $started, '>=', 0.75, 'max_concurrency bounds the parallelism (4 queries, 2 at a time)');
$dbh->do('RESET mcp_analytics.cache_ttl');

# --- a dataset whose server is down fails alone --------------------------------------------
# Register through a loopback TCP relay, then stop the relay: the server "goes down".
my $relay = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1) or die $!;
my $relay_port = $relay->sockport;
my $relay_pid = fork;
if ($relay_pid == 0) {
    alarm 60;  # never outlive the test, whatever happens to it
    while (my $client = $relay->accept) {
        next if fork;
        close $relay;  # only the relay itself listens: killing it closes the port
        my $server = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ENV{MCP_TEST_PORT}) or exit 0;
        my $select = IO::Select->new($client, $server);
        LOOP: while (my @ready = $select->can_read) {
            for my $from (@ready) {
                my $to = $from == $client ? $server : $client;
                my $n = sysread($from, my $buffer, 65536);
                last LOOP unless $n;
                syswrite($to, $buffer);
            }
        }
        POSIX::_exit(0);
    }
    POSIX::_exit(0);
}
close $relay;
END { kill 'KILL', $relay_pid if $relay_pid; }
(my $relayed = $ENV{MCP_DEMO_CONNINFO}) =~ s/port=\d+/port=$relay_port/;
my $down_id = register_live('soon_down', $relayed);
kill 'KILL', $relay_pid;
waitpid($relay_pid, 0);
$watcher->do(q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mcp_analytics' AND client_port IS NOT NULL AND pid <> pg_backend_pid()});
sleep 0.2;
my @mixed = ({ dataset_id => $down_id, sql => 'SELECT 1', label => 'down' },
             { dataset_id => $id, sql => 'SELECT count(*) AS n FROM panelists', label => 'up' });
($multi) = $dbh->selectrow_array('SELECT mcp.execute_multi_query($1)::text', undef, $json->encode(\@mixed));
$multi = $json->decode($multi // die 'execute_multi_query failed: ' . $dbh->errstr);
is($multi->{results}[0]{ok}, JSON::PP::false, 'the query on the down dataset fails');
is($multi->{results}[0]{error}{sqlstate}, '08001', 'as unreachable');
is($multi->{results}[1]{ok}, JSON::PP::true, 'the other dataset answers in the same call');
ok(!query($down_id, 'SELECT 1'), 'execute_query on the down dataset fails');
is($dbh->state, '08001', 'with SQLSTATE 08001');
ok(query($id, 'SELECT 1'), 'and the other dataset still answers');

# --- a broken pooled connection is dropped and retried once ------------------------------
ok(query($id, 'SELECT 1 AS warm'), 'a query leaves a pooled connection behind');
$watcher->do(q{SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mcp_analytics' AND pid <> pg_backend_pid()});
sleep 0.2;
ok(query($id, 'SELECT 2 AS after_restart'), 'the next query succeeds on a fresh connection');

# --- the log row of a failed query survives the failure, even in a rolled-back transaction -
$dbh->begin_work;
ok(!query($id, 'SELECT * FROM no_such_table_for_the_log'), 'a failing query inside a transaction');
$dbh->rollback;
my ($logged) = $dbh->selectrow_array(q{SELECT count(*) FROM mcp.query_logs
    WHERE query_text = 'SELECT * FROM no_such_table_for_the_log' AND NOT success AND error_sqlstate = '42P01'
      AND created_at >= $1}, undef, $test_started);
is($logged, 1, 'its log row exists after the rollback');
my ($rejected) = $dbh->selectrow_array(q{SELECT count(*) FROM mcp.query_logs
    WHERE query_text = 'SELECT count(*) AS timeout_marker FROM generate_series(1, 100000000000)' AND error_sqlstate = '57014'
      AND created_at >= $1}, undef, $test_started);
is($rejected, 1, 'the timed-out query was logged too');

# --- context reaches the log ---------------------------------------------------------------
$dbh->do('SELECT mcp.execute_query($1, $2, 10, $3, $4)', undef, $id, 'SELECT 42 AS logged_with_context', 'markdown',
    '{"client_name": "claude-ai", "client_version": "1.2", "user_agent": "Claude/1.0", "session_id": "s-1"}');
$dbh->do('SELECT mcp.flush_query_log()');  # the row is queued for the log writer
my $row = $dbh->selectrow_hashref(q{SELECT tool_used, client_name, client_version, user_agent, session_id, response_format,
    response_size_bytes > 0 AS sized FROM mcp.query_logs WHERE query_text = 'SELECT 42 AS logged_with_context'});
is_deeply($row, { tool_used => 'claude', client_name => 'claude-ai', client_version => '1.2', user_agent => 'Claude/1.0',
                  session_id => 's-1', response_format => 'markdown', sized => 1 }, 'client, session and size are logged');

# --- the cache ----------------------------------------------------------------------------
my $first = query($id, 'SELECT app, count(*) FROM events GROUP BY app ORDER BY app');
my $second = query($id, "SELECT app,  count(*)\n  FROM events -- same query\n GROUP BY app ORDER BY app");
ok(!$first->{cached} && $second->{cached}, 'the same normalized query is served from the cache');
is($second->{text}, $first->{text}, 'with the same answer');
$dbh->do(q{SELECT mcp.update_dataset($1, '{"description": "changed"}')}, undef, $id);
ok(!query($id, 'SELECT app, count(*) FROM events GROUP BY app ORDER BY app')->{cached}, 'changing the dataset empties its cache');
$dbh->do('SET mcp_analytics.cache_ttl = 0');
query($id, 'SELECT 7 AS uncached');
ok(!query($id, 'SELECT 7 AS uncached')->{cached}, 'cache_ttl = 0 turns the cache off');
$dbh->do('RESET mcp_analytics.cache_ttl');

# --- formats round-trip every type the demo uses ------------------------------------------
my $types = q{SELECT n, amount, day, at, platforms, doc, greeting FROM (VALUES
    (1, 12.50::numeric, DATE '2026-07-01', TIMESTAMPTZ '2026-07-01 10:30:00.25+05:30', ARRAY['mobile','ctv'], '{"a": [1, 2.5], "b": "x|y"}'::jsonb, E'नमस्ते | pipe, comma "quote"\nnewline \\ back'),
    (2, -0.000001::numeric, DATE '1999-12-31', TIMESTAMPTZ '2026-01-01 00:00:00+00', ARRAY[]::text[], 'null'::jsonb, ''),
    (3, NULL, NULL, NULL, NULL, NULL, NULL)) v(n, amount, day, at, platforms, doc, greeting) ORDER BY n};
$watcher->do('SET DateStyle = ISO');
my $expected = $watcher->selectall_arrayref(
    q{SELECT n::text, amount::text, day::text, at::text, platforms::text, doc::text, greeting FROM (} . $types . q{) t});

sub unescape_markdown {
    my ($cell) = @_;
    $cell =~ s/\\(.)/$1 eq 'n' ? "\n" : $1 eq 'r' ? "\r" : $1/ge;
    return $cell;
}
my @lines = split /\n/, query($id, $types, max_rows => 10)->{text};
splice @lines, 0, 2;  # header and separator
my @from_markdown = map {
    my @cells = map { unescape_markdown($_) } ($_ =~ /((?:[^|\\]|\\.)*)\|/g);
    shift @cells;  # the empty text before the first pipe
    [@cells]
} @lines;
# Markdown shows NULL and '' alike (an empty cell); CSV and JSON below tell them apart.
my $as_markdown = [map { [map { $_ // '' } @$_] } @$expected];
is_deeply(\@from_markdown, $as_markdown, 'markdown round-trips numeric, date, timestamptz, arrays, jsonb and unicode text');

sub parse_csv {
    my ($text) = @_;
    my (@rows, @row, $field, $quoted);
    my @chars = split //, $text;
    $field = undef;
    for (my $i = 0; $i <= @chars; $i++) {
        my $c = $chars[$i];
        if ($quoted) {
            if ($c eq '"' && ($chars[$i + 1] // '') eq '"') { $field .= '"'; $i++ }
            elsif ($c eq '"') { $quoted = 0 }
            else { $field .= $c }
        } elsif (!defined $c || $c eq "\n") { push @row, $field; push @rows, [@row]; @row = (); $field = undef; }
        elsif ($c eq ',') { push @row, $field; $field = undef }
        elsif ($c eq '"') { $quoted = 1; $field //= '' }
        else { $field = ($field // '') . $c }
    }
    return \@rows;
}
my $csv_rows = parse_csv(query($id, $types, max_rows => 10, format => 'csv')->{text});
shift @$csv_rows;
is_deeply($csv_rows, $expected, 'CSV round-trips them, NULL (empty) and \'\' ("") apart');

my $rows = query($id, $types, max_rows => 10, format => 'json')->{rows};
is($rows->[0][1], 12.50, 'JSON: numeric is a number');
is($rows->[1][1], -0.000001, 'JSON: a small numeric keeps its value');
is($rows->[0][2], '2026-07-01', 'JSON: date is its ISO text');
is($rows->[0][3], $expected->[0][3], 'JSON: timestamptz is PostgreSQL\'s text');
is($rows->[0][4], '{mobile,ctv}', 'JSON: arrays keep PostgreSQL\'s literal');
is_deeply($rows->[0][5], { a => [1, 2.5], b => 'x|y' }, 'JSON: jsonb is embedded as JSON');
is($rows->[0][6], $expected->[0][6], 'JSON: unicode text with pipes, quotes and newlines is exact');
is($rows->[2][1], undef, 'JSON: NULL is null');


done_testing();
