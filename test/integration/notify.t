# Registry changes are announced on channel mcp_analytics (the bridge's hot reload listens),
# with the dataset id and status and nothing secret.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin;
use Test::More;
use TestDb qw(connect_db);

my $listener = connect_db('mcp_tap');
my $dbh = connect_db('mcp_tap');
ok($listener->do('LISTEN mcp_analytics'), 'listening');

sub next_notifications {
    my @seen;
    for (1 .. 20) {
        $listener->do('SELECT 1');  # let DBD::Pg read pending notifications
        while (my $n = $listener->pg_notifies) { push @seen, $n->[2]; }
        last if @seen;
        select(undef, undef, undef, 0.05);
    }
    return @seen;
}

my $register = $dbh->prepare('SELECT mcp.register_dataset($1, $2)');
ok($register->execute('notify_probe', $ENV{MCP_DEMO_CONNINFO}), 'registered');
my ($id) = $register->fetchrow_array;
my @seen = next_notifications();
is(scalar @seen, 1, 'one notification for the registration');
like($seen[0], qr/"event" : "insert", "dataset_id" : $id, "status" : "draft"/, 'it names the event, id and status');
unlike($seen[0], qr/\Q$ENV{MCP_DEMO_PASSWORD}\E/, 'it holds no secret');

for my $status (qw(profiling metadata_pending approved inactive)) {
    $dbh->do('SELECT mcp.set_dataset_status($1, $2)', undef, $id, $status);
    my @changes = next_notifications();
    like($changes[0] // '', qr/"status" : "$status"/, "moving to $status is announced");
}
$dbh->do('SELECT mcp.update_dataset($1, $2)', undef, $id, '{"description": "changed"}');
like((next_notifications())[0] // '', qr/"event" : "update"/, 'an edit is announced');
$dbh->do('SELECT mcp.delete_dataset($1)', undef, $id);
like((next_notifications())[0] // '', qr/"event" : "delete", "dataset_id" : $id/, 'a deletion is announced');

# Inside a transaction that rolls back, nothing is announced.
$dbh->begin_work;
$dbh->do('SELECT mcp.register_dataset($1, $2)', undef, 'notify_rolled_back', $ENV{MCP_DEMO_CONNINFO});
$dbh->rollback;
is(scalar(next_notifications()), 0, 'a rolled-back registration announces nothing');
done_testing();
