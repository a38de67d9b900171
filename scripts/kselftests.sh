#!/bin/bash
# Build KVM selftests of build/linux against its own headers_install output.
#   kselftests.sh OUTDIR TEST...   (TEST relative to tools/testing/selftests/kvm)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
K=$B/linux
out=$(realpath -m "$1"); shift
mkdir -p "$out" "$B/hdr"
echo "# [kselftests] headers_install"
make -s -C "$K" O="$B/hdr-obj" headers_install INSTALL_HDR_PATH="$B/hdr" >"$B/hdr.log" 2>&1 ||
	{ echo "error: headers_install failed:" >&2; tail -15 "$B/hdr.log" >&2; exit 1; }
echo "# [kselftests] building ${#@} KVM selftests into $out"
targets=(); for t in "$@"; do targets+=("$out/${t%%@*}"); done
if ! make -C "$K/tools/testing/selftests/kvm" OUTPUT="$out" KHDR_INCLUDES="-isystem $B/hdr/include" \
	-j"$(nproc)" "${targets[@]}" >"$out/build.log" 2>&1; then
	echo "error: selftest build failed; first errors:" >&2
	grep -E 'error|Error' "$out/build.log" | head -15 >&2
	exit 1
fi
