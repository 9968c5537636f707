#!/usr/bin/env bash
# Install the real services that the integration testbed (testbed/services/) starts.
#
# Idempotent: the binaries are checked first, so a second run costs almost nothing.
# As root, anything missing is installed from Debian's packages; apt's policy-rc.d keeps
# the services from starting, the testbed starts its own copies on free loopback ports.
# Not as root, a missing binary is reported on one line and the script exits non-zero.
set -euo pipefail

# Daemons live in sbin, which a non-root PATH often lacks.
export PATH="$PATH:/usr/sbin:/sbin"

PACKAGES=(
  postgresql redis-server prometheus prometheus-alertmanager prometheus-pushgateway
  prometheus-node-exporter prometheus-blackbox-exporter nginx openssh-server openssl
)

# Debian keeps postgres' server programs out of PATH, under /usr/lib/postgresql/<major>/bin.
have_initdb() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

missing_binaries() {
  local missing=()
  have_initdb || missing+=(initdb)
  local bin
  for bin in redis-server prometheus prometheus-alertmanager prometheus-pushgateway \
    prometheus-node-exporter prometheus-blackbox-exporter nginx openssl ssh ssh-keygen; do
    command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
  done
  [[ -x /usr/sbin/sshd ]] || missing+=(sshd)
  echo "${missing[*]:-}"
}

missing="$(missing_binaries)"
if [[ -z "$missing" ]]; then
  echo "install-services: all service binaries present"
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  echo "install-services: missing binaries: $missing (run this script as root to install them)" >&2
  exit 1
fi

echo "install-services: installing packages for missing binaries: $missing"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"

missing="$(missing_binaries)"
if [[ -n "$missing" ]]; then
  echo "install-services: still missing after install: $missing" >&2
  exit 1
fi
echo "install-services: all service binaries present"
