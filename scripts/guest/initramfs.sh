#!/bin/bash
# The initramfs for run-guest.sh: busybox, guest/init.sh as /init, the listed
# tests and the shared libraries they need.  Rebuilt only when a test, a
# library or these scripts changed.
#   initramfs.sh [--overlay DIR] [--retry FILE] OUT.cpio.gz TESTDIR TEST[@ARG,ARG...]...
# --overlay DIR: DIR's tree is copied to the initramfs' root as it is (a
# program and its data at the paths it expects, e.g. QEMU and its firmware);
# its executables' shared libraries are added like the tests'.
# --retry FILE: the tests (one per line, as listed) that init.sh runs once
# more if they fail; it becomes /retry.list.
# --busybox FILE: a static busybox for another architecture than the host's
# (default /bin/busybox); the tests must then be static: no libraries are
# added.
set -euo pipefail
die() { echo "error: $*" >&2; exit 2; }
overlay='' retry=/dev/null bb=/bin/busybox foreign=''
while [ $# -gt 0 ]; do
	case $1 in
	--overlay) overlay=${2:?--overlay needs a directory} ;;
	--retry) retry=${2:?--retry needs a file} ;;
	--busybox) bb=${2:?--busybox needs a file} foreign=1 ;;
	*) break ;;
	esac
	shift 2
done
[ $# -ge 3 ] || { sed -n '5s/^# *//p' "$0" >&2; exit 2; }
[ -f "$retry" ] || [ "$retry" = /dev/null ] || die "retry list not found: $retry"
[ -z "$overlay" ] || [ -d "$overlay" ] || die "overlay directory not found: $overlay"
initrd=$1 testdir=$2; shift 2
tests=("$@") here=$(dirname "$0")
[ -x "$bb" ] || die "$bb not found: scripts/deps.sh installs it"
bins=("$bb"); for t in "${tests[@]}"; do bins+=("$testdir/${t%%@*}"); done
ovl=()  # the overlay's files; its executables go into bins
if [ -n "$overlay" ]; then
	mapfile -t ovl < <(find -L "$overlay" -type f | sort)
	mapfile -t -O ${#bins[@]} bins < <(find -L "$overlay" -type f -perm -u+x | sort)
fi
for f in "${bins[@]}"; do
	if [ -n "$foreign" ]; then
		file -L "$f" | grep -qE 'statically linked|static-pie' || [[ $(head -c2 "$f") = '#!' ]] ||
			die "$f: not a static executable (the guest has no libraries)"
		continue
	fi
	if ldd "$f" 2>/dev/null | grep -q 'not found'; then
		die "$f: missing shared library: $(ldd "$f" | grep 'not found' | head -1 | sed 's/^[[:space:]]*//')"
	fi
done
libs=()
if [ -z "$foreign" ]; then
	mapfile -t libs < <(for f in "${bins[@]}"; do ldd "$f" 2>/dev/null | grep -o '/[^ ]*' || true; done | sort -u)
	for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu; do  # dlopen()ed by pthread_cancel
		[ -f $d/libgcc_s.so.1 ] && { libs+=("$d/libgcc_s.so.1"); break; }
	done
fi
key=$({ printf '%s\n' "${tests[@]}"; echo retry; cat "$retry"; stat -L -c '%n %s %Y' "${bins[@]}" "${ovl[@]}" "${libs[@]}" "$0" "$here/init.sh"; } |
	sha256sum | cut -c1-16)
[ -f "$initrd" ] && [ "$(cat "$initrd.key" 2>/dev/null)" = "$key" ] && exit 0
echo "# [guest] building initramfs (${#tests[@]} tests)"
root=$initrd.d
rm -rf "$root"; mkdir -p "$root"/{bin,dev,proc,sys,tmp}
install -m755 "$bb" "$root/bin/busybox"
for l in "${libs[@]}"; do install -D -m755 "$l" "$root$l"; done
[ -z "$overlay" ] || cp -rL "$overlay/." "$root/"
for t in "${tests[@]}"; do  # debug info is useless without addr2line in the guest
	install -D -m755 "$testdir/${t%%@*}" "$root/tests/${t%%@*}"
	strip --strip-debug "$root/tests/${t%%@*}" 2>/dev/null || true
done
printf '%s\n' "${tests[@]}" >"$root/tests.list"
cp "$retry" "$root/retry.list"
install -m755 "$here/init.sh" "$root/init"
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -6) >"$initrd.tmp"
mv "$initrd.tmp" "$initrd"; echo "$key" >"$initrd.key"; rm -rf "$root"
