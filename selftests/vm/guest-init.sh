#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Stage 2 (host binaries, as PID 1 of the guest): mount the usual kernel
# filesystems, run the command run.sh left in the results share, hand back
# its exit status and the full kernel log, power off.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# /run must not show the host's state (its /run/netns, pid files); /tmp
# stays the overlay's, writable in memory, so that a repository checked out
# under /tmp is still there.
mount -t tmpfs tmpfs /run
mkdir -p /run/mape-vm /run/netns
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 mapeout /run/mape-vm

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8 MAPE_VM=1
hostname mape-vm
ip link set lo up
# Every veth of every test namespace feeds its vCPU's input backlog. At the
# default 1000 packets a burst overflows it, and veth reports the loss to
# the sender as a failed transmit, which no real link does: Linux TCP then
# gives up a half-open connection whose SYN-ACK retransmission failed, and
# the client's late ACK meets a reset (6.1: 12 of 1002 fetches in one run).
# Deeper queues keep the emulated network lossy only by delay.
sysctl -qw net.core.netdev_max_backlog=10000

/bin/sh /run/mape-vm/cmd.sh
echo $? > /run/mape-vm/rc
dmesg > /run/mape-vm/dmesg
sync
umount /run/mape-vm
# run.sh passes -no-reboot: a reboot ends QEMU at once.
echo b > /proc/sysrq-trigger
