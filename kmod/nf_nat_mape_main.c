// SPDX-License-Identifier: GPL-2.0
/*
 * nf_nat_mape: MAP-E (RFC 7597) source NAT for nf_tables.
 *
 * Module glue. The "mape" expression itself arrives in nft_mape.c; until
 * then the module loads, proves the shared headers build in the kernel,
 * and unloads, registering nothing.
 */
#include <linux/module.h>

#include "compat.h"
#include "mape_portset.h"
#include "nf_nat_mape.h"

static int __init nf_nat_mape_init(void)
{
	return 0;
}

static void __exit nf_nat_mape_exit(void)
{
}

module_init(nf_nat_mape_init);
module_exit(nf_nat_mape_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("MAP-E (RFC 7597) port-set source NAT for nf_tables");
