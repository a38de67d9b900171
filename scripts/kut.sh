#!/bin/bash
# Get, verify and build kvm-unit-tests for x86-64: the .flat tests that run
# under QEMU + KVM inside the booted kernel (scripts/vmm-tests.sh).
#   kut.sh DIR      build into DIR/src (the tests: DIR/src/x86/*.flat)
# The source is scripts/kut.env's tarball, its sha256 checked; KUT_SRC
# replaces it: a tarball or a kvm-unit-tests tree (a path), or a git URL
# (cloned; KUT_REF, default scripts/kut.env's KUT_COMMIT, checked out).
# Rebuilt only when the source changed.  Exit 0: built (DIR/source says from
# what); 4: no source, the reason on stdout (callers report their tests as
# skipped); 1: a bad source or a failed build (its log named).
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=kut.env
. "$top/scripts/kut.env"
[ $# = 1 ] || { sed -n '4s/^# *//p' "$0" >&2; exit 2; }
dir=$1 src=${KUT_SRC:-}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
say() { echo "# [kut] $*"; }

# unpack TARBALL: into $dir/src
unpack() {
	rm -rf "$dir/src" "$dir/unpack"; mkdir -p "$dir/unpack"
	tar -C "$dir/unpack" -xzf "$1" || { echo "error: cannot unpack $1"; return 1; }
	local d; d=$(find "$dir/unpack" -mindepth 1 -maxdepth 1 -type d)
	if [ "$(wc -l <<<"$d")" != 1 ] || ! [ -f "$d/x86/unittests.cfg" ]; then
		echo "error: $1 does not hold one kvm-unit-tests tree"; return 1
	fi
	mv "$d" "$dir/src"; rm -rf "$dir/unpack"
}

if [ -z "$src" ]; then
	tarball=$top/$KUT_TARBALL
	[ -f "$tarball" ] || { echo "no kvm-unit-tests source: $KUT_TARBALL (from scripts/kut.env) not found; set KUT_SRC=tarball, tree or git URL"; exit 4; }
	sum=$(sha256sum "$tarball" | cut -d' ' -f1)
	[ "$sum" = "$KUT_SHA256" ] || { echo "error: $tarball: sha256 $sum, scripts/kut.env pins $KUT_SHA256"; exit 1; }
	id="tarball $KUT_TARBALL sha256 $sum (commit $KUT_COMMIT)"
elif [ -f "$src" ]; then
	id="tarball $(realpath "$src") sha256 $(sha256sum "$src" | cut -d' ' -f1) (KUT_SRC, not verified)"
elif [ -d "$src" ]; then
	[ -f "$src/x86/unittests.cfg" ] || { echo "error: KUT_SRC=$src is not a kvm-unit-tests tree (no x86/unittests.cfg)"; exit 1; }
	# rebuilt when its commit changes; a tree that is no git checkout, every time
	id="tree $(realpath "$src") $(git -C "$src" describe --always --dirty 2>/dev/null || date +%s)"
else
	id="git $src ${KUT_REF:-$KUT_COMMIT}"
fi
if [ -f "$dir/source" ] && [ "$(cat "$dir/source")" = "$id" ] && [ -f "$dir/src/x86/apic.flat" ]; then
	say "up to date: $id"; exit 0
fi
rm -f "$dir/source"
say "source: $id"
if [ -z "$src" ]; then unpack "$tarball" || exit 1
elif [ -f "$src" ]; then unpack "$src" || exit 1
elif [ -d "$src" ]; then rm -rf "$dir/src"; cp -a "$src" "$dir/src" || exit 1
else
	rm -rf "$dir/src"
	if ! git clone -q "$src" "$dir/src" >"$dir/clone.log" 2>&1; then
		echo "no kvm-unit-tests source: git clone $src failed: $(tail -n 1 "$dir/clone.log")"; exit 4
	fi
	git -C "$dir/src" checkout -q "${KUT_REF:-$KUT_COMMIT}" || { echo "error: $src has no ${KUT_REF:-$KUT_COMMIT}"; exit 1; }
fi
build() { cd "$dir/src" && ./configure --arch=x86_64 && make clean && make -j"$(nproc)"; }
run_logged kut "$dir/build.log" "kvm-unit-tests build" build || exit 1
n=$(find "$dir/src/x86" -name '*.flat' | wc -l)
[ "$n" -gt 0 ] || { echo "error: the build made no x86/*.flat (log: $dir/build.log)"; exit 1; }
echo "$id" >"$dir/source"
say "built $n tests in $dir/src/x86 (log: $dir/build.log)"
