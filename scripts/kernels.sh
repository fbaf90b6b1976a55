#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# kernels.sh headers   kernels with build headers, newest first
# kernels.sh boot      kernels the VM runner can boot, newest first
# kernels.sh newest    newest kernel with build headers
VMDIR=$(cd "$(dirname "$0")/../selftests/vm" && pwd)
. "$VMDIR/lib.sh"

headers() {
	local d
	for d in /lib/modules/*/build; do
		[ -e "$d/Makefile" ] && basename "$(dirname "$d")"
	done | sort -rV
}

case "${1:-}" in
headers) headers ;;
boot) vm_kernels ;;
newest) headers | head -n 1 ;;
*) sed -n '3,5p' "$0" | sed 's/^# //' >&2; exit 2 ;;
esac
