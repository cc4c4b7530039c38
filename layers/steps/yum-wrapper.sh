#!/bin/bash
# The original's HACK: the curl 7.59 libcurl.so.4 in /usr/local/lib (on
# LD_LIBRARY_PATH) breaks the system Python 2.6 that yum runs on, so
# /usr/local/bin/yum (before /usr/bin on PATH) preloads the system libcurl.
# The file is written byte for byte as the original writes it (including the
# trailing blank after the i686 path).
set -euxo pipefail
cat <<'WRAPPER' > /usr/local/bin/yum && chmod +x /usr/local/bin/yum
#!/bin/bash
if [ "x$(arch)" != xi686 ]; then
  LD_PRELOAD=/usr/lib64/libcurl.so.4
else
  LD_PRELOAD=/usr/lib/libcurl.so.4 
fi
export LD_PRELOAD
/usr/bin/yum "$@"
WRAPPER
type yum
hash yum
