#!/bin/bash
# autoconf-2.69, automake-1.15, libtool-2.4.6: TOOL names the one to build;
# the step's single input holds its tarball.
set -euxo pipefail
: "${TOOL:?TOOL is set by the step}"
cd /tmp
tar -xzf /inputs/*/"${TOOL}".tar.gz
cd "${TOOL}"
./configure > /dev/null
make > /dev/null
make install > /dev/null
cd /tmp && rm -rf "${TOOL}"
"${TOOL%-*}" --version
