#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install what building and testing need on Debian 12, skipping what is
# present: toolchain, cmocka, libxtables-dev (the iptables plugin), QEMU,
# busybox, and for the tests nft, iptables, netfilter-persistent, socat,
# iperf3, ab, nginx, ifupdown, the STUN client and server, and ppp and
# pppoe (a PPPoE session beside MAP-E); dkms; for
# make debs debhelper, dh-dkms, lintian and fakeroot, and debootstrap for
# the Debian 13 package test; and
# the kernels the module is built and booted for:
#   6.1   linux-image-amd64 + headers (Debian 12's own series)
#   6.12  the newest linux-image-6.12.*+deb12-amd64 + headers
#   6.1.0-50 headers (6.1.176): build-only, the older nf_tables API
#
#   deps.sh --demo   only what make demo needs: no test servers, no dkms,
#                    no second kernel, and Debian's own initramfs for any
#                    kernel it installs (this may be the user's router)
set -euo pipefail

base="gcc make libc6-dev libcmocka-dev libxtables-dev pkg-config
      qemu-system-x86 busybox-static nftables iptables netfilter-persistent
      iptables-persistent socat iproute2 iputils-ping procps conntrack kmod
      cpio xz-utils zstd iperf3 apache2-utils nginx dkms ifupdown
      stun-client stun-server ppp pppoe debhelper dh-dkms lintian fakeroot
      debootstrap linux-image-amd64 linux-headers-amd64"
old61=linux-headers-6.1.0-50-amd64

demo="gcc make libc6-dev libxtables-dev pkg-config qemu-system-x86
      busybox-static nftables iptables iproute2 iputils-ping procps conntrack
      kmod cpio xz-utils zstd linux-image-amd64 linux-headers-amd64"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
have612() { compgen -G '/lib/modules/6.12.*-amd64/build/Makefile' > /dev/null &&
	compgen -G '/boot/vmlinuz-6.12.*-amd64' > /dev/null; }

if [ "${1:-}" = --demo ]; then
	missing=""
	for p in $demo; do
		installed "$p" || missing="$missing $p"
	done
	[ -z "$missing" ] && { echo "deps: all present"; exit 0; }
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	echo "deps: installing$missing"
	apt-get install -y -qq --no-install-recommends $missing
	exit 0
fi

missing=""
for p in $base $old61; do
	installed "$p" || missing="$missing $p"
done
if [ -z "$missing" ] && have612; then
	echo "deps: all present"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if ! have612; then
	img=$(apt-cache pkgnames linux-image-6.12. |
		grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' | sort -V | tail -n 1)
	[ -n "$img" ] || { echo "deps: no linux-image-6.12 in apt" >&2; exit 1; }
	missing="$missing $img ${img/image/headers}"
fi
if ! apt-cache show "$old61" > /dev/null 2>&1; then
	echo "deps: $old61 not in apt: the old-API build check will be skipped" >&2
	missing=${missing/$old61/}
fi
echo "deps: installing$missing"
# INITRD=No: the VM boots its own initramfs; skip Debian's (a minute each).
INITRD=No apt-get install -y -qq --no-install-recommends $missing
