#!/bin/bash
# Prefer the native arch when a package exists for several (as manylinux does).
set -euxo pipefail
echo "multilib_policy=best" >> /etc/yum.conf
