#!/usr/bin/env bash
# Print the path of a headless-capable Chromium, installing Debian's `chromium` package when it is
# missing and this user may (root with apt-get). Exit 1 with the reason on stderr otherwise, so
# the browser test can skip with it. MCNBENCH_NO_BROWSER_INSTALL=1 never installs.
set -uo pipefail
for name in chromium chromium-browser google-chrome; do
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; exit 0; fi
done
if [ "${MCNBENCH_NO_BROWSER_INSTALL:-0}" = "1" ]; then
  echo "no chromium on PATH and MCNBENCH_NO_BROWSER_INSTALL=1" >&2; exit 1
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "no chromium on PATH, and installing it needs root and apt-get (apt-get install chromium)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends chromium >/tmp/mcnbench-chromium-install.log 2>&1; then
  apt-get update -q >>/tmp/mcnbench-chromium-install.log 2>&1 &&
    apt-get install -y -q --no-install-recommends chromium >>/tmp/mcnbench-chromium-install.log 2>&1 ||
    { echo "apt-get install chromium failed (see /tmp/mcnbench-chromium-install.log)" >&2; exit 1; }
fi
command -v chromium || { echo "chromium installed but not on PATH" >&2; exit 1; }
