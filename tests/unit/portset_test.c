// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of include/mape_portset.h.
 *
 * The reference is computed the other way round from the code under test:
 * the header composes ports from (A, psid, j); ref_member() decomposes every
 * one of the 65536 ports and asks whether its bits match. Agreement of the
 * two over the whole port space is the proof.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mape_portset.h"

#define NPORTS 65536u

/* RFC 7597 5.1 read as a membership test, plus the a = 0 convention. */
static int ref_member(unsigned int a, unsigned int k, unsigned int psid,
		      unsigned int port)
{
	unsigned int m = 16 - a - k;

	if (a > 0 && (port >> (16 - a)) == 0)
		return 0;
	if (a == 0 && port < 1024)
		return 0;
	return ((port >> m) & ((1u << k) - 1)) == psid;
}

/* Lowest port any PSID of an (a, k) may use. */
static unsigned int ref_usable_min(unsigned int a)
{
	return a ? 1u << (16 - a) : 1024;
}

/*
 * Check one (a, k, psid) against the reference over the whole port space:
 * port() is strictly increasing and lands only on members, the size is the
 * member count, index() inverts port() and rejects every non-member.
 */
static void check_one(unsigned int a, unsigned int k, unsigned int psid)
{
	struct mape_portset ps = { 0 };
	uint32_t members = 0, idx, i;
	unsigned int port;
	int rc;

	for (port = 0; port < NPORTS; port++)
		members += ref_member(a, k, psid, port);

	rc = mape_portset_init(&ps, a, k, psid);
	if (members == 0) {
		assert_int_equal(rc, MAPE_E_EMPTY);
		return;
	}
	assert_int_equal(rc, MAPE_OK);
	assert_int_equal(ps.size, members);

	for (i = 0; i < ps.size; i++) {
		port = mape_portset_port(&ps, i);
		if (!ref_member(a, k, psid, port))
			fail_msg("%u/%u/%u: index %u -> port %u not in set",
				 a, k, psid, i, port);
		if (i && port <= mape_portset_port(&ps, i - 1))
			fail_msg("%u/%u/%u: not ascending at %u", a, k, psid, i);
	}
	for (port = 0; port < NPORTS; port++) {
		int in = mape_portset_index(&ps, (uint16_t)port, &idx);

		if (in != ref_member(a, k, psid, port))
			fail_msg("%u/%u/%u: membership of %u wrong", a, k, psid, port);
		if (in && mape_portset_port(&ps, idx) != port)
			fail_msg("%u/%u/%u: index(%u) does not invert", a, k, psid, port);
		assert_int_equal(in, mape_portset_contains(&ps, (uint16_t)port));
	}
}

/* All PSIDs when k <= 8; otherwise the edges and a spread in between. */
static void test_bijection_all_valid(void **state)
{
	unsigned int a, k, psid, n;

	(void)state;
	for (a = 0; a <= 15; a++) {
		for (k = 0; a + k <= 16; k++) {
			n = 1u << k;
			if (k <= 8) {
				for (psid = 0; psid < n; psid++)
					check_one(a, k, psid);
				continue;
			}
			for (psid = 0; psid < n; psid += n / 7 + 1)
				check_one(a, k, psid);
			check_one(a, k, n - 1);
			check_one(a, k, n / 2);
		}
	}
}

/*
 * For each (a, k): the sets of all 2^k PSIDs are pairwise disjoint and
 * together cover every usable port exactly once, and nothing below it.
 */
static void test_psids_partition_port_space(void **state)
{
	static uint32_t owner[NPORTS];
	unsigned int a, k, psid, port;
	struct mape_portset ps = { 0 };
	uint32_t i;

	(void)state;
	for (a = 0; a <= 15; a++) {
		for (k = 0; a + k <= 16; k++) {
			memset(owner, 0, sizeof(owner));
			for (psid = 0; psid < (1u << k); psid++) {
				if (mape_portset_init(&ps, a, k, psid) != MAPE_OK)
					continue;	/* empty: checked below */
				for (i = 0; i < ps.size; i++) {
					port = mape_portset_port(&ps, i);
					if (owner[port])
						fail_msg("%u/%u: port %u in psid %u and %u",
							 a, k, port, owner[port] - 1, psid);
					owner[port] = psid + 1;
				}
			}
			for (port = 0; port < NPORTS; port++) {
				int usable = port >= ref_usable_min(a);

				if (usable != !!owner[port])
					fail_msg("%u/%u: port %u %s", a, k, port,
						 usable ? "uncovered" : "covered but unusable");
			}
		}
	}
}

static void expect_error(uint32_t a, uint32_t k, uint32_t psid, int want)
{
	struct mape_portset ps = { 0 };
	int rc = mape_portset_init(&ps, a, k, psid);

	if (rc != want)
		fail_msg("%u/%u/%u: got %d (%s), want %d (%s)", a, k, psid, rc,
			 mape_portset_strerror(rc), want, mape_portset_strerror(want));
}

/*
 * Each error has a message of its own, which the kernel log, nft and
 * mapecalc show: no two alike, none the fallback for unknown codes.
 */
static void test_error_messages_distinct(void **state)
{
	const char *unknown = mape_portset_strerror(-1);
	int i, j;

	(void)state;
	for (i = MAPE_OK; i <= MAPE_E_EMPTY; i++) {
		if (!strcmp(mape_portset_strerror(i), unknown))
			fail_msg("error %d has no message of its own", i);
		for (j = MAPE_OK; j < i; j++)
			if (!strcmp(mape_portset_strerror(i), mape_portset_strerror(j)))
				fail_msg("errors %d and %d share \"%s\"", j, i,
					 mape_portset_strerror(i));
	}
}

/* Every invalid (a, k) pair, and PSIDs on and past the edge of 2^k. */
static void test_rejects_invalid(void **state)
{
	static const uint32_t big[] = { 65535, 65536, 1u << 20, UINT32_MAX };
	uint32_t a, k, i;

	(void)state;
	for (a = 0; a <= 40; a++) {
		for (k = 0; k <= 40; k++) {
			int want = a > 15 ? MAPE_E_OFFSET :
				   k > 16 ? MAPE_E_LENGTH :
				   a + k > 16 ? MAPE_E_SUM : MAPE_OK;

			if (want != MAPE_OK) {
				expect_error(a, k, 0, want);
				continue;
			}
			expect_error(a, k, 1u << k, MAPE_E_PSID);
			expect_error(a, k, (1u << k) + 1, MAPE_E_PSID);
			for (i = 0; i < sizeof(big) / sizeof(big[0]); i++)
				if (big[i] >= (1u << k))
					expect_error(a, k, big[i], MAPE_E_PSID);
		}
	}
	expect_error(UINT32_MAX, 0, 0, MAPE_E_OFFSET);
	expect_error(0, UINT32_MAX, 0, MAPE_E_LENGTH);
	/* a + k must not wrap around to look valid */
	expect_error(15, UINT32_MAX - 10, 0, MAPE_E_LENGTH);
}

static void test_offset_zero_excludes_system_ports(void **state)
{
	struct mape_portset ps = { 0 };

	(void)state;
	assert_int_equal(mape_portset_init(&ps, 0, 0, 0), MAPE_OK);
	assert_int_equal(ps.size, 65536 - 1024);
	assert_int_equal(mape_portset_port(&ps, 0), 1024);
	assert_int_equal(mape_portset_port(&ps, ps.size - 1), 65535);
	expect_error(0, 6, 0, MAPE_E_EMPTY);		/* 0-1023 */
	expect_error(0, 7, 1, MAPE_E_EMPTY);		/* 512-1023 */
	assert_int_equal(mape_portset_init(&ps, 0, 7, 2), MAPE_OK);
	assert_int_equal(ps.size, 512);
	assert_int_equal(mape_portset_init(&ps, 0, 5, 0), MAPE_OK);
	assert_int_equal(ps.size, 2048 - 1024);	/* 1024-2047 */
	assert_int_equal(mape_portset_port(&ps, 0), 1024);
	assert_false(mape_portset_contains(&ps, 0));
	assert_false(mape_portset_contains(&ps, 1023));
}

struct example {
	unsigned int a, k, psid, size, nblocks;
	unsigned int first_lo, first_hi, second_lo, second_hi, last_lo, last_hi;
};

/* The worked examples of shared/REFERENCE.md section 1. */
static const struct example examples[] = {
	/* RFC 7597 Appendix A */
	{ 6, 8, 0x34, 252, 63, 1232, 1235, 2256, 2259, 64720, 64723 },
	/* v6plus-like, PSID 20 */
	{ 4, 8, 20, 240, 15, 4416, 4431, 8512, 8527, 61760, 61775 },
	/* OCN Virtual Connect-like, PSID 41 */
	{ 6, 6, 41, 1008, 63, 1680, 1695, 2704, 2719, 65168, 65183 },
};

static void test_worked_examples(void **state)
{
	const struct example *e;
	struct mape_portset ps = { 0 };
	uint16_t lo, hi;
	size_t n;

	(void)state;
	for (n = 0; n < sizeof(examples) / sizeof(examples[0]); n++) {
		e = &examples[n];
		assert_int_equal(mape_portset_init(&ps, e->a, e->k, e->psid), MAPE_OK);
		assert_int_equal(ps.size, e->size);
		assert_int_equal(mape_portset_nblocks(&ps), e->nblocks);
		mape_portset_block(&ps, 0, &lo, &hi);
		assert_int_equal(lo, e->first_lo);
		assert_int_equal(hi, e->first_hi);
		mape_portset_block(&ps, 1, &lo, &hi);
		assert_int_equal(lo, e->second_lo);
		assert_int_equal(hi, e->second_hi);
		mape_portset_block(&ps, e->nblocks - 1, &lo, &hi);
		assert_int_equal(lo, e->last_lo);
		assert_int_equal(hi, e->last_hi);
		assert_int_equal(mape_portset_port(&ps, 0), e->first_lo);
		assert_int_equal(mape_portset_port(&ps, ps.size - 1), e->last_hi);
	}
}

/* Blocks, walked in order, list exactly the ports index order lists. */
static void test_blocks_match_index_order(void **state)
{
	unsigned int a, k, psid;
	struct mape_portset ps = { 0 };
	uint32_t b, i;
	uint16_t lo, hi;

	(void)state;
	for (a = 0; a <= 15; a++) {
		for (k = 0; a + k <= 16; k++) {
			for (psid = 0; psid < (1u << k); psid += (1u << k) / 5 + 1) {
				if (mape_portset_init(&ps, a, k, psid) != MAPE_OK)
					continue;
				i = 0;
				for (b = 0; b < mape_portset_nblocks(&ps); b++) {
					mape_portset_block(&ps, b, &lo, &hi);
					assert_true(lo <= hi);
					for (; lo <= hi; lo++) {
						assert_int_equal(mape_portset_port(&ps, i), lo);
						i++;
						if (lo == 65535)
							break;
					}
				}
				assert_int_equal(i, ps.size);
			}
		}
	}
}

/*
 * Walks of every size up to past MAPE's probe bound, from several starts
 * and steps: each visits every index exactly once, which is what lets the
 * kernel promise that a flow fails only when every port is taken.
 */
static void test_walk_visits_every_index_once(void **state)
{
	static uint8_t seen[5000];
	static const uint32_t rs[] = { 0, 1, 2, 7, 1000, 0x9e3779b9u, UINT32_MAX };
	uint32_t size, r, i, idx, step;

	(void)state;
	for (size = 1; size <= 4200; size++) {
		for (r = 0; r < sizeof(rs) / sizeof(rs[0]); r++) {
			step = mape_walk_step(size, rs[r]);
			assert_true(step >= 1 && (step < size || size == 1));
			memset(seen, 0, size);
			idx = rs[r] % size;
			for (i = 0; i < size; i++) {
				if (seen[idx]++)
					fail_msg("size %u step %u: index %u twice", size, step, idx);
				idx = mape_walk_next(idx, step, size);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worked_examples),
		cmocka_unit_test(test_offset_zero_excludes_system_ports),
		cmocka_unit_test(test_rejects_invalid),
		cmocka_unit_test(test_error_messages_distinct),
		cmocka_unit_test(test_bijection_all_valid),
		cmocka_unit_test(test_psids_partition_port_space),
		cmocka_unit_test(test_blocks_match_index_order),
		cmocka_unit_test(test_walk_visits_every_index_once),
	};

	return cmocka_run_group_tests_name("portset", tests, NULL, NULL);
}
