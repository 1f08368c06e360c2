# A dataset password passed as a bind parameter appears in no result, no error, no server
# log line (default logging) and not in pg_stat_activity, also while a call is in flight.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use DBD::Pg qw(:async);
use Time::HiRes qw(time sleep);
use TestDb qw(connect_db demo_conninfo_with silent_listener);

my $marker = sprintf('Sekrit-%08x%08x', int(rand(2**32)), int(rand(2**32)));
my $admin = connect_db('mcp_demo');
$admin->do("CREATE ROLE secret_probe LOGIN PASSWORD " . $admin->quote($marker)) or die $admin->errstr;
$admin->do('GRANT SELECT ON ALL TABLES IN SCHEMA public TO secret_probe');

my $dbh = connect_db('mcp_tap');
my $watcher = connect_db('mcp_tap');
my $register = $dbh->prepare('SELECT mcp.register_dataset($1, $2)');

ok($register->execute('secret_probe_ok', demo_conninfo_with('secret_probe', $marker)),
   'registration with the password as a bind parameter succeeds');
my ($id) = $register->fetchrow_array;

# Errors that happen after the string was parsed, with the same password inside.
for my $case (['secret_probe_bad_db', demo_conninfo_with('secret_probe', $marker, 'no_such_db'), '3D000'],
              ['secret_probe_refused', "host=127.0.0.1 port=1 user=x password=$marker", '08001'],
              ['secret_probe_malformed', "host=127.0.0.1 password $marker", '22023'],
              ['secret_probe_uri', "postgresql://u:$marker\@[::1/db", '22023']) {
    my ($name, $conninfo, $state) = @$case;
    ok(!$register->execute($name, $conninfo), "$name fails");
    is($dbh->state, $state, "$name: SQLSTATE $state");
    unlike($dbh->errstr, qr/\Q$marker\E/, "$name: the error does not show the password");
}

my ($activity) = $watcher->selectrow_array('SELECT query FROM pg_stat_activity WHERE pid = $1',
                                           undef, $dbh->{pg_pid});
like($activity, qr/register_dataset\(\$1, \$2\)/, 'pg_stat_activity shows the placeholders');
unlike($activity, qr/\Q$marker\E/, 'pg_stat_activity does not show the password');

# While a registration waits on a server that never answers, look at it from outside.
my ($listener, $port) = silent_listener();
my $async_register = $dbh->prepare('SELECT mcp.register_dataset($1, $2)', { pg_async => PG_ASYNC });
my $started = time;
$async_register->execute('secret_probe_hang', "host=127.0.0.1 port=$port user=x password=$marker connect_timeout=3");
sleep 0.5;
my ($in_flight, $wait_type) = $watcher->selectrow_array(
    'SELECT query, wait_event_type FROM pg_stat_activity WHERE pid = $1', undef, $dbh->{pg_pid});
unlike($in_flight, qr/\Q$marker\E/, 'pg_stat_activity does not show the password mid-call');
is($wait_type, 'Extension', 'the backend waits on its latch (interruptible), not in libpq');
$dbh->pg_result;
my $elapsed = time - $started;
is($dbh->state, '08001', 'a server that never answers is reported as unreachable');
like($dbh->errstr, qr/timed out/, 'the error says it timed out');
cmp_ok($elapsed, '<', 8, 'the connect timeout bounds the wait');

# Cancelling a registration that is waiting works at once.
$async_register->execute('secret_probe_cancel', "host=127.0.0.1 port=$port user=x password=$marker connect_timeout=60");
sleep 0.5;
$started = time;
$watcher->do('SELECT pg_cancel_backend($1)', undef, $dbh->{pg_pid});
$dbh->pg_result;
is($dbh->state, '57014', 'pg_cancel_backend interrupts the wait');
cmp_ok(time - $started, '<', 5, 'and does so promptly');
ok($dbh->selectrow_array('SELECT 1'), 'the session is usable afterwards');

my ($shown) = $dbh->selectrow_array('SELECT row_to_json(d)::text FROM mcp.dataset($1) d', undef, $id);
unlike($shown, qr/\Q$marker\E/, 'mcp.dataset() does not show the password');
my ($probe) = $dbh->selectrow_array('SELECT mcp.test_connection($1)::text', undef, $id);
like($probe, qr/"ok": true/, 'the stored string still works');
unlike($probe, qr/\Q$marker\E/, 'test_connection does not show the password');

# The server log, as written so far (logging at default settings).
open my $log, '<', $ENV{MCP_TEST_LOG} or die "log: $!";
my $log_text = do { local $/; <$log> };
close $log;
like($log_text, qr/secret_probe|register_dataset/, 'the failures were logged');
unlike($log_text, qr/\Q$marker\E/, 'no server log line contains the password');

$dbh->do('SELECT mcp.delete_dataset($1)', undef, $id);
$admin->do('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM secret_probe');
$admin->do('DROP ROLE secret_probe');
done_testing();
