#!/usr/bin/env bash
# Packages one lab image as an OCI archive (oci-layout, index.json, blobs), offline and
# without docker: one gzip layer made from a staged root filesystem, a config, a manifest.
# Every timestamp, owner and file order is fixed, so the same inputs give the same bytes
# (and the same image ID) on every build.
#
#   package.sh --out X.tar --conf images/<name>.conf --bin-dir <dir of the built binaries>
#
# The .conf file (bash) sets: ref, and optionally entrypoint, cmd, env (JSON arrays), ports,
# workdir, and the arrays files (SRC:DST[:MODE]), links (TARGET:DST), dirs. In it $BIN is the
# binary dir and $SRC the images/ source dir. Keeping them in files spares JSON the quoting
# trip through CMake, ninja and the shell.
set -euo pipefail

out= conf= BIN= ref= entrypoint=null cmd=null env='["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'
workdir=/ ports=()
files=() links=() dirs=()
while (($#)); do
  case "$1" in
    --out) out=$2 ;;
    --conf) conf=$2 ;;
    --bin-dir) BIN=$2 ;;
    *) echo "package.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
[[ -n $out && -n $conf ]] || { echo "package.sh: --out and --conf are required" >&2; exit 2; }
SRC=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
source "$conf"
[[ -n $ref ]] || { echo "package.sh: $conf sets no ref" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/k1s-lab-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs layout=$work/layout
mkdir -p "$rootfs" "$layout/blobs/sha256"

# Root filesystem: the usual top-level directories, then the files, links and extra dirs asked for.
for d in bin etc tmp dev proc sys "${dirs[@]}" "${workdir#/}"; do mkdir -p "$rootfs/${d#/}"; done
for spec in "${files[@]}"; do
  IFS=: read -r src dst mode <<<"$spec"
  mkdir -p "$rootfs$(dirname "$dst")"
  cp "$src" "$rootfs$dst"
  chmod "${mode:-0644}" "$rootfs$dst"
done
for spec in "${links[@]}"; do
  IFS=: read -r target dst <<<"$spec"
  mkdir -p "$rootfs$(dirname "$dst")"
  ln -sfn "$target" "$rootfs$dst"
done
# Minimal identity files, so tools that look up uid 0 find a name.
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
find "$rootfs" -type d -exec chmod 0755 {} +
chmod 1777 "$rootfs/tmp"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"

tar_fixed() {  # deterministic tar of a directory's contents to stdout
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -C "$1" -cf - .
}
digest_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }
store_blob() {  # moves a file into blobs/sha256/<digest>; prints the digest
  local h
  h=$(digest_of "$1")
  mv "$1" "$layout/blobs/sha256/$h"
  echo "$h"
}

tar_fixed "$rootfs" >"$work/layer.tar"
diff_id=$(digest_of "$work/layer.tar")
gzip -n -6 <"$work/layer.tar" >"$work/layer.tar.gz"
layer_size=$(size_of "$work/layer.tar.gz")
layer_digest=$(store_blob "$work/layer.tar.gz")

exposed='{}'
if ((${#ports[@]})); then
  exposed=$(printf '"%s/tcp":{},' "${ports[@]}")
  exposed="{${exposed%,}}"
fi
printf '{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Entrypoint":%s,"Cmd":%s,"Env":%s,"ExposedPorts":%s,"WorkingDir":"%s"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"k1s images/package.sh","comment":"%s"}]}' \
  "$entrypoint" "$cmd" "$env" "$exposed" "$workdir" "$diff_id" "$ref" >"$work/config.json"
config_size=$(size_of "$work/config.json")
config_digest=$(store_blob "$work/config.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
  "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$work/manifest.json"
manifest_size=$(size_of "$work/manifest.json")
manifest_digest=$(store_blob "$work/manifest.json")

# The full normalized name in both annotations: containerd's is what the importer prefers,
# the OCI one is what skopeo and umoci read.
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest_digest" "$manifest_size" "$ref" "$ref" >"$layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
find "$layout" -type d -exec chmod 0755 {} +
find "$layout" -type f -exec chmod 0644 {} +

mkdir -p "$(dirname "$out")"
tar_fixed "$layout" >"$out.tmp"
mv "$out.tmp" "$out"
