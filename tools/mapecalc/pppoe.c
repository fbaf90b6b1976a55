// SPDX-License-Identifier: GPL-2.0
/*
 * -f pppoe: a PPPoE uplink next to MAP-E on one router. MAP-E keeps the
 * default route; chosen LAN hosts (and destination ports) and whatever
 * comes in on the PPPoE interface go by PPPoE, replies included:
 *
 *   new flow from a chosen host or to a chosen port, or in on PPPOE
 *     -> ct mark M (prerouting) -> packet mark M, for every packet of the
 *        flow either way (prerouting; output for the router's own)
 *     -> ip rule: fwmark M looks in main without its default route first
 *        (LAN routes win), then in table M: default dev PPPOE (ip-up)
 *   PPPOE down: table M is empty, marked flows fall through to main and
 *   leave by MAP-E (a flow that began there stays there), or with
 *   --no-fallback they are dropped on the tunnel.
 *
 * Strict reverse-path filtering checks a marked packet against the marked
 * routes (src_valid_mark): a reply in on PPPOE is then valid, and so is a
 * chosen LAN host, whose LAN route wins over table M.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <string.h>

#include "mapecalc.h"

int mapecalc_pppoe_add_via(struct mapecalc_pppoe *p, const char *s, char *err)
{
	struct mapecalc_pppoe_net *n = &p->via[p->n_via];

	if (p->n_via == MAPECALC_PPPOE_MAX)
		return mapecalc_fail(err, "--via-pppoe: at most %d", MAPECALC_PPPOE_MAX);
	if (strchr(s, '/')) {
		char why[MAPECALC_ERRLEN];

		if (mapecalc_parse_rule4(s, &n->addr, &n->len, why))
			return mapecalc_fail(err, "bad --via-pppoe: %s", why);
	} else {
		if (inet_pton(AF_INET, s, &n->addr) != 1)
			return mapecalc_fail(err, "bad --via-pppoe '%.60s': want ADDR or ADDR/LEN", s);
		n->len = 32;
	}
	p->n_via++;
	return 0;
}

int mapecalc_pppoe_add_port(struct mapecalc_pppoe *p, const char *s, char *err)
{
	struct mapecalc_pppoe_ports *r = &p->port[p->n_port];
	char lo[8];
	const char *dash = strchr(s, '-');
	uint32_t a, b;
	size_t n = dash ? (size_t)(dash - s) : strlen(s);

	if (p->n_port == MAPECALC_PPPOE_MAX)
		return mapecalc_fail(err, "--pppoe-port: at most %d", MAPECALC_PPPOE_MAX);
	if (n >= sizeof(lo))
		goto bad;
	memcpy(lo, s, n);
	lo[n] = '\0';
	if (mapecalc_parse_u32(lo, 65535, &a) || !a)
		goto bad;
	b = a;
	if (dash && (mapecalc_parse_u32(dash + 1, 65535, &b) || b < a))
		goto bad;
	r->lo = a;
	r->hi = b;
	p->n_port++;
	return 0;
bad:
	return mapecalc_fail(err, "bad --pppoe-port '%.60s': want PORT or LO-HI within 1..65535", s);
}

static void print_elements(FILE *f, const struct mapecalc_pppoe *p, bool ports)
{
	char a[INET_ADDRSTRLEN];
	unsigned int i, n = ports ? p->n_port : p->n_via;

	for (i = 0; i < n; i++) {
		fputs(i ? ", " : "", f);
		if (ports && p->port[i].lo == p->port[i].hi) {
			fprintf(f, "%u", p->port[i].lo);
		} else if (ports) {
			fprintf(f, "%u-%u", p->port[i].lo, p->port[i].hi);
		} else {
			mapecalc_ntop4(p->via[i].addr, a);
			fprintf(f, p->via[i].len == 32 ? "%s" : "%s/%u", a, p->via[i].len);
		}
	}
}

/* New flows from a LAN (in on neither uplink) that match @what go by PPPoE. */
static void print_choose_lan(FILE *f, const struct mapecalc_out *o, const char *what)
{
	fprintf(f, "\t\tct state new iifname != { \"%s\", \"%s\" } %s ct mark set %#x\n",
		o->pppoe.ifname, o->tunnel, what, o->pppoe.table);
}

/* The chosen hosts and ports, as nft sets. */
static void print_sets(FILE *f, const struct mapecalc_pppoe *p)
{
	if (p->n_via) {
		fprintf(f, "\tset via_pppoe {\n\t\ttype ipv4_addr; flags interval\n\t\telements = { ");
		print_elements(f, p, false);
		fprintf(f, " }\n\t}\n");
	}
	if (p->n_port) {
		fprintf(f, "\tset pppoe_ports {\n\t\ttype inet_service; flags interval\n\t\telements = { ");
		print_elements(f, p, true);
		fprintf(f, " }\n\t}\n");
	}
}

/* A flow's mark when it begins, and on each of its packets either way. */
static void print_marks(FILE *f, const struct mapecalc_out *o)
{
	const struct mapecalc_pppoe *p = &o->pppoe;

	fprintf(f, "\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle; policy accept;\n");
	fprintf(f, "\t\tct state new iifname \"%s\" ct mark set %#x\n", p->ifname, p->table);
	if (p->n_via)
		print_choose_lan(f, o, "ip saddr @via_pppoe");
	if (p->n_port)
		print_choose_lan(f, o, "meta l4proto { tcp, udp } th dport @pppoe_ports");
	fprintf(f, "\t\tct mark %#x meta mark set ct mark\n\t}\n", p->table);
	fprintf(f, "\t# the router's own answers (a service reached on %s): routed again\n", p->ifname);
	fprintf(f, "\tchain output {\n\t\ttype route hook output priority mangle; policy accept;\n"
		   "\t\tct mark %#x meta mark set ct mark\n\t}\n", p->table);
}

/* Leaving: the MSS clamp, the fallback, and the PPPoE address. */
static void print_leave(FILE *f, const struct mapecalc_out *o)
{
	const struct mapecalc_pppoe *p = &o->pppoe;

	fprintf(f, "\tchain forward {\n\t\ttype filter hook forward priority mangle; policy accept;\n");
	fprintf(f, "\t\toifname \"%s\" tcp flags syn tcp option maxseg size set rt mtu\n", p->ifname);
	fprintf(f, "\t\tiifname \"%s\" tcp flags syn tcp option maxseg size set rt mtu\n\t}\n",
		p->ifname);
	fprintf(f, "\tchain postrouting {\n\t\ttype filter hook postrouting priority mangle; policy accept;\n");
	if (!p->no_fallback)
		fprintf(f, "\t\t# %s down: new flows by MAP-E, and they stay there when it is back\n"
			   "\t\toifname \"%s\" ct state new ct mark %#x ct mark set 0\n",
			p->ifname, o->tunnel, p->table);
	fprintf(f, "\t\t# a flow that began by %s never leaves by MAP-E: its address is not MAP-E's\n"
		   "\t\toifname \"%s\" ct mark %#x drop\n", p->ifname, o->tunnel, p->table);
	fprintf(f, "\t}\n\tchain srcnat {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		   "\t\toifname \"%s\" masquerade\n\t}\n", p->ifname);
}

static void print_nft(FILE *f, const struct mapecalc_out *o)
{
	const struct mapecalc_pppoe *p = &o->pppoe;

	fprintf(f, "#!/usr/sbin/nft -f\n# PPPoE on %s next to MAP-E on %s, generated by mapecalc -f pppoe.\n",
		p->ifname, o->tunnel);
	fprintf(f, "# Chosen flows carry mark %#x and use routing table %u (ip-up).\n",
		p->table, p->table);
	fprintf(f, "# A forward filter of your own must accept them. Port forwards on the PPPoE\n"
		   "# address go in a nat table of your own (iifname \"%s\" tcp dport 8080\n"
		   "# dnat to 192.168.1.2): this table marks their flows before that.\n",
		p->ifname);
	fprintf(f, "table ip mape_pppoe\ndelete table ip mape_pppoe\ntable ip mape_pppoe {\n");
	print_sets(f, p);
	print_marks(f, o);
	print_leave(f, o);
	fprintf(f, "}\n");
}

/*
 * Debian's /etc/ppp/ip-up runs /etc/ppp/ip-up.d/ with PPP_IFACE set (pppd
 * runs it with the interface as $1 too). The route goes with the
 * interface; the rules stay and lead to an empty table meanwhile. They
 * are added when missing, never taken away and put back: a chosen flow
 * that began in such a gap would find no rule, leave by MAP-E and stay
 * there. The route comes last, when the rules are in place.
 */
static void print_ip_up(FILE *f, const struct mapecalc_out *o)
{
	const struct mapecalc_pppoe *p = &o->pppoe;
	char rule[2][64];
	int i;

	snprintf(rule[0], sizeof(rule[0]), "fwmark %#x lookup main suppress_prefixlength 0",
		 p->table);
	snprintf(rule[1], sizeof(rule[1]), "fwmark %#x lookup %u", p->table, p->table);
	fprintf(f, "#!/bin/sh\n# PPPoE on %s next to MAP-E on %s, generated by mapecalc -f pppoe:\n"
		   "# install as /etc/ppp/ip-up.d/50-mape-pppoe (a name without a dot).\n",
		p->ifname, o->tunnel);
	fprintf(f, "[ \"${PPP_IFACE:-$1}\" = \"%s\" ] || exit 0\n", p->ifname);
	fprintf(f, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n");
	for (i = 0; i < 2; i++)
		fprintf(f, "ip rule show | grep -q '^%u:.* %s$' ||\n\tip rule add pref %u %s\n",
			MAPECALC_PPPOE_PREF + i, rule[i], MAPECALC_PPPOE_PREF + i, rule[i]);
	fprintf(f, "ip route replace default dev %s table %u\n", p->ifname, p->table);
}

static void print_sysctl(FILE *f, const struct mapecalc_out *o)
{
	const struct mapecalc_pppoe *p = &o->pppoe;

	fprintf(f, "# PPPoE on %s next to MAP-E on %s, generated by mapecalc -f pppoe:\n"
		   "# install as /etc/sysctl.d/60-mape-pppoe.conf.\n", p->ifname, o->tunnel);
	fprintf(f, "# Strict reverse-path filtering, with the flows' marks: a packet in on\n"
		   "# %s is valid if its flow goes by %s.\n", p->ifname, p->ifname);
	fprintf(f, "net.ipv4.conf.all.rp_filter = 1\nnet.ipv4.conf.default.rp_filter = 1\n"
		   "net.ipv4.conf.all.src_valid_mark = 1\n");
}

static int write_one(const char *dir, const char *name, mode_t mode,
		     void (*print)(FILE *, const struct mapecalc_out *),
		     const struct mapecalc_out *o, char *err)
{
	char path[PATH_MAX];
	FILE *f = mapecalc_create(dir, name, mode, path, err);

	if (!f)
		return -1;
	print(f, o);
	return mapecalc_close(f, path, err);
}

/* Three files to install (their first lines say where); prints their paths. */
int mapecalc_write_pppoe(const char *dir, const struct mapecalc_out *o, char *err)
{
	if (write_one(dir, "mape-pppoe.nft", 0644, print_nft, o, err) ||
	    write_one(dir, "50-mape-pppoe", 0755, print_ip_up, o, err))
		return -1;
	return write_one(dir, "60-mape-pppoe.conf", 0644, print_sysctl, o, err);
}
