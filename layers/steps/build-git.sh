#!/bin/bash
# git 2.16.2 linked against our OpenSSL and curl, so it speaks TLS 1.2.
set -euxo pipefail
cd /tmp
tar -xzf /inputs/git/git-2.16.2.tar.gz
cd git-2.16.2
make install prefix=/usr/local NO_GETTEXT=1 NO_TCLTK=1 \
    CFLAGS="-I/usr/local/ssl/include" LDFLAGS="-L/usr/local/ssl/lib -ldl" > /dev/null
cd /tmp && rm -rf git-2.16.2
git version
