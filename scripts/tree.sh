#!/bin/bash
# The kernel work tree: build/linux, a git repository whose tag `base` is the
# pristine base kernel and whose commits after it are the series in patches/.
#
#   tree.sh apply     create build/linux if needed and git-am patches/ onto base
#                     (a tree whose commits already match patches/ is left alone)
#   tree.sh export    regenerate patches/ from base..HEAD, keeping the cover letter
#   tree.sh check     the series applies to the pinned base (in a scratch worktree)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.env"
B=${BUILD:-$top/build}
K=$B/linux
say() { echo "# [tree] $*"; }

ident() {
	git -C "$K" config user.name >/dev/null 2>&1 && return
	git -C "$K" config user.name "$(git -C "$top" config user.name || echo builder)"
	git -C "$K" config user.email "$(git -C "$top" config user.email || echo builder@localhost)"
}

create() {
	"$top/scripts/fetch-base.sh"
	say "unpacking linux-source-$BASE_KERNEL into $K"
	rm -rf "$K.tmp"; mkdir -p "$K.tmp"
	tar -C "$K.tmp" --strip-components=1 -xf "$B/dl/linux-source-$BASE_KERNEL.tar.xz"
	git -C "$K.tmp" init -q -b master
	K=$K.tmp ident
	say "committing pristine base (takes a minute)"
	git -C "$K.tmp" add -A -f . >/dev/null
	# fixed identity and date: the base commit, and so every patch's
	# base-commit, is the same on every machine
	GIT_AUTHOR_NAME=base GIT_AUTHOR_EMAIL=base@localhost GIT_COMMITTER_NAME=base \
	GIT_COMMITTER_EMAIL=base@localhost GIT_AUTHOR_DATE="$BASE_DATE" GIT_COMMITTER_DATE="$BASE_DATE" \
		git -C "$K.tmp" -c core.bigFileThreshold=1m commit -q -m "Linux $BASE_KERNEL ($BASE_PKG $BASE_VERSION)"
	git -C "$K.tmp" tag base
	mv "$K.tmp" "$K"
}

series() { ls "$top"/patches/*.patch 2>/dev/null | grep -v '/0000-cover-letter.patch$' || true; }

subjects_match() {
	local want have
	want=$(for p in $(series); do git mailinfo /dev/null /dev/null <"$p" | sed -n 's/^Subject: //p'; done)
	have=$(git -C "$K" log --reverse --format=%s base..HEAD)
	[ "$want" = "$have" ]
}

am_series() {  # $1 = tree
	local p
	for p in $(series); do
		if ! git -C "$1" am -q --3way "$p" >/dev/null 2>"$B/am.err"; then
			echo "error: patch $(basename "$p") does not apply:" >&2
			grep -E 'error|patch failed|CONFLICT|does not' "$B/am.err" | head -10 >&2
			git -C "$1" diff --name-only --diff-filter=U | sed 's/^/  conflict in: /' >&2
			git -C "$1" am --abort 2>/dev/null || true
			return 1
		fi
		say "applied $(basename "$p")"
	done
}

case "${1:-apply}" in
apply)
	[ -d "$K/.git" ] || create
	ident
	if subjects_match && [ -z "$(git -C "$K" status --porcelain -uno)" ]; then
		say "build/linux already holds the series ($(git -C "$K" rev-list --count base..HEAD) patches)"
		exit 0
	fi
	if [ -n "$(git -C "$K" status --porcelain -uno)" ]; then
		echo "error: $K has uncommitted edits; commit them and run '$0 export', or discard them" >&2
		exit 1
	fi
	say "resetting build/linux to base and applying patches/"
	git -C "$K" checkout -q -B master base
	am_series "$K"
	;;
export)
	[ -d "$K/.git" ] || { echo "error: no $K; run '$0 apply' first" >&2; exit 1; }
	cover=$top/patches/0000-cover-letter.patch
	tmp=$(mktemp -d)
	[ -f "$cover" ] && cp "$cover" "$tmp/cover"
	rm -f "$top"/patches/*.patch
	git -C "$K" format-patch -q --cover-letter --base=base -o "$top/patches" base..HEAD
	if [ -f "$tmp/cover" ]; then
		# keep the hand-written subject and blurb; shortlog and diffstat are new
		python3 - "$tmp/cover" "$cover" <<'PY'
import re, sys
old, new = open(sys.argv[1]).read(), open(sys.argv[2]).read()
subj = re.search(r'^Subject: \[PATCH[^\]]*\] (.*(?:\n .*)*)', old, re.M).group(1)
body = old.split('\n\n', 1)[1]
blurb = re.split(r'^\S.* \(\d+\):$', body, maxsplit=1, flags=re.M)[0].rstrip('\n')
new = new.replace('*** SUBJECT HERE ***', subj, 1).replace('*** BLURB HERE ***', blurb, 1)
open(sys.argv[2], 'w').write(new)
PY
	fi
	rm -rf "$tmp"
	say "exported $(series | wc -l) patches to patches/"
	;;
check)
	[ -d "$K/.git" ] || create
	wt=$B/applycheck; rm -rf "$wt"; git -C "$K" worktree prune
	git -C "$K" worktree add -q --detach "$wt" base
	ok=0; am_series "$wt" >/dev/null || ok=1
	git -C "$K" worktree remove --force "$wt"
	exit $ok
	;;
*) echo "usage: $0 apply|export|check" >&2; exit 2 ;;
esac
