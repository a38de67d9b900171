#!/bin/bash
# Checks on the series itself, printed as TAP lines.  All of them read
# patches/ (as commits: refs/harness/series, made by `tree.sh check` in the
# worktree build/series), whatever the kernel tree holds:
#   - the series applies to the pinned base;
#   - every patch passes checkpatch --strict;
#   - Documentation/virt builds without warnings;
#   - every patch builds on its own: arch/x86/kvm (with virt/kvm) as modules
#     with KVM_WERROR=y, or the KVM selftests for selftest-only patches;
#   - shellcheck on the harness's scripts.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
wt=$B/series
ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; }
tailof() { failed_log "$1" "$2" | sed 's/^error/# error/'; }

if "$top/scripts/tree.sh" check >"$B/applycheck.log" 2>&1; then
	ok "series applies to the pinned base"
else
	nok "series applies to the pinned base"; tailof "$B/applycheck.log" "tree.sh check"
	exit 1
fi

# checkpatch's SPDX check runs scripts/spdxcheck.py, which needs python3-git
# and is silently skipped when it cannot run: Debian's python3 (deps.sh
# installs the module for it), and a probe that it runs.
export PATH=/usr/bin:$PATH
if spdx=$(cd "$wt" && echo GPL-2.0 | ./scripts/spdxcheck.py - 2>&1) && [ -z "$spdx" ]; then
	ok "checkpatch's SPDX check (scripts/spdxcheck.py) runs"
else
	nok "checkpatch's SPDX check (scripts/spdxcheck.py) runs"; printf '%s\n' "$spdx" | tail -n 5 | sed 's/^/# /'
fi

# checkpatch.  FILE_PATH_CHANGES ("does MAINTAINERS need updating?") is
# answered here instead: it passes when get_maintainer.pl already maps every
# added file to a KVM entry.
for p in "$top"/patches/0*.patch; do
	case $p in */0000-cover-letter.patch) continue ;; esac
	n=$(basename "$p")
	out=$(cd "$wt" && ./scripts/checkpatch.pl --strict --terse --show-types "$p" 2>&1 | grep -E ': (ERROR|WARNING|CHECK):')
	rest=$(grep -v ':FILE_PATH_CHANGES:' <<<"$out")
	if [ -n "$out" ] && [ -z "$rest" ]; then
		while read -r f; do
			grep -q "^new file mode" <(sed -n "\#^diff --git a/$f #,/^+++ /p" "$p") || continue
			(cd "$wt" && ./scripts/get_maintainer.pl --no-git --no-git-fallback --no-rolestats -f "$f" 2>/dev/null) |
				grep -q 'kvm@vger.kernel.org' || rest="$rest $f not covered by MAINTAINERS"
		done < <(sed -n 's#^+++ b/##p' "$p")
	fi
	if [ -z "$rest" ]; then
		ok "checkpatch --strict $n${out:+ # FILE_PATH_CHANGES: new files already covered by MAINTAINERS}"
	else
		nok "checkpatch --strict $n"; printf '%s\n' "$out" | sed 's/^/# /'
	fi
done

# Documentation: the KVM docs build without warnings in Documentation/virt.
echo "# [static] make SPHINXDIRS=virt htmldocs"
if run_logged static "$B/htmldocs.log" "htmldocs" make -C "$wt" O="$B/out-docs" SPHINXDIRS=virt htmldocs 2>/dev/null &&
	! grep -E 'Documentation/virt/.*(WARNING|ERROR)' "$B/htmldocs.log" >/dev/null; then
	ok "make SPHINXDIRS=virt htmldocs: no warning in Documentation/virt"
else
	nok "make SPHINXDIRS=virt htmldocs: no warning in Documentation/virt"
	grep -E 'Documentation/virt/.*(WARNING|ERROR)' "$B/htmldocs.log" | sed 's/^/# /'
	tailof "$B/htmldocs.log" "htmldocs"
fi

# Bisectability: build each commit of the series in the worktree.
selftests_build() {
	make -C "$wt" O="$B/hdr-bisect" headers_install INSTALL_HDR_PATH="$B/hdr-bisect" &&
		make -C "$wt/tools/testing/selftests/kvm" OUTPUT="$B/kst-bisect" \
			KHDR_INCLUDES="-isystem $B/hdr-bisect/include" -j"$(nproc)"
}
obj=$B/out-bisect
mkdir -p "$obj"
i=0
for c in $(git -C "$wt" rev-list --reverse base..refs/harness/series); do
	i=$((i + 1))
	subj=$(git -C "$wt" log -1 --format=%s "$c")
	git -C "$wt" checkout -q --detach "$c"
	log=$obj/patch$i.log
	if git -C "$wt" diff-tree --no-commit-id --name-only -r "$c" | grep -qv '^tools/'; then
		what="arch/x86/kvm with KVM=m KVM_INTEL=m KVM_AMD=m KVM_WERROR=y"
		echo "# [static] patch $i: building $what"
		KSRC=$wt "$top/scripts/kbuild.sh" --prepare-only "$obj" "$top/config/kvm-modules.config" >"$log" 2>&1 &&
			run_logged static "$log" "patch $i build" make -C "$wt" O="$obj" -j"$(nproc)" arch/x86/kvm/ 2>/dev/null
	else
		what="KVM selftests"
		echo "# [static] patch $i: building $what"
		run_logged static "$log" "patch $i build" selftests_build 2>/dev/null
	fi
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "patch $i builds on its own ($what): $subj"
	else
		nok "patch $i builds on its own ($what): $subj"; tailof "$log" "patch $i build"
	fi
done

# The harness's own shell scripts (settings in .shellcheckrc).
mapfile -t sh < <(cd "$top" && { ls scripts/*.sh scripts/guest/*.sh bench/*.sh; echo .ci/run; })
if (cd "$top" && shellcheck "${sh[@]}") >"$B/shellcheck.log" 2>&1; then
	ok "shellcheck: ${#sh[@]} scripts clean"
else
	nok "shellcheck: ${#sh[@]} scripts clean"; sed 's/^/# /' "$B/shellcheck.log" | head -n 60
fi
