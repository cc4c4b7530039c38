#!/bin/sh
# The C library headers for the compiler. In an RPM distribution this step is
# `packages = [{ install = ["gcc", "make", "glibc-devel"] }]`; the test world's
# base is Debian with rpm, gcc and make, whose headers come from apt.
set -eux
export DEBIAN_FRONTEND=noninteractive
apt-get update > /dev/null
apt-get install -y --no-install-recommends libc6-dev > /dev/null
