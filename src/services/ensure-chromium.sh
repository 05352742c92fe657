#!/usr/bin/env bash
# Makes sure /usr/bin/chromium exists, for the dashboard's browser tests (playwright-core drives it;
# it bundles no browser, and `npx playwright install` cannot download here). When it is missing,
# installs Debian's `chromium` package: one `apt-get update`, then one quiet install. Idempotent: a
# second run, or one racing the first, finds it installed and does nothing. Exits non-zero with
# the reason (and apt-get's last lines) when it cannot.
set -euo pipefail

readonly CHROMIUM=/usr/bin/chromium

fail() {
  echo "ensure-chromium: $*" >&2
  exit 1
}

if [[ -x "$CHROMIUM" ]]; then
  exit 0
fi

command -v apt-get >/dev/null 2>&1 ||
  fail "$CHROMIUM is missing and apt-get is not available: install Chromium so that $CHROMIUM exists"

as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 ||
    fail "$CHROMIUM is missing; installing it needs root (or sudo): run 'apt-get install chromium' as root"
  as_root=(sudo -n)
fi

# Two callers at once (CI's step and a test's setup) would fight over apt's lock: take turns, and
# let the second find the browser the first installed.
lock="${TMPDIR:-/tmp}/ensure-chromium.lock"
exec 9>"$lock"
if command -v flock >/dev/null 2>&1; then
  flock -w 900 9 || fail "waited 15 minutes for another install (lock $lock)"
fi
if [[ -x "$CHROMIUM" ]]; then
  exit 0
fi

log="$(mktemp "${TMPDIR:-/tmp}/ensure-chromium.XXXXXX.log")"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive

echo "ensure-chromium: $CHROMIUM is missing; installing Debian's chromium package (apt-get)" >&2
if ! "${as_root[@]}" apt-get update -qq >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get update failed (its last lines are above)"
fi
if ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends chromium >>"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get install chromium failed (its last lines are above)"
fi
[[ -x "$CHROMIUM" ]] || fail "the chromium package installed, but $CHROMIUM is still missing"
echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)" >&2
