# Weighted estimates against R's survey package (the reference survey statisticians trust):
# randomized panels (hundreds of groups, skewed weights, bases from 1 user to thousands, users
# without a positive weight), every measure of weighted_query, compared value by value, SE by
# SE, interval by interval within 1e-6 relative. The same compiled SQL then runs on a database
# without mcp_analytics, and through mcp.weighted_query on a registered dataset, with the same
# figures.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use TestDb qw(connect_db psql_ok);

my $rscript = `command -v Rscript 2>/dev/null`;
chomp $rscript;
plan skip_all => 'Rscript not installed (test/support/install_deps.sh installs r-base-core r-cran-survey)'
    unless $rscript;
system($rscript, '-e', 'suppressPackageStartupMessages(library(survey))') == 0
    or plan skip_all => 'R package survey not installed (Debian r-cran-survey)';

my $json = JSON::PP->new->canonical;
my $dir = tempdir(CLEANUP => 1);
my $tap = connect_db('mcp_tap');
my $plain_db = 'mcp_weighting_plain';
my $reader_password = 'wq-' . join('', map { int(rand(10)) } 1 .. 16);
my $dataset_id;

END {
    # Leave the cluster as we found it, also after a failure.
    if ($tap) {
        $tap->do('SELECT mcp.delete_dataset($1)', undef, $dataset_id) if $dataset_id;
        $tap->do('DROP SCHEMA IF EXISTS crosscheck CASCADE');
    }
    if (my $postgres = eval { connect_db('postgres') }) {
        $postgres->do("DROP DATABASE IF EXISTS $plain_db WITH (FORCE)");
        $postgres->do('DROP ROLE IF EXISTS weighting_reader');
    }
}

# ---- panels ----------------------------------------------------------------------------
srand(20260706);
sub normal { return sqrt(-2 * log(1 - rand())) * cos(6.283185307179586 * rand()); }

# users: [user_id, weight (undef = NULL), g, age]; events: [user_id, platform, type, spend]
sub make_panel {
    my (%o) = @_;
    my (@users, @events);
    for my $id (1 .. $o{users}) {
        my $g = $id <= 6 ? ($id == 1 ? 9001 : $id <= 3 ? 9002 : 9003)   # groups of 1, 2, 3 users
              : 1 + int($o{groups} * rand() ** 2.5);                     # skewed group sizes
        my $u = rand();
        my $weight = $u < 0.02 ? undef : $u < 0.03 ? 0 : $u < 0.035 ? -1.5
                   : sprintf('%.17g', exp(1.4 * normal()));              # lognormal: heavy skew
        my $age = 15 + int(56 * rand());
        push @users, [$id, $weight, $g, $age];
        my $rate = rand() < 0.1 ? 0 : 0.2 + 3 * rand();
        my $count = int(-log(1 - rand()) * $rate);
        for (1 .. $count) {
            my $purchase = rand() < 0.12;
            push @events, [$id, rand() < 0.7 ? 'mobile' : 'ctv', $purchase ? 'purchase' : 'view',
                           $purchase ? sprintf('%.2f', exp(3 + normal())) : 0];
        }
    }
    return (\@users, \@events);
}

my $purchase = q{event_type = 'purchase'};
my @specs = (
    [reach_pct_g   => 'reach_pct', 1, 0, '', {measure => 'reach_pct', event_table => 'crosscheck.events', event_filter => $purchase, group_by => ['g']}],
    [reach_g       => 'reach', 1, 0, '', {measure => 'reach', event_table => 'crosscheck.events', event_filter => $purchase, group_by => ['g']}],
    [reach_all     => 'reach', 0, 0, '', {measure => 'reach', event_table => 'crosscheck.events', event_filter => $purchase}],
    [share_g       => 'share', 1, 0, '', {measure => 'share', condition => 'age >= 40', group_by => ['g']}],
    [mean_spend_g  => 'mean_spend', 1, 0, '', {measure => 'mean', metric => 'sum(spend)', event_table => 'crosscheck.events', event_filter => $purchase, group_by => ['g']}],
    [avg_freq_g    => 'avg_frequency', 1, 0, '', {measure => 'avg_frequency', event_table => 'crosscheck.events', event_filter => $purchase, group_by => ['g']}],
    [projected_g   => 'projected_events', 1, 0, '', {measure => 'projected_events', event_table => 'crosscheck.events', group_by => ['g']}],
    [projected_all => 'projected_events', 0, 0, '', {measure => 'projected_events', event_table => 'crosscheck.events'}],
    [mean_age_g    => 'mean_age', 1, 0, '', {measure => 'mean', metric => 'age', group_by => ['g']}],
    [reach_pct_platform => 'reach_pct', 0, 1, '', {measure => 'reach_pct', event_table => 'crosscheck.events', group_by => ['events.platform']}],
    [reach_g_platform   => 'reach', 1, 1, '', {measure => 'reach', event_table => 'crosscheck.events', group_by => ['g', 'events.platform']}],
    [reach_pct_adults_g => 'reach_pct', 1, 0, 'age >= 25', {measure => 'reach_pct', event_table => 'crosscheck.events', event_filter => $purchase, user_filter => 'age >= 25', group_by => ['g']}],
    [quantile_g    => 'quantile', 1, 0, '', {measure => 'quantile', metric => 'age', q => 0.3, group_by => ['g']}],
);

sub write_csv {
    my ($file, $header, $rows) = @_;
    open my $out, '>', "$dir/$file" or die "$file: $!";
    print $out "$header\n";
    print $out join(',', map { $_ // '' } @$_), "\n" for @$rows;
    close $out;
}

sub load_panel {
    my ($dbh, $users, $events) = @_;
    $dbh->do('DROP SCHEMA IF EXISTS crosscheck CASCADE');
    $dbh->do('CREATE SCHEMA crosscheck');
    $dbh->do('CREATE TABLE crosscheck.users (user_id int PRIMARY KEY, weight float8, g int, age int)');
    $dbh->do('CREATE TABLE crosscheck.events (user_id int, platform text, event_type text, spend numeric)');
    for ([users => $users], [events => $events]) {
        my ($table, $rows) = @$_;
        $dbh->do("COPY crosscheck.$table FROM STDIN");
        $dbh->pg_putcopydata(join("\t", map { $_ // '\N' } @$_) . "\n") for @$rows;
        $dbh->pg_putcopyend();
    }
    $dbh->do('ANALYZE crosscheck.users');
    $dbh->do('ANALYZE crosscheck.events');
}

sub close_enough {
    my ($ours, $theirs) = @_;
    return 1 if !defined $ours && !defined $theirs;
    return 0 if !defined $ours || !defined $theirs;
    my $scale = abs($ours) > abs($theirs) ? abs($ours) : abs($theirs);
    return abs($ours - $theirs) <= 1e-6 * $scale + 1e-12;
}

sub our_rows {
    my ($spec) = @_;
    my ($answer) = $tap->selectrow_array(
        q{SELECT mcp.weighted_query_local($1::jsonb, 'crosscheck.users', 'user_id', 'weight')},
        undef, $json->encode($spec));
    die "weighted_query_local failed: " . $tap->errstr unless defined $answer;
    return $json->decode($answer);
}

sub key_of { my ($row) = @_; return join '|', $row->{g} // '', $row->{platform} // ''; }

my %coverage = (tiny => 0, capped => 0, p0 => 0, p1 => 0, groups => 0);
for my $panel ([large => 30000, 300], [small => 120, 6]) {
    my ($label, $user_count, $group_count) = @$panel;
    my ($users, $events) = make_panel(users => $user_count, groups => $group_count);
    load_panel($tap, $users, $events);
    write_csv('users.csv', 'user_id,weight,g,age', $users);
    write_csv('events.csv', 'user_id,platform,event_type,spend', $events);
    write_csv('specs.csv', 'name,kind,by_group,by_platform,user_filter',
              [map { [@$_[0 .. 4]] } @specs]);
    system($rscript, "$FindBin::Bin/weighting_crosscheck.R", $dir) == 0
        or BAIL_OUT("the R oracle failed on the $label panel");

    my %theirs;
    open my $in, '<', "$dir/r_results.csv" or die $!;
    my @header = split /,/, scalar(<$in>) =~ s/\s+$//r;
    while (my $line = <$in>) {
        $line =~ s/\s+$//;
        my %row;
        @row{@header} = map { $_ eq '' || $_ eq 'NA' ? undef : $_ } split /,/, $line, -1;
        $theirs{$row{spec}}{key_of(\%row)} = \%row;
    }
    close $in;

    for my $spec (@specs) {
        my ($name, $kind) = @$spec[0, 1];
        my $answer = our_rows($spec->[5]);
        my %ours = map { (key_of($_) => $_) } @{$answer->{rows}};
        my $expected = $theirs{$name} // {};
        is(scalar(keys %ours), scalar(keys %$expected), "$label/$name: as many rows as R");
        my @bad;
        for my $key (sort keys %$expected) {
            my ($r, $o) = ($expected->{$key}, $ours{$key});
            if (!$o) { push @bad, "$key: missing"; next; }
            for my $field (qw(value se ci_low ci_high n_eff)) {
                push @bad, "$key $field: ours " . ($o->{$field} // 'null') . ", R " . ($r->{$field} // 'NA')
                    unless close_enough($o->{$field}, $r->{$field});
            }
            push @bad, "$key base: ours $o->{base}, R $r->{base}" unless $o->{base} == $r->{base};
            if ($kind =~ /reach|share/ && defined $o->{se}) {
                $coverage{tiny}++ if $o->{base} <= 3;
                $coverage{p0}++ if $o->{value} == 0;
                $coverage{p1}++ if $kind ne 'reach' && $o->{value} == 1;
                my $p = $kind eq 'reach' ? undef : $o->{value};
                $coverage{capped}++ if defined $p && $o->{se} > 0 && $p * (1 - $p) / $o->{se}**2 > $o->{base};
            }
        }
        $coverage{groups} = scalar(keys %$expected) if $name eq 'reach_pct_g' && $label eq 'large';
        ok(!@bad, "$label/$name: values, SEs, intervals and bases equal R's within 1e-6")
            or diag(join("\n", (@bad > 8 ? @bad[0 .. 7] : @bad)));
    }
}
diag(sprintf('covered: %d groups; %d proportion rows on 3 users or fewer, %d at p = 0, %d at p = 1, '
             . '%d with the NCHS cap binding', @coverage{qw(groups tiny p0 p1 capped)}));
cmp_ok($coverage{groups}, '>=', 250, 'the large panel has several hundred groups');
ok($coverage{tiny} && $coverage{p0} && $coverage{p1} && $coverage{capped},
   'the panels cover tiny bases, p = 0, p = 1 and the NCHS cap');

# ---- the compiled SQL without the extension, and through a registered dataset -----------
# The small panel is loaded in mcp_tap (last loop); load it again where mcp_analytics is not.
my $postgres = connect_db('postgres');
$postgres->do("DROP DATABASE IF EXISTS $plain_db WITH (FORCE)");
ok($postgres->do("CREATE DATABASE $plain_db"), 'a database without mcp_analytics');
my $plain = connect_db($plain_db);
my $users_rows = $tap->selectall_arrayref('SELECT user_id, weight, g, age FROM crosscheck.users ORDER BY 1');
my $events_rows = $tap->selectall_arrayref('SELECT user_id, platform, event_type, spend FROM crosscheck.events');
load_panel($plain, $users_rows, $events_rows);
is($plain->selectrow_array(q{SELECT count(*) FROM pg_extension WHERE extname = 'mcp_analytics'}), 0,
   'mcp_analytics is not installed there');

my %local;
for my $spec (@specs[0, 1, 6, 10, 12]) {
    my ($name, $definition) = @$spec[0, 5];
    my ($sql) = $tap->selectrow_array(
        q{SELECT mcp.weighted_query_sql($1::jsonb, 'crosscheck.users', 'user_id', 'weight')},
        undef, $json->encode($definition));
    my $rows = $plain->selectall_arrayref($sql, { Slice => {} });
    ok($rows && @$rows, "$name: the compiled SQL runs on plain PostgreSQL") or diag($plain->errstr);
    my $local = our_rows($definition)->{rows};
    $local{$name} = $local;
    my @bad = grep {
        my ($p, $l) = ($rows->[$_], $local->[$_]);
        !$p || !close_enough($p->{value}, $l->{value}) || !close_enough($p->{se}, $l->{se})
            || $p->{base} != $l->{base}
    } 0 .. $#$local;
    ok(@$rows == @$local && !@bad, "$name: same figures there as in mcp_analytics");
}

# A reader role on the plain database, registered as a dataset, queried with weighted_query.
$postgres->do('DROP ROLE IF EXISTS weighting_reader');
$postgres->do("CREATE ROLE weighting_reader LOGIN PASSWORD '$reader_password'");
$plain->do('GRANT USAGE ON SCHEMA crosscheck TO weighting_reader');
$plain->do('GRANT SELECT ON ALL TABLES IN SCHEMA crosscheck TO weighting_reader');
# No background profiling of this dataset: the test sets its user table and status itself.
$tap->do('SET mcp_analytics.profile_on_register = off');
($dataset_id) = $tap->selectrow_array('SELECT mcp.register_dataset($1, $2)', undef, 'weighting_crosscheck',
    "host=127.0.0.1 port=$ENV{MCP_TEST_PORT} dbname=$plain_db user=weighting_reader password=$reader_password");
ok($dataset_id, 'the plain database is registered as a dataset') or diag($tap->errstr);
$tap->do('SELECT mcp.update_dataset($1, $2::jsonb)', undef, $dataset_id, $json->encode({
    user_table_name => 'crosscheck.users', user_id_column_name => 'user_id',
    weight_column_name => 'weight', has_weight_column => JSON::PP::true }));
my %next = (draft => 'profiling', profiling => 'metadata_pending', metadata_pending => 'approved');
for (1 .. 3) {
    my ($status) = $tap->selectrow_array('SELECT status FROM mcp.datasets WHERE id = $1', undef, $dataset_id);
    last unless $status && $next{$status};
    $tap->do('SELECT mcp.set_dataset_status($1, $2)', undef, $dataset_id, $next{$status});
}
is($tap->selectrow_array('SELECT status FROM mcp.datasets WHERE id = $1', undef, $dataset_id), 'approved',
   'the dataset is approved');

for my $spec (@specs[0, 10]) {
    my ($name, $definition) = @$spec[0, 5];
    my ($answer) = $tap->selectrow_array('SELECT mcp.weighted_query($1, $2::jsonb)', undef,
                                         $dataset_id, $json->encode($definition));
    ok($answer, "$name: mcp.weighted_query answers on the registered dataset") or diag($tap->errstr);
    my $rows = $answer ? $json->decode($answer)->{rows} : [];
    my $local = $local{$name};
    my @bad = grep {
        !close_enough($rows->[$_]{value}, $local->[$_]{value}) || !close_enough($rows->[$_]{ci_low}, $local->[$_]{ci_low})
            || !close_enough($rows->[$_]{ci_high}, $local->[$_]{ci_high})
    } 0 .. $#$local;
    ok(@$rows == @$local && !@bad, "$name: the same figures as on the local tables, intervals included");
}
# A spec that needs events and names none gets the dataset's one event-level table (profile).
$tap->do(q{INSERT INTO mcp.dataset_schemas (dataset_id, schema_name, table_name, granularity)
           VALUES ($1, 'crosscheck', 'events', 'event_level'), ($1, 'crosscheck', 'users', 'reference')},
         undef, $dataset_id);
my %without_table = %{$specs[0][5]};
delete $without_table{event_table};
my ($defaulted) = $tap->selectrow_array('SELECT mcp.weighted_query($1, $2::jsonb)', undef, $dataset_id,
                                        $json->encode(\%without_table));
ok($defaulted, 'a spec without event_table uses the profiled event table') or diag($tap->errstr);
is_deeply([map { $_->{value} } @{$defaulted ? $json->decode($defaulted)->{rows} : []}],
          [map { $_->{value} } @{$local{reach_pct_g}}], 'with the same figures');

$tap->do('SELECT mcp.flush_query_log()');  # the rows are queued for the log writer
my ($logged) = $tap->selectrow_array(
    q{SELECT count(*) FROM mcp.query_logs WHERE query_type = 'weighted' AND $1 = ANY (datasets_used) AND success},
    undef, $dataset_id);
is($logged, 3, 'each weighted_query is logged as type weighted');
ok(!defined $tap->selectrow_array('SELECT mcp.weighted_query($1, $2::jsonb)', undef, $dataset_id,
                                  '{"measure": "mean", "metric": "income"}'),
   'a metric naming no column fails on the dataset');
like($tap->errstr, qr/weighted_query: .*column "income" does not exist/, 'with the dataset\'s message');
like($tap->errstr, qr/read from the user table/, 'and a hint saying where columns are read from');
sleep 1;  # the failure is logged by a background worker
my ($failed) = $tap->selectrow_array(
    q{SELECT count(*) FROM mcp.query_logs WHERE query_type = 'weighted' AND $1 = ANY (datasets_used) AND NOT success},
    undef, $dataset_id);
is($failed, 1, 'the failure is logged too');

done_testing();
