#!/bin/bash
# Build KVM selftests of the kernel tree (KSRC, default build/linux) against
# its own headers_install output (build/hdr).
#   kselftests.sh [--arm64] OUTDIR TEST...   (TEST relative to tools/testing/selftests/kvm)
# --arm64: cross-build them, static (the arm64 guest has no libraries),
# against build/arm64/hdr.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
hdr=$B/hdr arch=()
if [ "${1:-}" = --arm64 ]; then
	shift; hdr=$B/arm64/hdr arch=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-)
fi
[ $# -ge 1 ] || { sed -n '4s/^# *//p' "$0" >&2; exit 2; }
out=$(realpath -m "$1"); shift
mkdir -p "$out" "$hdr"
echo "# [kselftests] headers_install into $hdr"
run_logged kselftests "$hdr.log" "headers_install" \
	make -s -C "$K" O="$hdr-obj" "${arch[@]}" headers_install INSTALL_HDR_PATH="$hdr"
echo "# [kselftests] building $# KVM selftests into $out"
targets=(); for t in "$@"; do targets+=("$out/${t%%@*}"); done
[ ${#arch[@]} = 0 ] || arch+=(LDFLAGS=-static)
run_logged kselftests "$out/build.log" "KVM selftests build" \
	make -C "$K/tools/testing/selftests/kvm" OUTPUT="$out" KHDR_INCLUDES="-isystem $hdr/include" \
	"${arch[@]}" -j"$(nproc)" "${targets[@]}"
