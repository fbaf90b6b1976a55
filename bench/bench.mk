# SPDX-License-Identifier: GPL-2.0
# The benchmark (bench/README.md). The top Makefile must include it after
# its first target (so that "make" alone does not build the generator) and
# after WARN is defined.
#
#   make bench-gen          the traffic generator, build/bench/gen
#   make bench              run bench/bench.sh in the VM of every bootable
#                           kernel and write bench/results/
#   make bench BENCH_KERNEL=6.12   one kernel (or a list); BENCH_ROUNDS=5 etc.
#                           pass through to bench/bench.sh

BENCH_BUILD ?= build/bench

.PHONY: bench bench-gen

bench-gen: $(BENCH_BUILD)/gen

$(BENCH_BUILD)/gen: bench/gen.c $(wildcard selftests/tools/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -Iselftests/tools $< -o $@

# "make check" builds the selftest tools, so CI compiles the generator too.
selftest-tools: bench-gen

bench: selftest-tools
	BENCH_GEN=$(abspath $(BENCH_BUILD)/gen) bench/run.sh $(foreach k,$(BENCH_KERNEL),--kernel $(k))
