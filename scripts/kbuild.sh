#!/bin/bash
# Configure (tinyconfig + config/kvm.config [+ extra fragments]) and build a
# bzImage of build/linux into an output directory.  Incremental: the .config
# is only regenerated when a fragment changed.
#   kbuild.sh [--prepare-only] OUTDIR [FRAGMENT...]
# --prepare-only stops after configuring.  KSRC overrides the source tree.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILD:-$top/build}
K=${KSRC:-$B/linux}
prep=; [ "$1" = --prepare-only ] && { prep=1; shift; }
out=$(realpath -m "$1"); shift
frags=("$top/config/kvm.config" "$@")
mkdir -p "$out"
export CCACHE_DIR=${CCACHE_DIR:-$B/ccache} CCACHE_BASEDIR=$B CCACHE_NOHASHDIR=1
cc=gcc; command -v ccache >/dev/null && cc="ccache gcc"
stamp=$(cat "${frags[@]}" | sha256sum | cut -c1-16)
if [ ! -f "$out/.config" ] || [ "$(cat "$out/.fragstamp" 2>/dev/null)" != "$stamp" ]; then
	echo "# [kbuild] configuring $out (tinyconfig + ${frags[*]##*/})"
	make -s -C "$K" O="$out" CC="$cc" tinyconfig >/dev/null
	KCONFIG_CONFIG="$out/.config" "$K/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}" >"$out/merge.log" 2>&1
	make -s -C "$K" O="$out" CC="$cc" olddefconfig >/dev/null
	# every symbol's last assignment in the fragments must have survived
	# ("# CONFIG_X is not set" counts as one: X must then not be set)
	while IFS= read -r l; do
		case $l in
		"# "*) sym=${l#\# }; sym=${sym%% *}
			! grep -q "^$sym=" "$out/.config" || echo "warning: $sym is set, the fragments unset it" >&2 ;;
		*) grep -qxF "$l" "$out/.config" || echo "warning: $l not set (dependency missing?)" >&2 ;;
		esac
	done < <(cat "${frags[@]}" | grep -E '^CONFIG_|^# CONFIG_[A-Z0-9_]+ is not set' | tac |
		awk '{ k = $1 == "#" ? $2 : $1; sub(/=.*/, "", k) } !seen[k]++')
	echo "$stamp" >"$out/.fragstamp"
fi
[ -n "$prep" ] && exit 0
echo "# [kbuild] building bzImage in $out ($(nproc) jobs; ~12 min cold, seconds when warm)"
start=$(date +%s)
make -C "$K" O="$out" CC="$cc" -j"$(nproc)" bzImage >"$out/build.log" 2>&1 &
mpid=$!
ticks=0
while kill -0 $mpid 2>/dev/null; do  # progress: a line a minute
	sleep 2; ticks=$((ticks + 1))
	[ $((ticks % 30)) = 0 ] || continue
	last=$(grep -E '^  (CC|LD|AR|AS)' "$out/build.log" | tail -n 1 | awk '{ print $2 }')
	echo "# [kbuild] $(( $(date +%s) - start )) s: $(grep -cE '^  (CC|AS) ' "$out/build.log") files compiled (at ${last:-?})"
done
if ! wait $mpid; then
	echo "error: kernel build failed; first errors:" >&2
	grep -E 'error:|Error [0-9]' "$out/build.log" | head -15 >&2
	exit 1
fi
echo "# [kbuild] bzImage ready in $(( $(date +%s) - start )) s: $out/arch/x86/boot/bzImage"
