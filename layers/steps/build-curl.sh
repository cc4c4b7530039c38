#!/bin/bash
# curl 7.59.0 with the OpenSSL of build-openssl.sh (TLS 1.2 on CentOS 6).
set -euxo pipefail
cd /tmp
tar -xzf /inputs/curl/curl-7.59.0.tar.gz
cd curl-7.59.0
LIBS=-ldl ./configure --with-ssl=/usr/local/ssl > /dev/null
make > /dev/null
make install > /dev/null
cd /tmp && rm -rf curl-7.59.0
hash -r
curl --version
curl-config --features
