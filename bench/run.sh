#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The benchmark's host driver: run bench/bench.sh in the test VM of each
# kernel (or on this machine with --host), collect the raw results under
# OUT/raw/KVER/ and make OUT/README.md with bench/report.sh from the
# directories of this run only.
#
#   bench/run.sh [--kernel KVER]... [--timeout SECS] [--host] [--out DIR]
#                [--prev REV]
#
# KVER as selftests/vm/run.sh takes it (6.1, 6.12, a full release); default:
# every bootable kernel. BENCH_* variables in the environment are handed to
# bench.sh (see its header), e.g. BENCH_ROUNDS=5 or BENCH_SETS=4/8/20.
# --host runs bench.sh right here, without the module and without ip6tnl:
# contenders snat, numgen and block only (a check of the bench itself).
# --prev REV adds contender mape-prev: the module as of git revision REV,
# built into build/bench/prev/ (BENCH_CONTENDERS="mape mape-prev" for
# only the two; the flood takes it in BENCH_FLOOD_CONTENDERS).
# OUT: --out, else bench/results (VM) or build/bench/host (--host).
# Logs of the VM runs: build/bench/ (BENCH_LOGDIR).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=""
kernels=""
timeout=1800
host=0
prev=""
orig_args=("$@")

usage() { sed -n '7,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernels="$kernels $2"; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--host) host=1; shift ;;
	--out) OUT=$2; shift 2 ;;
	--prev) prev=$2; shift 2 ;;
	*) usage ;;
	esac
done

if [ -z "$OUT" ]; then
	OUT=$ROOT/bench/results
	[ "$host" = 1 ] && OUT=$ROOT/build/bench/host
fi
LOGDIR=${BENCH_LOGDIR:-$ROOT/build/bench}
mkdir -p "$OUT/raw"
[ "$host" = 1 ] || mkdir -p "$LOGDIR"
runs=()		# the raw directories this run made
bench_env_prev=()

# The BENCH_* settings of this run, as env arguments for the guest (whose
# output always goes to the run directory run.sh shares with it).
bench_env=(env)
while IFS= read -r v; do
	bench_env+=("$v")
done < <(env | grep -E '^BENCH_[A-Z_]+=' | grep -vE '^BENCH_(OUT|LOGDIR|KERNEL_LABEL)=' | sort || true)

host_info() {
	local rev
	rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
	git -C "$ROOT" diff --quiet HEAD 2>/dev/null || rev="$rev (work tree modified)"
	{
		echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
		echo "repository: $rev"
		echo "host: $(uname -r), $(nproc) x $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
		echo "qemu: $(qemu-system-x86_64 --version 2>/dev/null | head -1 || echo none)"
		echo "gcc: $(${CC:-cc} --version | head -1)"
		echo "gnuplot: $(gnuplot --version 2>/dev/null || echo none)"
		echo "command: bench/run.sh${orig_args[*]:+ ${orig_args[*]}}"
		echo "settings: ${bench_env[*]:1}"
	} > "$OUT/host.txt"
}

# prev_module KVER: with --prev, the module of that revision for KVER,
# from the revision's own sources and build script; its path handed to
# bench.sh.
prev_module() {
	local src=$LOGDIR/prev/$prev
	[ -n "$prev" ] || return 0
	if [ ! -d "$src" ]; then
		mkdir -p "$src" && git -C "$ROOT" archive "$prev" | tar -x -C "$src" || {
			echo "bench/run.sh: --prev $prev: no such revision" >&2
			rm -rf "$src"
			return 1
		}
	fi
	"$src/scripts/build-module.sh" "$1" > "$LOGDIR/module-prev-$1.log" 2>&1 || {
		echo "bench/run.sh: module of $prev for $1 failed: $LOGDIR/module-prev-$1.log" >&2
		return 1
	}
	bench_env_prev=("BENCH_PREV_KO=$src/build/$1/nf_nat_mape.ko" "BENCH_PREV_REV=$prev")
}

# run_vm KVER: one guest run; raw results to $OUT/raw/KVER.
run_vm() {
	local k=$1 kver log kept rc
	kver=$(. selftests/vm/lib.sh && vm_resolve_kernel "$k") || {
		echo "bench/run.sh: no bootable kernel matches $k" >&2
		return 1
	}
	make -s module KVER="$kver" > "$LOGDIR/module-$kver.log" 2>&1 || {
		echo "bench/run.sh: module build for $kver failed: $LOGDIR/module-$kver.log" >&2
		return 1
	}
	prev_module "$kver" || return 1
	log=$LOGDIR/vm-$kver.log
	echo "bench/run.sh: $kver: selftests/vm/run.sh --keep --kernel $kver --timeout $timeout -- ${bench_env[*]} bench/bench.sh (log: $log)" >&2
	set +e
	# --keep: an interrupted run leaves its directory; it is in VMTMP,
	# which the next run empties.
	TMPDIR=$VMTMP selftests/vm/run.sh --keep --kernel "$kver" --timeout "$timeout" -- \
		"${bench_env[@]}" "${bench_env_prev[@]}" bench/bench.sh 2>&1 | tee "$log" | grep --line-buffered -E '^(bench\.sh|run\.sh): '
	rc=${PIPESTATUS[0]}
	set -e
	kept=$(sed -n 's/^run\.sh: kept //p' "$log" | tail -1)
	if [ -z "$kept" ] || [ ! -s "$kept/bench/raw.tsv" ]; then
		echo "bench/run.sh: $kver: no results (run.sh exit $rc, log $log)" >&2
		[ -n "$kept" ] && rm -rf "$kept"
		return 1
	fi
	rm -rf "$OUT/raw/$kver"
	cp -r "$kept/bench" "$OUT/raw/$kver"
	rm -f "$OUT/raw/$kver/last.out"
	rm -rf "$kept"
	runs+=("$OUT/raw/$kver")
	[ "$rc" = 0 ] || echo "bench/run.sh: $kver: run.sh exited $rc (see $log); results kept, run failed" >&2
	return "$rc"
}

run_host() {
	local label
	label="host-$(uname -r)"
	rm -rf "$OUT/raw/$label"
	local rc=0
	BENCH_OUT=$OUT/raw/$label BENCH_KERNEL_LABEL=$label bench/bench.sh || rc=$?
	rm -f "$OUT/raw/$label/last.out"
	runs+=("$OUT/raw/$label")
	return "$rc"
}

if ! command -v gnuplot > /dev/null; then
	if ! command -v apt-get > /dev/null; then
		echo "bench/run.sh: note: no gnuplot, and no apt-get to install it: tables only, no plot" >&2
	else
		echo "bench/run.sh: installing gnuplot-nox for the plots" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox > /dev/null 2>&1 ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnuplot-nox; } > /dev/null 2>&1 ||
			echo "bench/run.sh: note: gnuplot-nox could not be installed (apt-get failed): tables only, no plot" >&2
	fi
fi
host_info
failed=0
VMTMP=$ROOT/build/bench/vmtmp
rm -rf "$VMTMP" && mkdir -p "$VMTMP"
if [ "$host" = 1 ]; then
	run_host || failed=1
else
	[ -n "$kernels" ] || kernels=$(scripts/kernels.sh boot)
	[ -n "$kernels" ] || { echo "bench/run.sh: no bootable kernel (make deps)" >&2; exit 1; }
	for k in $kernels; do
		run_vm "$k" || failed=1
	done
fi
if [ ${#runs[@]} -gt 0 ]; then
	bench/report.sh -o "$OUT" "${runs[@]}"
else
	echo "bench/run.sh: no results: no report" >&2
fi
exit $failed
