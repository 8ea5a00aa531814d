#!/usr/bin/env bash
# Debian packages some test suites run against, installed only where missing:
#   nginx     the auth_request end-to-end test (tests/e2e/test_nginx.py)
#   chromium  opens the HTML scan report (tests/scanner)
#   nodejs    runs the JavaScript request signer's tests (clients/js)
#   softhsm2  the PKCS#11 token of the key-encryption-key tests (tests/crypto)
# Without them those tests skip with a message on a developer machine; CI (CI=true) needs them.
set -euo pipefail
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v softhsm2-util >/dev/null 2>&1 || missing+=(softhsm2)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
