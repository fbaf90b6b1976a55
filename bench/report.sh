#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Turn raw benchmark results into bench/results: README.md (tables:
# medians over the rounds with [min-max], the targets, commands and
# versions) and one occupancy-KVER.png per kernel (success rate and setup
# rate against occupancy, the four contenders).
#
#   bench/report.sh [-o OUTDIR] RAWDIR...
#
# Each RAWDIR holds what bench/bench.sh wrote: raw.tsv, versions.txt,
# commands.txt. OUTDIR defaults to bench/results.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/bench/results
[ "${1:-}" = -o ] && { OUT=$2; shift 2; }
[ $# -gt 0 ] || { sed -n '8,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

raws=()
for d in "$@"; do
	d=${d%/}
	[ -s "$d/raw.tsv" ] && raws+=("$d/raw.tsv") || echo "report.sh: $d has no raw.tsv, skipped" >&2
done
[ ${#raws[@]} -gt 0 ] || { echo "report.sh: no results" >&2; exit 1; }

# The tables. Plot data goes to $tmp/plot-KERNEL-SET-PROTO.dat, one line
# per occupancy level: level, then success % and median rate per contender.
cat "${raws[@]}" | awk -F'\t' -v tmp="$tmp" -v out="$OUT" '
function kv(line,   n, w, i, eq) {
	delete v
	n = split(line, w, " ")
	v["_name"] = w[1]
	for (i = 2; i <= n; i++) {
		eq = index(w[i], "=")
		if (eq)
			v[substr(w[i], 1, eq - 1)] = substr(w[i], eq + 1)
	}
}
function add(arr, key, x) { arr[key] = (key in arr) ? arr[key] " " x : x }
# sorted values of a list into s[1..n]; returns n
function sorted(list,   n, i, j, t) {
	n = split(list, s, " ")
	for (i = 2; i <= n; i++) {
		t = s[i] + 0
		for (j = i - 1; j >= 1 && s[j] + 0 > t; j--)
			s[j + 1] = s[j]
		s[j + 1] = t
	}
	return n
}
function median(list,   n) {
	n = sorted(list)
	if (!n) return ""
	return n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2
}
function lo(list) { return sorted(list) ? s[1] : "" }
function hi(list,   n) { n = sorted(list); return n ? s[n] : "" }
function num(x) {
	if (x == "") return "-"
	if (x >= 100) return sprintf("%.0f", x)
	if (x >= 10) return sprintf("%.1f", x)
	return sprintf("%.2f", x)
}
# "median [min-max]" of a list, or "-"
function mmm(list,   n) {
	if (list == "") return "-"
	n = sorted(list)
	if (n == 1) return num(s[1])
	return num(median(list)) " [" num(lo(list)) "-" num(hi(list)) "]"
}
function pct(a, b) { return b > 0 ? sprintf("%.1f %%", 100 * a / b) : "-" }
function setsize(set,   x) { split(set, x, "/"); return (2 ^ x[1] - 1) * 2 ^ (16 - x[1] - x[2]) }
function has(c) { return (K SUBSEP c) in seen_c }
function verdict(ok) { return ok ? "**met**" : "**NOT met**" }
function capnote(n) { return n ? " (" n " round(s) ended without a failure: time cap)" : "" }

{
	k = $1; set = $2; c = $3; proto = $4; round = $5
	kv($6)
	name = v["_name"]
	if (!(k in seen_k)) { seen_k[k] = 1; kernels[++nk] = k }
	if (name != "tput" && !((k SUBSEP set) in seen_s)) { seen_s[k SUBSEP set] = 1; sets[k, ++ns[k]] = set }
	seen_c[k SUBSEP c] = 1
	run = k SUBSEP set SUBSEP c SUBSEP proto
	r = run SUBSEP round
	if (name == "burst") { add(burst, run, v["rate"]); after_churn[r] = 0; nsnap[r] = 0 }
	if (name == "burst" || name == "util" || name == "level" || name == "churn" || name == "fill") {
		okc[k, c] += v["ok"]; outc[k, c] += v["outside"]; dupc[k, c] += v["dup"]
	}
	if (name == "util" && !after_churn[r]) {
		add(util, run, v["first_fail_at"] < 0 ? v["held"] : v["first_fail_at"])
		if (v["first_fail_at"] < 0) util_nofail[run]++
		add(util_held, run, v["held"])
	}
	if (name == "util" && after_churn[r]) {
		add(cutil, run, v["first_fail_at"] < 0 ? v["held"] : v["first_fail_at"])
		if (v["first_fail_at"] < 0) cutil_nofail[run]++
		if (v["inuse_at_fail"] >= 0) add(cinuse, run, v["inuse_at_fail"])
	}
	if (name == "level") {
		l = v["pct"]; lk = run SUBSEP l
		if (!((k SUBSEP l) in seen_l)) { seen_l[k SUBSEP l] = 1; levels[k, ++nl[k]] = l }
		latt[lk] += v["attempts"]; lok[lk] += v["ok"]; lslow[lk] += v["slow"]
		if (v["ok"] > 0) add(lrate, lk, v["rate"])
		add(locc, lk, 100 * v["occ"])
	}
	if (name == "churn") {
		after_churn[r] = 1
		catt[run] += v["attempts"]; cfail[run] += v["fail"]
		cnatt[run] += v["notfull_att"]; cnfail[run] += v["notfull_fail"]
		cslow[run] += v["slow"]
	}
	if (name == "snap") {
		nsnap[r]++
		if (nsnap[r] == 1) { s_live = v["live"]; s_slab = v["slab_kB"]; s_ct = v["ct_objs"]; s_cnt = v["ct_count"] }
		else if (v["live"] > s_live) {
			d = v["live"] - s_live
			add(mslab, run, 1024 * (v["slab_kB"] - s_slab) / d)
			if (v["ct_objs"] >= 0 && s_ct >= 0) add(mct, run, (v["ct_objs"] - s_ct) / d)
			if (v["ct_count"] >= 0 && s_cnt >= 0) add(mcnt, run, (v["ct_count"] - s_cnt) / d)
		}
	}
	if (name == "mapestat") {
		if (v["translated"] > 0)
			add(lookups, run, v["lookups"] / v["translated"])
		for (x in v)
			if (x != "_name") { mstat[run, x] += v[x]; mkeys[x] = 1 }
		mruns[run] = 1
	}
	if (name == "tput") add(tput, k SUBSEP c, v["bps"] / 1e6)
}

END {
	nc = split("snat mape numgen block", C, " ")
	title["snat"] = "snat (contiguous)"; title["mape"] = "mape"
	title["numgen"] = "numgen map"; title["block"] = "per-block nth"
	for (ki = 1; ki <= nk; ki++) {
		K = kernels[ki]
		print ""
		print "## Kernel " K
		print ""
		print "Versions and settings: [raw/" K "/versions.txt](raw/" K "/versions.txt); every command run in the guest: [raw/" K "/commands.txt](raw/" K "/commands.txt); raw measurements: [raw/" K "/raw.tsv](raw/" K "/raw.tsv)."
		print ""
		if (!has("mape"))
			print "> **mape was not measured on this kernel** (no module: a host run). Its rows are empty.\n"

		# --- targets ---
		print "### Targets for mape"
		print ""
		print "| target | measured | verdict |"
		print "|---|---|---|"
		if (has("mape")) {
			for (si = 1; si <= ns[K]; si++) {
				S = sets[K, si]; P = setsize(S)
				for (pi = 1; pi <= 2; pi++) {
					pr = pi == 1 ? "udp" : "tcp"
					m = K SUBSEP S SUBSEP "mape" SUBSEP pr
					sn = K SUBSEP S SUBSEP "snat" SUBSEP pr
					if (!(m in util)) continue
					u = lo(util[m])
					printf "| %s %s: utilisation = P (%d), no failure before | lowest of rounds %s%s | %s |\n", S, pr, P, u, capnote(util_nofail[m]), verdict(u == P)
					if (m in cutil) {
						cu = lo(cutil[m]); ci = (m in cinuse) ? lo(cinuse[m]) : cu
						printf "| %s %s: with churn, no failure before the set is full | failures while a port was free: %d of %d; first failure at %s held%s%s | %s |\n", S, pr, cnfail[m], cnatt[m], cu, pr == "udp" ? " (" ci " held + idle)" : "", capnote(cutil_nofail[m]), verdict(cnfail[m] == 0 && ci >= P)
					}
					if ((sn in burst) && median(burst[sn]) > 0) {
						q = median(burst[m]) / median(burst[sn])
						printf "| %s %s: setup rate at low occupancy >= 0.95 x snat | %.3f x | %s |\n", S, pr, q, verdict(q >= 0.95)
					}
					l1 = levels[K, 1]; ln = levels[K, nl[K]]
					a = median(lrate[m SUBSEP l1]); b = median(lrate[m SUBSEP ln])
					if (a > 0 && ln >= 95) {
						if (b == "")
							printf "| %s %s: setup rate at %s %% >= 0.5 x own at %s %% | no flow answered at %s %% | %s |\n", S, pr, ln, l1, ln, verdict(0)
						else
							printf "| %s %s: setup rate at %s %% >= 0.5 x own at %s %% | %.3f x | %s |\n", S, pr, ln, l1, b / a, verdict(b / a >= 0.5)
					}
				}
			}
			a = median(tput[K SUBSEP "mape"]); b = median(tput[K SUBSEP "snat"])
			if (a != "" && b > 0)
				printf "| throughput through ip6tnl >= 0.98 x snat | %.3f x | %s |\n", a / b, verdict(a / b >= 0.98)
			if (okc[K, "mape"] > 0)
				printf "| every port seen by the server in the set | %d outside of %d flows | %s |\n", outc[K, "mape"], okc[K, "mape"], verdict(outc[K, "mape"] == 0)
		} else
			print "| all | not measured | - |"
		print ""

		# --- setup rate ---
		print "### New-flow setup rate at low occupancy"
		print ""
		print "Flows per second, median [min-max] over the rounds; " \
		      "the generator keeps 32 flows in flight and spreads them over several " \
		      "server ports so that no destination passes 10 % of P; every flow is held open."
		print ""
		printf "| P (a/k/psid) | proto |"
		for (i = 1; i <= nc; i++) printf " %s |", title[C[i]]
		print " mape / snat |"
		printf "|---|---|"
		for (i = 1; i <= nc; i++) printf "---|"
		print "---|"
		for (si = 1; si <= ns[K]; si++) {
			S = sets[K, si]
			for (pi = 1; pi <= 2; pi++) {
				pr = pi == 1 ? "udp" : "tcp"
				printf "| %d (%s) | %s |", setsize(S), S, pr
				for (i = 1; i <= nc; i++) printf " %s |", mmm(burst[K SUBSEP S SUBSEP C[i] SUBSEP pr])
				a = median(burst[K SUBSEP S SUBSEP "mape" SUBSEP pr])
				b = median(burst[K SUBSEP S SUBSEP "snat" SUBSEP pr])
				print " " (a != "" && b > 0 ? sprintf("%.3f", a / b) : "-") " |"
			}
		}
		print ""

		# --- occupancy ---
		print "### Success rate and setup rate against occupancy"
		print ""
		print "One destination. The set is held at the given occupancy (flows freed " \
		      "by deleting their conntrack entries); new flows are opened one at a time and each " \
		      "success frees a random held flow, so every new flow meets the same occupancy. " \
		      "Cell: success % (all rounds) / median setup rate in flows/s (1 / time to answer, " \
		      "answered flows only); \"r\" counts TCP flows answered only after a SYN " \
		      "retransmission (their first SYN was dropped)."
		for (si = 1; si <= ns[K]; si++) {
			S = sets[K, si]
			for (pi = 1; pi <= 2; pi++) {
				pr = pi == 1 ? "udp" : "tcp"
				print ""
				printf "P = %d (%s), %s\n\n", setsize(S), S, pr
				printf "| occupancy |"
				for (i = 1; i <= nc; i++) printf " %s |", title[C[i]]
				print ""
				printf "|---|"
				for (i = 1; i <= nc; i++) printf "---|"
				print ""
				S2 = S; gsub("/", "_", S2)
				dat = tmp "/plot-" K "-" S2 "-" pr ".dat"
				for (li = 1; li <= nl[K]; li++) {
					L = levels[K, li]
					printf "| %s %% |", L
					line = L
					for (i = 1; i <= nc; i++) {
						lk = K SUBSEP S SUBSEP C[i] SUBSEP pr SUBSEP L
						if (!(lk in latt) || latt[lk] == 0) {
							printf " - |"; line = line " ? ?"; continue
						}
						occ = median(locc[lk])
						cell = pct(lok[lk], latt[lk]) " / " (lk in lrate ? num(median(lrate[lk])) : "-")
						if (lslow[lk]) cell = cell " (" lslow[lk] " r)"
						if (occ < L - 1) cell = cell " (held only " sprintf("%.0f", occ) " %)"
						printf " %s |", cell
						line = line " " sprintf("%.2f", 100 * lok[lk] / latt[lk]) " " (lk in lrate ? median(lrate[lk]) : "?")
					}
					print ""
					print line > dat
				}
				if (nl[K]) {
					close(dat)
					print dat > (tmp "/plots-" K)
				}
			}
		}
		print ""

		# --- utilisation ---
		print "### Utilisation toward one destination"
		print ""
		print "Flows opened one at a time and held until the first failure: flows held then " \
		      "(median [min-max]). After churn: the same on the destination the churn ran on, where " \
		      "closed TCP connections sit in TIME_WAIT and idle UDP flows keep their entries " \
		      "(UDP: flows held + idle ports at the first failure). \"no failure\" = the step ran out of " \
		      "attempts or time first."
		print ""
		print "| P | proto | contender | held at first failure | % of P | after churn: held at first failure | after churn, UDP: held + idle |"
		print "|---|---|---|---|---|---|---|"
		for (si = 1; si <= ns[K]; si++) {
			S = sets[K, si]; P = setsize(S)
			for (pi = 1; pi <= 2; pi++) {
				pr = pi == 1 ? "udp" : "tcp"
				for (i = 1; i <= nc; i++) {
					m = K SUBSEP S SUBSEP C[i] SUBSEP pr
					if (!(m in util)) continue
					printf "| %d | %s | %s | %s%s | %s | %s%s | %s |\n", P, pr, title[C[i]], mmm(util[m]),
						util_nofail[m] ? " (" util_nofail[m] "x no failure)" : "",
						pct(median(util[m]), P), mmm(cutil[m]),
						cutil_nofail[m] ? " (" cutil_nofail[m] "x no failure)" : "",
						pr == "udp" ? mmm(cinuse[m]) : "-"
				}
			}
		}
		print ""

		# --- churn ---
		print "### Churn"
		print ""
		print "Half the set held; each new flow first closes a random held one the ordinary way " \
		      "(TCP: the client closes first, so the router keeps it in TIME_WAIT; UDP: the flow goes " \
		      "idle, the router keeps its entry for the UDP timeout, shortened for this step). UDP " \
		      "waits while held and idle flows fill the set, so a UDP failure always had a free port. " \
		      "\"While a port was free\": fewer than P ports held, in flight or idle (TIME_WAIT counts as free)."
		print ""
		print "| P | proto | contender | attempts | failures / 10,000 | failures / 10,000 while a port was free | SYN retransmits |"
		print "|---|---|---|---|---|---|---|"
		for (si = 1; si <= ns[K]; si++) {
			S = sets[K, si]; P = setsize(S)
			for (pi = 1; pi <= 2; pi++) {
				pr = pi == 1 ? "udp" : "tcp"
				for (i = 1; i <= nc; i++) {
					m = K SUBSEP S SUBSEP C[i] SUBSEP pr
					if (!(m in catt)) continue
					printf "| %d | %s | %s | %d | %s | %s | %s |\n", P, pr, title[C[i]], catt[m],
						catt[m] ? sprintf("%.0f", 1e4 * cfail[m] / catt[m]) : "-",
						cnatt[m] ? sprintf("%.0f (%d of %d)", 1e4 * cnfail[m] / cnatt[m], cnfail[m], cnatt[m]) : "-",
						pr == "tcp" ? cslow[m] : "-"
				}
			}
		}
		print ""

		# --- ports ---
		print "### Ports seen by the server"
		print ""
		print "Every answered flow of every step, checked by the generator against the set " \
		      "(MAP-E: the port taken apart into A, PSID, j; snat: its own contiguous range). " \
		      "Duplicate: two live flows to one destination that the server saw with the same port."
		print ""
		print "| contender | flows checked | outside the set | duplicates |"
		print "|---|---|---|---|"
		for (i = 1; i <= nc; i++)
			if (has(C[i]))
				printf "| %s | %d | %d | %d |\n", title[C[i]], okc[K, C[i]], outc[K, C[i]], dupc[K, C[i]]
		print ""

		# --- throughput ---
		print "### Established-flow throughput through ip6tnl"
		print ""
		if ((K SUBSEP "snat") in tput) {
			print "iperf3 (TCP, one stream) from a LAN host through a CE that NATs and tunnels IPv4 " \
			      "in IPv6 to a BR; Mbit/s, median [min-max], contenders alternated each round."
			print ""
			print "| contender | Mbit/s | / snat |"
			print "|---|---|---|"
			b = median(tput[K SUBSEP "snat"])
			for (i = 1; i <= 2; i++) {
				t = tput[K SUBSEP C[i]]
				printf "| %s | %s | %s |\n", title[C[i]], mmm(t), (t != "" && b > 0) ? sprintf("%.3f", median(t) / b) : "-"
			}
		} else
			print "Not measured (no ip6tnl: a host run)."
		print ""

		# --- memory ---
		print "### Kernel memory per flow"
		print ""
		print "Read before opening the utilisation flows and again with P of them held: the " \
		      "change of Slab (/proc/meminfo; it includes the sockets of both ends, the same for every " \
		      "contender), of nf_conntrack objects (/proc/slabinfo) and of the router conntrack " \
		      "count, divided by the flows held. The module keeps no per-flow state, so mape " \
		      "should match snat."
		print ""
		print "| P | proto | contender | Slab bytes / flow | - snat | conntrack objects / flow | router conntrack entries / flow | mape: lookups / translation |"
		print "|---|---|---|---|---|---|---|---|"
		for (si = 1; si <= ns[K]; si++) {
			S = sets[K, si]; P = setsize(S)
			for (pi = 1; pi <= 2; pi++) {
				pr = pi == 1 ? "udp" : "tcp"
				b = median(mslab[K SUBSEP S SUBSEP "snat" SUBSEP pr])
				for (i = 1; i <= nc; i++) {
					m = K SUBSEP S SUBSEP C[i] SUBSEP pr
					if (!(m in mslab)) continue
					a = median(mslab[m])
					printf "| %d | %s | %s | %s | %s | %s | %s | %s |\n", P, pr, title[C[i]], mmm(mslab[m]),
						b != "" ? sprintf("%+.0f", a - b) : "-", mmm(mct[m]), mmm(mcnt[m]),
						C[i] == "mape" ? mmm(lookups[m]) : "-"
				}
			}
		}
		print ""
		nm = split("translated kept takeover exhausted portless lookups", MK, " ")
		hdr = 0
		for (si = 1; si <= ns[K]; si++) {
			S = sets[K, si]
			for (pi = 1; pi <= 2; pi++) {
				pr = pi == 1 ? "udp" : "tcp"
				m = K SUBSEP S SUBSEP "mape" SUBSEP pr
				if (!(m in mruns)) continue
				if (!hdr) {
					print "### mape counters"
					print ""
					print "/proc/net/stat/nf_nat_mape of the router, summed over the runs."
					print ""
					printf "| P | proto |"
					for (i = 1; i <= nm; i++) printf " %s |", MK[i]
					print " lookups / translation |"
					printf "|---|---|"
					for (i = 1; i <= nm; i++) printf "---|"
					print "---|"
					hdr = 1
				}
				printf "| %d | %s |", setsize(S), pr
				for (i = 1; i <= nm; i++) printf " %s |", ((m, MK[i]) in mstat) ? sprintf("%.0f", mstat[m, MK[i]]) : "-"
				print " " (mstat[m, "translated"] > 0 ? sprintf("%.1f", mstat[m, "lookups"] / mstat[m, "translated"]) : "-") " |"
			}
		}
	}
	for (ki = 1; ki <= nk; ki++) print kernels[ki] > (tmp "/kernels")
}' > "$tmp/tables.md"

# One PNG per kernel: success rate (top) and setup rate (bottom) against
# occupancy, one panel per set and protocol.
plots=""
if command -v gnuplot > /dev/null; then
	while read -r k; do
		files=$(awk '!seen[$0]++' "$tmp/plots-$k" 2>/dev/null) || true
		[ -n "$files" ] || continue
		n=$(echo "$files" | wc -l)
		png=occupancy-$k.png
		{
			echo "set terminal pngcairo size $((420 * n)),860 font 'Sans,10'"
			echo "set output '$OUT/$png'"
			echo "set termoption noenhanced"
			echo "set datafile missing '?'"
			echo "set multiplot layout 2,$n title 'nf_nat_mape benchmark, kernel $k: new flows toward one destination'"
			echo "set key bottom left font ',9'"
			echo "set grid"
			echo "set xrange [0:100]"
			echo "set xtics (0, 25, 50, 75, 90, 99)"
			for f in $files; do
				t=$(basename "$f" .dat | sed "s/^plot-$k-//; s/_/\\//g; s/-/ /")
				echo "set title 'success rate: $t'"
				echo "set ylabel 'answered %'"
				echo "set xlabel 'occupancy of the set, %'"
				echo "set yrange [0:105]"
				echo "unset logscale y"
				echo "plot '$f' using 1:2 with linespoints lw 2 pt 7 title 'snat (contiguous)', '' using 1:4 with linespoints lw 2 pt 5 title 'mape', '' using 1:6 with linespoints lw 2 pt 9 title 'numgen map', '' using 1:8 with linespoints lw 2 pt 11 title 'per-block nth'"
			done
			for f in $files; do
				t=$(basename "$f" .dat | sed "s/^plot-$k-//; s/_/\\//g; s/-/ /")
				echo "set title 'setup rate: $t'"
				echo "set ylabel 'flows/s (1 / time to answer)'"
				echo "set xlabel 'occupancy of the set, %'"
				echo "set yrange [*:*]"
				echo "set logscale y"
				echo "plot '$f' using 1:3 with linespoints lw 2 pt 7 title 'snat (contiguous)', '' using 1:5 with linespoints lw 2 pt 5 title 'mape', '' using 1:7 with linespoints lw 2 pt 9 title 'numgen map', '' using 1:9 with linespoints lw 2 pt 11 title 'per-block nth'"
			done
			echo "unset multiplot"
		} > "$tmp/plot-$k.gp"
		if gnuplot "$tmp/plot-$k.gp" 2> "$tmp/gnuplot.err"; then
			plots="$plots $png:$k"
		else
			echo "report.sh: gnuplot failed for $k:" >&2
			cat "$tmp/gnuplot.err" >&2
		fi
	done < "$tmp/kernels"
else
	echo "report.sh: no gnuplot (apt-get install gnuplot-nox): no plot" >&2
fi

{
	echo "# nf_nat_mape benchmark results"
	echo
	echo "Made by \`make bench\` (bench/run.sh, bench/bench.sh in the test VM, bench/report.sh);"
	echo "see [bench/README.md](../README.md) for what is measured and how."
	echo "Contenders, all with the same set size P and the same traffic:"
	echo
	echo "- **snat (contiguous)**: \`snat to ADDR:LO-HI\` with P contiguous ports, the cost baseline (not MAP-E-valid);"
	echo "- **mape**: \`snat to ADDR:mape a/k/psid\` (added with build/tools/mape_rule);"
	echo "- **numgen map**: \`snat ip to ADDR : numgen inc mod P map { 0 : port0, ... }\`, one per protocol (the OpenWrt recipe);"
	echo "- **per-block nth**: one rule per block of the set, rule i \`numgen inc mod (N - i) 0 snat to ADDR:block_i\` (iptables statistic nth, in nft)."
	echo
	echo "Only ratios within one kernel's run mean much: the VM is QEMU/TCG."
	if [ -s "$OUT/host.txt" ]; then
		echo
		echo "## Host, commands"
		echo
		echo '```'
		cat "$OUT/host.txt"
		echo '```'
	fi
	for p in $plots; do
		echo
		echo "## Plot: ${p#*:}"
		echo
		echo "![success rate and setup rate against occupancy, ${p#*:}](${p%%:*})"
	done
	cat "$tmp/tables.md"
	for d in "$@"; do
		d=${d%/}
		[ -s "$d/versions.txt" ] || continue
		echo
		echo "## Versions: $(basename "$d")"
		echo
		echo '```'
		cat "$d/versions.txt"
		echo '```'
	done
} > "$OUT/README.md"
echo "report.sh: wrote $OUT/README.md$(for p in $plots; do printf ' %s' "$OUT/${p%%:*}"; done)" >&2
