#!/bin/bash
# Install (with apt-get) what building, booting and testing need; quick no-op
# when everything is already there.
set -euo pipefail
pkgs=(build-essential bc bison flex libelf-dev libssl-dev cpio xz-utils git
      ccache python3 python3-ply busybox-static qemu-system-x86 liburing-dev
      bochs bochsbios vgabios isolinux syslinux-common xorriso gnuplot-nox
      python3-sphinx python3-sphinx-rtd-theme python3-yaml)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "# [deps] installing: ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
	echo "error: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || { echo "error: apt-get update failed: no network to the Debian archive?" >&2; exit 1; }
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
	{ echo "error: apt-get install ${missing[*]} failed" >&2; exit 1; }
