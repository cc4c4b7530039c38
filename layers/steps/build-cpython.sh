#!/bin/bash
# One CPython: PY_VER (e.g. 3.6.4) and UNICODE (ucs2, ucs4 or none) come from
# the step's env. Installs into /opt/_internal/cpython-<v>[-ucsN], adds pip,
# wheel and setuptools from the hash-checked wheels in /inputs (offline), and
# links /opt/python/<python tag>-<abi tag>.
set -euxo pipefail
: "${PY_VER:?}" "${UNICODE:?}"
if [ "${UNICODE}" = "none" ]; then
    unicode_flags=""
    dir_suffix=""
else
    unicode_flags="--enable-unicode=${UNICODE}"
    dir_suffix="-${UNICODE}"
fi
prefix="/opt/_internal/cpython-${PY_VER}${dir_suffix}"
cd /tmp
tar -xzf "/inputs/python-${PY_VER}/Python-${PY_VER}.tgz"
cd "Python-${PY_VER}"
mkdir -p "${prefix}/lib"
# No CFLAGS, as the original (they end up in sysconfig, which every
# extension build reads); -j2 as the original.
./configure --prefix="${prefix}" --disable-shared ${unicode_flags:+"${unicode_flags}"} > /dev/null
make -j2 > /dev/null
make install > /dev/null
cd /tmp && rm -rf "Python-${PY_VER}"
# Some Pythons install as bin/python3 only.
if [ -e "${prefix}/bin/python3" ] && [ ! -e "${prefix}/bin/python" ]; then
    ln -s python3 "${prefix}/bin/python"
fi
# pip from its own wheel (what get-pip.py does, without the network), then
# the pinned pip/wheel/setuptools with their hashes.
pip_whl=/inputs/pip/pip-9.0.3-py2.py3-none-any.whl
"${prefix}/bin/python" "${pip_whl}/pip" install --no-index "${pip_whl}"
if [ -e "${prefix}/bin/pip3" ] && [ ! -e "${prefix}/bin/pip" ]; then
    ln -s pip3 "${prefix}/bin/pip"
fi
cat > /tmp/requirements.txt <<'REQ'
pip==9.0.3 --hash=sha256:c3ede34530e0e0b2381e7363aded78e0c33291654937e7373032fda04e8803e5
wheel==0.30.0 --hash=sha256:e721e53864f084f956f40f96124a74da0631ac13fbbd1ba99e8e2b5e9cafdf64
setuptools==39.0.1 --hash=sha256:8010754433e3211b9cdbbf784b50f30e80bf40fc6b05eb5f865fab83300599b8
REQ
"${prefix}/bin/pip" install -U --no-index --find-links /inputs/pip --find-links /inputs/wheel \
    --find-links /inputs/setuptools --require-hashes -r /tmp/requirements.txt
abi_tag=$("${prefix}/bin/python" - <<'PY'
from wheel.pep425tags import get_abbr_impl, get_impl_ver, get_abi_tag
print("{0}{1}-{2}".format(get_abbr_impl(), get_impl_ver(), get_abi_tag()))
PY
)
mkdir -p /opt/python
ln -s "${prefix}" "/opt/python/${abi_tag}"
