#!/bin/bash
# SQLite 3.21.0 into /usr/local, so the Pythons' sqlite3 module is recent.
set -euxo pipefail
cd /tmp
tar -xzf /inputs/sqlite/sqlite-autoconf-3210000.tar.gz
cd sqlite-autoconf-3210000
./configure > /dev/null
make > /dev/null
make install > /dev/null
cd /tmp && rm -rf sqlite-autoconf-3210000
