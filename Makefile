# SPDX-License-Identifier: GPL-2.0
# nf_nat_mape: MAP-E (RFC 7597) port-set source NAT for nf_tables.
#
#   make demo         fresh machine to a working CE in a VM, with a report
#                     (DEMO_ARGS="[mapecalc options] PREFIX" for your own line)
#   make              build the module for KVER (default: newest headers)
#   make deps         apt-install everything the build and tests need
#   make unit         userspace unit tests of the port-set arithmetic
#   make xt           build/xtables/libxt_MAPE.so, the iptables plugin (-j MAPE)
#   make selftest-tools  helpers the VM selftests run, mapecalc among them
#   make mapecalc     tools/mapecalc, the CE parameter calculator
#   make nft          build/nft/sbin/nft, an nft that knows snat ...:mape
#   make bench        the benchmark in the VM, into bench/results/ (bench/README.md)
#   make check        deps + unit + module for every kernel + VM selftests
#   make check-debug  the VM selftests on a 6.12 built with KASAN, lockdep,
#                     kmemleak (scripts/debug-kernel.sh; long: see README)
#   make install      the module for KVER into /lib/modules/KVER/updates and
#                     the iptables plugin into the xtables directory (DESTDIR=)
#   make uninstall
#   make dkms-install   register with DKMS: built for every kernel with headers,
#                       rebuilt on kernel upgrades (needs the dkms package)
#   make dkms-uninstall
#   make debs         Debian packages nf-nat-mape-dkms and nf-nat-mape-tools
#                     in build/debs (debhelper, dh-dkms; lintian-checked)
#   make clean

KVER ?= $(shell scripts/kernels.sh newest)
CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror

MOD_SRCS := $(wildcard kmod/* kmod/compat/* include/*.h include/uapi/*.h) dkms.conf

.PHONY: all module xt deps unit selftest-tools mapecalc check check-debug demo clean \
	install uninstall dkms-install dkms-uninstall debs

all: module xt

include nft-expr/nft.mk
include bench/bench.mk

module: build/$(KVER)/nf_nat_mape.ko

build/%/nf_nat_mape.ko: $(MOD_SRCS) scripts/build-module.sh
	@test -n "$*" || { echo "no kernel headers installed: make deps" >&2; exit 1; }
	scripts/build-module.sh $*

# The iptables plugin: libxtables-dev's headers; iptables dlopen()s it
# from its xtables directory (XTABLES_LIBDIR to look elsewhere).
XT_PLUGIN := build/xtables/libxt_MAPE.so
XTABLES_DIR ?= $(shell pkg-config --variable=xtlibdir xtables 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/xtables)

xt: $(XT_PLUGIN)

$(XT_PLUGIN): xtables/libxt_MAPE.c include/mape_portset.h include/uapi/nf_nat_mape.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -fPIC -shared -Iinclude -Iinclude/uapi $< $(LDFLAGS) -lxtables -o $@

deps:
	scripts/deps.sh

build/unit/portset_test: tests/unit/portset_test.c include/mape_portset.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -Iinclude $< -lcmocka -o $@

unit: build/unit/portset_test
	CMOCKA_MESSAGE_OUTPUT=TAP $<

# Helpers the kernel selftests run inside the VM.
SELFTEST_TOOLS := build/tools/mape_rule build/tools/flows build/tools/ct_free \
		  build/tools/punch

build/tools/%: selftests/tools/%.c $(wildcard selftests/tools/*.h) include/uapi/nf_nat_mape.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -Iinclude -Iinclude/uapi $< -o $@

# The VM selftests run mapecalc too (the rules a user would load).
selftest-tools: $(SELFTEST_TOOLS) mapecalc

mapecalc:
	$(MAKE) -C tools/mapecalc

check: deps
	scripts/check.sh

check-debug: deps
	scripts/check.sh --debug

# demo/run.sh installs and builds what it needs itself: on a fresh machine
# KVER is only known after make deps.
demo:
	demo/run.sh $(DEMO_ARGS)

MODDIR = $(DESTDIR)/lib/modules/$(KVER)/updates

# depmod only for the running system's tree; a DESTDIR is a package's.
install: module xt
	install -D -m 644 build/$(KVER)/nf_nat_mape.ko $(MODDIR)/nf_nat_mape.ko
	$(if $(DESTDIR),,depmod -a $(KVER))
	install -D -m 644 $(XT_PLUGIN) $(DESTDIR)$(XTABLES_DIR)/libxt_MAPE.so

uninstall:
	rm -f $(MODDIR)/nf_nat_mape.ko
	$(if $(DESTDIR),,depmod -a $(KVER))
	rm -f $(DESTDIR)$(XTABLES_DIR)/libxt_MAPE.so

dkms-install:
	scripts/dkms.sh install

dkms-uninstall:
	scripts/dkms.sh uninstall

debs:
	scripts/debs.sh

clean:
	rm -rf build
	$(MAKE) -C tools/mapecalc clean
