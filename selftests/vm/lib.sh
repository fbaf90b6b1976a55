# SPDX-License-Identifier: GPL-2.0
# Helpers of selftests/vm/run.sh: kernel lookup, boot artefacts, log check.

# Kernels unpacked from Debian packages without being installed here
# (tests/debs/trixie.sh): build/kernels/KVER/boot and .../lib/modules.
VM_KROOTS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/kernels

# vm_kroot KVER: the directory the kernel's boot/ and lib/modules/ are
# under, empty for one installed here; false for no such kernel.
vm_kroot() {
	if [ -e "/boot/vmlinuz-$1" ] && [ -d "/lib/modules/$1/kernel" ]; then
		echo ""
	elif [ -e "$VM_KROOTS/$1/boot/vmlinuz-$1" ] && [ -d "$VM_KROOTS/$1/lib/modules/$1/kernel" ]; then
		echo "$VM_KROOTS/$1"
	else
		return 1
	fi
}

# Bootable kernels with modules, newest first: those installed here, or
# with "all" the unpacked ones too.
vm_kernels() {
	local v imgs=/boot/vmlinuz-*
	[ "${1:-}" != all ] || imgs="$imgs $VM_KROOTS/*/boot/vmlinuz-*"
	for v in $imgs; do
		v=${v##*/vmlinuz-}
		vm_kroot "$v" > /dev/null && echo "$v"
	done | sort -rVu
}

# Full release for "" (the newest installed here), a full release, or a
# prefix such as 6.1 / 6.12 / 7: an installed kernel first, then an
# unpacked or built one (so 6.12 is not make check-debug's kernel).
vm_resolve_kernel() {
	local want=$1 v
	for v in $(vm_kernels) ${want:+$(vm_kernels all)}; do
		if [ -z "$want" ] || [ "$v" = "$want" ] || [ "${v#"$want".}" != "$v" ]; then
			echo "$v"
			return 0
		fi
	done
	return 1
}

# The ELF vmlinux inside a bzImage: QEMU boots it through its PVH entry,
# which skips the BIOS and real-mode setup (seconds under TCG).
vm_extract_vmlinux() {
	local img=$1 out=$2 off magic tool
	for magic in '\xfd\x37\x7a\x58\x5a\x00:xz' '\x28\xb5\x2f\xfd:zstd' '\x1f\x8b\x08:gzip'; do
		tool=${magic##*:}
		for off in $(LC_ALL=C grep -aboP "${magic%:*}" "$img" | cut -d: -f1); do
			tail -c +$((off + 1)) "$img" | $tool -dc 2>/dev/null > "$out.tmp.$$" || true
			if [ "$(head -c 4 "$out.tmp.$$" | od -An -c | tr -d ' ')" = '177ELF' ]; then
				mv "$out.tmp.$$" "$out"
				return 0
			fi
		done
	done
	rm -f "$out.tmp.$$"
	echo "run.sh: cannot extract vmlinux from $img" >&2
	return 1
}

# Modules the initramfs loads, dependencies first, each once.
vm_module_chain() {
	local kver=$1 dep name line d
	dep=$(vm_kroot "$kver")/lib/modules/$kver/modules.dep
	shift
	for name in "$@"; do
		line=$(grep -E "/$name\.ko(\.xz|\.zst|\.gz)?:" "$dep") || continue	# built in
		for d in $(echo "${line#*:}" | tr ' ' '\n' | tac) "${line%%:*}"; do
			echo "$d"
		done
	done | awk '!seen[$0]++'
}

vm_make_initrd() {
	local kver=$1 out=$2 root m base mods
	mods=$(vm_kroot "$kver")/lib/modules/$kver
	root=$(mktemp -d)
	mkdir -p "$root"/{bin,dev,proc,sys,lower,upper,newroot,lib/modules}
	cp /bin/busybox "$root/bin/busybox"
	mknod "$root/dev/console" c 5 1
	for m in $(vm_module_chain "$kver" virtio_pci 9pnet_virtio 9p overlay); do
		base=$(basename "$m")
		case "$base" in
		*.xz) xz -dc "$mods/$m" > "$root/lib/modules/${base%.xz}" ;;
		*.zst) zstd -qdc "$mods/$m" > "$root/lib/modules/${base%.zst}" ;;
		*.gz) gzip -dc "$mods/$m" > "$root/lib/modules/${base%.gz}" ;;
		*) cp "$mods/$m" "$root/lib/modules/$base" ;;
		esac
		echo "${base%.ko*}.ko" >> "$root/lib/modules/order"
	done
	cp "$VMDIR/initramfs-init" "$root/init"
	chmod 755 "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet) > "$out.tmp.$$"
	mv "$out.tmp.$$" "$out"
	rm -rf "$root"
}

# Build the cached boot artefacts unless they are newer than their inputs.
vm_prepare() {
	local kver=$1 cache=$2 img
	img=$(vm_kroot "$kver")/boot/vmlinuz-$kver
	mkdir -p "$cache"
	if [ ! -s "$cache/vmlinux" ] || [ "$img" -nt "$cache/vmlinux" ]; then
		vm_extract_vmlinux "$img" "$cache/vmlinux"
	fi
	if [ ! -s "$cache/initrd.cpio" ] || [ "$VMDIR/initramfs-init" -nt "$cache/initrd.cpio" ] ||
	   [ "$VMDIR/lib.sh" -nt "$cache/initrd.cpio" ]; then
		vm_make_initrd "$kver" "$cache/initrd.cpio"
	fi
}

# Print kernel reports found in the given logs; true if there are any.
VM_SPLAT_RE='BUG:|WARNING:|Oops|general protection fault|Kernel panic|KASAN|UBSAN|possible circular locking|possible recursive locking|inconsistent lock state|soft lockup|hard LOCKUP|rcu_sched self-detected|rcu: INFO|blocked for more than|Call Trace:'
vm_splats() {
	local f found=1
	for f in "$@"; do
		[ -r "$f" ] || continue
		if grep -aE "$VM_SPLAT_RE" "$f" | head -20 | sed "s|^|$(basename "$f"): |" | grep .; then
			found=0
		fi
	done
	return $found
}
