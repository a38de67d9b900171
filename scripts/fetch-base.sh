#!/bin/bash
# Download the base kernel source package with a private apt configuration,
# verify it against scripts/base.env and unpack the tarball into build/.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=base.env
. "$top/scripts/base.env"
dl=$B/dl
mkdir -p "$dl"
say() { echo "# [fetch] $*"; }

tarball=$dl/linux-source-$BASE_KERNEL.tar.xz
if [ -f "$tarball" ] && [ -n "$BASE_TAR_SHA256" ] &&
   echo "$BASE_TAR_SHA256  $tarball" | sha256sum -c --status; then
	say "cached $tarball (sha256 ok)"
	exit 0
fi

command -v apt-get >/dev/null || { echo "error: apt-get is required to fetch $BASE_PKG" >&2; exit 1; }
# The archive URI comes from this machine's own apt configuration.
# shellcheck disable=SC2016  # $(URI) is apt's, not the shell's
uri=$(apt-get indextargets --format '$(URI)' 2>/dev/null |
	sed -n 's#^\(.*\)/dists/[^/]*/main/binary-.*#\1#p' | grep -v -- '-security' | head -1)
[ -n "$uri" ] || { echo "error: no Debian archive URI in this machine's apt configuration (run apt-get update)" >&2; exit 1; }

apt=$dl/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/etc"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $BASE_SUITE main" > "$apt/etc/sources.list"
: > "$apt/status"
opts=(-o Dir::Etc::SourceList="$apt/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o Dir::State="$apt" -o Dir::State::Lists="$apt/lists" -o Dir::State::status="$apt/status"
      -o Dir::Cache="$apt/cache" -o APT::Architecture=amd64 -o Debug::NoLocking=1)
say "updating private package index for $BASE_SUITE"
apt-get "${opts[@]}" update >"$apt/update.log" 2>&1 ||
	{ tail -5 "$apt/update.log" >&2; echo "error: cannot reach the Debian archive ($BASE_SUITE); check the network" >&2; exit 1; }

ver=$BASE_VERSION
if ! apt-cache "${opts[@]}" show "$BASE_PKG=$ver" >/dev/null 2>&1; then
	ver=$(apt-cache "${opts[@]}" policy "$BASE_PKG" | sed -n 's/^ *Candidate: //p')
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then echo "error: $BASE_PKG not in $BASE_SUITE" >&2; exit 1; fi
	echo "################################################################" >&2
	echo "WARNING: $BASE_PKG $BASE_VERSION is gone; FALLING BACK to $ver" >&2
	echo "WARNING: checksums will not match scripts/base.env" >&2
	echo "################################################################" >&2
	BASE_DEB_SHA256= ; BASE_TAR_SHA256=
fi
say "downloading $BASE_PKG $ver (size and time: docs/timings.md)"
( cd "$dl" && apt-get "${opts[@]}" download "$BASE_PKG=$ver" ) >"$dl/download.log" 2>&1 ||
	{ tail -5 "$dl/download.log" >&2; echo "error: download of $BASE_PKG=$ver failed" >&2; exit 1; }
deb=$(find "$dl" -maxdepth 1 -name "${BASE_PKG}_*.deb" -printf '%T@ %p\n' | sort -rn | head -1 | cut -d' ' -f2-)
got=$(sha256sum "$deb" | cut -d' ' -f1)
say "deb sha256 $got"
if [ -n "$BASE_DEB_SHA256" ] && [ "$got" != "$BASE_DEB_SHA256" ]; then
	echo "error: sha256 mismatch for $deb: got $got, expected $BASE_DEB_SHA256 (scripts/base.env)" >&2
	rm -f "$deb"; exit 1
fi
say "extracting tarball from $(basename "$deb")"
x=$dl/x; rm -rf "$x"; mkdir -p "$x"
dpkg-deb -x "$deb" "$x"
t=$(find "$x/usr/src" -maxdepth 1 -name 'linux-source-*.tar.xz' | head -1)
mv "$t" "$tarball"; rm -rf "$x"
got=$(sha256sum "$tarball" | cut -d' ' -f1)
say "tarball sha256 $got"
if [ -n "$BASE_TAR_SHA256" ] && [ "$got" != "$BASE_TAR_SHA256" ]; then
	echo "error: sha256 mismatch for $tarball: got $got, expected $BASE_TAR_SHA256 (scripts/base.env)" >&2
	rm -f "$tarball"; exit 1
fi
[ -n "$BASE_TAR_SHA256" ] || echo "WARNING: no recorded sha256; record $got in scripts/base.env" >&2
