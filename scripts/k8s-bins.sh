#!/usr/bin/env bash
# Builds a real Kubernetes control plane from the Go module proxy, once, and
# caches it by version (Debian has no kube-apiserver, and its etcd is too old):
#   k8s-bins.sh          kube-apiserver (k8s.io/kubernetes v1.37.2) and etcd v3.6.16
#   k8s-bins.sh kubelet  also kubelet and containerd v2.4.2 (containerd,
#                        containerd-shim-runc-v2, ctr), for the opt-in node tests
# The folder is ${LAMBDALAB_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lambdalab/k8s}/v1.37.2-etcd3.6.16;
# lambdalab/sandbox/kubernetes/k8stest looks there too. The last line printed
# on stdout is that folder, so callers can write dir=$(scripts/k8s-bins.sh | tail -1);
# everything else goes to stderr.
#
# With every binary present it runs no go command at all. A cold build on 2
# cores took 7 minutes on an idle machine and 13 on a busy one (kube-apiserver
# 6 to 12, etcd 1), and about 5 GB of Go build cache; the folder is 140 MB.
# The sources are the wrapper modules in scripts/k8s/, whose committed go.mod
# and go.sum pin every dependency (scripts/k8s/gen-mods.sh regenerates them
# for another version).
set -euo pipefail

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.16
CONTAINERD_VERSION=v2.4.2

case "${1:-}" in
  "") want=(kube-apiserver etcd) ;;
  kubelet) want=(kube-apiserver etcd kubelet containerd containerd-shim-runc-v2 ctr) ;;
  *) echo "usage: $0 [kubelet]" >&2; exit 2 ;;
esac

cache=${LAMBDALAB_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lambdalab/k8s}
dir=$cache/$K8S_VERSION-etcd${ETCD_VERSION#v}

missing() {
  local name
  for name in "${want[@]}"; do
    [ -x "$dir/$name" ] || return 0
  done
  return 1
}

if ! missing; then
  echo "k8s-bins: ${want[*]} are cached in" >&2
  echo "$dir"
  exit 0
fi

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
# One build at a time per folder: a second caller waits, then finds the
# binaries the first one built.
exec 9>"$dir/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

# A build goes into a temp folder beside the cache and is renamed in only
# after it has run, so an interrupted or broken build never counts as cached.
tmp=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The committed go.mod and go.sum are used as they are (-mod=readonly), whatever
# GOFLAGS the caller has; GOWORK=off keeps a go.work above us out. -p 2 and
# nice: the machines this runs on have 2 cores, and other work goes on.
export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false"
build=(-p 2 -trimpath)

# verify NAME WANT [ARGS]: the temp binary runs and prints WANT, then it is
# renamed into the cache.
verify() {
  local name=$1 want=$2 out
  shift 2
  if ! out=$("$tmp/$name" "$@" 2>&1); then
    echo "k8s-bins: $name $* failed: $out" >&2
    exit 1
  fi
  case "$out" in
    *"$want"*) ;;
    *) echo "k8s-bins: $name $* printed \"$out\", want $want" >&2; exit 1 ;;
  esac
  mv -f "$tmp/$name" "$dir/$name"
}

timed() {
  local name=$1 start=$SECONDS
  shift
  echo "k8s-bins: building $name" >&2
  "$@" >&2
  echo "k8s-bins: built $name in $((SECONDS - start)) s" >&2
}

# Without these -X flags the binaries say v0.0.0-master, and clients that
# check the server's version (envtest does) see nonsense. Kubernetes's own
# build (hack/lib/version.sh) sets the same variables; -s -w as it does too.
minor=${K8S_VERSION#v1.}
minor=${minor%%.*}
kube_ldflags="-s -w
  -X k8s.io/component-base/version.gitVersion=$K8S_VERSION
  -X k8s.io/component-base/version.gitMajor=1
  -X k8s.io/component-base/version.gitMinor=$minor
  -X k8s.io/component-base/version.gitTreeState=clean
  -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION
  -X k8s.io/client-go/pkg/version.gitMajor=1
  -X k8s.io/client-go/pkg/version.gitMinor=$minor"

kube() {
  local name=$1
  [ -x "$dir/$name" ] && return 0
  # Static, as Kubernetes releases them: no cgo for the server binaries.
  timed "$name" env CGO_ENABLED=0 nice -n 10 go build -C "$here/k8s/apiserver" \
    "${build[@]}" -ldflags "$kube_ldflags" -o "$tmp/$name" "k8s.io/kubernetes/cmd/$name"
  verify "$name" "Kubernetes $K8S_VERSION" --version
}

kube kube-apiserver

if [ ! -x "$dir/etcd" ]; then
  timed etcd env CGO_ENABLED=0 nice -n 10 go build -C "$here/k8s/etcd" \
    "${build[@]}" -ldflags "-s -w" -o "$tmp/etcd" .
  verify etcd "etcd Version: ${ETCD_VERSION#v}" --version
fi

if [ "${1:-}" = kubelet ]; then
  kube kubelet
  if [ ! -x "$dir/containerd" ] || [ ! -x "$dir/containerd-shim-runc-v2" ] || [ ! -x "$dir/ctr" ]; then
    # containerd's go.mod has no replace directives, so a plain go install
    # works; GOFLAGS=-mod=readonly is not allowed outside a module.
    pkg=github.com/containerd/containerd/v2
    timed containerd env GOFLAGS=-buildvcs=false GOBIN="$tmp" nice -n 10 go install -p 2 -trimpath \
      -ldflags "-s -w -X $pkg/version.Version=$CONTAINERD_VERSION" \
      "$pkg/cmd/containerd@$CONTAINERD_VERSION" \
      "$pkg/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
      "$pkg/cmd/ctr@$CONTAINERD_VERSION"
    verify containerd-shim-runc-v2 "$CONTAINERD_VERSION" -v
    verify ctr "$CONTAINERD_VERSION" --version
    verify containerd "$CONTAINERD_VERSION" --version
  fi
fi

echo "k8s-bins: ${want[*]} are in" >&2
echo "$dir"
