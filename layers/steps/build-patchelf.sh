#!/bin/bash
# patchelf at 2a9cefd7 (unreleased fixes auditwheel needs); bootstrap.sh needs
# the autotools of the earlier steps.
set -euxo pipefail
v=2a9cefd7d637d160d12dc7946393778fa8abbc58
cd /tmp
tar -xzf "/inputs/patchelf/patchelf-${v}.tar.gz"
cd "patchelf-${v}"
./bootstrap.sh
./configure > /dev/null
make > /dev/null
make install > /dev/null
cd /tmp && rm -rf "patchelf-${v}"
