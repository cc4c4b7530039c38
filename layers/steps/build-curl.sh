#!/bin/bash
# curl 7.59.0 with the OpenSSL of build-openssl.sh (TLS 1.2 on CentOS 6),
# configured as the original: a bare `--with-ssl` finds /usr/local/ssl;
# `-Wl,--exclude-libs,ALL` keeps the static OpenSSL's symbols out of
# libcurl.so.4's exports; `--disable-static`: no libcurl.a.
set -euxo pipefail
cd /tmp
tar -xzf /inputs/curl/curl-7.59.0.tar.gz
cd curl-7.59.0
LIBS=-ldl CFLAGS=-Wl,--exclude-libs,ALL ./configure --with-ssl --disable-static > /dev/null
make > /dev/null
make install > /dev/null
cd /tmp && rm -rf curl-7.59.0
hash -r
curl --version
curl-config --features
