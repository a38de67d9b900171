#!/bin/bash
# Checks on the series itself, printed as TAP lines.  All of them read
# patches/ (as commits: refs/harness/series, made by `tree.sh check` in the
# worktree build/series), whatever the kernel tree holds:
#   - the series applies to the pinned base;
#   - every patch passes checkpatch --strict;
#   - Documentation/virt builds without warnings;
#   - every patch builds on its own: arch/x86/kvm (with virt/kvm) as modules
#     with KVM_WERROR=y, or the KVM selftests for selftest-only patches;
#   - the last patch also builds with the kvm-x86 maintainer's knobs turned:
#     KVM_SMM=n, KVM_XEN=y, PROVE_LOCKING=y, X86_64=n (config/knob-*.config);
#   - W=1 gives no warning in arch/x86/kvm and virt/kvm that the base lacks,
#     and neither does sparse (make C=2, through scripts/sparse-compat.sh:
#     Debian 12's sparse 0.6.4, which Linux 7.3 rejects unless helped);
#   - shellcheck on the harness's scripts.
# static-checks.sh --arm64 (make test-arm64) instead builds every kernel patch
# of the series on its own for arm64: arch/arm64/kvm (virt/kvm included) with
# config/arm64.config and -Werror (arm64 has no KVM_WERROR), in
# build/arm64/out-bisect.  Apart from `make test`: its cold cost does not fit
# in CI's time budget (docs/timings.md).
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
wt=$B/series
ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; }
tailof() { failed_log "$1" "$2" | sed 's/^error/# error/'; }

if [ "${1:-}" = --arm64 ]; then
	"$top/scripts/tree.sh" check >"$B/applycheck.log" 2>&1 ||
		{ nok "series applies to the pinned base"; tailof "$B/applycheck.log" "tree.sh check"; exit 1; }
	obj=$B/arm64/out-bisect i=0
	mkdir -p "$obj"
	for c in $(git -C "$wt" rev-list --reverse base..refs/harness/series); do
		i=$((i + 1))
		git -C "$wt" diff-tree --no-commit-id --name-only -r "$c" | grep -qv '^tools/' || continue
		subj=$(git -C "$wt" log -1 --format=%s "$c")
		git -C "$wt" checkout -q --detach "$c"
		what="arch/arm64/kvm for arm64 with -Werror"
		echo "# [static] patch $i: building $what"
		if KSRC=$wt "$top/scripts/kbuild.sh" --prepare-only --arm64 "$obj" >"$obj/patch$i.log" 2>&1 &&
			run_logged static "$obj/patch$i.log" "patch $i arm64 build" make -C "$wt" O="$obj" \
				ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- CC="${KCC/gcc/aarch64-linux-gnu-gcc}" \
				KCFLAGS=-Werror -j"$(nproc)" arch/arm64/kvm/ 2>/dev/null; then
			ok "patch $i builds on its own ($what): $subj"
		else
			nok "patch $i builds on its own ($what): $subj"; tailof "$obj/patch$i.log" "patch $i arm64 build"
		fi
	done
	git -C "$wt" checkout -q --detach refs/harness/series
	exit 0
fi

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
			run_logged static "$log" "patch $i build" make -C "$wt" O="$obj" CC="$KCC" -j"$(nproc)" arch/x86/kvm/ 2>/dev/null
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

# The kvm-x86 maintainer's other knobs (Documentation/process/
# maintainer-kvm-x86.rst, "Testing"), each turned from its default on top of
# the per-patch configuration, on the series' last commit only: KVM_SMM=n,
# KVM_XEN=y, PROVE_LOCKING=y, and a 32-bit kernel (X86_64=n: kvm, kvm-intel
# and kvm-amd all still build in 7.3; the TDP MMU and guest_memfd are
# 64-bit only).  One output directory per knob: build/out-knob-NAME.
git -C "$wt" checkout -q --detach refs/harness/series
for k in smm-off:KVM_SMM=n xen:KVM_XEN=y lockdep:PROVE_LOCKING=y i386:X86_64=n; do
	name=${k%%:*} knob=${k#*:}
	what="arch/x86/kvm with KVM=m KVM_INTEL=m KVM_AMD=m KVM_WERROR=y $knob"
	obj=$B/out-knob-$name log=$B/out-knob-$name/build.log t0=$(date +%s)
	mkdir -p "$obj"
	echo "# [static] knob $knob: building $what (last patch, config/knob-$name.config)"
	if KSRC=$wt "$top/scripts/kbuild.sh" --prepare-only "$obj" "$top/config/kvm-modules.config" \
		"$top/config/knob-$name.config" >"$log" 2>&1 &&
		run_logged static "$log" "knob $knob build" make -C "$wt" O="$obj" CC="$KCC" -j"$(nproc)" arch/x86/kvm/ 2>/dev/null; then
		ok "the series builds with $knob ($what)"
	else
		nok "the series builds with $knob ($what)"; tailof "$log" "knob $knob build"
	fi
	echo "# [static] knob $knob: $(($(date +%s) - t0)) s"
done

# W=1 and sparse: no warning that the base lacks.  All of arch/x86/kvm
# (virt/kvm included: every object the series touches, and every user of the
# headers it touches) is compiled with W=1 at tag base and at the series' last
# commit, without -Werror (config/w1.config) so that every warning is
# collected, then checked with sparse (C=2: every source file, nothing
# recompiled).  The warnings, paths made relative to the tree and line
# numbers dropped, are compared as multisets: any the base does not have
# fails.  sparse 0.6.4 stops reporting warnings for a file after an error
# (some macros are too long for it): such files are named, as partly checked.
w1=$B/out-w1
warnings_of() {  # warnings_of LOG: its warnings and errors, normalised and sorted
	# the tree's path, absolute or as seen from $w1 (how kbuild passes it)
	awk -v a="$wt/" -v r="$(realpath -m --relative-to="$w1" "$wt")/" '/(warning|error):/ {
		for (i = index($0, a); i; i = index($0, a)) $0 = substr($0, 1, i - 1) substr($0, i + length(a))
		for (i = index($0, r); i; i = index($0, r)) $0 = substr($0, 1, i - 1) substr($0, i + length(r))
		print }' "$1" | sed -E 's#^\./##; s#^([^: ]+):[0-9]+(:[0-9]+)?:#\1:#' | LC_ALL=C sort
}
w1_warnings() {  # w1_warnings NAME REV: $w1/NAME{,-sparse}.log and the sorted .warnings
	w1log=$w1/$1.log
	git -C "$wt" checkout -q --detach "$2" || return
	# every object recompiled (from ccache when warm): the warnings of the
	# whole build, not only of what changed since the last one
	find "$w1/arch/x86/kvm" "$w1/virt/kvm" -name '*.o' -delete 2>/dev/null
	run_logged static "$w1log" "W=1 build at $2" \
		make -C "$wt" O="$w1" CC="$KCC" -j"$(nproc)" W=1 arch/x86/kvm/ 2>/dev/null || return
	warnings_of "$w1log" >"$w1/$1.warnings"
	w1log=$w1/$1-sparse.log
	run_logged static "$w1log" "sparse at $2" make -C "$wt" O="$w1" CC="$KCC" -j"$(nproc)" W=1 \
		C=2 CHECK="$top/scripts/sparse-compat.sh" arch/x86/kvm/ 2>/dev/null || return
	# kbuild prints "CHECK file" for each file it checked (none: C=2 was
	# dropped, e.g. because checker-valid.sh rejected the checker)
	grep -q '^ *CHECK ' "$w1log" ||
		{ echo "error: sparse checked nothing, see $w1log" >&2; return 1; }
	warnings_of "$w1log" >"$w1/$1-sparse.warnings"
}
# compare NAME WHAT: "ok" if $w1/head-NAME has no warning that base-NAME lacks
compare() {
	local new
	new=$(LC_ALL=C comm -13 "$w1/base$1.warnings" "$w1/head$1.warnings")
	if [ -z "$new" ]; then
		ok "$2 # base $(wc -l <"$w1/base$1.warnings"), series $(wc -l <"$w1/head$1.warnings") warnings${3:+; $3}"
	else
		nok "$2"; printf '%s\n' "$new" | sed 's/^/# new: /'
		echo "# full logs: $w1/head$1.log $w1/base$1.log"
	fi
}
what="W=1 adds no warning to arch/x86/kvm and virt/kvm (tag base vs the last patch)"
swhat="sparse adds no warning to arch/x86/kvm and virt/kvm (tag base vs the last patch)"
echo "# [static] $what; $swhat"
t0=$(date +%s)
w1log=$w1/head.log
mkdir -p "$w1"
if KSRC=$wt "$top/scripts/kbuild.sh" --prepare-only "$w1" "$top/config/kvm-modules.config" \
	"$top/config/w1.config" >"$w1log" 2>&1 &&
	w1_warnings head refs/harness/series && w1_warnings base base; then
	compare "" "$what"
	partly=$(grep -h ': error:' "$w1/head-sparse.warnings" | cut -d: -f1 | sort -u | paste -sd' ')
	compare -sparse "$swhat" "${partly:+sparse stopped at an error in (partly checked): $partly}"
else
	nok "$what"; nok "$swhat"; tailof "$w1log" "W=1 build or sparse"
fi
git -C "$wt" checkout -q --detach refs/harness/series
echo "# [static] W=1 and sparse: $(($(date +%s) - t0)) s"

# The harness's own shell scripts (settings in .shellcheckrc).
mapfile -t sh < <(cd "$top" && { ls scripts/*.sh scripts/guest/*.sh bench/*.sh; echo .ci/run; })
if (cd "$top" && shellcheck "${sh[@]}") >"$B/shellcheck.log" 2>&1; then
	ok "shellcheck: ${#sh[@]} scripts clean"
else
	nok "shellcheck: ${#sh[@]} scripts clean"; sed 's/^/# /' "$B/shellcheck.log" | head -n 60
fi
