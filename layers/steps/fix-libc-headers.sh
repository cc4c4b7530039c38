#!/bin/bash
# glibc 2.12's headers use GNU89 `extern inline`; make them C99-safe.
set -euxo pipefail
find /usr/include/ -type f -exec sed -i \
    's/\bextern _*inline_*\b/extern __inline __attribute__ ((__gnu_inline__))/g' {} +
