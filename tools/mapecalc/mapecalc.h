/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mapecalc: a MAP-E CE's parameters (RFC 7597 section 5.2 and 6) from the
 * IPv6 prefix its ISP delegated. The library part, split from main.c so
 * the unit tests can call it directly.
 *
 * Every function that can fail returns 0 or -1 and, on -1, leaves a
 * one-line reason in err[MAPECALC_ERRLEN] (no trailing newline), so the
 * command line can print it as is and exit 2.
 */
#ifndef MAPECALC_H
#define MAPECALC_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "mape_portset.h"

#define MAPECALC_ERRLEN		256
#define MAPECALC_SERVICE_MAX	48
#define MAPECALC_EA_MAX		48	/* RFC 7597: o = p + q <= 32 + 16 */
#define MAPECALC_IID_BITS	64	/* the CE interface id; EA bits stay above */
#define MAPECALC_LINK_MTU	1500
#define MAPECALC_IP6_HDR	40	/* ipip6 costs one IPv6 header */
/*
 * The tunnel's own IPv4 address when the CE's address is shared (RFC 7335,
 * as a DS-Lite B4 holds it): the shared address is on no interface, or
 * traffic to the other CEs of that address would be delivered locally.
 */
#define MAPECALC_TUNNEL_IP4	"192.0.0.2"

/* CE interface identifier layouts (section 6 and its predecessor). */
enum mapecalc_iid {
	MAPECALC_IID_DEFAULT = -1,	/* legacy for known JP services, else RFC */
	MAPECALC_IID_RFC = 0,		/* 0(16) | IPv4(32) | PSID(16) */
	MAPECALC_IID_LEGACY = 1,	/* 0(8) | IPv4(32) | PSID(16) | 0(8) */
};

/* A Basic Mapping Rule, from the table or from the command line. */
struct mapecalc_rule {
	struct in6_addr ip6;		/* rule IPv6 prefix, host bits zero */
	struct in_addr ip4;		/* rule IPv4 prefix, network order */
	unsigned int ip6_len;		/* r6 */
	unsigned int ip4_len;		/* r4 */
	unsigned int ea_len;		/* o */
	unsigned int psid_offset;	/* a */
	int psid_len;			/* k as the table states it; -1: not stated */
	bool has_br;
	struct in6_addr br;
	char service[MAPECALC_SERVICE_MAX];	/* "" for an explicit rule */
	unsigned int line;		/* table line, 0 for an explicit rule */
};

struct mapecalc_table {
	struct mapecalc_rule *rules;
	size_t n, cap;
};

/* What the user typed: a prefix, or an address when no length was given. */
struct mapecalc_prefix {
	struct in6_addr addr;		/* bits after len cleared */
	unsigned int len;		/* 128 when !len_given */
	bool len_given;
};

struct mapecalc_result {
	struct mapecalc_rule rule;
	struct mapecalc_prefix prefix;
	unsigned int eu_len;		/* end-user prefix length kept in the CE address */
	bool eu_len_assumed;		/* no /len given: eu_len is r6 + o */
	uint64_t ea;			/* the o EA bits */
	struct in_addr ip4;		/* address, or first address of a prefix */
	unsigned int ip4_len;		/* 32, or r4 + o when o < 32 - r4 */
	bool shared;			/* k > 0: ports restricted to ps */
	uint32_t psid;
	struct mape_portset ps;		/* valid for offset/length always, ports if shared */
	enum mapecalc_iid iid;
	bool iid_default;		/* iid not asked for: chosen by service */
	struct in6_addr ce;
};

/* addr.c: parsing and bit helpers */
int mapecalc_fail(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int mapecalc_parse_u32(const char *s, uint32_t max, uint32_t *out);
int mapecalc_parse_prefix6(const char *s, struct mapecalc_prefix *p, char *err);
int mapecalc_parse_rule6(const char *s, struct in6_addr *a, unsigned int *len,
			 char *err);
int mapecalc_parse_rule4(const char *s, struct in_addr *a, unsigned int *len,
			 char *err);
int mapecalc_parse_addr6(const char *s, struct in6_addr *a, char *err);
int mapecalc_check_ifname(const char *s, const char *what, char *err);
uint64_t mapecalc_bits(const struct in6_addr *a, unsigned int start,
		       unsigned int n);
void mapecalc_mask6(struct in6_addr *a, unsigned int len);
bool mapecalc_match6(const struct in6_addr *a, const struct in6_addr *b,
		     unsigned int len);
void mapecalc_ntop6(const struct in6_addr *a, char *buf);	/* INET6_ADDRSTRLEN */
void mapecalc_ntop4(struct in_addr a, char *buf);		/* INET_ADDRSTRLEN */

/* rules.c: the rule table */
int mapecalc_rule_check(const struct mapecalc_rule *r, char *err);
int mapecalc_table_load(struct mapecalc_table *t, FILE *f, const char *name,
			char *err);
void mapecalc_table_free(struct mapecalc_table *t);
const struct mapecalc_rule *
mapecalc_table_lookup(const struct mapecalc_table *t,
		      const struct mapecalc_prefix *p, char *err);
bool mapecalc_service_is_legacy(const char *service);

/* calc.c: RFC 7597 5.2 and 6 */
int mapecalc_compute(const struct mapecalc_rule *r,
		     const struct mapecalc_prefix *p, enum mapecalc_iid iid,
		     struct mapecalc_result *res, char *err);
unsigned int mapecalc_psid_len(const struct mapecalc_rule *r);

/* pppoe.c: -f pppoe, a PPPoE uplink beside MAP-E */
#define MAPECALC_PPPOE_MAX	64	/* --via-pppoe, --pppoe-port: each */
#define MAPECALC_PPPOE_TABLE	100	/* routing table, and the flows' mark */
#define MAPECALC_PPPOE_PREF	1000	/* its two ip rules: this and the next */

struct mapecalc_pppoe {
	const char *ifname;		/* --pppoe, default ppp0 */
	unsigned int table;		/* --pppoe-table */
	bool no_fallback;		/* --no-fallback */
	unsigned int n_via, n_port;
	struct mapecalc_pppoe_net {
		struct in_addr addr;
		unsigned int len;
	} via[MAPECALC_PPPOE_MAX];	/* LAN hosts or networks */
	struct mapecalc_pppoe_ports {
		uint16_t lo, hi;
	} port[MAPECALC_PPPOE_MAX];	/* destination ports, TCP and UDP */
};

int mapecalc_pppoe_add_via(struct mapecalc_pppoe *p, const char *s, char *err);
int mapecalc_pppoe_add_port(struct mapecalc_pppoe *p, const char *s, char *err);

/* output.c */
struct mapecalc_out {
	const char *tunnel;		/* tunnel interface name */
	const char *wan;		/* WAN interface, NULL if not given */
	const char *rules_path;		/* table the rule came from, or NULL */
	unsigned int link_mtu;
	bool fullcone;			/* -f iptables: --fullcone rules */
	struct mapecalc_pppoe pppoe;	/* -f pppoe */
};

void mapecalc_print_text(FILE *f, const struct mapecalc_result *r,
			 const struct mapecalc_out *o);
void mapecalc_print_iptables(FILE *f, const struct mapecalc_result *r,
			     const struct mapecalc_out *o);
void mapecalc_print_nft(FILE *f, const struct mapecalc_result *r,
			const struct mapecalc_out *o);
int mapecalc_print_ip(FILE *f, const struct mapecalc_result *r,
		      const struct mapecalc_out *o, char *err);
void mapecalc_print_shell(FILE *f, const struct mapecalc_result *r,
			  const struct mapecalc_out *o);
void mapecalc_print_json(FILE *f, const struct mapecalc_result *r,
			 const struct mapecalc_out *o);
/* Writes DIR/TUNNEL.netdev and DIR/TUNNEL.network, prints their paths. */
int mapecalc_print_ifupdown(FILE *f, const struct mapecalc_result *r,
			    const struct mapecalc_out *o, char *err);
int mapecalc_write_networkd(const char *dir, const struct mapecalc_result *r,
			    const struct mapecalc_out *o, char *err);
/* Writes DIR/mape-pppoe.nft, 50-mape-pppoe (ip-up.d), 60-mape-pppoe.conf. */
int mapecalc_write_pppoe(const char *dir, const struct mapecalc_out *o, char *err);
/* DIR/NAME for writing, its path in path[PATH_MAX]; closed, path printed. */
FILE *mapecalc_create(const char *dir, const char *name, mode_t mode, char *path, char *err);
int mapecalc_close(FILE *f, const char *path, char *err);

#endif /* MAPECALC_H */
