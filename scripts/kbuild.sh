#!/bin/bash
# Configure (tinyconfig + config/kvm.config [+ extra fragments]) and build a
# bzImage of the kernel tree (KSRC, default build/linux) into OUTDIR.
# Incremental: the .config is only regenerated when a fragment changed.  A
# fragment's option that the configuration drops (a dependency missing) fails
# the build, naming the option.
#   kbuild.sh [--prepare-only] [--arm64] OUTDIR [FRAGMENT...]
# --prepare-only stops after configuring.  --arm64: cross-build an arm64
# Image with gcc-aarch64-linux-gnu from config/arm64.config instead.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
prep=; [ "${1:-}" = --prepare-only ] && { prep=1; shift; }
arch=() base=kvm.config image=bzImage img=arch/x86/boot/bzImage
if [ "${1:-}" = --arm64 ]; then
	shift
	arch=(ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-) base=arm64.config image=Image img=arch/arm64/boot/Image
	KCC=${KCC/gcc/aarch64-linux-gnu-gcc}
fi
[ $# -ge 1 ] || { sed -n '6,8s/^# *//p' "$0" >&2; exit 2; }
out=$(realpath -m "$1"); shift
frags=("$top/config/$base" "$@")
[ -f "$K/Makefile" ] || { echo "error: no kernel tree at $K (run 'make tree', or set KSRC)" >&2; exit 1; }
mkdir -p "$out"
stamp=$(cat "${frags[@]}" | sha256sum | cut -c1-16)
if [ ! -f "$out/.config" ] || [ "$(cat "$out/.fragstamp" 2>/dev/null)" != "$stamp" ]; then
	echo "# [kbuild] configuring $out (tinyconfig + ${frags[*]##*/})"
	rm -f "$out/.fragstamp"
	clog=$out/config.log
	{ make -s -C "$K" O="$out" "${arch[@]}" CC="$KCC" tinyconfig &&
	  KCONFIG_CONFIG="$out/.config" "$K/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}" &&
	  make -s -C "$K" O="$out" "${arch[@]}" CC="$KCC" olddefconfig; } >"$clog" 2>&1 ||
		{ failed_log "$clog" "kernel configuration" >&2; exit 1; }
	# every symbol's last assignment in the fragments must have survived
	# ("# CONFIG_X is not set" counts as one: X must then not be set)
	dropped=()
	while IFS= read -r l; do
		case $l in
		"# "*) sym=${l#\# }; sym=${sym%% *}
			! grep -q "^$sym=" "$out/.config" || dropped+=("$sym is set, the fragments unset it") ;;
		*) grep -qxF "$l" "$out/.config" ||
			dropped+=("$l requested, the configuration has: $(grep -E "^(# )?${l%%=*}[= ]" "$out/.config" || echo "not set (a dependency unmet, or no such option)")") ;;
		esac
	done < <(cat "${frags[@]}" | grep -E '^CONFIG_|^# CONFIG_[A-Z0-9_]+ is not set' | tac |
		awk '{ k = $1 == "#" ? $2 : $1; sub(/=.*/, "", k) } !seen[k]++')
	if [ ${#dropped[@]} -gt 0 ]; then
		echo "error: the kernel configuration in $out dropped what the fragments (${frags[*]##*/}) ask for:" >&2
		printf '  %s\n' "${dropped[@]}" >&2
		echo "  (a dependency is missing: see 'Depends on' in make O=$out menuconfig, or the Kconfig file)" >&2
		exit 1
	fi
	echo "$stamp" >"$out/.fragstamp"
fi
[ -n "$prep" ] && exit 0
echo "# [kbuild] building $image in $out ($(nproc) jobs; times in docs/timings.md)"
start=$(date +%s)
run_logged kbuild "$out/build.log" "kernel build" make -C "$K" O="$out" "${arch[@]}" CC="$KCC" -j"$(nproc)" "$image"
echo "# [kbuild] $image ready in $(($(date +%s) - start)) s: $out/$img"
