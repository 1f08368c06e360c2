# LLM metadata through an OpenAI-compatible endpoint: a fake server started here answers per
# dataset (success, 429 then success, a timeout, malformed JSON, a non-completion body, HTTP
# 500). Successes are stored as written by the LLM with model, tokens and time; failures are
# recorded with the error (and the raw text), the deterministic writer fills in, and the
# dataset still reaches review. Nothing crashes.
use strict;
use warnings;
use FindBin;
use lib $FindBin::Bin, "$FindBin::Bin/../support";
use Test::More;
use JSON::PP;
use TestDb qw(connect_db psql_ok);
use FakeLlm;

my $fake = FakeLlm->new;
my $db = 'mcp_llm_it';
my $key_file = "$ENV{MCP_TEST_WORK}/llm_test.key";
open my $kf, '>', $key_file or die;
print $kf "sk-test-fake-123\n";
close $kf;
chmod 0644, $key_file;

psql_ok('-d', 'postgres', '-c', 'SET client_min_messages = warning', '-c', "DROP DATABASE IF EXISTS $db WITH (FORCE)");
ok(psql_ok('-d', 'postgres', '-c', "CREATE DATABASE $db"), 'database created');
ok(psql_ok('-d', $db,
    '-c', 'CREATE EXTENSION mcp_analytics',
    '-c', "ALTER DATABASE $db SET mcp_analytics.llm_base_url = '" . $fake->url . "'",
    '-c', "ALTER DATABASE $db SET mcp_analytics.llm_api_key_file = '$key_file'",
    '-c', "ALTER DATABASE $db SET mcp_analytics.llm_model = 'fake-model-1'",
    '-c', "ALTER DATABASE $db SET mcp_analytics.llm_timeout = '2s'",
    '-c', "ALTER DATABASE $db SET mcp_analytics.llm_max_retries = 1"), 'extension and LLM settings for the workers');

my $dbh = connect_db($db);
$dbh->do('SET mcp_analytics.profile_on_register = on');
ok($dbh->do(q{SELECT mcp.set_setting('rules.low_base', '"Caveat any figure on fewer than 77 users."')}),
   'a house rule edited (it must reach the system prompt)');
my %id;
my $register = $dbh->prepare('SELECT mcp.register_dataset($1, $2)');
for my $case (qw(ok 429 timeout malformed nojson 500)) {
    $register->execute("llm_case_$case", $ENV{MCP_DEMO_CONNINFO});
    ($id{$case}) = $register->fetchrow_array;
}
$register->finish;
ok(scalar $dbh->selectrow_array(q{SELECT mcp.wait_for_jobs(NULL, '90 s')}), 'all jobs finished');

my $json = JSON::PP->new;
sub metadata { return $json->decode(scalar $dbh->selectrow_array('SELECT mcp.get_metadata($1)::text', undef, $id{$_[0]})); }
sub llm_job {
    return $dbh->selectrow_hashref(q{SELECT status, attempts, last_error, result::text AS result
                                       FROM mcp.jobs_status($1) WHERE kind = 'llm_metadata'}, undef, $id{$_[0]});
}
sub status_of { return scalar $dbh->selectrow_array('SELECT status FROM mcp.dataset($1)', undef, $id{$_[0]}); }

# --- success -----------------------------------------------------------------------------
my $m = metadata('ok');
is($m->{written_by}, 'llm', 'success: written by the LLM');
like($m->{description}, qr/^Fake LLM description of llm_case_ok/, 'success: its description is stored');
is($m->{llm}{model}, 'fake-model-1', 'success: the model is recorded');
is_deeply([@{$m->{llm}}{qw(prompt_tokens completion_tokens)}], [321, 123], 'success: prompt and completion tokens are recorded');
ok(defined $m->{llm}{generation_time_ms} && $m->{llm}{generation_time_ms} >= 0, 'success: the time is recorded');
is($m->{data_dictionary}{'events.event_ts'}, 'When it happened (fake).', 'success: a nested data dictionary is flattened to table.column');
is_deeply($m->{recommended_use_cases}, ['Fake use case: reach by app'], 'success: use cases stored');
is($m->{date_range_start}, '2026-07-01', 'success: date range stored');
is(llm_job('ok')->{status}, 'done', 'success: the job is done');
is(status_of('ok'), 'metadata_pending', 'success: the dataset waits for review');
my @requests = $fake->requests('llm_case_ok');
is(scalar @requests, 1, 'success: one request');
my $request = $requests[0];
is($request->{path}, '/v1/chat/completions', 'the request goes to {base}/chat/completions');
is($request->{authorization}, 'Bearer sk-test-fake-123', 'the API key comes from mcp_analytics.llm_api_key_file');
is($request->{body}{model}, 'fake-model-1', 'the model comes from mcp_analytics.llm_model');
is_deeply($request->{body}{response_format}, { type => 'json_object' }, 'JSON response format is asked for');
ok($request->{body}{max_tokens} > 0, 'max_tokens is sent');
my ($system, $user) = map { $_->{content} } @{$request->{body}{messages}};
like($system, qr/fewer than 77 users/, 'the system prompt holds the business rules from mcp.settings');
like($system, qr/"data_dictionary"/, 'the system prompt states the JSON contract');
like($user, qr/Table public\.events \(table, event_level/, 'the user prompt holds the profile');
like($user, qr/weight/, '... with the detected weight column');

# --- 429 then success --------------------------------------------------------------------
$m = metadata('429');
is($m->{written_by}, 'llm', '429 then success: written by the LLM');
is(scalar($fake->requests('llm_case_429')), 2, '429 then success: retried once');
cmp_ok($m->{llm}{generation_time_ms}, '>=', 1000, '429 then success: Retry-After (1 s) was honoured');
like(llm_job('429')->{result}, qr/"http_attempts": 2/, '429 then success: the job records two HTTP attempts');

# --- timeout -----------------------------------------------------------------------------
$m = metadata('timeout');
is($m->{written_by}, 'profile', 'timeout: the deterministic writer filled in');
like($m->{llm}{error}, qr/no answer within mcp_analytics.llm_timeout \(2 s\).*after 2 attempts/, 'timeout: the error says so, after the retry');
is(scalar($fake->requests('llm_case_timeout')), 2, 'timeout: tried twice (llm_max_retries = 1)');
my $job = llm_job('timeout');
is($job->{status}, 'failed', 'timeout: the LLM job is a recorded failure');
like($job->{last_error}, qr/no answer/, 'timeout: with its error');
is(status_of('timeout'), 'metadata_pending', 'timeout: the dataset still reaches review');

# --- malformed JSON ----------------------------------------------------------------------
$m = metadata('malformed');
is($m->{written_by}, 'profile', 'malformed: the deterministic writer filled in');
like($m->{llm}{error}, qr/malformed answer: the message content is not valid JSON/, 'malformed: the error says what was wrong');
like($m->{llm}{raw_response}, qr/^Sure! Here is the metadata/, 'malformed: the raw text is kept for the reviewer');
is(scalar($fake->requests('llm_case_malformed')), 1, 'malformed: not retried (the same prompt would cost again)');
is(llm_job('malformed')->{status}, 'failed', 'malformed: the job is a recorded failure');
$m = metadata('nojson');
like($m->{llm}{error}, qr/not a chat completion/, 'a body that is no completion is a malformed answer too');
is($m->{llm}{raw_response}, 'upstream proxy error page', '... with the body kept');

# --- HTTP 500 ----------------------------------------------------------------------------
$m = metadata('500');
like($m->{llm}{error}, qr/HTTP 500: the fake is down \(after 2 attempts\)/, '500: the API error message, after a retry');
is(status_of('500'), 'metadata_pending', '500: the dataset still reaches review');

# --- no crash, and no secret anywhere ----------------------------------------------------
ok($dbh->selectrow_array('SELECT 1'), 'the session is fine');
open my $log, '<', $ENV{MCP_TEST_LOG} or die;
my $log_text = do { local $/; <$log> };
unlike($log_text, qr/sk-test-fake-123/, 'the API key is in no log line');
unlike($dbh->selectrow_array(q{SELECT string_agg(coalesce(last_error, '') || errors::text, ' ') FROM mcp.jobs}),
       qr/sk-test-fake-123/, 'nor in any job error');

$dbh->disconnect;
$fake->stop;
psql_ok('-d', 'postgres', '-c', "DROP DATABASE $db WITH (FORCE)");
unlink $key_file;
done_testing();
