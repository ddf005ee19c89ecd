#!/usr/bin/env bash
# Make Debian's Chromium available for the browser tests (tests/browser).
#
# Idempotent: does nothing when /usr/bin/chromium is already there.  As root on a
# Debian/Ubuntu machine it installs the distribution package (nothing is downloaded
# by a test tool: no `playwright install`).  Otherwise it prints what to do and
# exits 0, so `make test` goes on and the browser tests skip loudly, counted in the
# pytest summary ("BROWSER TESTS SKIPPED: N ...").
set -u

CHROMIUM="${RG_CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

say() { echo "ensure_chromium: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    say "no Chromium at $CHROMIUM and not running as root: cannot install it."
    say "Install it yourself (Debian/Ubuntu: sudo apt-get install chromium) to run the"
    say "browser tests; until then they are SKIPPED (counted in the pytest summary)."
    exit 0
fi

if ! command -v apt-get > /dev/null 2>&1; then
    say "no Chromium at $CHROMIUM and no apt-get on this machine: install Chromium by hand"
    say "(or set RG_CHROMIUM to its path); until then the browser tests are SKIPPED."
    exit 0
fi

say "installing Debian's chromium (apt-get) for the browser tests ..."
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq > /dev/null \
   && apt-get install -y -qq --no-install-recommends chromium > /dev/null; then
    if [ -x "$CHROMIUM" ]; then
        say "installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
        exit 0
    fi
fi
say "apt-get could not install chromium; the browser tests will be SKIPPED."
exit 0
