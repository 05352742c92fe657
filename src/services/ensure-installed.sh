#!/usr/bin/env bash
# Makes sure the real servers and the browser the tests, the benchmark and the demo run are installed:
#   src/services/ensure-installed.sh [chromium] [etcd] [nats] [redis]   (no argument: all four)
# Each is one of Debian's packages, found by its executable. Whatever is missing is installed with
# one `apt-get update` and one quiet `apt-get install`. Idempotent: a second run, or one racing the
# first, finds them installed and does nothing. Exits non-zero with the reason (and apt-get's last
# lines) when it cannot. Starting the servers is not its job: see src/services/local-servers.ts.
set -euo pipefail

declare -A PACKAGE=([chromium]=chromium [etcd]=etcd-server [nats]=nats-server [redis]=redis-server)
declare -A EXECUTABLE=([chromium]=/usr/bin/chromium [etcd]=/usr/bin/etcd [nats]=/usr/sbin/nats-server [redis]=/usr/bin/redis-server)

fail() {
  echo "ensure-installed: $*" >&2
  exit 1
}

wanted=("$@")
[[ ${#wanted[@]} -gt 0 ]] || wanted=(chromium etcd nats redis)

missing_packages() {
  local name
  for name in "${wanted[@]}"; do
    [[ -n "${PACKAGE[$name]:-}" ]] || fail "unknown name '$name' (known: ${!PACKAGE[*]})"
    [[ -x "${EXECUTABLE[$name]}" ]] || printf '%s\n' "${PACKAGE[$name]}"
  done
}

missing=$(missing_packages)
[[ -n "$missing" ]] || exit 0
read -r -a packages <<<"$(echo $missing)"

command -v apt-get >/dev/null 2>&1 ||
  fail "missing ${packages[*]} and apt-get is not available: install Debian's ${packages[*]}"

as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 ||
    fail "missing ${packages[*]}; installing needs root (or sudo): run 'apt-get install ${packages[*]}' as root"
  as_root=(sudo -n)
fi

# Two callers at once (CI's step and a test's setup) would fight over apt's lock: take turns, and
# let the second find what the first installed.
lock="${TMPDIR:-/tmp}/ensure-installed.lock"
exec 9>"$lock"
if command -v flock >/dev/null 2>&1; then
  flock -w 900 9 || fail "waited 15 minutes for another install (lock $lock)"
fi
missing=$(missing_packages)
[[ -n "$missing" ]] || exit 0
read -r -a packages <<<"$(echo $missing)"

log="$(mktemp "${TMPDIR:-/tmp}/ensure-installed.XXXXXX.log")"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive

echo "ensure-installed: installing Debian's ${packages[*]} (apt-get)" >&2
if ! "${as_root[@]}" apt-get update -qq >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get update failed (its last lines are above)"
fi
if ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >>"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get install ${packages[*]} failed (its last lines are above)"
fi
missing=$(missing_packages)
[[ -z "$missing" ]] || fail "installed ${packages[*]}, but still missing: $(echo $missing)"
echo "ensure-installed: installed ${packages[*]}" >&2
