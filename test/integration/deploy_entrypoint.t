# The image's entrypoint (deploy/entrypoint.sh), run outside a container as the image runs
# it (as the server's user): `init` brings up an empty data folder, a second run changes
# nothing, a 0.1.0 metadata database is upgraded with its data intact, a changed secret
# rotates one password, and bad input fails with a message that says what to do.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use File::Path qw(make_path remove_tree);
use TestDb qw(connect_db);

my $root = "$FindBin::Bin/../..";
my $entrypoint = "$root/deploy/entrypoint.sh";
my $work = $ENV{MCP_TEST_WORK} or die 'MCP_TEST_WORK is not set';
chomp(my $postgres = `sh -c 'command -v postgres'`);
(my $bindir = $postgres) =~ s{/postgres$}{};
ok(-x "$bindir/initdb", "PostgreSQL binaries in $bindir");

my $dir = "$work/entrypoint";
remove_tree($dir);
make_path("$dir/secrets");
sub write_file { my ($file, $text) = @_; open my $fh, '>', $file or die "$file: $!"; print $fh $text; close $fh; }
write_file("$dir/secrets/key", join('', map { sprintf '%02x', int rand 256 } 1 .. 32) . "\n");
write_file("$dir/secrets/postgres_password", "superuser-" . int(rand 1e9) . "\n");
write_file("$dir/secrets/bridge_password", "bridge-" . int(rand 1e9) . "\n");
chmod 0644, glob "$dir/secrets/*";  # as a bind-mounted secret may be: the entrypoint copies the key
our $as_server = $> == 0 ? 'runuser -u postgres --' : '';
system("chown -R postgres $dir") if $> == 0;

chomp(my $port = `$root/test/support/pg_cluster.sh free-port 56400`);
my %env = (PG_BINDIR => $bindir, MCP_STATE_DIR => "$dir/state", MCP_RUNTIME_DIR => "$dir/run",
           MCP_PG_PORT => $port, MCP_PG_LISTEN => '127.0.0.1',
           MCP_ANALYTICS_KEY_FILE => "$dir/secrets/key",
           MCP_POSTGRES_PASSWORD_FILE => "$dir/secrets/postgres_password",
           MCP_BRIDGE_DB_PASSWORD_FILE => "$dir/secrets/bridge_password");
my $pgdata = "$dir/state/pgdata";
# A failing test must not leave a server behind.
END { system("$as_server $bindir/pg_ctl -D $pgdata -m immediate stop >/dev/null 2>&1") if $bindir && -f "$pgdata/postmaster.pid"; }

sub run_entrypoint {
    my (%extra) = @_;
    my %all = (%env, %extra);
    my $assignments = join ' ', map { defined $all{$_} ? "$_='$all{$_}'" : () } sort keys %all;
    my $output = `$as_server env -u PGHOST -u PGPORT -u PGOPTIONS $assignments $entrypoint init 2>&1`;
    return ($? == 0, $output);
}

sub server {  # start|stop, on the entrypoint's private socket and 127.0.0.1
    my ($action) = @_;
    my $options = $action eq 'start' ? "-o \"-c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir/run/socket\"" : '-m fast';
    system("$as_server $bindir/pg_ctl -D $pgdata -w -l $dir/server.log $options $action >/dev/null") == 0
        or BAIL_OUT("pg_ctl $action failed");
}
sub db {
    my ($dbname, $user, $password) = @_;
    my $dsn = $user ? "dbi:Pg:dbname=$dbname;host=127.0.0.1;port=$port" : "dbi:Pg:dbname=$dbname;host=$dir/run/socket;port=$port";
    return DBI->connect($dsn, $user // 'postgres', $password // '', { RaiseError => 0, PrintError => 0, AutoCommit => 1 });
}

# Everything `init` manages: the files it writes and the state it creates in the database.
sub fingerprint {
    my %print;
    for my $file (qw(postgresql.conf pg_hba.conf conf.d/00_mcp_analytics.conf mcp_deploy_secrets)) {
        $print{$file} = `sha256sum $pgdata/$file 2>/dev/null` =~ s/ .*//sr;
    }
    $print{admin_api_key} = `sha256sum $dir/state/admin_api_key 2>/dev/null` =~ s/ .*//sr;
    server('start');
    my $dbh = db('postgres');
    $print{roles} = join ';', @{$dbh->selectcol_arrayref(
        q{SELECT rolname || ':' || coalesce(rolpassword, '') || ':' || rolcanlogin FROM pg_authid WHERE rolname !~ '^pg_' ORDER BY 1})};
    $print{databases} = join ';', @{$dbh->selectcol_arrayref(q{SELECT datname FROM pg_database ORDER BY 1})};
    $dbh->disconnect;
    my $meta = db('mcp_analytics');
    if ($meta) {
        $print{extension} = $meta->selectrow_array(q{SELECT extversion FROM pg_extension WHERE extname = 'mcp_analytics'});
        $print{api_keys} = join ';', @{$meta->selectcol_arrayref(q{SELECT name || ':' || encode(secret_hash, 'hex') FROM mcp.api_keys ORDER BY id})};
        $meta->disconnect;
    }
    server('stop');
    return \%print;
}

# --- an empty data folder ----------------------------------------------------------------------
my ($ok, $output) = run_entrypoint();
ok($ok, 'init brings up an empty data folder') or diag $output;
like($output, qr/initialised a new data folder/, 'it says it ran initdb');
like($output, qr/created extension mcp_analytics \d+\.\d+\.\d+/, 'and created the extension');
like($output, qr/created role mcp_bridge/, "and the bridge's role");
is((stat "$dir/state/admin_api_key")[2] & 0777, 0600, 'the admin API key is written to a private file');
my $first = fingerprint();
is($first->{extension}, '0.4.0', 'the metadata database runs the current extension');

# --- the same again: nothing changes ------------------------------------------------------------
($ok, $output) = run_entrypoint();
ok($ok, 'a second init succeeds');
like($output, qr/nothing changed/, 'and says it changed nothing');
unlike($output, qr/created|wrote|set the password|upgraded|initialised/, 'no step ran');
is_deeply(fingerprint(), $first, 'files, roles, passwords, databases, extension and keys are as they were');

# --- what was made works ---------------------------------------------------------------------------
server('start');
chomp(my $bridge_password = `cat $dir/secrets/bridge_password`);
my $bridge = db('mcp_analytics', 'mcp_bridge', $bridge_password);
ok($bridge, 'the bridge role signs in over TCP with its password (scram-sha-256)') or diag $DBI::errstr;
ok(!db('mcp_analytics', 'mcp_bridge', 'wrong'), 'a wrong password is refused');
is(scalar $bridge->selectrow_array(q{SELECT pg_has_role('mcp_admin', 'MEMBER') AND NOT rolsuper FROM pg_roles WHERE rolname = current_user}),
   1, 'the bridge role is an mcp_admin, not a superuser');
chomp(my $api_key = `cat $dir/state/admin_api_key`);
is(scalar $bridge->selectrow_array('SELECT role FROM mcp.authenticate($1)', undef, $api_key), 'admin',
   'the admin API key authenticates');
$bridge->disconnect;
my $postgres_db = db('postgres');
my $meta = db('mcp_analytics');
like(scalar $meta->selectrow_array(q{SELECT mcp.key_status() ->> 'configured_key_id'}), qr/^[0-9a-f]{8,}$/,
     'the server reads its private copy of the key') or diag $meta->errstr;
$meta->disconnect;
is(scalar $postgres_db->selectrow_array(q{SELECT current_setting('shared_preload_libraries')}), 'mcp_analytics',
   'the library is preloaded (job workers, retention)');

# --- a 0.1.0 metadata database is upgraded with its data -----------------------------------------
$postgres_db->do('DROP DATABASE mcp_analytics') or diag $postgres_db->errstr;
$postgres_db->do('CREATE DATABASE mcp_analytics');
$postgres_db->disconnect;
my $old = db('mcp_analytics');
ok($old->do(q{CREATE EXTENSION mcp_analytics VERSION '0.1.0'}), 'a 0.1.0 metadata database') or diag $old->errstr;
$old->do(q{SELECT mcp.set_setting('rules.raw_rows', '"At most 2 raw rows."')});
$old->do(q{INSERT INTO mcp.query_logs (query_text, created_at) SELECT 'q' || g, now() - g * interval '1 hour' FROM generate_series(1, 50) g});
my ($old_key) = $old->selectrow_array(q{SELECT mcp.create_api_key('kept key', 'reader')});
$old->disconnect;
server('stop');
($ok, $output) = run_entrypoint();
ok($ok, 'init over the 0.1.0 database succeeds') or diag $output;
like($output, qr/upgraded extension mcp_analytics from 0\.1\.0 to 0\.4\.0/, 'it upgraded the extension');
server('start');
my $upgraded = db('mcp_analytics');
is(scalar $upgraded->selectrow_array(q{SELECT extversion FROM pg_extension WHERE extname = 'mcp_analytics'}), '0.4.0', 'now 0.4.0');
is(scalar $upgraded->selectrow_array('SELECT count(*) FROM mcp.query_logs'), 50, 'every log row is kept');
is(scalar $upgraded->selectrow_array(q{SELECT value #>> '{}' FROM mcp.settings() WHERE key = 'rules.raw_rows'}), 'At most 2 raw rows.',
   'the edited setting is kept');
is(scalar $upgraded->selectrow_array('SELECT name FROM mcp.authenticate($1)', undef, $old_key), 'kept key', 'the old API key still works');
$upgraded->disconnect;
server('stop');
($ok, $output) = run_entrypoint();
like($output, qr/nothing changed/, 'after the upgrade, init changes nothing');

# --- a new secret rotates one password, nothing else -------------------------------------------
write_file("$dir/secrets/bridge_password", "rotated-" . int(rand 1e9) . "\n");
($ok, $output) = run_entrypoint();
like($output, qr/set the password of role mcp_bridge/, 'a changed secret file sets the new password');
like($output, qr/1 change\(s\) made/, 'and nothing else');

# --- wrong input: clear messages -------------------------------------------------------------------
($ok, $output) = run_entrypoint(MCP_ANALYTICS_KEY_FILE => undef);
ok(!$ok, 'no key file: init fails');
like($output, qr/MCP_ANALYTICS_KEY_FILE is not set.*openssl rand -hex 32/, 'saying how to make one');
write_file("$dir/secrets/short_key", "abc\n");
system("chown postgres $dir/secrets/short_key") if $> == 0;
($ok, $output) = run_entrypoint(MCP_ANALYTICS_KEY_FILE => "$dir/secrets/short_key");
ok(!$ok && $output =~ /64 hex digits/, 'a malformed key is refused before the server starts');
make_path("$dir/other/pgdata");
write_file("$dir/other/pgdata/stray.txt", "not a database\n");
system("chown -R postgres $dir/other") if $> == 0;
($ok, $output) = run_entrypoint(MCP_STATE_DIR => "$dir/other");
ok(!$ok && $output =~ /neither empty nor a PostgreSQL data folder/, 'a folder with other files is not touched');

# --- started as root (the image's default): a root-owned fresh volume and root-only secrets ---
SKIP: {
    skip 'needs root', 5 unless $> == 0;
    my $fresh = "$dir/root_start";
    make_path("$fresh/state", "$fresh/secrets");
    system("cp $dir/secrets/key $dir/secrets/postgres_password $dir/secrets/bridge_password $fresh/secrets/");
    system("chown -R root:root $fresh && chmod 600 $fresh/secrets/* && chmod 755 $fresh && chmod 700 $fresh/state");
    chomp(my $root_port = `$root/test/support/pg_cluster.sh free-port 56500`);
    my $as_root = `env -u PGHOST -u PGPORT -u PGOPTIONS PG_BINDIR='$bindir' MCP_STATE_DIR='$fresh/state' MCP_RUNTIME_DIR='$fresh/run' MCP_PG_PORT=$root_port MCP_PG_LISTEN=127.0.0.1 MCP_ANALYTICS_KEY_FILE='$fresh/secrets/key' MCP_POSTGRES_PASSWORD_FILE='$fresh/secrets/postgres_password' MCP_BRIDGE_DB_PASSWORD_FILE='$fresh/secrets/bridge_password' $entrypoint init 2>&1`;
    is($?, 0, 'as root, init succeeds on a root-owned volume with root-only secret files') or diag $as_root;
    like($as_root, qr/created extension mcp_analytics/, 'and sets the database up');
    is(scalar getpwuid((stat "$fresh/state")[4]), 'postgres', 'the volume was handed to postgres');
    is(scalar getpwuid((stat "$fresh/state/pgdata/PG_VERSION")[4]), 'postgres', 'the server files are postgres\'s');
    is(scalar getpwuid((stat "$fresh/secrets/key")[4]), 'root', 'the secret files themselves are left alone (private copies are used)');
    remove_tree($fresh);
}

remove_tree($dir);
done_testing();
