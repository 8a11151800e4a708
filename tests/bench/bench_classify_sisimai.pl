#!/usr/bin/perl
# bench_classify_sisimai.pl - the reference for bench_classify: Sisimai
# (Debian libsisimai-perl) over the same corpus files, one core, parse
# included: Sisimai->make($file, delivered => 1) per file, for at least
# SECONDS.  Prints "sisimai: N msgs/s (M files)".
use strict;
use warnings;
use Sisimai;
use Time::HiRes qw(time);

my ($secs, $dir) = @ARGV;
die "usage: $0 SECONDS DIR\n" unless defined $dir;
opendir(my $dh, $dir) or die "$dir: $!\n";
my @files = map { "$dir/$_" } sort grep { !/^\./ } readdir($dh);
closedir($dh);
die "no files in $dir\n" unless @files;
my ($runs, $t0) = (0, time);
my $dt = 0;
do {
    for my $f (@files) {
        my $r = Sisimai->make($f, delivered => 1);
        $runs++;
    }
    $dt = time - $t0;
} while ($dt < $secs);
printf "sisimai: %.0f msgs/s (%d files)\n", $runs / $dt, scalar @files;
