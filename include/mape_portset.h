/* SPDX-License-Identifier: GPL-2.0 */
/*
 * MAP-E port-set arithmetic (RFC 7597 section 5.1), shared by the kernel
 * module, nft and the userspace tools. Dependency-free and static inline so
 * that every user compiles the same definition.
 *
 *   port = (A << (16 - a)) | (psid << m) | j,   m = 16 - a - k
 *   A in [1, 2^a - 1] when a > 0;  j in [0, 2^m - 1]
 *
 * The set is indexed 0 .. size-1 in ascending port order, so "index" means
 * the same thing everywhere (kernel search, tests, mapecalc listings).
 *
 * Project choice for a = 0 (see CONVENTIONS.md): the RFC set would then
 * start at port 0; ports 0-1023 are removed from it instead, because port 0
 * is never a valid source and the offset exists to keep system ports out.
 * A PSID whose ports all lie below 1024 therefore has an empty set and is
 * rejected.
 */
#ifndef MAPE_PORTSET_H
#define MAPE_PORTSET_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include <stdbool.h>
#include <stdint.h>
#endif

#define MAPE_PORT_BITS		16
#define MAPE_PSID_OFFSET_MAX	15	/* RFC 7598: offset is 0..15 */
#define MAPE_SYSTEM_PORTS	1024	/* removed from the set when a = 0 */

enum mape_portset_error {
	MAPE_OK = 0,
	MAPE_E_OFFSET,		/* a > 15 */
	MAPE_E_LENGTH,		/* k > 16 */
	MAPE_E_SUM,		/* a + k > 16 */
	MAPE_E_PSID,		/* psid >= 2^k */
	MAPE_E_EMPTY,		/* no usable port left (a = 0, low PSID) */
};

struct mape_portset {
	uint16_t psid;
	uint8_t offset;		/* a */
	uint8_t psid_len;	/* k */
	uint8_t m;		/* 16 - a - k: bits of j, log2 of block length */
	uint16_t skip;		/* ports cut from the front of block 0 (a = 0) */
	uint32_t size;		/* P: ports in the set */
};

static inline const char *mape_portset_strerror(int err)
{
	switch (err) {
	case MAPE_OK:
		return "valid";
	case MAPE_E_OFFSET:
		return "PSID offset must be 0..15";
	case MAPE_E_LENGTH:
		return "PSID length must be 0..16";
	case MAPE_E_SUM:
		return "PSID offset + PSID length exceed 16 bits";
	case MAPE_E_PSID:
		return "PSID does not fit in PSID length bits";
	case MAPE_E_EMPTY:
		return "port set is empty (PSID offset 0 excludes ports 0-1023)";
	}
	return "unknown port-set error";
}

/* Number of contiguous blocks: one per value of A. */
static inline uint32_t mape_portset_nblocks(const struct mape_portset *ps)
{
	return ps->offset ? (1u << ps->offset) - 1 : 1;
}

/* Port of block b, position j, before the a = 0 trimming. */
static inline uint16_t mape_portset_raw(const struct mape_portset *ps,
					uint32_t b, uint32_t j)
{
	uint32_t A = ps->offset ? b + 1 : 0;

	return (uint16_t)((A << (MAPE_PORT_BITS - ps->offset)) |
			  ((uint32_t)ps->psid << ps->m) | j);
}

/*
 * Validate (a, k, psid) and fill *ps. Returns MAPE_OK or a MAPE_E_* code
 * for mape_portset_strerror(); *ps is only meaningful on MAPE_OK.
 */
static inline int mape_portset_init(struct mape_portset *ps, uint32_t a,
				    uint32_t k, uint32_t psid)
{
	uint32_t first, blk;

	if (a > MAPE_PSID_OFFSET_MAX)
		return MAPE_E_OFFSET;
	if (k > MAPE_PORT_BITS)
		return MAPE_E_LENGTH;
	if (a + k > MAPE_PORT_BITS)
		return MAPE_E_SUM;
	if (psid >= (1u << k))
		return MAPE_E_PSID;

	ps->offset = (uint8_t)a;
	ps->psid_len = (uint8_t)k;
	ps->psid = (uint16_t)psid;
	ps->m = (uint8_t)(MAPE_PORT_BITS - a - k);
	ps->skip = 0;
	blk = 1u << ps->m;

	if (a == 0) {
		first = (uint32_t)psid << ps->m;
		if (first + blk <= MAPE_SYSTEM_PORTS)
			return MAPE_E_EMPTY;
		if (first < MAPE_SYSTEM_PORTS)
			ps->skip = (uint16_t)(MAPE_SYSTEM_PORTS - first);
	}
	ps->size = mape_portset_nblocks(ps) * blk - ps->skip;
	return MAPE_OK;
}

/* The idx-th port of the set in ascending order; idx < ps->size. */
static inline uint16_t mape_portset_port(const struct mape_portset *ps,
					 uint32_t idx)
{
	uint32_t i = idx + ps->skip;

	return mape_portset_raw(ps, i >> ps->m, i & ((1u << ps->m) - 1));
}

/*
 * Is port in the set? If so and idx is not NULL, store its index: the
 * inverse of mape_portset_port().
 */
static inline bool mape_portset_index(const struct mape_portset *ps,
				      uint16_t port, uint32_t *idx)
{
	uint32_t A = ps->offset ? (uint32_t)port >> (MAPE_PORT_BITS - ps->offset) : 0;
	uint32_t psid = ((uint32_t)port >> ps->m) & ((1u << ps->psid_len) - 1);
	uint32_t j = port & ((1u << ps->m) - 1);
	uint32_t i;

	if (ps->offset && A == 0)
		return false;
	if (psid != ps->psid)
		return false;
	i = ((ps->offset ? A - 1 : 0) << ps->m) + j;
	if (i < ps->skip)
		return false;
	if (idx)
		*idx = i - ps->skip;
	return true;
}

static inline bool mape_portset_contains(const struct mape_portset *ps,
					 uint16_t port)
{
	return mape_portset_index(ps, port, 0);
}

/*
 * Block b (0 .. nblocks-1) as an inclusive port range [*lo, *hi]: lets
 * callers print or program the set as a handful of ranges.
 */
static inline void mape_portset_block(const struct mape_portset *ps,
				      uint32_t b, uint16_t *lo, uint16_t *hi)
{
	*lo = mape_portset_raw(ps, b, b ? 0 : ps->skip);
	*hi = mape_portset_raw(ps, b, (1u << ps->m) - 1);
}

static inline uint32_t mape_gcd(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/*
 * A step for walking the indices 0 .. size-1 so that start + i * step
 * (mod size), i < size, visits every index exactly once: the first step
 * at or after 1 + r % (size - 1) that is coprime with size. Callers pass
 * a random r so that walks do not line up behind each other.
 */
static inline uint32_t mape_walk_step(uint32_t size, uint32_t r)
{
	uint32_t step;

	if (size <= 2)
		return 1;
	step = 1 + r % (size - 1);
	while (mape_gcd(step, size) != 1)
		step = step + 1 < size ? step + 1 : 1;
	return step;
}

/* The index after idx on a walk with that step. */
static inline uint32_t mape_walk_next(uint32_t idx, uint32_t step, uint32_t size)
{
	idx += step;
	return idx >= size ? idx - size : idx;
}

#endif /* MAPE_PORTSET_H */
