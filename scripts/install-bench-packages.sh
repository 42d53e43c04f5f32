#!/usr/bin/env bash
# Installs the peers `npm run bench:compare` measures Catena against, from Debian's packages:
# everything scripts/install-system-packages.sh installs (redis-server, redis-tools with
# redis-benchmark, memcached, libmemcached-tools with memaslap as memcaslap, zookeeper), plus
#   etcd-server   a 3-member etcd cluster is started from /usr/bin/etcd on loopback
# The etcd package may start a system daemon on 2379; it is stopped and disabled (the benchmark
# starts its own members on free ports). Idempotent; needs root only when something is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bash "$here/install-system-packages.sh"

if ! command -v etcd >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "etcd-server is missing: run this script as root (sudo bash $0)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq etcd-server >/dev/null
fi
if command -v systemctl >/dev/null 2>&1; then
  { [ -d /run/systemd/system ] && systemctl stop etcd; } >/dev/null 2>&1 || true
  systemctl disable etcd >/dev/null 2>&1 || true
fi
if command -v service >/dev/null 2>&1; then service etcd stop >/dev/null 2>&1 || true; fi
echo "bench peers installed: $(command -v redis-server) $(command -v memcached) $(command -v etcd)"
