#!/bin/bash
# auditwheel and its friends with the 3.6 pip (hash-pinned, offline), the
# certificate bundle pip uses as /opt/_internal/certs.pem, and auditwheel on PATH.
set -euxo pipefail
PY36_BIN=/opt/python/cp36-cp36m/bin
cat > /tmp/py36-requirements.txt <<'REQ'
certifi==2018.1.18 --hash=sha256:14131608ad2fd56836d33a71ee60fa1c82bc9d2c8d98b7bdbc631fe1b3cd1296
auditwheel==1.8.0 --hash=sha256:63468bf62d82b27b1635ffe1c3f1c4e54ef67d0a6d38bedccc38ce6965d56db7
pyelftools==0.24 --hash=sha256:e9dd97d685a5b96b88a988dabadb88e5a539b64cd7d7927fac9a7368dc4c459c
typing==3.6.4 --hash=sha256:3a887b021a77b292e151afb75323dea88a7bc1b3dfa92176cff8e44c8b68bddf
REQ
find_links=()
for d in /inputs/*/; do find_links+=(--find-links "$d"); done
"${PY36_BIN}/pip" install --no-index "${find_links[@]}" --require-hashes -r /tmp/py36-requirements.txt
# Our OpenSSL does not know the system trust store: use certifi's bundle.
ln -s "$("${PY36_BIN}/python" -c 'import certifi; print(certifi.where())')" /opt/_internal/certs.pem
ln -s "${PY36_BIN}/auditwheel" /usr/local/bin/auditwheel
