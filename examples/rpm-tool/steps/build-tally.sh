#!/bin/sh
# Runs in the sandbox as root with cwd /; the source is at /inputs/tally/.
set -eux
cd /tmp
tar -xzf /inputs/tally/tally-1.0.tar.gz
cd tally-1.0
make CFLAGS="-O2"
make install PREFIX=/usr/local
cd / && rm -rf /tmp/tally-1.0
