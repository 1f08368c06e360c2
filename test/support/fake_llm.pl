#!/usr/bin/perl
# A fake OpenAI-compatible chat-completions server for the tests, on 127.0.0.1 and a port the
# system picks (written to --port-file). What it answers depends on a marker in the request
# (the dataset's name is in the prompt): "case_ok" (and anything else) a valid answer,
# "case_429" HTTP 429 with Retry-After: 1 the first time then a valid answer, "case_timeout"
# no answer for 30 s, "case_malformed" a completion whose content is not JSON,
# "case_nojson" a body that is not a completion at all, "case_500" always HTTP 500,
# "case_slow" a valid answer after 6 s the first time (then at once).
#
#   fake_llm.pl --port-file FILE --log FILE --state DIR
# Each request is logged as one JSON line: {"n", "case", "path", "authorization", "body"}.
use strict;
use warnings;
use Getopt::Long;
use HTTP::Daemon;
use HTTP::Response;
use JSON::PP;
use Fcntl qw(:flock);

GetOptions('port-file=s' => \my $port_file, 'log=s' => \my $log_file, 'state=s' => \my $state_dir)
    or die "usage: fake_llm.pl --port-file FILE --log FILE --state DIR\n";
mkdir $state_dir unless -d $state_dir;

my $daemon = HTTP::Daemon->new(LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1, Listen => 32)
    or die "fake_llm: cannot listen: $!\n";
open my $pf, '>', "$port_file.tmp" or die;
print $pf $daemon->sockport, "\n";
close $pf;
rename "$port_file.tmp", $port_file;
$SIG{CHLD} = 'IGNORE';
$SIG{TERM} = sub { exit 0 };

my $json = JSON::PP->new->canonical;

# How many times this key was asked, counted across the forked handlers.
sub bump {
    my ($key) = @_;
    open my $fh, '+>>', "$state_dir/counts" or die;
    flock $fh, LOCK_EX;
    seek $fh, 0, 0;
    my %count = map { chomp; split / /, $_, 2 } <$fh>;
    my $n = ($count{$key} // 0) + 1;
    $count{$key} = $n;
    truncate $fh, 0;
    print $fh "$_ $count{$_}\n" for sort keys %count;
    close $fh;
    return $n;
}

sub log_request {
    my ($entry) = @_;
    open my $fh, '>>', $log_file or die;
    flock $fh, LOCK_EX;
    print $fh $json->encode($entry), "\n";
    close $fh;
}

sub answer {
    my ($key) = @_;
    return $json->encode({
        description => "Fake LLM description of $key: a weighted consumer panel.",
        data_dictionary => { 'panelists' => 'One row per panelist (fake).',
                             'panelists.weight' => 'Projection weight (fake).',
                             'events' => { 'event_ts' => 'When it happened (fake).' } },
        quality_observations => ['Fake observation.'],
        improvement_suggestions => ['Fake suggestion.'],
        recommended_use_cases => ['Fake use case: reach by app'],
        data_category => 'mixed',
        date_range => { start => '2026-07-01', end => '2026-09-28' },
    });
}

sub completion {
    my ($content, $model) = @_;
    return $json->encode({
        id => 'chatcmpl-fake', object => 'chat.completion', model => $model,
        choices => [{ index => 0, finish_reason => 'stop',
                      message => { role => 'assistant', content => $content } }],
        usage => { prompt_tokens => 321, completion_tokens => 123, total_tokens => 444 },
    });
}

sub respond {
    my ($connection, $request) = @_;
    my $body = $request->content // '';
    my ($key) = $body =~ /(\w*case_\w+)/;
    $key //= 'default';
    my ($case) = $key =~ /case_([a-z0-9]+)/;
    $case //= 'ok';
    my $n = bump($key);
    my $request_json = eval { $json->decode($body) } // {};
    log_request({ n => $n, key => $key, case => $case, path => $request->uri->path,
                  authorization => $request->header('Authorization') // '', body => $request_json });
    my $model = $request_json->{model} // 'fake';
    my $ok = sub { HTTP::Response->new(200, 'OK', ['Content-Type' => 'application/json'], completion(answer($key), $model)) };
    if ($request->method ne 'POST' || $request->uri->path !~ m{/chat/completions$}) {
        return HTTP::Response->new(404, 'Not Found', ['Content-Type' => 'application/json'],
                                   '{"error": {"message": "no such route"}}');
    }
    if ($case eq '429' && $n == 1) {
        return HTTP::Response->new(429, 'Too Many Requests',
            ['Content-Type' => 'application/json', 'Retry-After' => '1'],
            '{"error": {"message": "Rate limit reached (fake)", "type": "rate_limit"}}');
    }
    if ($case eq '500') {
        return HTTP::Response->new(500, 'Internal Server Error', ['Content-Type' => 'application/json'],
                                   '{"error": {"message": "the fake is down"}}');
    }
    if ($case eq 'timeout') {
        sleep 30;
        return $ok->();
    }
    if ($case eq 'slow' && $n == 1) {
        sleep 6;
        return $ok->();
    }
    if ($case eq 'malformed') {
        return HTTP::Response->new(200, 'OK', ['Content-Type' => 'application/json'],
            completion('Sure! Here is the metadata: {description: "unterminated', $model));
    }
    if ($case eq 'nojson') {
        return HTTP::Response->new(200, 'OK', ['Content-Type' => 'text/plain'], 'upstream proxy error page');
    }
    return $ok->();
}

while (my $connection = $daemon->accept) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid) {
        close $connection;
        next;
    }
    $SIG{TERM} = 'DEFAULT';
    while (my $request = $connection->get_request) {
        $connection->send_response(respond($connection, $request));
    }
    $connection->close;
    exit 0;
}
