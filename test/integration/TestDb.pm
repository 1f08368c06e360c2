# Helpers shared by the integration tests: connections to the test cluster that
# test/run_tests.sh started (PGHOST, PGPORT and MCP_TEST_* come from it).
package TestDb;
use strict;
use warnings;
use DBI;
use Exporter 'import';
our @EXPORT_OK = qw(connect_db psql_ok demo_conninfo_with silent_listener);

sub connect_db {
    my ($dbname, %attributes) = @_;
    my $dbh = DBI->connect("dbi:Pg:dbname=$dbname", 'postgres', '',
        { RaiseError => 0, PrintError => 0, AutoCommit => 1, pg_server_prepare => 1,
          AutoInactiveDestroy => 1, %attributes })  # a forked child must not close our sessions
        or die "cannot connect to $dbname: $DBI::errstr";
    $dbh->do('SET client_min_messages = error');
    return $dbh;
}

# Runs psql with the given arguments; returns true on success.
sub psql_ok { return system('psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', @_) == 0; }

# The demo dataset's connection string with another user and password.
sub demo_conninfo_with {
    my ($user, $password, $dbname) = @_;
    $dbname //= 'mcp_demo';
    return "host=127.0.0.1 port=$ENV{MCP_TEST_PORT} dbname=$dbname user=$user password=$password";
}

# A loopback TCP listener that accepts connections and never answers: a dataset server that
# hangs. Returns the socket (keep it alive) and its port.
sub silent_listener {
    require IO::Socket::INET;
    my $socket = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1', LocalPort => 0,
                                       Proto => 'tcp', ReuseAddr => 1) or die "listen: $!";
    return ($socket, $socket->sockport);
}

1;
