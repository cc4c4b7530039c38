#!/bin/bash
# Every Python must say it is manylinux2010-compatible and verify TLS
# certificates (the TLS check needs the network: the step says so).
# SMOKE_TESTS_OFFLINE=1 skips the TLS check (the e2e test runs these checks
# over its mini image without a network; the recipe never sets it).
set -euxo pipefail
cat > /tmp/manylinux-check.py <<'PY'
# Exit 0 when this interpreter runs on a manylinux2010 system (glibc >= 2.12
# on x86_64 or i686). The original's manylinux1-check.py asked for glibc
# >= 2.5 (PEP 513's floor); 2.12 is PEP 571's, and the image has 2.12.
import ctypes
import platform
import sys


def have_glibc(major, minimum_minor):
    try:
        process_namespace = ctypes.CDLL(None)
        gnu_get_libc_version = process_namespace.gnu_get_libc_version
    except AttributeError:
        return False
    gnu_get_libc_version.restype = ctypes.c_char_p
    version = gnu_get_libc_version()
    if not isinstance(version, str):
        version = version.decode("ascii")
    v_major, v_minor = [int(x) for x in version.split(".")[:2]]
    return v_major == major and v_minor >= minimum_minor


arch = platform.machine()
if arch not in ("x86_64", "i686"):
    sys.exit("unexpected machine %s" % arch)
if not have_glibc(2, 12):
    sys.exit("%s: not manylinux2010 compatible" % sys.executable)
print("%s is manylinux2010 compatible" % sys.executable)
PY
cat > /tmp/ssl-check.py <<'PY'
# A good certificate verifies, a self-signed one is refused. Pythons older
# than 3.4 do not verify certificates by default: skipped, as the original
# ssl-check.py skips them.
import os
import sys
if sys.version_info[:2] < (3, 4):
    print("%s: Python %d.%d does not verify certificates by default, skipped"
          % ((sys.executable,) + sys.version_info[:2]))
    sys.exit(0)
try:
    from urllib.request import urlopen
except ImportError:
    from urllib2 import urlopen
GOOD_SSL = "https://google.com"
BAD_SSL = "https://self-signed.badssl.com"
print("Testing %s" % GOOD_SSL)
urlopen(GOOD_SSL).read()
print("Testing %s" % BAD_SSL)
try:
    urlopen(BAD_SSL).read()
except Exception:
    print("  refused, as it should be")
else:
    sys.exit("self-signed certificate accepted with SSL_CERT_FILE=%s" % os.environ.get("SSL_CERT_FILE"))
PY
for PYTHON in /opt/python/*/bin/python; do
    "${PYTHON}" /tmp/manylinux-check.py
    if [ "${SMOKE_TESTS_OFFLINE:-0}" != 1 ]; then
        "${PYTHON}" /tmp/ssl-check.py
    fi
done
