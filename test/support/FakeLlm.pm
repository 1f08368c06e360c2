# Starts test/support/fake_llm.pl for one test file and stops it when the file ends (also on
# failure). new() returns an object with ->url (the base URL to put in
# mcp_analytics.llm_base_url) and ->requests (the requests it received, decoded).
package FakeLlm;
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use JSON::PP;
use Time::HiRes qw(sleep);

sub new {
    my ($class) = @_;
    my $dir = tempdir(CLEANUP => 1);
    chmod 0755, $dir;
    my $script = File::Spec->rel2abs(dirname(__FILE__)) . "/fake_llm.pl";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        setpgrp(0, 0);  # its own process group: stop() ends the handlers too
        exec $^X, $script, '--port-file', "$dir/port", '--log', "$dir/requests.log", '--state', "$dir/state"
            or die "exec: $!";
    }
    my $self = bless { pid => $pid, dir => $dir }, $class;
    for (1 .. 100) {
        last if -s "$dir/port";
        sleep 0.05;
    }
    open my $fh, '<', "$dir/port" or die "fake LLM server did not start";
    chomp(my $port = <$fh>);
    $self->{port} = $port;
    return $self;
}

sub url { my ($self) = @_; return "http://127.0.0.1:$self->{port}/v1"; }

sub requests {
    my ($self, $key) = @_;
    open my $fh, '<', "$self->{dir}/requests.log" or return ();
    my @all = map { decode_json($_) } <$fh>;
    return defined $key ? grep { $_->{key} eq $key } @all : @all;
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'TERM', -$self->{pid};
    waitpid $self->{pid}, 0;
    $self->{pid} = 0;
}

sub DESTROY { my ($self) = @_; $self->stop; }

1;
