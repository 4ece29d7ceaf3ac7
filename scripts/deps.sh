#!/usr/bin/env bash
# Ensures what lambdalab needs on this machine, idempotently:
#   deps.sh docker   a running Docker engine and debootstrap (for the offline image build)
#   deps.sh browser  Debian's chromium (for the browser tests)
#   deps.sh awscli   Debian's awscli, the AWS CLI v2 at /usr/bin/aws (for the client tests)
#   deps.sh gvisor   Debian's runsc, registered with Docker (opt-in hardened mode)
#   deps.sh postgres Debian's postgresql server binaries (for LAMBDALAB_TEST_DATABASE=postgres)
#   deps.sh cni      Debian's containernetworking-plugins in /usr/lib/cni (for the opt-in node tests)
# On Debian as root it installs what is missing from Debian's packages and
# starts dockerd; elsewhere it says what to install and stops.
set -euo pipefail

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_updated=
apt_install() {
  if ! can_apt; then
    echo "lambdalab needs these packages: $*" >&2
    echo "install them (on Debian: sudo apt-get install $*) and run this again" >&2
    exit 1
  fi
  if [ -z "$apt_updated" ]; then
    echo "deps: apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  echo "deps: installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

docker_up() { docker info >/dev/null 2>&1; }

ensure_docker() {
  local need=()
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
  command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
  [ ${#need[@]} -gt 0 ] && apt_install "${need[@]}"
  # Debian's docker.io ships its own client; an older client elsewhere on PATH is fine
  # because lambdalab talks to the engine through the Go SDK, not the CLI.
  if docker_up; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "Docker is installed but no engine answers: start it (sudo systemctl start docker) or add yourself to the docker group" >&2
    exit 1
  fi
  echo "deps: starting dockerd (log: /var/log/lambdalab-dockerd.log)"
  if command -v systemctl >/dev/null 2>&1 && systemctl start docker >/dev/null 2>&1; then :; else
    # In a session of its own: the engine outlives the shell, job or test
    # run that started it (a killed process group took it down with it).
    setsid nohup dockerd >/var/log/lambdalab-dockerd.log 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 60); do docker_up && return 0; sleep 0.5; done
  echo "dockerd did not come up in 30 s; see /var/log/lambdalab-dockerd.log" >&2
  exit 1
}

ensure_browser() {
  command -v chromium >/dev/null 2>&1 && return 0
  apt_install chromium
}

# The client tests run Debian's AWS CLI v2 by its full path, /usr/bin/aws:
# another aws earlier on PATH (a pip-installed v1, say) is left alone.
ensure_awscli() {
  local aws=/usr/bin/aws
  if [ -x "$aws" ] && "$aws" --version 2>&1 | grep -q '^aws-cli/2\.'; then return 0; fi
  if [ -x "$aws" ]; then
    echo "$aws is not the AWS CLI v2 ($("$aws" --version 2>&1 | head -n1)); the tests need Debian's awscli package" >&2
  fi
  apt_install awscli
  if ! "$aws" --version 2>&1 | grep -q '^aws-cli/2\.'; then
    echo "$aws is still not the AWS CLI v2 after installing awscli: $("$aws" --version 2>&1 | head -n1)" >&2
    exit 1
  fi
}

# gVisor is opt-in (LAMBDALAB_OCI_RUNTIME=runsc): install Debian's runsc and
# register it with Docker the way lambdalab needs it (no network, host Unix
# sockets allowed for the relay), then make dockerd reload its runtimes.
ensure_gvisor() {
  ensure_docker
  command -v runsc >/dev/null 2>&1 || apt_install runsc
  if ! docker info 2>/dev/null | grep -q 'Runtimes:.*runsc'; then
    register_runsc
  fi
  # lambdalab asks for runsc per container; everything else (runc mode, the
  # image build, other users of this dockerd) relies on runc staying the default.
  local default
  default=$(docker info --format '{{.DefaultRuntime}}' 2>/dev/null || true)
  if [ "$default" != runc ]; then
    echo "warning: dockerd's default runtime is ${default:-unknown}, not runc: lambdalab's runc mode would run under it" >&2
  fi
}

register_runsc() {
  local conf=/etc/docker/daemon.json
  if [ -s "$conf" ] && ! grep -q runsc "$conf"; then
    echo "$conf exists: add to it" >&2
    echo '  "runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none", "--host-uds=open"]}}' >&2
    echo "and reload dockerd (kill -HUP \$(pidof dockerd))" >&2
    exit 1
  fi
  # A daemon.json that names runsc already is only reloaded, never rewritten,
  # so whatever else it configures stays.
  if [ ! -s "$conf" ]; then
    mkdir -p /etc/docker
    echo '{"runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none", "--host-uds=open"]}}}' > "$conf"
  fi
  kill -HUP "$(pidof dockerd)"
  for _ in $(seq 1 20); do docker info 2>/dev/null | grep -q 'Runtimes:.*runsc' && return 0; sleep 0.5; done
  echo "dockerd did not pick up runsc; restart it" >&2
  exit 1
}

# The PostgreSQL tests start a private server of their own (store/storetest)
# from initdb and postgres, so only the binaries are needed: nothing is started
# here. Debian keeps them off PATH in /usr/lib/postgresql/VERSION/bin; this
# looks where storetest looks, PATH first (initdb's folder, symlinks followed,
# so postgres is the same version), then the highest version there.
pg_bindir() {
  local initdb dir
  if initdb=$(command -v initdb 2>/dev/null); then
    dir=$(dirname "$(readlink -f "$initdb")")
    if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then echo "$dir"; return 0; fi
  fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

ensure_postgres() {
  pg_bindir >/dev/null && return 0
  if ! can_apt; then
    apt_install postgresql # says what to install, and stops
  fi
  # Debian's package would start its own cluster on port 5432, which the tests
  # neither need nor use: a policy-rc.d that answers 101 ("not allowed") stops
  # invoke-rc.d and deb-systemd-invoke from starting it. One already there is
  # the machine's own policy and is left alone.
  local policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # sysstat, the server's only recommendation, is no use to the tests.
  apt_install --no-install-recommends postgresql
  if ! pg_bindir >/dev/null; then
    echo "postgresql is installed but no initdb and postgres were found on PATH or in /usr/lib/postgresql/*/bin" >&2
    exit 1
  fi
}

# The node tests' containerd (sandbox/kubernetes/k8stest) takes its CNI plugins
# from /usr/lib/cni, where Debian installs them; nothing is configured here, the
# test writes its own network configuration.
ensure_cni() {
  [ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/host-local ] && [ -x /usr/lib/cni/loopback ] && return 0
  apt_install containernetworking-plugins
}

case "${1:-}" in
  docker) ensure_docker ;;
  browser) ensure_browser ;;
  awscli) ensure_awscli ;;
  gvisor) ensure_gvisor ;;
  postgres) ensure_postgres ;;
  cni) ensure_cni ;;
  *) echo "usage: $0 docker|browser|awscli|gvisor|postgres|cni" >&2; exit 2 ;;
esac
