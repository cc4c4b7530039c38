#!/bin/bash
# git 2.16.2 linked against our OpenSSL and curl, so it speaks TLS 1.2. Only
# prefix, LDFLAGS and CFLAGS, as the original: gettext and gitk/git-gui are
# built (gettext and tk-devel are installed by `system-packages`).
set -euxo pipefail
cd /tmp
tar -xzf /inputs/git/git-2.16.2.tar.gz
cd git-2.16.2
make install prefix=/usr/local LDFLAGS="-L/usr/local/ssl/lib -ldl" \
    CFLAGS="-I/usr/local/ssl/include" > /dev/null
cd /tmp && rm -rf git-2.16.2
git version
