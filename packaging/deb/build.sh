#!/usr/bin/env bash
# Builds alm's Debian package from this checkout: the alm binary, the alm and alm-engine
# systemd units, a default /etc/alm/alm.toml (a conffile), README and CHANGELOG.
#
#   bash packaging/deb/build.sh [--binary PATH] [--out DIR]
#
# Without --binary it runs `cargo build --release -p alm` first. The package goes to DIR
# (default: target/debian under the Cargo target directory); its path is the last line printed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=
out=
while [[ $# -gt 0 ]]; do
  case $1 in
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "build.sh: unknown option $1 (expected --binary PATH, --out DIR)" >&2; exit 2 ;;
  esac
done
target_dir=${CARGO_TARGET_DIR:-$root/target}
if [[ -z $binary ]]; then
  (cd "$root" && cargo build --release -p alm >&2)
  binary=$target_dir/release/alm
fi
[[ -x $binary ]] || { echo "build.sh: --binary $binary is not an executable" >&2; exit 2; }
out=${out:-$target_dir/debian}
mkdir -p "$out"

# The version Cargo gives the workspace; Debian sorts "~" before a release ("0.4.0~dev" < "0.4.0").
cargo_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
[[ -n $cargo_version ]] || { echo "build.sh: no version in Cargo.toml" >&2; exit 1; }
version=${cargo_version//-/\~}
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/alm
install -D -m 0755 "$binary" "$pkg/usr/bin/alm"
# Debug symbols stay out of the package (a debug build is ten times the size).
strip --strip-debug "$pkg/usr/bin/alm"
install -D -m 0644 "$here/alm.service" "$pkg/lib/systemd/system/alm.service"
install -D -m 0644 "$here/alm-engine.service" "$pkg/lib/systemd/system/alm-engine.service"
install -D -m 0640 "$here/alm.toml" "$pkg/etc/alm/alm.toml"
install -D -m 0644 "$root/README.md" "$pkg/usr/share/doc/alm/README.md"
install -D -m 0644 "$root/CHANGELOG.md" "$pkg/usr/share/doc/alm/CHANGELOG.md"
cat > "$pkg/usr/share/doc/alm/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: alm
Files: *
License: AGPL-3.0-or-later
COPYRIGHT
install -d "$pkg/DEBIAN"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$pkg/DEBIAN/"
echo /etc/alm/alm.toml > "$pkg/DEBIAN/conffiles"
size=$(du -sk "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: alm
Version: $version
Architecture: $arch
Maintainer: alm developers <alm@localhost>
Installed-Size: $size
Depends: libc6 (>= 2.34), libgcc-s1, passwd
Recommends: ca-certificates
Suggests: postgresql-client
Section: admin
Priority: optional
Description: account lifecycle manager for service accounts
 alm makes sure no service account in Active Directory exists without an
 owner, a purpose, an approval trail and an end date. One binary: the server
 (web UI and REST API, SQLite or PostgreSQL), the remote engine and the
 discovery tool, with systemd units for the server and the engine.
CONTROL
deb=$out/alm_${version}_${arch}.deb
dpkg-deb --root-owner-group --build "$pkg" "$deb" >&2
echo "$deb"
