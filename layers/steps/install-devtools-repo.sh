#!/bin/bash
# The devtools-2 repo file (fetched and sha256-checked as the source
# `devtools-2-repo`) moved into /etc/yum.repos.d, as the original does: yum in
# the finished image sees the devtoolset-2 packages. (slipway's own package
# steps read the same file through the recipe's `[[repos]]`.)
set -euxo pipefail
install -m 0644 /inputs/devtools-2-repo/devtools-2.repo /etc/yum.repos.d/devtools-2.repo
