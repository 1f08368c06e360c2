# .data/run.env, as `make run` writes it (test/support/run_env.sh, the function it calls): in
# bash, `. .data/run.env` gives exactly the values written, and a dotenv parser (Node's
# util.parseEnv, what `node --env-file` uses) reads the same values. Values with `&`, `?`, `$`,
# spaces and backquotes stay literal; values no quoting can carry in both are refused.
use strict;
use warnings;
use FindBin;
use File::Temp qw(tempdir);
use Test::More;

my $support = "$FindBin::Bin/../support";
my $dir = tempdir(CLEANUP => 1);
my $file = "$dir/run.env";

# What make run writes, and worse.
my @pairs = (
    DATABASE_URL   => 'postgresql://postgres@/mcp_analytics?host=/var/run/x y/socket&port=5433',
    PGHOST         => '/var/lib/mcp analytics/socket',
    PGPORT         => '5433',
    MCP_BRIDGE_URL => 'http://127.0.0.1:8080',
    MCP_URL        => 'http://127.0.0.1:8080/mcp',
    MCP_API_KEY    => 'mcp_ab12_$HOME`id`"quoted" #not-a-comment \\n',
    EMPTY          => '',
);
my %expected = @pairs;

sub write_env {
    my ($target, @args) = @_;
    my $pid = open(my $out, '-|') // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec 'bash', '-c', '. "$1"; shift; write_run_env "$@"', 'bash', "$support/run_env.sh", $target, 'test', @args;
        die "exec: $!";
    }
    my $output = do { local $/; <$out> };
    close $out;
    return ($? == 0, $output);
}

my ($written, $output) = write_env($file, @pairs);
ok($written, 'write_run_env wrote the file') or diag $output;
is((stat $file)[2] & 0777, 0600, 'the file is private (0600): it holds the API key');

# Shell: source it in a clean bash and print every variable, NUL-separated.
my @names = grep { !ref } map { $pairs[$_] } grep { $_ % 2 == 0 } 0 .. $#pairs;
my $script = '. "$1" && for name in ' . join(' ', @names) . '; do printf "%s=%s\0" "$name" "${!name-UNSET}"; done';
open(my $shell, '-|', 'env', '-i', 'PATH=/usr/bin:/bin', 'HOME=/nonexistent', 'bash', '--norc', '-c', $script, 'bash', $file)
    or die "bash: $!";
my %from_shell = map { split /=/, $_, 2 } grep { length } split /\0/, do { local $/; <$shell> };
close $shell;
is($?, 0, 'bash sources the file without an error');
is_deeply(\%from_shell, \%expected, '. run.env in bash gives exactly the values written');

# dotenv: Node's parser, the one behind `node --env-file`.
open(my $node, '-|', 'node', '-e', 'const fs = require("fs"); const util = require("util");
    process.stdout.write(JSON.stringify(util.parseEnv(fs.readFileSync(process.argv[1], "utf8"))));', $file)
    or die "node: $!";
my $json = do { local $/; <$node> };
close $node;
require JSON::PP;
is_deeply(JSON::PP::decode_json($json), \%expected, 'a dotenv parser reads the same values');

# Values that no single spelling carries in both: refused, and the old file stays.
for my $bad ("it's", "two\nlines") {
    my ($ok, $message) = write_env($file, MCP_API_KEY => $bad);
    ok(!$ok, 'a value with ' . ($bad =~ /'/ ? 'a single quote' : 'a line break') . ' is refused');
    like($message, qr/quote or a line break/, 'with a message that says why');
}
my ($ok_name, $message_name) = write_env($file, 'bad-name' => 'x');
ok(!$ok_name, 'a name that is not a shell variable is refused');
my ($ok_odd, $message_odd) = write_env($file, 'LONELY');
ok(!$ok_odd, 'a name without a value is refused');
open(my $kept, '<', $file) or die;
like(do { local $/; <$kept> }, qr/^MCP_URL='http/m, 'a refused write leaves the last good file');

# The README's line works as written: `. .data/run.env && psql "$DATABASE_URL" ...`, with the
# URL make run writes (a socket folder and a port in its query string), on the test cluster.
SKIP: {
    skip 'no test cluster (PGHOST, PGPORT)', 2 unless $ENV{PGHOST} && $ENV{PGPORT};
    my $live = "$dir/live.env";
    my ($ok_live, $out_live) = write_env($live, DATABASE_URL => "postgresql://postgres@/postgres?host=$ENV{PGHOST}&port=$ENV{PGPORT}",
                                         PGPORT => $ENV{PGPORT});
    ok($ok_live, 'a run.env for the test cluster') or diag $out_live;
    my $answer = `env -u PGHOST -u PGPORT -u PGDATABASE bash -c '. "\$1" && psql "\$DATABASE_URL" -XAtc "SELECT 40 + 2"' bash $live 2>&1`;
    is($answer, "42\n", '. run.env && psql "$DATABASE_URL" reaches the server');
}

# make run's own writer uses this function (not a copy of its own).
open(my $run_local, '<', "$support/run_local.sh") or die;
my $source = do { local $/; <$run_local> };
like($source, qr/write_run_env "\$ENV_FILE"/, 'make run writes .data/run.env through write_run_env');
done_testing();
