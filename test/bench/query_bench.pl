# Figures for query execution (make bench): execute_query('SELECT 1') against a raw libpq
# round trip on the same dataset, 30 slow queries in parallel against one after another and
# the ideal, and the o200k token count of a 100-row result in each format. Prints figures and
# ratios; never fails on a timing.
use strict;
use warnings;
use DBI;
use JSON::PP;
use Time::HiRes qw(time);

my $rounds = $ENV{ROUNDS} // 2000;
my $json = JSON::PP->new->canonical;
my $meta = DBI->connect('dbi:Pg:dbname=mcp_bench', 'postgres', '', { RaiseError => 1, pg_server_prepare => 1 });
my $dataset = DBI->connect("dbi:Pg:$ENV{BENCH_DATASET_DSN}", 'mcp_demo_reader', $ENV{BENCH_DATASET_PASSWORD},
                           { RaiseError => 1, pg_server_prepare => 1 });
my ($id) = $meta->selectrow_array('SELECT id FROM mcp.datasets() WHERE name = $1', undef, 'bench_demo');

# One line per headline figure for make bench's report (test/bench/report.sh).
sub report {
    my ($label, $value, $unit, $baseline_label, $baseline, $target) = @_;
    return unless $ENV{BENCH_REPORT};
    open my $out, '>>', $ENV{BENCH_REPORT} or die $!;
    printf $out "%s\t%.3f\t%s\t%s\t%.3f\t%s\n", $label, $value, $unit, $baseline_label, $baseline, $target;
    close $out;
}

# Where execute_query's time went in this backend since the last call (mcp.execution_phases).
sub print_phases {
    my ($title) = @_;
    my ($json) = $meta->selectrow_array('SELECT mcp.execution_phases(true)::text');
    my $phases = JSON::PP->new->decode($json);
    print "    phases, $title (mean per call):";
    for my $name (qw(arguments dataset_lookup guard cache_lookup remote_connect remote_pipeline format cache_store log_write total)) {
        my $p = $phases->{$name};
        next unless $p->{calls};
        printf " %s %.0f us;", $name, $p->{mean_us} * $p->{calls} / ($phases->{total}{calls} || 1);
    }
    print "\n";
}

sub percentile {
    my ($sorted, $p) = @_;
    return $sorted->[int($p * (@$sorted - 1) + 0.5)];
}

sub measure {
    my ($label, $run) = @_;
    $run->() for 1 .. 50;  # warm-up: connections, caches, plans
    my @times;
    for (1 .. $rounds) {
        my $t = time;
        $run->();
        push @times, (time - $t) * 1e6;
    }
    my @sorted = sort { $a <=> $b } @times;
    my $mean = 0;
    $mean += $_ for @times;
    $mean /= @times;
    printf "  %-44s mean %8.1f us   p50 %8.1f us   p95 %8.1f us\n", $label, $mean,
        percentile(\@sorted, 0.5), percentile(\@sorted, 0.95);
    return percentile(\@sorted, 0.5);
}

print "== execute_query('SELECT 1') against a raw libpq round trip ($rounds rounds each)\n";
my $raw_sth = $dataset->prepare('SELECT 1');
my $raw = measure('raw round trip to the dataset', sub { $raw_sth->execute; $raw_sth->fetchall_arrayref });
my $call = $meta->prepare('SELECT mcp.execute_query($1, $2)');
$meta->do('SET mcp_analytics.cache_ttl = 0');
$meta->selectrow_array('SELECT mcp.execution_phases(true)');
my $uncached = measure('execute_query, cache off', sub { $call->execute($id, 'SELECT 1'); $call->fetchall_arrayref });
print_phases('cache off');
$meta->do('RESET mcp_analytics.cache_ttl');
my $cached = measure('execute_query, cache on (hits)', sub { $call->execute($id, 'SELECT 1'); $call->fetchall_arrayref });
print_phases('cache on');
report('execute_query SELECT 1, cache off, p50 (ms)', $uncached / 1000, 'ms', 'raw libpq SELECT 1 p50', $raw / 1000, '<= raw + 0.3 ms');
report('execute_query SELECT 1, cache hit, p50 (ms)', $cached / 1000, 'ms', 'raw libpq SELECT 1 p50', $raw / 1000, '<= raw + 0.3 ms');
printf "  ratio (p50): execute_query %.1fx a raw round trip (cache off), %.1fx (cache hits)\n",
    $uncached / $raw, $cached / $raw;
print "  (execute_query = guard + catalog look-ups + BEGIN READ ONLY / DECLARE / FETCH / COMMIT on a\n",
      "   pooled connection + formatting + a query-log row; the raw trip is one simple query)\n";

print "\n== 30 slow-but-allowed queries (0.2 s each on the dataset)\n";
$meta->do('SET mcp_analytics.cache_ttl = 0');
my $batch = $json->encode([map { { dataset_id => $id, sql => "SELECT trap.slow(0.2), $_ AS n" } } 1 .. 30]);
for my $concurrency (30, 8, 1) {
    my $t = time;
    my ($answer) = $meta->selectrow_array('SELECT mcp.execute_multi_query($1, $2)::text', undef, $batch, $concurrency);
    my $elapsed = time - $t;
    my $ok = $json->decode($answer)->{succeeded};
    my $ideal = 0.2 * int((30 + $concurrency - 1) / $concurrency);
    printf "  max_concurrency %2d: %6.2f s  (ideal %.1f s, %.2fx the ideal; %d/30 ok)\n",
        $concurrency, $elapsed, $ideal, $elapsed / $ideal, $ok;
    report("execute_multi_query 30 x 0.2 s, concurrency $concurrency (s)", $elapsed, 's',
           'ceil(30/concurrency) x 0.2 s', $ideal, '<= 1.15x');
}
# Above, concurrency 30 opens most of its 30 connections (SCRAM authentication each); a backend
# that keeps them (mcp_analytics.pool_size = 30) shows what the queries themselves cost.
$meta->do('SET mcp_analytics.pool_size = 30');
$meta->selectrow_array('SELECT mcp.execute_multi_query($1, 30)', undef, $batch);
{
    my $t = time;
    my ($answer) = $meta->selectrow_array('SELECT mcp.execute_multi_query($1, $2)::text', undef, $batch, 30);
    my $elapsed = time - $t;
    my $ok = $json->decode($answer)->{succeeded};
    printf "  max_concurrency 30, connections kept (mcp_analytics.pool_size = 30): %6.2f s  (%.2fx the ideal; %d/30 ok)\n",
        $elapsed, $elapsed / 0.2, $ok;
    report('execute_multi_query 30 x 0.2 s, concurrency 30, pooled (s)', $elapsed, 's',
           'ceil(30/concurrency) x 0.2 s', 0.2, '<= 1.15x');
}
$meta->do('RESET mcp_analytics.pool_size');

print "\n== o200k tokens of a 100-row result, per format\n";
my $hundred = 'SELECT user_id, count(*) AS events, sum(spend_inr) AS spend_inr, min(event_ts) AS first_event, '
            . 'max(platform) AS platform FROM events GROUP BY user_id ORDER BY user_id LIMIT 100';
my %texts;
for my $format (qw(markdown csv json)) {
    my ($answer) = $meta->selectrow_array('SELECT mcp.execute_query($1, $2, 100, $3)::text', undef, $id, $hundred, $format);
    my $result = $json->decode($answer);
    $texts{$format} = $format eq 'json' ? $json->encode({ columns => $result->{columns}, rows => $result->{rows} })
                                        : $result->{text};
}
# Baselines: the original plan's padded markdown table and a JSON array of objects.
my $rows = $dataset->selectall_arrayref($hundred, { Slice => {} });
my @names = qw(user_id events spend_inr first_event platform);
my @width = map { my $n = $_; my $w = length $n; for (@$rows) { $w = length($_->{$n} // '') if length($_->{$n} // '') > $w } $w } @names;
my $padded = '| ' . join(' | ', map { sprintf "%-*s", $width[$_], $names[$_] } 0 .. $#names) . " |\n"
           . '|' . join('|', map { '-' x ($width[$_] + 2) } 0 .. $#names) . "|\n";
for my $row (@$rows) {
    $padded .= '| ' . join(' | ', map { sprintf "%-*s", $width[$_], $row->{$names[$_]} // '' } 0 .. $#names) . " |\n";
}
$texts{'baseline: padded markdown'} = $padded;
$texts{'baseline: JSON objects'} = $json->encode({ results => $rows });

open my $counter, '|-', "node $ENV{BENCH_TOKEN_SCRIPT} > $ENV{BENCH_WORK}/tokens.tsv" or die $!;
print $counter $json->encode(\%texts);
close $counter or die "token counting failed";
open my $counts, '<', "$ENV{BENCH_WORK}/tokens.tsv" or die $!;
my %tokens = map { chomp; my ($name, $t, $b) = split /\t/; ($name => [$t, $b]) } <$counts>;
my $base = $tokens{markdown}[0];
for my $name (sort { $tokens{$a}[0] <=> $tokens{$b}[0] } keys %tokens) {
    printf "  %-28s %6d tokens  %7d bytes  (%.2fx markdown)\n", $name, @{ $tokens{$name} }, $tokens{$name}[0] / $base;
}
