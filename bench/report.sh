#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Turn raw benchmark results into bench/results: README.md (tables:
# medians over the rounds with [min-max]; a ratio of two rates is the
# median [min-max] of its per-round ratios, each round's two runs being
# interleaved; the targets, commands and versions) and one
# occupancy-KVER.png per kernel (success rate and setup rate against
# occupancy, the four contenders).
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
cat "${raws[@]}" | awk -F'\t' -v tmp="$tmp" '
# the key=value words of a raw line into v[], numbers as numbers
function kv(line,   n, w, i, eq, x) {
	delete v
	n = split(line, w, " ")
	v["_name"] = w[1]
	for (i = 2; i <= n; i++) {
		eq = index(w[i], "=")
		if (!eq) continue
		x = substr(w[i], eq + 1)
		v[substr(w[i], 1, eq - 1)] = x ~ /^-?[0-9]+(\.[0-9]+)?$/ ? x + 0 : x
	}
}
function add(arr, key, x) { arr[key] = (key in arr) ? arr[key] " " x : x }
# an entry that may be missing: reading arr[key] would create it
function get(arr, key) { return (key in arr) ? arr[key] : "" }
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
function smedian(n) { return n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2 }
# paired(tag, a, b): the ratios rv[tag, a, r] / rv[tag, b, r] over the rounds
# r of kernel K that measured both, as a list. Rounds run every contender
# in turn (the order rotating), so the two runs of a round share the
# guest state and the host load of their moment, which a ratio of
# medians over rounds would not.
function paired(tag, a, b,   i, r, list) {
	list = ""
	for (i = 1; i <= nrnd[K]; i++) {
		r = rnds[K, i]
		if (!((tag SUBSEP a SUBSEP r) in rv) || !((tag SUBSEP b SUBSEP r) in rv)) continue
		if (rv[tag, b, r] <= 0) continue
		list = list (list == "" ? "" : " ") rv[tag, a, r] / rv[tag, b, r]
	}
	return list
}
# a list of ratios as "median [min-max]", 3 decimals; "-" when empty
function rmm(list,   n) {
	n = sorted(list)
	if (!n) return "-"
	if (n == 1) return sprintf("%.3f (1 round)", s[1])
	return sprintf("%.3f [%.3f-%.3f]", smedian(n), s[1], s[n])
}
function median(list,   n) { n = sorted(list); return n ? smedian(n) : "" }
function lo(list) { return sorted(list) ? s[1] : "" }
function num(x) {
	if (x == "") return "-"
	if (x >= 100) return sprintf("%.0f", x)
	if (x >= 10) return sprintf("%.1f", x)
	return sprintf("%.2f", x)
}
# "median [min-max]" of a list, or "-"
function mmm(list,   n) {
	n = sorted(list)
	if (!n) return "-"
	if (n == 1) return num(s[1])
	return num(smedian(n)) " [" num(s[1]) "-" num(s[n]) "]"
}
function pct(a, b) { return b > 0 ? sprintf("%.1f %%", 100 * a / b) : "-" }
function setsize(set) { return get(setP, K SUBSEP set) }
function has(c) { return (K SUBSEP c) in seen_c }
function verdict(ok) { return ok ? "**met**" : "**NOT met**" }
function target(t, measured, ok) { printf "| %s | %s | %s |\n", t, measured, verdict(ok) }
# a table header: LEAD, a column per contender, TAIL (both "| a | b |" cells)
function header(lead, tail,   i, r) {
	printf "%s", lead
	for (i = 1; i <= nc; i++) printf " %s |", title[C[i]]
	print tail
	r = lead tail; gsub(/[^|]+/, "---", r)
	for (i = 1; i <= nc; i++) r = r "---|"
	print r
}
# rows(): the (set, protocol, contender) rows of kernel K in table order,
# as RP[r] (P), RPR[r] (protocol), RC[r] (contender) and RM[r] (raw key).
function rows(   si, pi, i, n) {
	n = 0
	for (si = 1; si <= ns[K]; si++)
		for (pi = 1; pi <= 2; pi++)
			for (i = 1; i <= nc; i++) {
				RP[++n] = setsize(sets[K, si]); RPR[n] = pi == 1 ? "udp" : "tcp"; RC[n] = C[i]
				RM[n] = K SUBSEP sets[K, si] SUBSEP C[i] SUBSEP RPR[n]
			}
	return n
}
# at(si, pi): set si and protocol pi of kernel K as S, P, pr, and the raw
# keys of its mape (m) and snat (sn) runs.
function at(si, pi) {
	S = sets[K, si]; P = setsize(S); pr = pi == 1 ? "udp" : "tcp"
	m = K SUBSEP S SUBSEP "mape" SUBSEP pr; sn = K SUBSEP S SUBSEP "snat" SUBSEP pr
}
function capnote(n) { return n ? " (" n " round(s) ended without a failure: time cap)" : "" }
# per-flow growth of a slab cache over the rounds of a run, objects; a round
# whose "slabs" line does not name the cache saw it unchanged
function slab_list(run, cache,   list, n) {
	list = get(sg, run SUBSEP cache)
	for (n = split(list, tmp_a, " "); n < get(nsl, run) + 0; n++)
		list = list (list == "" ? "" : " ") "0"
	return list
}
function slab_cell(run, cache,   o) {
	if (!get(nsl, run)) return "-"
	o = median(slab_list(run, cache))
	return sprintf("%.0f (%.2f)", o * csize[cache], o)
}
# one row of the flood table: set S (P), contender c, raw key f
function flood_row(c, f,   sn) {
	if (!(f in frate)) {
		printf "| %d (%s) | %s | not measured | - | - | - | - | - | - |\n", P, S, title[c]
		return
	}
	sn = K SUBSEP S SUBSEP "snat" SUBSEP "udp"
	printf "| %d (%s) | %s | %s | %s | %s | %s | %s | %s | %s |\n", P, S, title[c], mmm(fheld[f]),
		mmm(get(fsent, f)), mmm(frate[f]), c == "snat" ? "-" : rmm(paired("flood", f, sn)),
		pct(fsum_ref[f], fsum_sent[f]) " (" fsum_taken[f] " got a port)",
		mmm(get(flook, f)), (f in fmemo) ? fmemo[f] " / " fcap[f] : "-"
}
# --- refusals under a flood, kernel K ---
function flood_table(   si, i, f) {
	print "### New flows refused toward a full destination (flood)"
	print ""
	if (!nfs[K]) {
		print "Not measured (no flood in this run).\n"
		return
	}
	print "UDP. The set held toward one destination (flows opened 32 at a time until P are " \
	      "held or 64 failed; \"set held\": flows held then), then new-flow datagrams toward " \
	      "it from a raw socket, each from a port of its own, never answered (count and rate: " \
	      "commands.txt). Refused: the router counters, mape: exhausted; stock NAT: conntrack " \
	      "insert_failed (it hands over a port in use and conntrack drops the packet at confirm, " \
	      "counting it in insert_failed and in drop both, so drop is not added). " \
	      "Refused/s: refused / time from the first datagram until the counters stopped, " \
	      "median [min-max]; the router works on the sending vCPU, so a NAT slower than the " \
	      "flood slows the sender (sent/s). / snat: median [min-max] of the per-round ratios. " \
	      "Lookups / refused: mape conntrack lookups / exhausted over the flood, median " \
	      "[min-max] (stock snat has no counter; its search makes up to 128 + 64 + 32 + 16 + 8 " \
	      "= 248). Memo / budget: mape searches cut short because the destination was found " \
	      "full less than 50 ms before / the CPU had spent its budget for fruitless searches, " \
	      "all rounds."
	print ""
	print "| P (a/k/psid) | contender | set held | sent / s | refused / s | / snat | refused / sent | lookups / refused | memo / budget |"
	print "|---|---|---|---|---|---|---|---|---|"
	for (si = 1; si <= nfs[K]; si++) {
		S = fsets[K, si]; P = setsize(S)
		for (i = 1; i <= nc; i++) {
			f = K SUBSEP S SUBSEP C[i] SUBSEP "udp"
			# snat and mape always have a row; the others when measured
			if (f in frate || C[i] == "snat" || C[i] == "mape")
				flood_row(C[i], f)
		}
	}
	print ""
}

{
	k = $1; set = $2; c = $3; proto = $4; round = $5
	if (c == "mape-prev") any_prev = 1
	kv($6)
	name = v["_name"]
	if (!(k in seen_k)) { seen_k[k] = 1; kernels[++nk] = k }
	if (!((k SUBSEP round) in seen_r)) { seen_r[k SUBSEP round] = 1; rnds[k, ++nrnd[k]] = round }
	# the flood has sets of its own (and tput only uses the first)
	if (name != "tput" && name != "flood" && !((k SUBSEP set) in seen_s)) { seen_s[k SUBSEP set] = 1; sets[k, ++ns[k]] = set }
	if (name == "flood" && !((k SUBSEP set) in seen_fs)) { seen_fs[k SUBSEP set] = 1; fsets[k, ++nfs[k]] = set }
	if ("P" in v) setP[k SUBSEP set] = v["P"]
	seen_c[k SUBSEP c] = 1
	run = k SUBSEP set SUBSEP c SUBSEP proto
	r = run SUBSEP round
	if (("lerr" in v && v["lerr"] > 0) || ("ctdel_err" in v && v["ctdel_err"] > 0))
		errs[k] = errs[k] sprintf("%s%s %s %s round %s, %s%s: lerr=%d ctdel_err=%d",
			errs[k] == "" ? "" : "; ", set, c, proto, round, name,
			name == "level" ? " " v["pct"] " %" : "", v["lerr"], get(v, "ctdel_err"))
	if (name == "burst") { add(burst, run, v["rate"]); rv["burst", run, round] = v["rate"] }
	if (name == "burst" || name == "util" || name == "level" || name == "churn" || name == "flood") {
		okc[k, c] += v["ok"]; outc[k, c] += v["outside"]; dupc[k, c] += v["dup"]
	}
	if (name == "util" && !after_churn[r]) {
		add(util, run, v["first_fail_at"] < 0 ? v["held"] : v["first_fail_at"])
		if (v["first_fail_at"] < 0) util_nofail[run]++
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
		if (v["ok"] > 0) { add(lrate, lk, v["rate"]); rv["level", lk, round] = v["rate"] }
		add(locc, lk, 100 * v["occ"])
	}
	if (name == "churn") {
		after_churn[r] = 1
		catt[run] += v["attempts"]; cfail[run] += v["fail"]
		cslow[run] += v["slow"]
	}
	# the first snap is on the clean router, the second with the utilisation flows held
	if (name == "snap") {
		nsnap[r]++
		if (nsnap[r] == 1) { s_live = v["live"]; s_slab = v["slab_kB"]; s_cnt = v["ct_count"] }
		else if (nsnap[r] == 2 && v["live"] > s_live) {
			d = v["live"] - s_live
			add(mslab, run, 1024 * (v["slab_kB"] - s_slab) / d)
			if (v["ct_count"] >= 0 && s_cnt >= 0) add(mcnt, run, (v["ct_count"] - s_cnt) / d)
		}
	}
	if (name == "slabs" && v["flows"] > 0 && !slabs_seen[r]++) {
		nsl[run]++
		for (x in v) {
			if (x == "_name" || x == "flows" || x == "P") continue
			split(v[x], q, ":")
			add(sg, run SUBSEP x, q[1] / v["flows"])
			csize[x] = q[2]
			slab_k[k SUBSEP x] = 1
		}
	}
	if (name == "mapestat") {
		for (x in v)
			if (x != "_name" && x != "P") mstat[run, x] += v[x]
		mruns[run] = 1
	}
	if (name == "tput") { add(tput, k SUBSEP c, v["bps"] / 1e6); rv["tput", k SUBSEP c, round] = v["bps"] / 1e6 }
	if (name == "flood") {
		add(fheld, run, v["held"]); add(frate, run, v["rate"]); rv["flood", run, round] = v["rate"]
		if (v["send_secs"] > 0) add(fsent, run, v["sent"] / v["send_secs"])
		fsum_sent[run] += v["sent"]; fsum_ref[run] += v["refused"]; fsum_taken[run] += v["taken"]
		if (v["exhausted"] > 0) add(flook, run, v["lookups"] / v["exhausted"])
		if ("remembered" in v) { fmemo[run] += v["remembered"]; fcap[run] += v["capped"] }
	}
}

END {
	nc = split("snat mape numgen block" (any_prev ? " mape-prev" : ""), C, " ")
	PAIRED = " (per-round pairs)"
	title["snat"] = "snat (contiguous)"; title["mape"] = "mape"
	title["numgen"] = "numgen map"; title["block"] = "per-block nth"
	title["mape-prev"] = "mape, earlier build"
	for (ki = 1; ki <= nk; ki++) {
		K = kernels[ki]
		print ""
		print "## Kernel " K
		print ""
		print "Versions and settings: [raw/" K "/versions.txt](raw/" K "/versions.txt); every command run in the guest: [raw/" K "/commands.txt](raw/" K "/commands.txt); raw measurements: [raw/" K "/raw.tsv](raw/" K "/raw.tsv)."
		print ""
		if (!has("mape"))
			print "> **mape was not measured on this kernel** (no module: a host run). Its rows are empty.\n"
		if (K in errs)
			print "> **Generator errors**: lerr = flows the generator could not start (socket, connect, send), " \
			      "ctdel_err = conntrack entries it could not delete (that level did not hold its occupancy); " \
			      "these measurements are suspect: " errs[K] ".\n"

		# --- targets ---
		print "### Targets for mape"
		print ""
		print "A ratio (\"x\") is the median [min-max] of its per-round ratios: each round runs " \
		      "every contender in turn (the order rotating), and the two runs of a round are a pair; " \
		      "the verdict takes the median."
		print ""
		print "| target | measured | verdict |"
		print "|---|---|---|"
		if (has("mape")) {
			l1 = get(levels, K SUBSEP 1); ln = get(levels, K SUBSEP get(nl, K))
			for (si = 1; si <= ns[K]; si++) {
				for (pi = 1; pi <= 2; pi++) {
					at(si, pi)
					t = sprintf("%s %s: utilisation = P (%d), no failure before", S, pr, P)
					if (m in util) {
						u = lo(util[m])
						target(t, "lowest of rounds " u capnote(util_nofail[m]), u == P)
					} else
						target(t, "not measured", 0)
					t = S " " pr ": with churn, no failure before the set is full"
					if (m in cutil) {
						cu = lo(cutil[m]); ci = (m in cinuse) ? lo(cinuse[m]) : cu
						target(t, sprintf("churn failures: %d of %d; first failure after it at %s held%s%s",
							cfail[m], catt[m], cu, pr == "udp" ? " (" ci " held + idle)" : "",
							capnote(cutil_nofail[m])), cfail[m] == 0 && ci >= P)
					} else
						target(t, "not measured", 0)
					t = S " " pr ": setup rate at low occupancy >= 0.95 x snat"
					l = paired("burst", m, sn)
					if (l != "")
						target(t, rmm(l) " x" PAIRED, median(l) >= 0.95)
					else
						target(t, "not measured", 0)
					if (ln != "" && ln >= 95) {
						t = sprintf("%s %s: setup rate at %s %% >= 0.5 x own at %s %%", S, pr, ln, l1)
						l = paired("level", m SUBSEP ln, m SUBSEP l1)
						if (!((m SUBSEP l1) in latt) || !((m SUBSEP ln) in latt))
							target(t, "not measured", 0)
						else if (get(lrate, m SUBSEP l1) == "")
							target(t, "no flow answered at " l1 " %", 0)
						else if (get(lrate, m SUBSEP ln) == "")
							target(t, "no flow answered at " ln " %", 0)
						else if (l == "")
							target(t, "no round answered flows at both", 0)
						else
							target(t, rmm(l) " x" PAIRED, median(l) >= 0.5)
					} else
						target(S " " pr ": setup rate at the top level (>= 95 %) >= 0.5 x own at the lowest",
							"not measured", 0)
				}
			}
			t = "throughput through ip6tnl >= 0.98 x snat"
			l = paired("tput", K SUBSEP "mape", K SUBSEP "snat")
			if (l != "")
				target(t, rmm(l) " x" PAIRED, median(l) >= 0.98)
			else
				target(t, "not measured", 0)
			t = "every port seen by the server in the set"
			if (get(okc, K SUBSEP "mape") + 0 > 0)
				target(t, sprintf("%d outside of %d flows", outc[K, "mape"], okc[K, "mape"]), outc[K, "mape"] == 0)
			else
				target(t, "not measured", 0)
		} else
			print "| all | not measured | - |"
		print ""

		# --- setup rate ---
		print "### New-flow setup rate at low occupancy"
		print ""
		print "Flows per second, median [min-max] over the rounds; " \
		      "the generator keeps 32 flows in flight and spreads them over several " \
		      "server ports so that no destination passes 10 % of P; every flow is held open. " \
		      "mape / snat: median [min-max] of the per-round ratios (paired runs)."
		print ""
		header("| P (a/k/psid) | proto |", " mape / snat |" (any_prev ? " mape / earlier |" : ""))
		for (si = 1; si <= ns[K]; si++) {
			S = sets[K, si]
			for (pi = 1; pi <= 2; pi++) {
				pr = pi == 1 ? "udp" : "tcp"
				printf "| %d (%s) | %s |", setsize(S), S, pr
				for (i = 1; i <= nc; i++) printf " %s |", mmm(get(burst, K SUBSEP S SUBSEP C[i] SUBSEP pr))
				printf " %s |", rmm(paired("burst", K SUBSEP S SUBSEP "mape" SUBSEP pr, K SUBSEP S SUBSEP "snat" SUBSEP pr))
				if (any_prev)
					printf " %s |", rmm(paired("burst", K SUBSEP S SUBSEP "mape" SUBSEP pr, K SUBSEP S SUBSEP "mape-prev" SUBSEP pr))
				print ""
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
				header("| occupancy |", "")
				S2 = S; gsub("/", "_", S2)
				dat = tmp "/plot-" K "-" S2 "-" pr ".dat"
				for (li = 1; li <= nl[K]; li++) {
					L = levels[K, li]
					printf "| %s %% |", L
					line = L
					for (i = 1; i <= nc; i++) {
						lk = K SUBSEP S SUBSEP C[i] SUBSEP pr SUBSEP L
						if (get(latt, lk) + 0 == 0) {
							printf " - |"; line = line " ? ?"; continue
						}
						occ = median(locc[lk])
						rate = median(get(lrate, lk))
						cell = pct(lok[lk], latt[lk]) " / " num(rate)
						if (lslow[lk]) cell = cell " (" lslow[lk] " r)"
						if (occ < L - 1) cell = cell " (held only " sprintf("%.0f", occ) " %)"
						printf " %s |", cell
						line = line " " sprintf("%.2f", 100 * lok[lk] / latt[lk]) " " (rate != "" ? rate : "?")
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
		nr = rows()
		for (r = 1; r <= nr; r++) {
			m = RM[r]
			if (!(m in util)) continue
			printf "| %d | %s | %s | %s%s | %s | %s%s | %s |\n", RP[r], RPR[r], title[RC[r]], mmm(util[m]),
				util_nofail[m] ? " (" util_nofail[m] "x no failure)" : "",
				pct(median(util[m]), RP[r]), mmm(get(cutil, m)),
				cutil_nofail[m] ? " (" cutil_nofail[m] "x no failure)" : "",
				RPR[r] == "udp" ? mmm(get(cinuse, m)) : "-"
		}
		print ""

		# --- churn ---
		print "### Churn"
		print ""
		print "Half the set held; each new flow first closes a random held one the ordinary way " \
		      "(TCP: the client closes first, so the router keeps it in TIME_WAIT; UDP: the flow goes " \
		      "idle, the router keeps its entry for the UDP timeout, shortened for this step). UDP " \
		      "waits while held and idle flows fill the set, and TCP holds at most half the set plus the " \
		      "flows in flight, so every failure had a port that was free or only in TIME_WAIT."
		print ""
		print "| P | proto | contender | attempts | failures / 10,000 | SYN retransmits |"
		print "|---|---|---|---|---|---|"
		for (r = 1; r <= nr; r++) {
			m = RM[r]
			if (!(m in catt)) continue
			printf "| %d | %s | %s | %d | %s | %s |\n", RP[r], RPR[r], title[RC[r]], catt[m],
				catt[m] ? sprintf("%.0f (%d)", 1e4 * cfail[m] / catt[m], cfail[m]) : "-",
				RPR[r] == "tcp" ? cslow[m] : "-"
		}
		print ""

		flood_table()

		# --- ports ---
		print "### Ports seen by the server"
		print ""
		print "Every answered flow of every step, checked by the generator against the set " \
		      "(MAP-E: the port taken apart into A, PSID, j; snat: its own contiguous range). " \
		      "Duplicate: two live flows to one destination that the server saw with the same port; " \
		      "conntrack never confirms two entries with one reply tuple, so a duplicate would mean a " \
		      "held flow lost its router entry (a check of the bench, not of the NAT)."
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
			      "in IPv6 to a BR; Mbit/s, median [min-max], contenders alternated each round; " \
			      "/ snat: median [min-max] of the per-round ratios."
			print ""
			print "| contender | Mbit/s | / snat |"
			print "|---|---|---|"
			for (i = 1; i <= 2; i++)
				printf "| %s | %s | %s |\n", title[C[i]], mmm(get(tput, K SUBSEP C[i])),
					C[i] == "snat" ? "-" : rmm(paired("tput", K SUBSEP C[i], K SUBSEP "snat"))
		} else
			print "Not measured (no ip6tnl: a host run)."
		print ""

		# --- memory ---
		print "### Kernel memory per flow"
		print ""
		print "Read on the clean router (conntrack flushed, before the first flow of the run) and " \
		      "again with the utilisation flows held: the change of Slab (/proc/meminfo; it includes " \
		      "the sockets of both ends, the same for every contender), of nf_conntrack objects " \
		      "(/proc/slabinfo) and of the router conntrack count, divided by the flows held. " \
		      "The module keeps no per-flow state, so mape should match snat."
		print ""
		print "| P | proto | contender | Slab bytes / flow | - snat | conntrack objects / flow | router conntrack entries / flow |"
		print "|---|---|---|---|---|---|---|"
		for (si = 1; si <= ns[K]; si++) {
			S = sets[K, si]; P = setsize(S)
			for (pi = 1; pi <= 2; pi++) {
				pr = pi == 1 ? "udp" : "tcp"
				b = median(get(mslab, K SUBSEP S SUBSEP "snat" SUBSEP pr))
				for (i = 1; i <= nc; i++) {
					m = K SUBSEP S SUBSEP C[i] SUBSEP pr
					if (!(m in mslab)) continue
					a = median(mslab[m])
					printf "| %d | %s | %s | %s | %s | %s | %s |\n", P, pr, title[C[i]], mmm(mslab[m]),
						b != "" ? sprintf("%+.0f", a - b) : "-",
						get(nsl, m) ? mmm(slab_list(m, "nf_conntrack")) : "-", mmm(get(mcnt, m))
				}
			}
		}
		print ""

		# --- slab caches ---
		print "Per slab cache (/proc/slabinfo, active objects x object size), the same two reads, " \
		      "every cache shrunk first (SLUB counts the free objects of per-CPU slabs as active): " \
		      "bytes per flow (objects per flow), median over the rounds, for the caches that grow " \
		      "by 0.5 objects per flow or more under some contender. Caches the flows do not use " \
		      "move with whatever else the kernel did meanwhile."
		print ""
		header("| P | proto | cache (object bytes) |", "")
		ncache = 0
		for (x in slab_k) {
			split(x, q, SUBSEP)
			if (q[1] != K) continue
			for (j = ++ncache; j > 1 && cache[j - 1] > q[2]; j--)
				cache[j] = cache[j - 1]
			cache[j] = q[2]
		}
		more = ""
		for (si = 1; si <= ns[K]; si++) {
			for (pi = 1; pi <= 2; pi++) {
				at(si, pi)
				for (j = 1; j <= ncache; j++) {
					x = cache[j]; big = 0
					for (i = 1; i <= nc; i++) {
						r = K SUBSEP S SUBSEP C[i] SUBSEP pr
						if (get(nsl, r) && median(slab_list(r, x)) >= 0.5) big = 1
					}
					if (get(nsl, m) && get(nsl, sn) &&
					    (d = median(slab_list(m, x)) - median(slab_list(sn, x))) >= 0.5)
						more = more (more == "" ? "" : ", ") sprintf("%s (%d %s: %+.2f)", x, P, pr, d)
					if (!big) continue
					printf "| %d | %s | %s (%d) |", P, pr, x, csize[x]
					for (i = 1; i <= nc; i++)
						printf " %s |", slab_cell(K SUBSEP S SUBSEP C[i] SUBSEP pr, x)
					print ""
				}
			}
		}
		print ""
		if (has("mape"))
			print "Caches growing by 0.5 objects per flow or more under mape than under snat " \
			      "(expected: none): " (more == "" ? "none" : more) "."
		else
			print "Caches growing more under mape than under snat: mape not measured."
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
					print "/proc/net/stat/nf_nat_mape of the router, summed over the runs; " \
					      "lookups / translation = the sums divided."
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
				tr = get(mstat, m SUBSEP "translated")
				print " " (tr + 0 > 0 ? sprintf("%.1f", get(mstat, m SUBSEP "lookups") / tr) : "-") " |"
			}
		}
	}
	for (ki = 1; ki <= nk; ki++) print kernels[ki] > (tmp "/kernels")
	if (any_prev) print "mape-prev" > (tmp "/any_prev")
}' > "$tmp/tables.md"

# panel FILE WHAT YLABEL YRANGE SCALE COL: one panel of kernel $k's plot;
# COL is snat's column in FILE, each next contender's is 2 further.
panel() {
	local t c=$6
	t=$(basename "$1" .dat | sed "s/^plot-$k-//; s/_/\\//g; s/-/ /")
	echo "set title '$2: $t'"
	echo "set ylabel '$3'"
	echo "set xlabel 'occupancy of the set, %'"
	echo "set yrange [$4]"
	echo "$5"
	echo "plot '$1' using 1:$c with linespoints lw 2 pt 7 title 'snat (contiguous)'," \
		"'' using 1:$((c + 2)) with linespoints lw 2 pt 5 title 'mape'," \
		"'' using 1:$((c + 4)) with linespoints lw 2 pt 9 title 'numgen map'," \
		"'' using 1:$((c + 6)) with linespoints lw 2 pt 11 title 'per-block nth'"
}

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
				panel "$f" "success rate" "answered %" "0:105" "unset logscale y" 2
			done
			for f in $files; do
				panel "$f" "setup rate" "flows/s (1 / time to answer)" "*:*" "set logscale y" 3
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
	if [ -e "$tmp/any_prev" ]; then	# a run measured it (the tables' awk)
		echo "- **mape, earlier build**: the same rule on the module of an earlier revision (\`bench/run.sh --prev REV\`; which one: versions.txt), swapped in for its runs."
	fi
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
