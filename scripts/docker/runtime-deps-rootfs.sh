#!/bin/bash
# Runs inside the Debian stand-in base (scripts/images.sh): assembles a root filesystem as close to the chiseled
# .NET runtime-deps image as Debian's packages allow — the slices chisel takes (libc, libgcc, libssl, libstdc++,
# zlib libraries; the CA bundle; tzdata's zoneinfo; openssl.cnf; os-release; passwd/group with root and app) and
# nothing else: no shell, no package manager, no coreutils — and writes it to stdout as a tar stream.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
debs=$(mktemp -d)
root=$(mktemp -d)
chmod 0755 "$debs" "$root" # mktemp's 0700 would make / untraversable for non-root users (and _apt)
cd "$debs"
apt-get download -qq -o APT::Sandbox::User=root libc6 libgcc-s1 libssl3 libstdc++6 zlib1g ca-certificates tzdata openssl base-files >/dev/null
for deb in ./*.deb; do
  name=$(basename "$deb"); name=${name%%_*}
  mkdir "$debs/$name"
  dpkg-deb -x "$deb" "$debs/$name"
done

# Libraries (chisel's *_libs slices): the shared objects, not the tools, docs, gconv modules or debugger scripts.
for lib in libc6 libgcc-s1 libssl3 libstdc++6 zlib1g; do
  for dir in lib lib64 usr/lib; do
    if [ -d "$debs/$lib/$dir" ]; then
      mkdir -p "$root/$dir"
      cp -a "$debs/$lib/$dir/." "$root/$dir/"
    fi
  done
done
rm -rf "$root/usr/lib/x86_64-linux-gnu/gconv"

# ca-certificates_data: the bundle update-ca-certificates would write (Debian's package only ships the parts).
mkdir -p "$root/etc/ssl/certs"
for cert in "$debs"/ca-certificates/usr/share/ca-certificates/mozilla/*.crt; do cat "$cert"; done > "$root/etc/ssl/certs/ca-certificates.crt"
# openssl_config, tzdata_zoneinfo, base-files_release-info.
cp "$debs/openssl/etc/ssl/openssl.cnf" "$root/etc/ssl/openssl.cnf"
mkdir -p "$root/usr/share"
cp -a "$debs/tzdata/usr/share/zoneinfo" "$root/usr/share/zoneinfo"
mkdir -p "$root/usr/lib"
cp -a "$debs/base-files/usr/lib/os-release" "$root/usr/lib/os-release"
ln -s ../usr/lib/os-release "$root/etc/os-release"
# The users the chiseled image has: root and app (APP_UID 1654).
printf 'root:x:0:0:root:/root:/noshell\napp:x:1654:1654::/home/app:/noshell\n' > "$root/etc/passwd"
printf 'root:x:0:\napp:x:1654:\n' > "$root/etc/group"
mkdir -p "$root/home/app" && chown 1654:1654 "$root/home/app"
mkdir -m 1777 "$root/tmp"

# No shell and no tools may have slipped in.
for forbidden in bin/sh usr/bin/sh bin/bash usr/bin/bash usr/bin/dpkg usr/bin/apt-get; do
  if [ -e "$root/$forbidden" ]; then echo "runtime-deps-rootfs.sh: $forbidden must not be in the image" >&2; exit 1; fi
done
tar -C "$root" -c .
