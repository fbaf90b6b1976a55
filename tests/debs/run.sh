#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The Debian packages as a router owner gets them, on this machine for
# real: make debs (lintian-checked), apt install ./*.deb, DKMS builds the
# module for every kernel with headers, a VM of each kernel loads it with
# plain modprobe and passes traffic through the packaged mapecalc's rules
# and plugin, and purge leaves nothing behind. TAP lines, then "N passed,
# N failed". Packages or a DKMS registration that were here before are
# left alone (the run is skipped).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
LOG=$ROOT/build/check
DEBS=$ROOT/build/debs
PKGS="nf-nat-mape-dkms nf-nat-mape-tools"
VERSION=$(scripts/version.sh)
mkdir -p "$LOG"
# shellcheck source=tests/tap.sh
. "$ROOT/tests/tap.sh"

installed() { dpkg-query -W -f '${db:Status-Status}\n' "$1" 2>/dev/null | grep -qx installed; }

for p in $PKGS; do
	if installed "$p"; then
		echo "ok 1 - packages # SKIP $p is installed here already"
		finish
	fi
done
if [ -n "$(scripts/dkms.sh status 2>/dev/null)" ]; then
	echo "ok 1 - packages # SKIP nf_nat_mape is registered with DKMS here already"
	finish
fi

scripts/debs.sh > "$LOG/debs.log" 2>&1
rc=$?
grep -E '^(debs.sh|[EWIPXO]: |\./)' "$LOG/debs.log"
verdict "make debs: both packages built, lintian (pedantic) reports nothing" $rc
[ $rc = 0 ] || { tail -20 "$LOG/debs.log"; finish; }

# What the user types. Recommends stay out: they would pull the newest
# headers from the mirror and a kernel this run does not test.
trap 'apt-get purge -y $PKGS > /dev/null 2>&1' EXIT
apt-get install -y --no-install-recommends "$DEBS"/nf-nat-mape-dkms_"$VERSION"_all.deb \
	"$DEBS"/nf-nat-mape-tools_"$VERSION"_amd64.deb > "$LOG/debs-install.log" 2>&1
rc=$?
grep -E '^(Building for|Setting up|Error|E:)' "$LOG/debs-install.log"
verdict "apt install ./nf-nat-mape-dkms_${VERSION}_all.deb ./nf-nat-mape-tools_${VERSION}_amd64.deb" $rc
for k in $(scripts/kernels.sh headers); do
	modinfo -k "$k" -n nf_nat_mape 2>/dev/null | grep -q "^/lib/modules/$k/updates/dkms/"
	verdict "$k: DKMS built and installed the packaged module" $?
done
for k in $(scripts/kernels.sh boot); do
	selftests/vm/run.sh --kernel "$k" -- selftests/dkms_load.sh deb > "$LOG/debs-$k.log" 2>&1
	rc=$?
	grep -E '^(ok|not ok|#) ' "$LOG/debs-$k.log"
	verdict "$k: packaged module, mapecalc and plugin pass traffic, kernel log clean (got $rc)" $rc
done

apt-get purge -y $PKGS > "$LOG/debs-purge.log" 2>&1
verdict "apt purge of both packages" $?
trap - EXIT
left=$(dpkg-query -W -f '${binary:Package} ${db:Status-Status}\n' $PKGS 2>/dev/null | grep -v ' not-installed$')
left+=$(ls -d /usr/src/nf_nat_mape-* /var/lib/dkms/nf_nat_mape /usr/share/mapecalc \
	/usr/bin/mapecalc /usr/lib/*/xtables/libxt_MAPE.so 2>/dev/null)
for k in $(scripts/kernels.sh headers); do
	left+=$(modinfo -k "$k" -n nf_nat_mape 2>/dev/null)
done
[ -z "$left" ] || echo "# left behind: $left"
verdict "purge leaves no package, DKMS tree, module, plugin or mapecalc behind" "$([ -z "$left" ]; echo $?)"
finish
