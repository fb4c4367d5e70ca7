#!/usr/bin/env bash
# Installs Debian's Chromium (apt-get, when /usr/bin/chromium is missing) for
# the web console's browser tests and prints ADF_TEST_CHROMIUM=<path> for eval.
set -euo pipefail
bin="${ADF_TEST_CHROMIUM:-/usr/bin/chromium}"
if ! [ -x "$bin" ]; then
  echo "installing chromium (apt-get)..." >&2
  apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq chromium >&2
fi
# (Debian's launcher script complains on stderr about this machine's memory
# size; the version line is what matters.)
"$bin" --version >&2 2>/dev/null
echo "export ADF_TEST_CHROMIUM=$bin"
