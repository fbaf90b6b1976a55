# SPDX-License-Identifier: GPL-2.0
# The benchmark (bench/README.md). Included from the top Makefile, after
# its first target and after WARN and selftest-tools are defined.
#
#   make bench-gen          the traffic generator, build/bench/gen
#   make bench              run bench/bench.sh in the VM of every bootable
#                           kernel and write bench/results/
#   make bench BENCH_KERNEL=6.12   one kernel (or a list); BENCH_ROUNDS=5 etc.
#                           pass through to bench/bench.sh

BENCH_BUILD ?= build/bench

.PHONY: bench bench-gen

bench-gen: $(BENCH_BUILD)/gen

$(BENCH_BUILD)/gen: bench/gen.c selftests/tools/udp_answer.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) -Iselftests/tools $< -o $@

# "make check" builds the selftest tools, so CI compiles the generator too.
selftest-tools: bench-gen

bench: bench-gen selftest-tools
	BENCH_GEN=$(abspath $(BENCH_BUILD)/gen) bench/run.sh $(foreach k,$(BENCH_KERNEL),--kernel $(k))
