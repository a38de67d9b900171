#!/bin/bash
# Build KVM selftests of the kernel tree (KSRC, default build/linux) against
# its own headers_install output (build/hdr).
#   kselftests.sh OUTDIR TEST...   (TEST relative to tools/testing/selftests/kvm)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { sed -n '4s/^# *//p' "$0" >&2; exit 2; }
out=$(realpath -m "$1"); shift
mkdir -p "$out" "$B/hdr"
echo "# [kselftests] headers_install into $B/hdr"
run_logged kselftests "$B/hdr.log" "headers_install" \
	make -s -C "$K" O="$B/hdr-obj" headers_install INSTALL_HDR_PATH="$B/hdr"
echo "# [kselftests] building $# KVM selftests into $out"
targets=(); for t in "$@"; do targets+=("$out/${t%%@*}"); done
run_logged kselftests "$out/build.log" "KVM selftests build" \
	make -C "$K/tools/testing/selftests/kvm" OUTPUT="$out" KHDR_INCLUDES="-isystem $B/hdr/include" \
	-j"$(nproc)" "${targets[@]}"
