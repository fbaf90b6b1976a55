#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# dkms.sh install     copy the module sources to /usr/src/nf_nat_mape-VERSION,
#                     register them with DKMS, and build and install the
#                     module for every kernel that has headers; DKMS then
#                     rebuilds it whenever a kernel is installed
# dkms.sh uninstall   remove it from every kernel, DKMS and /usr/src
# dkms.sh status      what DKMS knows of nf_nat_mape (empty: nothing)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=nf_nat_mape
VERSION=$("$ROOT/scripts/version.sh")
SRC=/usr/src/$NAME-$VERSION

command -v dkms > /dev/null || { echo "dkms.sh: dkms is not installed (apt install dkms)" >&2; exit 1; }

# Only what the build needs: the tree DKMS copies is the module's, not the
# repository's (no tests, no userspace).
copy_sources() {
	rm -rf "$SRC"
	mkdir -p "$SRC/scripts"
	cp -r "$ROOT"/dkms.conf "$ROOT"/LICENSE "$ROOT"/kmod "$ROOT"/include "$SRC/"
	cp "$ROOT"/scripts/version.sh "$SRC/scripts/"
}

install() {
	local k
	[ -n "$(dkms status -m $NAME -v "$VERSION")" ] && dkms remove -m $NAME -v "$VERSION" --all
	copy_sources
	dkms add -m $NAME -v "$VERSION"
	for k in $("$ROOT"/scripts/kernels.sh headers); do
		dkms install -m $NAME -v "$VERSION" -k "$k"
	done
	dkms status -m $NAME
}

uninstall() {
	[ -z "$(dkms status -m $NAME -v "$VERSION")" ] || dkms remove -m $NAME -v "$VERSION" --all
	rm -rf "$SRC"
}

case "${1:-}" in
install) install ;;
uninstall) uninstall ;;
status) dkms status -m $NAME ;;
*) sed -n '3,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
