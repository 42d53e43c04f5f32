#!/usr/bin/env bash
# Installs the Debian packages that Catena's test suites need, and nothing else:
#   zookeeper           real ZooKeeper for the coordinator contract suite (pulls in a Java runtime)
#   redis-server        real Redis (started per test by src/testing/redis-server.ts)
#   redis-tools         redis-cli and redis-benchmark, to drive Redis and Catena's RESP front end
#   memcached           real memcached (started per test by src/testing/memcached-server.ts)
#   libmemcached-tools  libmemcached's memcp/memcat/memstat (named memccp/memccat/memcstat on Debian)
#   prometheus          for promtool, Prometheus's own check of the /metrics text format
#   chromium            a headless browser for the dashboard tests (driven by playwright-core)
#   zsh                 to run the zsh completion script `catena completion zsh` prints
# The redis-server, memcached and prometheus packages start system daemons (6379, 11211, 9090 and
# the node exporter's 9100); the script stops and disables them (best effort) since tests start
# their own servers on free ports (and need no Prometheus server at all).
# Idempotent: packages already installed are skipped, and `apt-get update` runs only when
# something is missing. Needs root only when it has something to install. To add a package,
# append it to `packages` below (with a comment on which suite needs it).
set -euo pipefail

packages=(
  zookeeper          # test/coordination/zookeeper-coordinator.test.ts
  redis-server       # test/testing/real-servers.test.ts (via src/testing/redis-server.ts)
  redis-tools        # test/testing/real-servers.test.ts (redis-cli, redis-benchmark)
  memcached          # test/testing/real-servers.test.ts (via src/testing/memcached-server.ts)
  libmemcached-tools # test/testing/real-servers.test.ts (memcp/memcat/memstat)
  prometheus         # test/server/metrics.test.ts (promtool check metrics)
  chromium           # test/dashboard/dashboard.test.ts (the dashboard in a real browser; npm run screenshots)
  zsh                # test/cli/completion.test.ts (the zsh completion script, sourced and autoloaded)
)

# Services some packages start on install; tests run their own instances on free ports.
services=(redis-server memcached prometheus prometheus-node-exporter)

# Stops and disables the packaged daemons, best effort: never fails the script.
stop_services() {
  for service in "${services[@]}"; do
    if command -v systemctl >/dev/null 2>&1; then
      if [ -d /run/systemd/system ]; then # systemd is running: stop the unit now
        systemctl stop "$service" >/dev/null 2>&1 || true
      fi
      systemctl disable "$service" >/dev/null 2>&1 || true # works offline too (containers)
    fi
    if command -v service >/dev/null 2>&1; then
      service "$service" stop >/dev/null 2>&1 || true
    fi
    if command -v update-rc.d >/dev/null 2>&1 && [ -e "/etc/init.d/$service" ]; then
      update-rc.d "$service" disable >/dev/null 2>&1 || true
    fi
  done
  # A daemon still running from the package's own init: kill it by its pid file (never by
  # name, which would also hit servers that tests started).
  for pidfile in /run/redis/redis-server.pid /run/memcached/memcached.pid; do
    if [ -s "$pidfile" ]; then
      kill "$(cat "$pidfile")" >/dev/null 2>&1 || true
    fi
  done
  return 0
}

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

missing=()
for package in "${packages[@]}"; do
  if installed "$package"; then
    echo "install-system-packages: $package is already installed"
  else
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-system-packages: nothing to install"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-packages: missing ${missing[*]}; run this script as root (e.g. sudo $0)" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-packages: missing ${missing[*]} and apt-get is not available on this system" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-system-packages: installing ${missing[*]}"
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
stop_services
