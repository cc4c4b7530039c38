#!/bin/bash
# Everything is linked: drop the static OpenSSL and static libraries, strip
# what can be stripped, and remove the *.pyc/*.pyo bytecode under
# /opt/_internal. The test suites stay: this is the original's `find`, whose
# comment says it removes them too, but by operator precedence only the
# `*.pyc`/`*.pyo` files reach `-print0` (and `rm -f` removes no directory).
set -euxo pipefail
rm -rf /usr/local/ssl
# libpython*.a and friends are many megabytes and not needed.
find /opt/_internal -name '*.a' -print0 | xargs -0 rm -f
# Strip everything, ignoring the errors for non-ELF files.
find /opt/_internal -type f -print0 \
    | xargs -0 -n1 strip --strip-unneeded 2>/dev/null || true
find /opt/_internal \
     \( -type d -a -name test -o -name tests \) \
  -o \( -type f -a -name '*.pyc' -o -name '*.pyo' \) \
  -print0 | xargs -0 rm -f
