#!/usr/bin/env bash
# The fresh-machine check: the README's `make test`, then `make run` (scripts/make-run-smoke.sh), on a
# clean Debian 12, as a new user would.
#
# A bookworm root is made with mmdebstrap (--variant=apt plus the few tools any new machine has), the
# committed tree is copied into it with `git archive`, and `make test` runs there in a container
# whose / is that root: its own mount and PID namespaces, pivot_root into the root, a new /proc.
# It shares the host's network namespace (the package registries) and cgroup mounts (the kubelet).
#
# Why not bubblewrap: it sets no_new_privs on everything it starts, and the kubelet test that expects
# NoNewPrivs 0 in a pod would then fail for a reason no real machine has. Why not chroot: there / is
# not a mount point (the e2e harness's `unshare --propagation private` refuses) and /proc stays the
# host's (exec into a container reads the host's /proc/1). unshare + pivot_root has neither problem.
#
# The pristine root is cached between runs (never the project's build), keyed by the package list
# and the apt sources, so a second run starts from it in seconds. Downloaded .debs are cached too.
#   scripts/fresh-machine.sh            # from the top of a k1s checkout, as root
# Environment: K1S_FRESH_CACHE (default /var/cache/k1s/fresh-root), K1S_FRESH_KEEP=1 keeps the work dir.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
[[ $(id -u) -eq 0 ]] || { echo "fresh-machine: needs root (namespaces, mmdebstrap)" >&2; exit 2; }
start=$(date +%s)

# What the issue calls a plain machine: Debian's apt variant plus these.
BASE_PKGS=build-essential,cmake,git,ca-certificates,pkg-config,python3,curl,iproute2,procps,make
# The real kubectl the e2e tests drive is not a Debian package (Debian 12 has 1.20 only); every
# machine of this kind has the upstream binaries here, so the container sees them read-only.
KUBECTL_DIR=/usr/lib/google-cloud-sdk/bin

for tool in mmdebstrap unshare; do
  if ! command -v $tool >/dev/null; then
    echo ">> installing Debian package: $tool"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $tool >/dev/null
  fi
done

# The same apt sources and fetch settings as this machine (a snapshot mirror may need
# Check-Valid-Until false, for instance): every enabled .sources/.list file, and the apt.conf.d
# files that say how to reach the archive (validity checks, proxies, retries); not the image's
# other tweaks (gzipped indexes, dropped AppStream data), which a new machine does not have.
sources=()
[[ -s /etc/apt/sources.list ]] && grep -q '^deb' /etc/apt/sources.list && sources+=(/etc/apt/sources.list)
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do [[ -f $f ]] && sources+=("$f"); done
aptopts=()
for f in /etc/apt/apt.conf.d/*; do
  grep -qsE '^Acquire::(Check-|https?::|Retries|Queue-Mode)' "$f" && aptopts+=("$f")
done

cache=${K1S_FRESH_CACHE:-/var/cache/k1s/fresh-root}
mkdir -p "$cache/debs/partial"
key=$( (echo "$BASE_PKGS"; cat "${sources[@]}" "${aptopts[@]}") | sha256sum | cut -c1-16)
tarball=$cache/bookworm-$key.tar
root_note="cached"
if [[ ! -f $tarball ]]; then
  t0=$(date +%s)
  echo ">> fresh-machine: making a bookworm root with mmdebstrap (cached as $tarball)"
  args=(--variant=apt --include="$BASE_PKGS" --format=tar)
  for f in "${aptopts[@]}"; do args+=(--aptopt="$f"); done
  rm -f "$tarball.part"
  mmdebstrap -q "${args[@]}" bookworm "$tarball.part" "${sources[@]}"
  mv "$tarball.part" "$tarball"
  root_note="made in $(( $(date +%s) - t0 )) s"
  # Older roots (other package lists or sources) are not needed any more.
  find "$cache" -maxdepth 1 -name 'bookworm-*.tar' ! -name "${tarball##*/}" -delete
fi

work=$(mktemp -d /var/tmp/k1s-fresh.XXXXXX)
root=$work/root
cleanup() {
  # The container's mounts lived in its own mount namespace, gone with it; refuse to delete
  # anything if one is still visible here (it could be a bind of the host's files).
  if grep -q " ${work}/" /proc/self/mountinfo; then
    echo "fresh-machine: mounts remain under $work; not removing it" >&2
  elif [[ ${K1S_FRESH_KEEP:-0} != 1 ]]; then
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT
mkdir -p "$root"
tar -C "$root" -xf "$tarball"

# The tree as committed (what a clean clone has), not the working copy.
mkdir -p "$root/src/k1s"
git archive --format=tar HEAD | tar -C "$root/src/k1s" -xf -

# What every machine of this kind is given: the registry settings and the CA bundle they (and
# NODE_EXTRA_CA_CERTS, SSL_CERT_FILE) point at; without them npm cannot reach its registry.
for f in /etc/npmrc /usr/etc/npmrc; do [[ -f $f ]] && install -D -m 644 "$f" "$root$f"; done
[[ -f $HOME/.npmrc ]] && install -D -m 600 "$HOME/.npmrc" "$root/root/.npmrc"
if compgen -G '/usr/local/share/ca-certificates/*' >/dev/null; then
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
install -D -m 644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
cp /etc/resolv.conf "$root/etc/resolv.conf"
[[ -d $KUBECTL_DIR ]] || { echo "fresh-machine: $KUBECTL_DIR not found (the e2e tests' kubectl)" >&2; exit 2; }
mkdir -p "$root$KUBECTL_DIR"

env_pass=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb)
for v in NODE_EXTRA_CA_CERTS SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE REQUESTS_CA_BUNDLE; do
  [[ -n ${!v:-} ]] && env_pass+=("$v=${!v}")
done

echo ">> fresh-machine: make test in a clean Debian 12 root ($root; root $root_note)"
t1=$(date +%s)
set +e
# Private propagation: nothing mounted in here reaches the host, and unmounting the binds of
# /dev and /sys (also made rslave, for the same reason) cannot unmount the host's /run/netns.
unshare --mount --pid --fork --propagation private --kill-child -- bash -euc '
  root=$1 kubectl_dir=$2 debs=$3; shift 3
  mount --bind "$root" "$root"            # / must be a mount point: pivot_root, unshare --propagation
  mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev"
  mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys"   # with the cgroup mounts
  mount -t proc proc "$root/proc"         # this PID namespace'"'"'s
  mount -t tmpfs -o mode=755 tmpfs "$root/run"
  chmod 1777 "$root/tmp"
  mount --bind "$kubectl_dir" "$root$kubectl_dir" && mount -o remount,bind,ro "$root$kubectl_dir"
  mount --bind "$debs" "$root/var/cache/apt/archives"
  cd "$root" && mkdir -p .old-root && pivot_root . .old-root
  # A plain root has no umount(8) (package mount is not in --variant=apt): detach with the syscall.
  python3 -c "import ctypes, sys; sys.exit(ctypes.CDLL(None, use_errno=True).umount2(b\"/.old-root\", 2))"
  rmdir /.old-root
  cd /src/k1s
  # The two README commands: make test, then make run (up, a Ready node, Ctrl-C).
  exec env -i "$@" sh -c "make test && scripts/make-run-smoke.sh"
' fresh-root "$root" "$KUBECTL_DIR" "$cache/debs" "${env_pass[@]}"
rc=$?
set -e
secs=$(( $(date +%s) - start ))
if [[ $rc -eq 0 ]]; then
  echo "fresh-machine: PASSED: make test and make run in a clean Debian 12 root: $(( $(date +%s) - t1 )) s (stage ${secs} s, root $root_note)"
else
  echo "fresh-machine: FAILED (make test exit $rc) in a clean Debian 12 root after ${secs} s (root $root_note)"
fi
exit $rc
