#!/bin/bash
# Everything is linked: drop the static OpenSSL, static libraries, test suites
# and bytecode, and strip what can be stripped.
set -euxo pipefail
rm -rf /usr/local/ssl
# libpython*.a and friends are many megabytes and not needed.
find /opt/_internal -name '*.a' -print0 | xargs -0 rm -f
# Strip everything, ignoring the errors for non-ELF files.
find /opt/_internal -type f -print0 \
    | xargs -0 -n1 strip --strip-unneeded 2>/dev/null || true
# No test suites, no precompiled .pyc/.pyo.
find /opt/_internal \
     \( -type d -a \( -name test -o -name tests \) \) \
  -o \( -type f -a \( -name '*.pyc' -o -name '*.pyo' \) \) \
  -print0 | xargs -0 rm -rf
