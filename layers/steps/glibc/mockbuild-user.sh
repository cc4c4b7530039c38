#!/bin/bash
# The glibc SRPM's files are owned by mockbuild; rpm -i wants the user.
set -euxo pipefail
useradd mockbuild
