# The profile of the demo panel equals direct SQL on it: row counts, null counts, distinct
# counts, min/max, top values; weight, user-id, date and granularity detection; big tables
# from pg_stats (marked as estimates, equal to pg_stats); dates stored as text reported; a
# fixed number of queries per table, never one per column; the time of each phase in the
# job's result; the same figures over one connection as over two, and a profile that goes
# on when a second connection is refused.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use JSON::PP;
use TestDb qw(connect_db psql_ok);

my $db = 'mcp_profile_it';
psql_ok('-d', 'postgres', '-c', 'SET client_min_messages = warning', '-c', "DROP DATABASE IF EXISTS $db WITH (FORCE)");
ok(psql_ok('-d', 'postgres', '-c', "CREATE DATABASE $db"), 'database created');
ok(psql_ok('-d', $db, '-c', 'CREATE EXTENSION mcp_analytics'), 'extension installed');
my $dbh = connect_db($db);
my $demo = connect_db('mcp_demo');
my $json = JSON::PP->new;

# The demo database also holds helper schemas of other tests: profile schema public only.
$dbh->do('SET mcp_analytics.profile_on_register = off');
my ($id) = $dbh->selectrow_array('SELECT mcp.register_dataset($1, $2)', undef, 'profile_demo', $ENV{MCP_DEMO_CONNINFO});
ok($dbh->do(q{SELECT mcp.reprofile_dataset($1, ARRAY['public'])}, undef, $id), 'profiling of schema public queued');
ok(scalar $dbh->selectrow_array(q{SELECT mcp.wait_for_jobs($1, '60 s')}, undef, $id), 'profiled');
$dbh->do('SET mcp_analytics.profile_on_register = on');

# A new session of the metadata database, as the first: profiling on registration on.
sub reconnect {
    $dbh->disconnect;
    $dbh = connect_db($db);
    $dbh->do('SET mcp_analytics.profile_on_register = on');
}

sub profile {
    my %tables;
    my $rows = $dbh->selectall_arrayref(
        'SELECT table_name, granularity, row_count, row_count_is_estimate, columns::text, stats::text FROM mcp.dataset_profile($1)',
        undef, $id);
    for my $r (@$rows) {
        $tables{$r->[0]} = { granularity => $r->[1], row_count => $r->[2], estimate => $r->[3],
                             columns => { map { $_->{name} => $_ } @{$json->decode($r->[4])} },
                             stats => $json->decode($r->[5]) };
    }
    return \%tables;
}
my $profile = profile();
is_deeply([sort keys %$profile], [qw(daily_app_usage events panelists)], 'the three demo tables of schema public');

# --- every figure equals direct SQL ---------------------------------------------------------
my %numeric_or_date = map { $_ => 1 } qw(integer bigint numeric date timestamptz);
for my $table (sort keys %$profile) {
    my $p = $profile->{$table};
    my ($count) = $demo->selectrow_array("SELECT count(*) FROM public.$table");
    is($p->{row_count}, $count, "$table: row count $count is exact");
    ok(!$p->{estimate}, "$table: not marked as an estimate");
    is($p->{stats}{method}, 'exact_scan', "$table: read by one aggregate scan");
    my @mismatches;
    for my $column (sort keys %{$p->{columns}}) {
        my $c = $p->{columns}{$column};
        my ($nulls, $distinct, $min, $max, $type) = $demo->selectrow_array(
            "SELECT count(*) - count($column), count(DISTINCT $column), min($column)::text, max($column)::text,
                    (SELECT format_type(atttypid, NULL) FROM pg_attribute
                      WHERE attrelid = 'public.$table'::regclass AND attname = '$column')
               FROM public.$table");
        push @mismatches, "$column nulls" unless $c->{null_count} == $nulls;
        push @mismatches, "$column distinct" unless $c->{distinct_count} == $distinct;
        my $short = { 'timestamp with time zone' => 'timestamptz' }->{$type} // $type;
        if ($numeric_or_date{$short}) {
            push @mismatches, "$column min" unless ($c->{min} // '') eq $min;
            push @mismatches, "$column max" unless ($c->{max} // '') eq $max;
        }
        if ($type eq 'text' && $distinct <= 50) {
            my $top = $demo->selectall_arrayref(
                "SELECT $column, count(*) FROM public.$table GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10");
            my $got = [map { [$_->{value}, $_->{count}] } @{$c->{top_values}}];
            push @mismatches, "$column top values" unless $json->canonical->encode($got) eq $json->canonical->encode($top);
        }
    }
    is_deeply(\@mismatches, [], "$table: null counts, distinct counts, min/max and top values equal direct SQL");
    cmp_ok($p->{stats}{remote_queries}, '<=', 3, "$table: at most 3 queries for " . scalar(keys %{$p->{columns}}) . ' columns (never one per column)');
}

# --- where the time went, and the same figures over one connection -------------------------
my ($summary) = $dbh->selectrow_array(
    q{SELECT result::text FROM mcp.jobs WHERE dataset_id = $1 AND kind = 'profile' AND status = 'done' ORDER BY id DESC LIMIT 1}, undef, $id);
$summary = $json->decode($summary);
my @phases = qw(pickup load_dataset connect catalog aggregate_scans grouped_scans samples remote_queries_wall store);
is_deeply([grep { !(defined $summary->{phases}{$_} && $summary->{phases}{$_} =~ /^\d+(\.\d+)?$/) } @phases], [],
          'the job result has the time of each phase in ms (' . join(', ', @phases) . ')')
    or diag explain $summary;
is($summary->{connections}, 2, 'over 10,000 rows to scan: a second connection shared the queries');
my %first = map { $_ => $json->canonical->encode($profile->{$_}{columns}) } keys %$profile;
psql_ok('-d', $db, '-c', "ALTER DATABASE $db SET mcp_analytics.profile_connections = 1");
reconnect();
$dbh->do(q{SELECT mcp.reprofile_dataset($1, ARRAY['public'])}, undef, $id);
ok(scalar $dbh->selectrow_array(q{SELECT mcp.wait_for_jobs($1, '60 s')}, undef, $id), 'profiled again over one connection');
is($dbh->selectrow_array(q{SELECT result -> 'connections' FROM mcp.jobs WHERE dataset_id = $1 AND kind = 'profile' ORDER BY id DESC LIMIT 1},
                         undef, $id), 1, 'one connection, as mcp_analytics.profile_connections says');
my $again = profile();
is_deeply({ map { $_ => $json->canonical->encode($again->{$_}{columns}) } keys %$again }, \%first,
          'the same columns, counts, min/max and top values as over two connections');
psql_ok('-d', $db, '-c', "ALTER DATABASE $db RESET mcp_analytics.profile_connections");
reconnect();

# --- detection ----------------------------------------------------------------------------
my $dataset = $dbh->selectrow_hashref('SELECT * FROM mcp.dataset($1)', undef, $id);
is($dataset->{weight_column_name}, 'weight', 'weight column detected');
is($dataset->{user_table_name}, 'panelists', 'in the user table');
is($dataset->{user_id_column_name}, 'user_id', 'user id column detected');
ok($dataset->{has_weight_column}, 'has_weight_column set');
is($dataset->{dataset_type}, 'mixed', 'event-level plus aggregated: mixed');
my ($first, $last) = $demo->selectrow_array(
    q{SELECT min(event_ts AT TIME ZONE 'UTC')::date, max(event_ts AT TIME ZONE 'UTC')::date FROM events});
is_deeply([$dataset->{date_range_start}, $dataset->{date_range_end}], [$first, $last], 'date range equals the events\' dates');
is($profile->{panelists}{granularity}, 'reference', 'panelists: one row per user (reference)');
is($profile->{events}{granularity}, 'event_level', 'events: event-level');
is($profile->{daily_app_usage}{granularity}, 'aggregated', 'daily_app_usage: aggregated');
is_deeply($profile->{panelists}{columns}{weight}{roles}, ['weight'], 'panelists.weight has the weight role');
ok(!grep({ $_ eq 'weight' } @{$profile->{daily_app_usage}{columns}{weighted_users}{roles}}), 'weighted_users is not taken for a weight');
ok(grep({ $_ eq 'user_id' } @{$profile->{events}{columns}{user_id}{roles}}), 'events.user_id is a user id');
is($profile->{events}{columns}{user_id}{references}, 'panelists.user_id', '... referencing panelists');
ok(grep({ $_ eq 'date' } @{$profile->{events}{columns}{event_ts}{roles}}), 'events.event_ts is a date/time');
ok($profile->{panelists}{stats}{weight_constant_per_user}, 'the weight is constant per user');
my ($null_w, $zero_w) = $demo->selectrow_array('SELECT count(*) FILTER (WHERE weight IS NULL), count(*) FILTER (WHERE weight = 0) FROM panelists');
ok(grep({ /panelists\.weight: $null_w NULL and $zero_w zero weight/ } @{$profile->{panelists}{stats}{issues}}),
   "the $null_w NULL and $zero_w zero weights are reported as a quality issue");

# --- big tables: pg_stats instead of a scan ------------------------------------------------
psql_ok('-d', $db, '-c', "ALTER DATABASE $db SET mcp_analytics.profile_exact_row_limit = 5000");
$dbh->do('SELECT mcp.reprofile_dataset($1)', undef, $id);
ok(scalar $dbh->selectrow_array(q{SELECT mcp.wait_for_jobs($1, '60 s')}, undef, $id), 'profiled again with a 5,000-row exact limit');
$profile = profile();
my $events = $profile->{events};
is($events->{stats}{method}, 'pg_stats', 'events (above the limit) read from pg_stats');
ok($events->{estimate}, 'its row count is marked as an estimate');
my ($reltuples) = $demo->selectrow_array(q{SELECT reltuples::bigint FROM pg_class WHERE oid = 'public.events'::regclass});
is($events->{row_count}, $reltuples, 'the estimate is the catalog\'s (reltuples)');
my $stats = $demo->selectall_hashref(q{SELECT attname, null_frac, n_distinct, most_common_vals::text AS mcv FROM pg_stats
                                        WHERE schemaname = 'public' AND tablename = 'events'}, 'attname');
my @off;
for my $column (keys %{$events->{columns}}) {
    my $c = $events->{columns}{$column};
    push @off, "$column null fraction" if abs($c->{null_fraction} - $stats->{$column}{null_frac}) > 1e-6;
    my $expected = $stats->{$column}{n_distinct} >= 0 ? $stats->{$column}{n_distinct} : -$stats->{$column}{n_distinct} * $reltuples;
    push @off, "$column distinct" if abs($c->{distinct_count} - $expected) > 1;
    push @off, "$column not marked" unless $c->{distinct_is_estimate};
}
is_deeply(\@off, [], 'null fractions and distinct counts are pg_stats\' figures, marked as estimates');
is_deeply([map { $_->{value} } @{$events->{columns}{platform}{top_values}}], [qw(mobile ctv)], 'top values from the most common values');
my ($ts_min, $ts_max) = $demo->selectrow_array('SELECT min(event_ts)::text, max(event_ts)::text FROM events');
is_deeply([@{$events->{columns}{event_ts}}{qw(min max minmax_is_estimate)}], [$ts_min, $ts_max, JSON::PP::false],
          'min/max of an indexed column are exact (read from the index ends)');
is($profile->{panelists}{stats}{method}, 'exact_scan', 'panelists (below the limit) still scanned exactly');

# --- dates stored as text ------------------------------------------------------------------
my $text_db = 'mcp_profile_text';
psql_ok('-d', 'postgres', '-c', 'SET client_min_messages = warning', '-c', "DROP DATABASE IF EXISTS $text_db WITH (FORCE)");
psql_ok('-d', 'postgres', '-c', "CREATE DATABASE $text_db");
ok(psql_ok('-d', $text_db, '-c', q{CREATE TABLE sales (sale_id int, sold_on text, amount numeric);
    INSERT INTO sales SELECT g, to_char(date '2026-01-01' + g, 'YYYY-MM-DD'), g * 1.5 FROM generate_series(1, 40) g;}),
   'a table that keeps dates as text');
my ($text_id) = $dbh->selectrow_array('SELECT mcp.register_dataset($1, $2)', undef, 'profile_text',
                                      "host=$ENV{PGHOST} port=$ENV{PGPORT} dbname=$text_db user=postgres");
ok(scalar $dbh->selectrow_array(q{SELECT mcp.wait_for_jobs($1, '60 s')}, undef, $text_id), 'profiled');
my ($sales) = $dbh->selectrow_array(q{SELECT columns::text || stats::text FROM mcp.dataset_profile($1, 'sales')}, undef, $text_id);
like($sales, qr/"name": "sold_on".*"roles": \["date_as_text"\]/s, 'sold_on is recognised as a date stored as text');
like($sales, qr/sales\.sold_on holds dates as text/, '... and reported as a quality issue');
like($sales, qr/sales has no primary key/, 'a table without primary key is reported');
like(scalar $dbh->selectrow_array('SELECT mcp.get_metadata($1)::text', undef, $text_id), qr/Store sales\.sold_on as date/,
     'the metadata suggests storing it as a date');

# --- columns of another collation, an empty table, a second connection refused ------------
psql_ok('-d', $db, '-c', "ALTER DATABASE $db RESET mcp_analytics.profile_exact_row_limit");
ok(psql_ok('-d', $text_db, '-c', q{CREATE TABLE shops (shop_id int, city text COLLATE "C", kind text);
    INSERT INTO shops SELECT g, CASE WHEN g % 3 = 0 THEN 'Pune' ELSE 'agra' END, CASE WHEN g % 2 = 0 THEN 'mall' END
      FROM generate_series(1, 12000) g;
    CREATE TABLE nothing (label text, amount int);
    ANALYZE shops, nothing;
    CREATE ROLE mcp_profile_one LOGIN CONNECTION LIMIT 1;
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO mcp_profile_one;}), 'a "C"-collated column beside default ones, an empty table, a role allowed one connection');
$dbh->do('SET mcp_analytics.profile_on_register = off');
my ($one_id) = $dbh->selectrow_array('SELECT mcp.register_dataset($1, $2)', undef, 'profile_one',
                                     "host=$ENV{PGHOST} port=$ENV{PGPORT} dbname=$text_db user=mcp_profile_one");
$dbh->do(q{SELECT mcp.reprofile_dataset($1)}, undef, $one_id);
ok(scalar $dbh->selectrow_array(q{SELECT mcp.wait_for_jobs($1, '60 s')}, undef, $one_id), 'profiled');
my ($one_status, $one_result) = $dbh->selectrow_array(
    q{SELECT status, result::text FROM mcp.jobs WHERE dataset_id = $1 AND kind = 'profile' ORDER BY id DESC LIMIT 1}, undef, $one_id);
is($one_status, 'done', 'the profile completed although the role may not open a second connection');
$one_result = $json->decode($one_result);
is($one_result->{connections}, 1, '... on the one connection it has');
ok(defined($one_result->{phases}{connect_more_failed} // $one_result->{phases}{connect_more_unused}),
   '... and the second connection it tried shows in its phases (refused, or not ready before the scans were done)')
    or diag explain $one_result;
my %one = map { $_->[0] => { row_count => $_->[1], columns => { map { $_->{name} => $_ } @{$json->decode($_->[2])} } } }
          @{$dbh->selectall_arrayref('SELECT table_name, row_count, columns::text FROM mcp.dataset_profile($1)', undef, $one_id)};
is_deeply([map { [$_->{value}, $_->{count}] } @{$one{shops}{columns}{city}{top_values}}], [['agra', 8000], ['Pune', 4000]],
          'top values of the "C"-collated column');
is_deeply([@{$one{shops}{columns}{kind}}{qw(distinct_count null_count)}], [1, 6000], 'distinct and null counts of a text column with NULLs');
is_deeply([$one{nothing}{row_count}, map { @{$one{nothing}{columns}{$_}}{qw(distinct_count null_count)} } qw(label amount)],
          [0, 0, 0, 0, 0], 'an empty table: no rows, no distinct values, no NULLs');

# --- the connection a worker keeps for its next profile -------------------------------------
# Re-profiled at once, the dataset is read on the connection of the last profile; one the
# dataset's server ended meanwhile is not reused (the profile opens another and completes).
my $text_admin = connect_db($text_db);
sub one_backends {
    return $text_admin->selectcol_arrayref(q{SELECT pid FROM pg_stat_activity WHERE usename = 'mcp_profile_one'});
}
sub reprofile_one {
    $dbh->do(q{SELECT mcp.reprofile_dataset($1)}, undef, $one_id);
    $dbh->selectrow_array(q{SELECT mcp.wait_for_jobs($1, '60 s')}, undef, $one_id);
    return $dbh->selectrow_array(
        q{SELECT status, (result -> 'phases' ->> 'connect')::float8, attempts FROM mcp.jobs
           WHERE dataset_id = $1 AND kind = 'profile' ORDER BY id DESC LIMIT 1}, undef, $one_id);
}
my $kept = one_backends();
is(scalar @$kept, 1, 'after a profile, its worker keeps one connection to the dataset');
my ($again_status) = reprofile_one();
is($again_status, 'done', 'profiled again at once');
is_deeply(one_backends(), $kept, '... on the same connection (the same server process)');
my ($ended) = $text_admin->selectrow_array(
    q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'mcp_profile_one'});
is($ended, 1, 'the dataset server ends the kept connection');
my ($after_status, $after_connect, $after_attempt) = reprofile_one();
is("$after_status, attempt $after_attempt", 'done, attempt 1', 'profiled again at the first attempt: the ended connection is not reused');
cmp_ok($after_connect, '>', 0, '... the profile connected anew');
$text_admin->disconnect;

$dbh->disconnect;
$demo->disconnect;
psql_ok('-d', 'postgres', '-c', "DROP DATABASE $db WITH (FORCE)", '-c', "DROP DATABASE $text_db WITH (FORCE)",
        '-c', 'DROP ROLE mcp_profile_one');

done_testing();
