// SPDX-License-Identifier: GPL-2.0
/*
 * Forgetting the flows of an address that went away.
 *
 * mape_setup() ties each translated flow to the interface it leaves by, in
 * the NAT extension's masq_index, as masquerade ties its own. When an IPv4
 * address leaves an interface (a prefix change re-addresses or re-creates
 * the tunnel), the flows translated to it there can never be answered
 * again: the address and its port set may be someone else's now. They are
 * dropped, as masquerade drops its own. A tunnel may translate to an
 * address it does not hold (mapecalc gives a shared address to no
 * interface, so that traffic to the other CEs of that address leaves by
 * the tunnel): when an interface loses its last IPv4 address, as a tunnel
 * that goes away does, every flow translated there is dropped.
 *
 * Not masquerade's notifiers: unregistering a netdevice notifier replays
 * NETDEV_DOWN for every device, so unloading nf_nat_mape would have dropped
 * every flow it ever translated. An inetaddr notifier replays nothing.
 */
#include <linux/inetdevice.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_nat.h>

#include "mape.h"

struct mape_addr_work {
	struct work_struct work;
	struct net *net;
	__be32 addr;		/* 0: any address */
	int ifindex;
};

/*
 * Each removal walks the whole conntrack table, shared by all namespaces:
 * a flush of thousands of addresses (possible in a user namespace) must
 * not queue thousands of walks. Beyond this many in flight, the flows of
 * a removed address just time out, as masquerade's do.
 */
#define MAPE_ADDR_MAX_WORK	16

static struct workqueue_struct *mape_addr_wq;
static atomic_t mape_addr_inflight = ATOMIC_INIT(0);

static int mape_addr_match(struct nf_conn *ct, void *data)
{
	const struct mape_addr_work *w = data;
	const struct nf_conn_nat *nat = nfct_nat(ct);

	return nat && nf_ct_l3num(ct) == NFPROTO_IPV4 && nat->masq_index == w->ifindex &&
	       (!w->addr || ct->tuplehash[IP_CT_DIR_REPLY].tuple.dst.u3.ip == w->addr);
}

static void mape_addr_cleanup(struct work_struct *work)
{
	struct mape_addr_work *w = container_of(work, struct mape_addr_work, work);
	struct nf_ct_iter_data d = { .net = w->net, .data = w };

	nf_ct_iterate_cleanup_net(mape_addr_match, &d);
	put_net(w->net);
	kfree(w);
	atomic_dec(&mape_addr_inflight);
}

/* Called with RTNL held; the walk over conntrack may sleep: deferred. */
static int mape_inet_event(struct notifier_block *nb, unsigned long event, void *ptr)
{
	const struct in_ifaddr *ifa = ptr;
	const struct net_device *dev = ifa->ifa_dev->dev;
	struct mape_addr_work *w;
	struct net *net;

	if (event != NETDEV_DOWN || !mape_net_has_rules(dev_net(dev)))
		return NOTIFY_DONE;
	if (atomic_inc_return(&mape_addr_inflight) > MAPE_ADDR_MAX_WORK)
		goto skip;
	net = maybe_get_net(dev_net(dev));
	if (!net)			/* going away, and its flows with it */
		goto skip;
	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w) {			/* the flows time out instead */
		put_net(net);
		goto skip;
	}
	INIT_WORK(&w->work, mape_addr_cleanup);
	w->net = net;
	/* the address is already off the list when its removal is announced */
	w->addr = rtnl_dereference(ifa->ifa_dev->ifa_list) ? ifa->ifa_local : 0;
	w->ifindex = dev->ifindex;
	queue_work(mape_addr_wq, &w->work);
	return NOTIFY_DONE;

skip:
	atomic_dec(&mape_addr_inflight);
	return NOTIFY_DONE;
}

static struct notifier_block mape_inet_notifier = {
	.notifier_call = mape_inet_event,
};

int mape_addr_init(void)
{
	int err;

	mape_addr_wq = alloc_ordered_workqueue("nf_nat_mape", 0);
	if (!mape_addr_wq)
		return -ENOMEM;
	err = register_inetaddr_notifier(&mape_inet_notifier);
	if (err)
		destroy_workqueue(mape_addr_wq);
	return err;
}

/* No new work once unregistered; destroy_workqueue() runs what is queued. */
void mape_addr_exit(void)
{
	unregister_inetaddr_notifier(&mape_inet_notifier);
	destroy_workqueue(mape_addr_wq);
}
