#!/usr/bin/env bash
# Installs the Debian packages that Catena's test suites need, and nothing else:
#   zookeeper   real ZooKeeper for the coordinator contract suite (pulls in a Java runtime)
# Idempotent: packages already installed are skipped, and `apt-get update` runs only when
# something is missing. Needs root only when it has something to install. To add a package,
# append it to `packages` below (with a comment on which suite needs it).
set -euo pipefail

packages=(
  zookeeper # test/coordination/zookeeper-coordinator.test.ts
)

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
