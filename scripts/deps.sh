#!/bin/bash
# What building, booting, testing, `make run` and bench/run.sh call, and the
# Debian 12 package that provides each: the one list.
#   deps.sh          install the missing packages (apt-get, as root), then check
#   deps.sh --check  check only: list what the scripts need, fail naming
#                    anything missing (and its package)
#   deps.sh --arm64  the same, also for the arm64 guest (cross compiler,
#                    qemu-system-aarch64, and an arm64 busybox-static taken
#                    from its .deb: dpkg --add-architecture arm64)
# An entry is a command, an absolute file path, or py:MODULE (a module of
# Debian's /usr/bin/python3).  Package "-": in Debian's `required` set.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
arm64=''
case ${1:-} in --arm64) arm64=1; shift ;; --check) [ "${2:-}" != --arm64 ] || arm64=1 ;; esac
deps=(
	# shell tools of the scripts
	bash:- sed:- grep:- awk:- tar:- gzip:- find:- xargs:- sort:- cut:- tr:-
	tac:- sha256sum:- stat:- timeout:- install:- mktemp:- realpath:- nproc:- getopt:-
	date:- head:- tail:- wc:- paste:- tee:- sha1sum:- uname:- id:- cmp:- diff:- comm:-
	dpkg-deb:- dpkg-query:- apt-get:- apt-cache:- ldd:- unshare:- xz:xz-utils
	# fetch, tree, build (kernel, selftests, demo VMM, bench)
	git:git make:build-essential gcc:build-essential ld:binutils strip:binutils objdump:binutils
	objcopy:binutils ccache:ccache flex:flex bison:bison bc:bc perl:perl
	python3:python3 rsync:rsync cpio:cpio
	/usr/include/libelf.h:libelf-dev /usr/include/openssl/ssl.h:libssl-dev
	/usr/include/liburing.h:liburing-dev /usr/include/stdio.h:build-essential
	/usr/include/uuid/uuid.h:uuid-dev
	# static checks: checkpatch (spdxcheck needs python3-git), htmldocs, shellcheck, sparse
	py:git:python3-git py:ply:python3-ply py:yaml:python3-yaml
	sphinx-build:python3-sphinx py:sphinx_rtd_theme:python3-sphinx-rtd-theme
	shellcheck:shellcheck sparse:sparse
	# guests: initramfs, QEMU, Bochs and its boot CD
	/bin/busybox:busybox-static qemu-system-x86_64:qemu-system-x86
	/usr/share/qemu/qboot.rom:qemu-system-data
	# QEMU inside the test guest (config/qemu-in-guest.conf): SeaBIOS for kvm-unit-tests
	/usr/share/seabios/bios-256k.bin:seabios
	bochs:bochs /usr/share/bochs/BIOS-bochs-latest:bochsbios
	/usr/share/vgabios/vgabios.bin:vgabios xorriso:xorriso
	/usr/lib/ISOLINUX/isolinux.bin:isolinux
	/usr/lib/syslinux/modules/bios/ldlinux.c32:syslinux-common
	# bench/run.sh
	gnuplot:gnuplot-nox pgrep:procps
)
# The arm64 guest (make test-arm64): cross-built kernel and static selftests
[ -z "$arm64" ] || deps+=(
	aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu
	/usr/aarch64-linux-gnu/lib/libc.a:libc6-dev-arm64-cross
	qemu-system-aarch64:qemu-system-arm
	"$B/arm64/busybox:busybox-static:arm64"
	# initramfs.sh checks that foreign executables are static
	file:file
)

# an entry's command/file and its package (which may be PKG:ARCH)
entry() { case $1 in *:*:arm64) echo "${1%:*:*}" ;; *) echo "${1%:*}" ;; esac; }
package() { case $1 in *:*:arm64) echo "${1#"$(entry "$1")":}" ;; *) echo "${1##*:}" ;; esac; }

have() {  # have ENTRY: the command, file or python3 module exists
	case $1 in
	/*) [ -e "$1" ] ;;
	py:*) [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import ${1#py:}" 2>/dev/null ;;
	*) command -v "$1" >/dev/null ;;
	esac
}

check() {
	local d what missing=() names=()
	for d in "${deps[@]}"; do
		what=$(entry "$d"); names+=("$what")
		have "$what" || missing+=("$what (package $(package "$d"))")
	done
	echo "# [deps] the scripts need ${#names[@]} commands, files and modules: ${names[*]}"
	if [ ${#missing[@]} -gt 0 ]; then
		printf 'error: missing: %s\n' "${missing[@]}" >&2
		return 1
	fi
	echo "# [deps] all present"
}

if [ "${1:-}" = --check ]; then check; exit; fi
[ $# -eq 0 ] || { sed -n '4,8s/^# *//p' "$0" >&2; exit 2; }

pkgs=() foreign=()
for d in "${deps[@]}"; do
	p=$(package "$d")
	[ "$p" != - ] || continue
	case $p in *:arm64) have "$(entry "$d")" || foreign+=("$p"); continue ;; esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" && continue
	case " ${pkgs[*]} " in *" $p "*) ;; *) pkgs+=("$p") ;; esac
done
if [ ${#pkgs[@]} -gt 0 ]; then
	echo "# [deps] installing: ${pkgs[*]}"
	if [ "$(id -u)" != 0 ]; then
		echo "error: missing packages: ${pkgs[*]}; run as root or: sudo apt-get install ${pkgs[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	log=$(mktemp /tmp/deps.XXXXXX.log)
	apt-get update -qq >"$log" 2>&1 ||
		{ tail -n 20 "$log" >&2; echo "error: apt-get update failed (log: $log): no network to the Debian archive?" >&2; exit 1; }
	echo "# [deps] apt-get install (a few minutes on a fresh machine; log: $log)"
	apt-get install -y -q --no-install-recommends "${pkgs[@]}" >>"$log" 2>&1 ||
		{ tail -n 30 "$log" >&2; echo "error: apt-get install ${pkgs[*]} failed; full log: $log" >&2; exit 1; }
	rm -f "$log"
fi
# arm64 userland for the arm64 guest: extracted from the package, not installed
if [ ${#foreign[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "error: run as root to fetch ${foreign[*]}" >&2; exit 1; }
	echo "# [deps] fetching ${foreign[*]} (dpkg --add-architecture arm64)"
	tmp=$(mktemp -d /tmp/deps.XXXXXX)
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		dpkg --add-architecture arm64
		apt-get update -qq >"$tmp/update.log" 2>&1 ||
			{ tail -n 20 "$tmp/update.log" >&2; echo "error: apt-get update for arm64 failed" >&2; exit 1; }
	fi
	(cd "$tmp" && apt-get download -q "${foreign[@]}" >download.log 2>&1) ||
		{ tail -n 20 "$tmp/download.log" >&2; echo "error: apt-get download ${foreign[*]} failed" >&2; exit 1; }
	for f in "$tmp"/*.deb; do dpkg-deb -x "$f" "$tmp/root"; done
	install -D -m755 "$tmp/root/bin/busybox" "$B/arm64/busybox"
	rm -rf "$tmp"
fi
check >/dev/null || { check; exit 1; }
