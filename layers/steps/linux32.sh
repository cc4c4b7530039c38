#!/bin/bash
# i686 only: /usr/bin/linux32, the image's ENTRYPOINT. The original copies its
# own stub over /usr/bin/linux32 (a Python script run by the system
# /usr/bin/python that calls personality(PER_LINUX32) through ctypes and execs
# its arguments, or /bin/sh without any). This writes an equivalent stub (our
# own text, same behaviour) over it, whatever the base had there.
set -euxo pipefail
rm -f /usr/bin/linux32
cat > /usr/bin/linux32 <<'PY'
#!/usr/bin/python
"""linux32 [PROGRAM [ARGUMENT...]]: run PROGRAM (default /bin/sh) with the
32-bit personality, so that `uname -m` says i686."""
import ctypes
import os
import sys

PER_LINUX32 = 0x0008

libc = ctypes.CDLL(None, use_errno=True)
libc.personality.argtypes = [ctypes.c_ulong]
libc.personality.restype = ctypes.c_int
if libc.personality(PER_LINUX32) == -1:
    sys.exit("linux32: personality: %s" % os.strerror(ctypes.get_errno()))
argv = sys.argv[1:] or ["/bin/sh"]
os.execvp(argv[0], argv)
PY
chmod 0755 /usr/bin/linux32
linux32 uname -m
