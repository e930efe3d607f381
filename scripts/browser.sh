#!/usr/bin/env bash
# Makes the machine ready for the issuer page's browser test
# (issuer/web/browser_test.go): Debian's chromium at /usr/bin/chromium and the
# test's npm packages (playwright-core, pinned by its package-lock.json).
# Playwright drives the system browser; it never downloads one.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  sudo=
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "browser: chromium is missing and installing it needs root or sudo" >&2; exit 1; }
    sudo=sudo
  fi
  echo "browser: installing chromium from Debian" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
echo "browser: $(/usr/bin/chromium --version 2>/dev/null)" >&2

command -v npm >/dev/null || { echo "browser: npm is missing; install Node.js 20 or later" >&2; exit 1; }
dir=issuer/web/testdata/browser
if [ ! -d "$dir/node_modules/playwright-core" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
