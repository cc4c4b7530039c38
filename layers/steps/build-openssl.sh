#!/bin/bash
# OpenSSL 1.0.2o, static and position-independent, for curl and the Pythons.
# /usr/local/ssl is deleted again by cleanup.sh once everything links it.
set -euxo pipefail
cd /tmp
tar -xzf /inputs/openssl/openssl-1.0.2o.tar.gz
cd openssl-1.0.2o
./config no-ssl2 no-shared -fPIC --prefix=/usr/local/ssl > /dev/null
make > /dev/null
make install_sw > /dev/null
cd /tmp && rm -rf openssl-1.0.2o
