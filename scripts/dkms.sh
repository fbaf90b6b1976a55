#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# dkms.sh install     copy the module sources to /usr/src/nf_nat_mape-VERSION,
#                     register them with DKMS, and build and install the
#                     module for every kernel that has headers; DKMS then
#                     rebuilds it whenever a kernel is installed
# dkms.sh uninstall   remove it from every kernel, DKMS and /usr/src
# dkms.sh status      what DKMS knows of nf_nat_mape (empty: nothing)
# dkms.sh sources DIR copy the tree DKMS builds to DIR/nf_nat_mape-VERSION
#                     (what the nf-nat-mape-dkms package ships)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=nf_nat_mape
VERSION=$("$ROOT/scripts/version.sh")
SRC=/usr/src/$NAME-$VERSION

need_dkms() {
	command -v dkms > /dev/null ||
		{ echo "dkms.sh: dkms is not installed (apt install dkms)" >&2; exit 1; }
}

# Only what the build needs: the tree DKMS copies is the module's, not the
# repository's (no tests, no userspace).
copy_sources() {
	local dst=$1/$NAME-$VERSION

	rm -rf "$dst"
	mkdir -p "$dst/scripts"
	cp -r "$ROOT"/dkms.conf "$ROOT"/kmod "$ROOT"/include "$dst/"
	cp "$ROOT"/scripts/version.sh "$dst/scripts/"
}

install() {
	local k
	need_dkms
	[ -n "$(dkms status -m $NAME -v "$VERSION")" ] && dkms remove -m $NAME -v "$VERSION" --all
	copy_sources /usr/src
	dkms add -m $NAME -v "$VERSION"
	for k in $("$ROOT"/scripts/kernels.sh headers); do
		dkms install -m $NAME -v "$VERSION" -k "$k"
	done
	dkms status -m $NAME
}

uninstall() {
	need_dkms
	[ -z "$(dkms status -m $NAME -v "$VERSION")" ] || dkms remove -m $NAME -v "$VERSION" --all
	rm -rf "$SRC"
}

case "${1:-}" in
install) install ;;
uninstall) uninstall ;;
status) need_dkms; dkms status -m $NAME ;;
sources) [ -n "${2:-}" ] || exec "$0"; copy_sources "$2" ;;
*) sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
