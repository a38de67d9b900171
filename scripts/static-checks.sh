#!/bin/bash
# Checks on the series itself, printed as TAP lines:
#   - it applies to the pinned base;
#   - every patch passes checkpatch --strict;
#   - every patch builds on its own: arch/x86/kvm (with virt/kvm) as modules
#     with KVM_WERROR=y, or the KVM selftests for selftest-only patches.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=lib.sh
. "$top/scripts/lib.sh"
ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; }

if "$top/scripts/tree.sh" check >"$B/applycheck.log" 2>&1; then
	ok "series applies to the pinned base"
else
	nok "series applies to the pinned base"; sed 's/^/# /' "$B/applycheck.log" | tail -15
fi

# checkpatch.  FILE_PATH_CHANGES ("does MAINTAINERS need updating?") is
# answered here instead: it passes when get_maintainer.pl already maps every
# added file to a KVM entry.
for p in "$top"/patches/0*.patch; do
	case $p in */0000-cover-letter.patch) continue ;; esac
	n=$(basename "$p")
	out=$(cd "$K" && ./scripts/checkpatch.pl --strict --terse --show-types "$p" 2>&1 | grep -E ': (ERROR|WARNING|CHECK):')
	rest=$(grep -v ':FILE_PATH_CHANGES:' <<<"$out")
	if [ -n "$out" ] && [ -z "$rest" ]; then
		for f in $(sed -n 's#^+++ b/##p' "$p"); do
			grep -q "^new file mode" <(sed -n "\#^diff --git a/$f #,/^+++ /p" "$p") || continue
			(cd "$K" && ./scripts/get_maintainer.pl --no-git --no-git-fallback --no-rolestats -f "$f" 2>/dev/null) |
				grep -q 'kvm@vger.kernel.org' || rest="$rest $f not covered by MAINTAINERS"
		done
	fi
	if [ -z "$rest" ]; then
		ok "checkpatch --strict $n${out:+ # FILE_PATH_CHANGES: new files already covered by MAINTAINERS}"
	else
		nok "checkpatch --strict $n"; sed 's/^/# /' <<<"$out"
	fi
done

# Documentation: the KVM docs build without warnings in Documentation/virt.
if make -C "$K" O="$B/out-docs" SPHINXDIRS=virt htmldocs >"$B/htmldocs.log" 2>&1 &&
	! grep -E 'Documentation/virt/.*(WARNING|ERROR)' "$B/htmldocs.log" >/dev/null; then
	ok "make SPHINXDIRS=virt htmldocs: no warning in Documentation/virt"
else
	nok "make SPHINXDIRS=virt htmldocs: no warning in Documentation/virt"
	grep -E 'Documentation/virt/.*(WARNING|ERROR)' "$B/htmldocs.log" | sed 's/^/# /'
	failed_log "$B/htmldocs.log" "htmldocs" | sed 's/^error/# error/'
fi

# Bisectability: build each commit base..HEAD in a scratch worktree.
wt=$B/bisect
obj=$B/out-bisect
mkdir -p "$obj"
git -C "$K" worktree prune
if ! git -C "$wt" rev-parse --git-dir >/dev/null 2>&1; then
	rm -rf "$wt"
	git -C "$K" worktree add -q --detach "$wt" base
fi
i=0
for c in $(git -C "$K" rev-list --reverse base..HEAD); do
	i=$((i + 1))
	subj=$(git -C "$K" log -1 --format=%s "$c")
	git -C "$wt" checkout -q --detach "$c"
	files=$(git -C "$K" diff-tree --no-commit-id --name-only -r "$c")
	if grep -qv '^tools/' <<<"$files"; then
		what="arch/x86/kvm with KVM=m KVM_INTEL=m KVM_AMD=m KVM_WERROR=y"
		echo "# [static] patch $i: building $what"
		KSRC=$wt "$top/scripts/kbuild.sh" --prepare-only "$obj" "$top/config/kvm-modules.config" >/dev/null &&
			make -C "$wt" O="$obj" -j"$(nproc)" arch/x86/kvm/ >"$obj/patch$i.log" 2>&1
	else
		what="KVM selftests"
		echo "# [static] patch $i: building $what"
		make -C "$wt" O="$B/hdr-bisect" headers_install INSTALL_HDR_PATH="$B/hdr-bisect" >"$obj/patch$i.log" 2>&1 &&
			make -C "$wt/tools/testing/selftests/kvm" OUTPUT="$B/kst-bisect" \
				KHDR_INCLUDES="-isystem $B/hdr-bisect/include" -j"$(nproc)" >>"$obj/patch$i.log" 2>&1
	fi
	if [ $? -eq 0 ]; then
		ok "patch $i builds on its own ($what): $subj"
	else
		nok "patch $i builds on its own ($what): $subj"
		failed_log "$obj/patch$i.log" "patch $i build" | sed 's/^error/# error/'
	fi
done
