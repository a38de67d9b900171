#!/bin/bash
# The kernel work tree (KSRC, default build/linux): a git repository whose tag
# `base` is the pristine base kernel and whose commits after it are the series.
#
#   tree.sh apply    make the tree hold patches/: create it if needed (fetch,
#                    unpack, commit as `base`), then check out patches/ as
#                    commits.  Refuses, naming them, when the tree holds
#                    commits or edits that are not in patches/.
#   tree.sh export   regenerate patches/ from base..HEAD, keeping the cover
#                    letter; refuses when patches/ changed since the tree was
#                    made from it (the export would overwrite that change)
#   tree.sh check    the series applies to the pinned base
#
# `tree.sh check` (and apply) git-am patches/ onto base in the scratch
# worktree build/series; the result is the ref refs/harness/series, which the
# static checks build commit by commit: every check reads patches/.
# refs/harness/applied is the last series `apply` put into the tree.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
. "$top/scripts/base.env"
say() { echo "# [tree] $*"; }
series_version=2	# the N of "[PATCH vN]" in the exported subjects
g() { git -C "$K" "$@"; }

ident() {
	git -C "$1" config user.name >/dev/null 2>&1 && return
	git -C "$1" config user.name "$(git -C "$top" config user.name || echo builder)"
	git -C "$1" config user.email "$(git -C "$top" config user.email || echo builder@localhost)"
}

create() {
	[ -z "${KSRC:-}" ] || { echo "error: KSRC=$KSRC is not a git tree (unset KSRC to let the harness make build/linux)" >&2; exit 1; }
	"$top/scripts/fetch-base.sh"
	say "unpacking linux-source-$BASE_KERNEL into $K"
	rm -rf "$K.tmp"; mkdir -p "$K.tmp"
	tar -C "$K.tmp" --strip-components=1 -xf "$B/dl/linux-source-$BASE_KERNEL.tar.xz"
	git -C "$K.tmp" init -q -b master
	ident "$K.tmp"
	say "committing pristine base (about a minute)"
	git -C "$K.tmp" add -A -f . >/dev/null
	# fixed identity and date: the base commit, and so every patch's
	# base-commit, is the same on every machine
	GIT_AUTHOR_NAME=base GIT_AUTHOR_EMAIL=base@localhost GIT_COMMITTER_NAME=base \
	GIT_COMMITTER_EMAIL=base@localhost GIT_AUTHOR_DATE="$BASE_DATE" GIT_COMMITTER_DATE="$BASE_DATE" \
		git -C "$K.tmp" -c core.bigFileThreshold=1m commit -q -m "Linux $BASE_KERNEL ($BASE_PKG $BASE_VERSION)"
	git -C "$K.tmp" tag base
	mv "$K.tmp" "$K"
}

tree_ok() {
	[ -d "$K/.git" ] || [ -f "$K/.git" ] || create
	g rev-parse -q --verify 'base^{commit}' >/dev/null ||
		{ echo "error: $K has no tag 'base' (tag the commit the series applies to: git -C $K tag base COMMIT)" >&2; exit 1; }
	ident "$K"
}

series() { local p; for p in "$top"/patches/*.patch; do [ -f "$p" ] && [ "${p##*/}" != 0000-cover-letter.patch ] && echo "$p"; done; true; }

# series_commits: git am patches/ onto base in the worktree build/series;
# the result becomes refs/harness/series
series_commits() {
	local wt=$B/series p
	g worktree prune
	if ! git -C "$wt" rev-parse --git-dir >/dev/null 2>&1; then
		rm -rf "$wt"; g worktree add -q --detach "$wt" base
	fi
	ident "$wt"
	git -C "$wt" am --abort >/dev/null 2>&1 || true
	git -C "$wt" checkout -q -f --detach base
	for p in $(series); do
		if ! git -C "$wt" am -q --3way "$p" >"$B/am.log" 2>&1; then
			echo "error: patch ${p##*/} does not apply to base:" >&2
			sed 's/^/# | /' "$B/am.log" >&2
			git -C "$wt" diff --name-only --diff-filter=U | sed 's/^/  conflict in: /' >&2
			git -C "$wt" am --abort 2>/dev/null || true
			return 1
		fi
	done
	g update-ref refs/harness/series "$(git -C "$wt" rev-parse HEAD)"
}

# key COMMIT: what the commit changes and says (patch-id and message)
key() {
	echo "$(g show "$1" | git patch-id --stable | cut -d' ' -f1) $(g log -1 --format=%B "$1" | git stripspace | sha1sum | cut -c1-40)"
}
# same A B: the commits base..A and base..B say and change the same
same() {
	[ "$(g rev-parse "$1^{tree}")" = "$(g rev-parse "$2^{tree}")" ] &&
	[ "$(g log --format=%B base.."$1" | git stripspace)" = "$(g log --format=%B base.."$2" | git stripspace)" ]
}

# unexported: commits on HEAD or master after base that patches/ does not
# hold and that no earlier `apply` put there
unexported() {
	local known c applied
	applied=$(g rev-parse -q --verify refs/harness/applied || true)
	known=$(for c in $(g rev-list base..refs/harness/series); do key "$c"; done)
	for c in $(g rev-list --reverse HEAD master --not base 2>/dev/null || g rev-list --reverse HEAD --not base); do
		[ -n "$applied" ] && g merge-base --is-ancestor "$c" "$applied" && continue
		grep -qxF "$(key "$c")" <<<"$known" || echo "$c"
	done
}

refuse_edits() {  # tracked edits and untracked files outside .gitignore
	local st; st=$(g status --porcelain)
	[ -z "$st" ] && return 0
	echo "error: $K has edits that are not committed (so not in patches/); nothing was changed:" >&2
	printf '%s\n' "$st" | head -n 20 | sed 's/^/  /' >&2
	echo "  keep them: commit them in $K (git add -f FILE; git commit), then 'make export';" >&2
	echo "  or set them aside: git -C $K stash -u; drop them: git -C $K checkout -f HEAD && git -C $K clean -fd" >&2
	exit 1
}

case "${1:-apply}" in
apply)
	tree_ok
	refuse_edits
	g merge-base --is-ancestor base HEAD ||
		{ echo "error: $K: HEAD is not on top of tag base; check out the series branch (git -C $K checkout master)" >&2; exit 1; }
	series_commits
	if same HEAD refs/harness/series; then
		g update-ref refs/harness/applied HEAD
		say "$K already holds patches/ ($(g rev-list --count base..HEAD) patches)"
		exit 0
	fi
	lost=$(unexported)
	if [ -n "$lost" ]; then
		echo "error: $K holds commits that are not in patches/; nothing was changed:" >&2
		for c in $lost; do echo "  $(g log -1 --format='%h %s' "$c")"; done >&2
		echo "  keep them in the series: 'make export' writes base..HEAD of $K to patches/ (then commit patches/);" >&2
		echo "  or save them elsewhere: git -C $K format-patch -o DIR base..HEAD;" >&2
		echo "  then, to take patches/ as it is: git -C $K reset --hard base, and 'make tree' again" >&2
		exit 1
	fi
	say "checking out patches/ into $K (previous HEAD $(g rev-parse --short HEAD), kept in the reflog)"
	g checkout -q -B master refs/harness/series
	g update-ref refs/harness/applied HEAD
	say "$K holds patches/ ($(g rev-list --count base..HEAD) patches)"
	;;
export)
	[ -d "$K/.git" ] || [ -f "$K/.git" ] || { echo "error: no $K; run '$0 apply' first" >&2; exit 1; }
	refuse_edits
	series_commits
	if g rev-parse -q --verify refs/harness/applied >/dev/null && ! same refs/harness/applied refs/harness/series &&
	   ! same HEAD refs/harness/series; then
		echo "error: patches/ changed since $K was made from it; exporting would overwrite that change." >&2
		echo "  see it: git -C $top diff patches/; keep it: git -C $top stash (or commit), export, then merge;" >&2
		echo "  drop it: git -C $top checkout patches/ and export again" >&2
		exit 1
	fi
	cover=$top/patches/0000-cover-letter.patch
	tmp=$(mktemp -d)
	[ -f "$cover" ] && cp "$cover" "$tmp/cover"
	rm -f "$top"/patches/*.patch
	g format-patch -q --cover-letter --base=base --subject-prefix="PATCH v$series_version" \
		-o "$top/patches" base..HEAD
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
	g update-ref refs/harness/applied HEAD
	say "exported $(series | wc -l) patches to patches/"
	;;
check)
	tree_ok
	series_commits
	say "patches/ applies to base: $(g rev-list --count base..refs/harness/series) patches"
	;;
*) echo "usage: $0 apply|export|check" >&2; exit 2 ;;
esac
