#!/bin/bash
# What a VM that never polls its vCPU fds executes differently, read from the
# built objects: disassemble the functions of the kick, entry and exit paths
# in the base and the patched vmlinux and diff their instruction sequences.
#   bench/insn-diff.sh [BASE_VMLINUX PATCHED_VMLINUX]
# Default: build/out-base/vmlinux (make base) and build/out/vmlinux.
# For each path function: instruction counts, lock-prefixed instructions
# (and xchg with memory, implicitly locked) base vs patched, and the diff.
# Then every other function whose code changed beyond constants, and the
# functions only the patched kernel has.  The diff is computed with
# addresses, jump targets and numeric constants normalised (so that struct
# offsets shifted by the larger struct kvm_vcpu do not count as changes) and
# printed with the real operands and jump offsets.  A lock-prefixed
# instruction that the series adds to a path function is listed; whether a
# never-polled VM executes it, its diff shows (e.g. behind the test of
# vcpu->poll).  Exit 0, 1 if a vmlinux is missing, 2 on bad usage.
set -euo pipefail
# shellcheck source=../scripts/lib.sh
. "$(dirname "$0")/../scripts/lib.sh"
case $# in
0) base=$B/out-base/vmlinux patched=$B/out/vmlinux ;;
2) base=$1 patched=$2 ;;
*) sed -n '5,6s/^# //p' "$0" >&2; exit 2 ;;
esac
for f in "$base" "$patched"; do
	[ -f "$f" ] || { echo "error: $f missing (make base builds build/out-base, make run build/out)" >&2; exit 1; }
done

# The paths a never-polled VM runs.  Kick: kvm_vcpu_kick() -> __kvm_vcpu_kick()
# -> kvm_vcpu_wake_up().  Entry/exit: the KVM_RUN ioctl (kvm_vcpu_ioctl(),
# vcpu_load/put and the vendor load/put hooks, kvm_arch_vcpu_ioctl_run() with
# vcpu_run() and vcpu_enter_guest(), which GCC inlines: checked below), the
# halt path and the APIC timer switch.
path_fns=(kvm_vcpu_wake_up __kvm_vcpu_kick kvm_vcpu_kick
	kvm_vcpu_ioctl vcpu_load vcpu_put kvm_arch_vcpu_load kvm_arch_vcpu_put
	kvm_arch_vcpu_ioctl_run vcpu_run vcpu_enter_guest
	vmx_vcpu_load vmx_vcpu_put vmx_vcpu_pi_load vmx_vcpu_pi_put vmx_vcpu_run
	svm_vcpu_load svm_vcpu_put avic_vcpu_load avic_vcpu_put svm_vcpu_run
	kvm_vcpu_block kvm_vcpu_halt kvm_vcpu_check_block kvm_arch_vcpu_runnable
	handle_fastpath_hlt restart_apic_timer kvm_can_use_hv_timer)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# dis VMLINUX OUT: "function<TAB>instruction" for all of .text, with
# addresses normalised (OUT: jump targets as <function+offset>), and jump
# targets and numeric constants too (OUT.n, what is compared).
dis() {
	objdump -d --no-show-raw-insn -j .text "$1" |
		awk 'function hex(x,    i, n) {  # low 32 bits: offsets within a function
			x = substr(x, length(x) - 7); n = 0
			for (i = 1; i <= length(x); i++) n = n * 16 + index("0123456789abcdef", substr(x, i, 1)) - 1
			return n
		     }
		     /^[0-9a-f]+ <[^>]+>:$/ { fn = $2; gsub(/^<|>:$/, "", fn); start = hex($1); next }
		     /^Disassembly of section/ { fn = ""; next }
		     fn != "" && /^ *[0-9a-f]+:\t/ {
			a = $0; sub(/:.*/, "", a); gsub(/ /, "", a); sub(/^[^\t]*\t/, "")
			printf "%s\t+0x%x\t%s\n", fn, hex(a) - start, $0 }' |
		sed -E 's/-?0x[0-9a-f]+\(%rip\)(.*)# [0-9a-f]+ <([^>]+)>$/<\2>(%rip)\1/
			s/[ \t]+#.*$//; s/(call|j[a-z]+) +[0-9a-f]+ </\1 </
			s/0xffffffff8[0-9a-f]{7}/ADDR/g; s/-0x[0-9a-f]{7,8}\(/-ADDR(/g
			s/ +/ /g; s/ $//' >"$2"
	cut -f1,3 "$2" | sed -E 's/\+0x[0-9a-f]+>/+X>/g; s/0x[0-9a-f]+/N/g' >"$2.n"
}
dis "$base" "$tmp/b"
dis "$patched" "$tmp/p"

# Keep only what is reported: the path functions, the functions whose code
# changed beyond constants, and those only one build has.
differ() {  # functions of both files whose bodies differ
	awk -F'\t' 'FNR == 1 { k++ } { s[k, $1] = s[k, $1] $2 "|"; if (k == 1) b[$1] = 1; else p[$1] = 1 }
		END { for (f in b) if ((f in p) && s[1, f] != s[2, f]) print f }' "$1" "$2"
}
differ "$tmp/b.n" "$tmp/p.n" | sort >"$tmp/changed"
nshift=$(differ "$tmp/b" "$tmp/p" | wc -l)
awk -F'\t' 'FNR == 1 { k++ } k == 1 { b[$1] = 1; next } !($1 in b) { print $1 }' "$tmp/b" "$tmp/p" | sort -u >"$tmp/new"
printf '%s\n' "${path_fns[@]}" | sort >"$tmp/paths"
sort -u "$tmp/changed" "$tmp/new" "$tmp/paths" >"$tmp/keep"
for x in b b.n p p.n; do
	awk -F'\t' 'NR == FNR { k[$1] = 1; next } $1 in k' "$tmp/keep" "$tmp/$x" >"$tmp/$x.k"
	mv "$tmp/$x.k" "$tmp/$x"
done

body() { awk -F'\t' -v f="$2" '$1 == f { print $2 (NF > 2 ? " " $3 : "") }' "$1"; }
has() { awk -F'\t' -v f="$2" '$1 == f { found = 1; exit } END { exit !found }' "$1"; }
nlocks() {  # lock prefix, or xchg with a memory operand (implicitly locked)
	grep -cE '^(\+0x[0-9a-f]+ )?(lock |xchg[a-z]? .*\()' || true
}

# fn_diff FUNCTION: the changed lines, computed on the .n bodies, printed
# from the real ones; "@@" between groups.
fn_diff() {
	body "$tmp/b" "$1" >"$tmp/fb"; body "$tmp/p" "$1" >"$tmp/fp"
	body "$tmp/b.n" "$1" >"$tmp/fbn"; body "$tmp/p.n" "$1" >"$tmp/fpn"
	{ diff --old-line-format='-%dn
' --new-line-format='+%dn
' --unchanged-line-format='=%dn
' "$tmp/fbn" "$tmp/fpn" || true; } |
		awk -v fb="$tmp/fb" -v fp="$tmp/fp" '
		BEGIN { while ((getline l < fb) > 0) b[++nb] = l; while ((getline l < fp) > 0) p[++np] = l }
		{ k = substr($0, 1, 1); i = substr($0, 2) + 0 }
		k == "=" { gap++; next }
		{ if (printed && gap) print "      @@"; gap = 0; printed = 1
		  printf "      %s %s\n", k, k == "-" ? b[i] : p[i] }'
}

echo "Instructions a never-polled VM gains, from the objects: base $(basename "$(dirname "$base")")/vmlinux" \
	"vs patched $(basename "$(dirname "$patched")")/vmlinux"
echo "(objdump -d; compared with addresses, jump targets and numeric constants normalised, shown" \
	"with offsets in the function; 'lock': lock-prefixed + xchg with memory)"
for f in vcpu_enter_guest vcpu_run; do
	has "$tmp/b" "$f" || has "$tmp/p" "$f" ||
		echo "$f(): no symbol in either build (inlined into kvm_arch_vcpu_ioctl_run)"
done

added=() total_b=0 total_p=0
printf '%-26s %7s %7s %6s %5s %5s %10s %10s\n' function base patched net '+' '-' 'lock base' 'lock patch'
for f in "${path_fns[@]}"; do
	hb=0 hp=0
	has "$tmp/b" "$f" && hb=1
	has "$tmp/p" "$f" && hp=1
	[ $((hb + hp)) -gt 0 ] || continue
	nb=$(body "$tmp/b" "$f" | wc -l) np=$(body "$tmp/p" "$f" | wc -l)
	lb=$(body "$tmp/b" "$f" | nlocks) lp=$(body "$tmp/p" "$f" | nlocks)
	d=$(fn_diff "$f")
	add=$(grep -c '^      + ' <<<"$d" || true) del=$(grep -c '^      - ' <<<"$d" || true)
	printf '%-26s %7s %7s %+6d %5d %5d %10d %10d%s\n' "$f" "$( [ $hb = 1 ] && echo "$nb" || echo -)" \
		"$( [ $hp = 1 ] && echo "$np" || echo -)" $((np - nb)) "$add" "$del" "$lb" "$lp" \
		"$( [ $hb = 0 ] && echo '  (not a function in base: inlined there)')"
	total_b=$((total_b + lb)) total_p=$((total_p + lp))
	[ "$lp" -le "$lb" ] || added+=("$f (+$((lp - lb)))")
	[ -z "$d" ] || printf '%s\n' "$d" >"$tmp/diff.$f"
done
echo "lock-prefixed instructions in these functions: base $total_b, patched $total_p;" \
	"added in: ${added[*]:-none}"

for f in "${path_fns[@]}"; do
	[ -s "$tmp/diff.$f" ] || continue
	echo
	echo "  $f: diff base -> patched (- removed, + added)"
	cat "$tmp/diff.$f"
done

echo
echo "Other functions whose instructions changed beyond constants (register allocation and" \
	"inlining included):"
comm -23 "$tmp/changed" "$tmp/paths" | while read -r f; do
	nb=$(body "$tmp/b" "$f" | wc -l) np=$(body "$tmp/p" "$f" | wc -l)
	lb=$(body "$tmp/b" "$f" | nlocks) lp=$(body "$tmp/p" "$f" | nlocks)
	printf '  %-40s %5d -> %5d instructions, lock %d -> %d\n' "$f" "$nb" "$np" "$lb" "$lp"
done
echo "  (functions that differ at all, struct offsets and other constants included: $nshift)"
echo "Functions only in the patched kernel (called for polled vCPUs, or no longer inlined):"
while read -r f; do
	printf '  %-40s %5d instructions, lock %d\n' "$f" "$(body "$tmp/p" "$f" | wc -l)" "$(body "$tmp/p" "$f" | nlocks)"
done <"$tmp/new"
