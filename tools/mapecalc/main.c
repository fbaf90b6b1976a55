// SPDX-License-Identifier: GPL-2.0
/*
 * mapecalc: print a MAP-E CE's IPv4 address, PSID, port set, CE IPv6
 * address and BR for the IPv6 prefix its ISP delegated. See --help and
 * mapecalc(1). Exit status: 0 done, 2 bad input (one line on stderr),
 * 1 output could not be written.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mapecalc.h"

#ifndef MAPECALC_DATADIR
#define MAPECALC_DATADIR "/usr/local/share/mapecalc"
#endif
/* MAPECALC_VERSION: the project version, from dkms.conf via the Makefile */
#define RULES_FILE "jp-mape-rules.csv"

#define EXIT_USAGE 2

enum format { FMT_TEXT, FMT_NFT, FMT_IPTABLES, FMT_IP, FMT_SHELL, FMT_JSON, FMT_NETWORKD,
	      FMT_IFUPDOWN, FMT_PPPOE };

struct opts {
	const char *rules;
	const char *rule6, *rule4, *ea_len, *offset, *br;
	enum mapecalc_iid iid;
	enum format format;
	struct mapecalc_out out;
	const char *prefix;
	const char *outdir;	/* -f networkd, -f pppoe */
	bool pppoe_opts;	/* a PPPoE option was given */
};

static const char usage[] =
"Usage: mapecalc [OPTIONS] PREFIX\n"
"\n"
"Compute a MAP-E (RFC 7597) CE's parameters from the IPv6 prefix the ISP\n"
"delegated: IPv4 address, PSID and port set, CE IPv6 address, BR.\n"
"\n"
"PREFIX is the delegated prefix (240b:10:abcd:ef00::/56) or any address\n"
"inside it; without /LEN the prefix is taken to be exactly as long as the\n"
"rule's IPv6 prefix plus its EA bits, and the output says so.\n"
"\n"
"Rule (Basic Mapping Rule), either from the table or given explicitly:\n"
"  --rules FILE           rule table (CSV) to search by longest match;\n"
"                         default: " RULES_FILE " next to the binary\n"
"                         (build directory), else\n"
"                         " MAPECALC_DATADIR "/" RULES_FILE "\n"
"  --rule-ipv6 P/LEN      explicit rule: rule IPv6 prefix\n"
"  --rule-ipv4 P/LEN      explicit rule: rule IPv4 prefix\n"
"  --ea-len N             explicit rule: EA-bits length o (0..48)\n"
"  --psid-offset A        explicit rule: PSID offset a (0..15)\n"
"  --br ADDR              BR IPv6 address (overrides the table's)\n"
"\n"
"CE interface identifier:\n"
"  --legacy               draft-ietf-softwire-map-03 layout, used by the\n"
"                         Japanese services (v6plus, OCN Virtual Connect,\n"
"                         IPv6 option): default for their table rules\n"
"  --rfc                  RFC 7597 section 6 layout: default otherwise\n"
"\n"
"Output:\n"
"  -f, --format FMT       text (default), nft, iptables, ip, shell, json,\n"
"                         networkd, ifupdown, pppoe\n"
"  --output-dir DIR       where -f networkd and -f pppoe write their files\n"
"  --tunnel NAME          tunnel interface name (default mape0)\n"
"  --wan IF               interface holding the prefix (needed by -f ip)\n"
"  --link-mtu N           MTU of the WAN link (default 1500; the tunnel\n"
"                         gets N - 40)\n"
"  --fullcone             -f iptables, -f nft: UDP endpoint-independent\n"
"                         filtering (the MAPE rule with --fullcone, or nft's\n"
"                         fullcone flag, in prerouting too)\n"
"\n"
"PPPoE beside MAP-E (-f pppoe):\n"
"  --pppoe IF             the PPPoE interface (default ppp0)\n"
"  --via-pppoe ADDR[/LEN] a LAN host or network whose new flows go by PPPoE\n"
"                         (repeatable)\n"
"  --pppoe-port P[-Q]     destination ports (TCP, UDP) any LAN host reaches\n"
"                         by PPPoE (repeatable)\n"
"  --pppoe-table N        routing table and mark of those flows (default 100)\n"
"  --no-fallback          while PPPoE is down, drop them rather than send\n"
"                         them by MAP-E\n"
"  -h, --help             this text\n"
"  -V, --version          version\n"
"\n"
"Formats: nft prints a ruleset (snat to ADDR:mape a/k/psid on the tunnel,\n"
"a TCP MSS clamp, invalid packets dropped); iptables the same for\n"
"iptables-restore (-j MAPE, a whole rules.v4); ip prints the ip(8) commands\n"
"that set up the tunnel; shell prints MAPE_*='value' lines safe to source;\n"
"json one object; networkd writes TUNNEL.netdev and TUNNEL.network (the\n"
"tunnel carries the CE address, the WAN's own files stay as they are);\n"
"ifupdown prints an /etc/network/interfaces.d stanza of the same tunnel;\n"
"pppoe writes an nft table, an ip-up.d script and a sysctl.d file that send\n"
"chosen flows, and what comes in by PPPoE, by PPPoE (see mapecalc(1)).\n"
"\n"
"Examples:\n"
"  mapecalc 240b:10:abcd:ef00::/56\n"
"  mapecalc -f ip --wan eth0 2400:4050:1234:5600::/56 | sh\n"
"  mapecalc --rule-ipv6 2001:db8::/40 --rule-ipv4 192.0.2.0/24 \\\n"
"           --ea-len 16 --psid-offset 6 2001:db8:12:3400::/56\n"
"\n"
"Exit status: 0 done, 2 bad input or no applicable rule (reason on\n"
"stderr), 1 output could not be written.\n"
"The shipped table is unofficial and community-compiled: check the result\n"
"against what your ISP or router reports.\n";

static void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* One line on stderr, whatever bytes the arguments held. */
static void die(const char *fmt, ...)
{
	char msg[MAPECALC_ERRLEN + 64], *c;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	for (c = msg; *c; c++)
		if (iscntrl((unsigned char)*c))
			*c = '?';
	fprintf(stderr, "mapecalc: %s\n", msg);
	exit(EXIT_USAGE);
}

static void die_err(const char *err)
{
	die("%s", err);
}

static int parse_format(const char *s, enum format *f)
{
	static const struct { const char *name; enum format f; } fmts[] = {
		{ "text", FMT_TEXT }, { "nft", FMT_NFT }, { "iptables", FMT_IPTABLES },
		{ "ip", FMT_IP },
		{ "shell", FMT_SHELL }, { "json", FMT_JSON },
		{ "networkd", FMT_NETWORKD }, { "ifupdown", FMT_IFUPDOWN },
		{ "pppoe", FMT_PPPOE },
	};
	size_t i;

	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		if (!strcmp(s, fmts[i].name)) {
			*f = fmts[i].f;
			return 0;
		}
	}
	return -1;
}

enum {
	OPT_RULES = 256, OPT_RULE6, OPT_RULE4, OPT_EALEN, OPT_OFFSET, OPT_BR,
	OPT_LEGACY, OPT_RFC, OPT_TUNNEL, OPT_WAN, OPT_LINK_MTU, OPT_OUTDIR,
	OPT_FULLCONE, OPT_PPPOE, OPT_VIA_PPPOE, OPT_PPPOE_PORT, OPT_PPPOE_TABLE,
	OPT_NO_FALLBACK,
};

static const struct option longopts[] = {
	{ "rules", required_argument, NULL, OPT_RULES },
	{ "rule-ipv6", required_argument, NULL, OPT_RULE6 },
	{ "rule-ipv4", required_argument, NULL, OPT_RULE4 },
	{ "ea-len", required_argument, NULL, OPT_EALEN },
	{ "psid-offset", required_argument, NULL, OPT_OFFSET },
	{ "br", required_argument, NULL, OPT_BR },
	{ "legacy", no_argument, NULL, OPT_LEGACY },
	{ "rfc", no_argument, NULL, OPT_RFC },
	{ "format", required_argument, NULL, 'f' },
	{ "tunnel", required_argument, NULL, OPT_TUNNEL },
	{ "wan", required_argument, NULL, OPT_WAN },
	{ "link-mtu", required_argument, NULL, OPT_LINK_MTU },
	{ "output-dir", required_argument, NULL, OPT_OUTDIR },
	{ "fullcone", no_argument, NULL, OPT_FULLCONE },
	{ "pppoe", required_argument, NULL, OPT_PPPOE },
	{ "via-pppoe", required_argument, NULL, OPT_VIA_PPPOE },
	{ "pppoe-port", required_argument, NULL, OPT_PPPOE_PORT },
	{ "pppoe-table", required_argument, NULL, OPT_PPPOE_TABLE },
	{ "no-fallback", no_argument, NULL, OPT_NO_FALLBACK },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void set_iid(struct opts *o, enum mapecalc_iid iid)
{
	if (o->iid != MAPECALC_IID_DEFAULT && o->iid != iid)
		die("--legacy and --rfc exclude each other");
	o->iid = iid;
}

/* The PPPoE options; checked here, so that nothing is written on bad input. */
static void parse_pppoe(int c, const char *arg, struct mapecalc_pppoe *p)
{
	char err[MAPECALC_ERRLEN];
	uint32_t v;

	switch (c) {
	case OPT_PPPOE:
		if (mapecalc_check_ifname(arg, "--pppoe", err))
			die_err(err);
		p->ifname = arg;
		break;
	case OPT_VIA_PPPOE:
		if (mapecalc_pppoe_add_via(p, arg, err))
			die_err(err);
		break;
	case OPT_PPPOE_PORT:
		if (mapecalc_pppoe_add_port(p, arg, err))
			die_err(err);
		break;
	case OPT_PPPOE_TABLE:
		/* not main (254), local (255), default (253) or unspec (0) */
		if (mapecalc_parse_u32(arg, 252, &v) || !v)
			die("bad --pppoe-table '%.40s': want 1..252", arg);
		p->table = v;
		break;
	case OPT_NO_FALLBACK:
		p->no_fallback = true;
		break;
	}
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	char err[MAPECALC_ERRLEN];
	uint32_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->iid = MAPECALC_IID_DEFAULT;
	o->format = FMT_TEXT;
	o->out.tunnel = "mape0";
	o->out.link_mtu = MAPECALC_LINK_MTU;
	o->out.pppoe.ifname = "ppp0";
	o->out.pppoe.table = MAPECALC_PPPOE_TABLE;

	opterr = 0;	/* our own one-line messages, exit 2 */
	while ((c = getopt_long(argc, argv, ":f:hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_RULES: o->rules = optarg; break;
		case OPT_RULE6: o->rule6 = optarg; break;
		case OPT_RULE4: o->rule4 = optarg; break;
		case OPT_EALEN: o->ea_len = optarg; break;
		case OPT_OFFSET: o->offset = optarg; break;
		case OPT_BR: o->br = optarg; break;
		case OPT_LEGACY: set_iid(o, MAPECALC_IID_LEGACY); break;
		case OPT_RFC: set_iid(o, MAPECALC_IID_RFC); break;
		case 'f':
			if (parse_format(optarg, &o->format))
				die("unknown --format '%.40s': want text, nft, iptables, ip, shell, json, networkd, ifupdown or pppoe",
				    optarg);
			break;
		case OPT_TUNNEL:
			if (mapecalc_check_ifname(optarg, "--tunnel", err))
				die_err(err);
			o->out.tunnel = optarg;
			break;
		case OPT_WAN:
			if (mapecalc_check_ifname(optarg, "--wan", err))
				die_err(err);
			o->out.wan = optarg;
			break;
		case OPT_LINK_MTU:
			/* the tunnel (N - 40) holds IPv6 state, which needs 1280 */
			if (mapecalc_parse_u32(optarg, 65535, &v) || v < 1280 + MAPECALC_IP6_HDR)
				die("bad --link-mtu '%.40s': want 1320..65535 (the tunnel gets N - 40, and IPv6 on it needs 1280)",
				    optarg);
			o->out.link_mtu = v;
			break;
		case OPT_OUTDIR: o->outdir = optarg; break;
		case OPT_FULLCONE: o->out.fullcone = true; break;
		case OPT_PPPOE:
		case OPT_VIA_PPPOE:
		case OPT_PPPOE_PORT:
		case OPT_PPPOE_TABLE:
		case OPT_NO_FALLBACK:
			parse_pppoe(c, optarg, &o->out.pppoe);
			o->pppoe_opts = true;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(fflush(stdout) ? 1 : 0);
		case 'V':
			printf("mapecalc %s\n", MAPECALC_VERSION);
			exit(fflush(stdout) ? 1 : 0);
		case ':':
			die("%s needs a value (see --help)", argv[optind - 1]);
			break;
		default:
			die("unknown option '%.60s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind == argc)
		die("missing the delegated prefix (see --help)");
	if (optind + 1 < argc)
		die("one prefix only; unexpected '%.60s'", argv[optind + 1]);
	o->prefix = argv[optind];
	if (o->out.fullcone && o->format != FMT_IPTABLES && o->format != FMT_NFT)
		die("--fullcone goes with --format iptables or nft");
	if (o->pppoe_opts && o->format != FMT_PPPOE)
		die("--pppoe, --via-pppoe, --pppoe-port, --pppoe-table and --no-fallback go with --format pppoe");
	if (o->outdir && o->format != FMT_NETWORKD && o->format != FMT_PPPOE)
		die("--output-dir goes with --format networkd or pppoe");
	if (!o->outdir && (o->format == FMT_NETWORKD || o->format == FMT_PPPOE))
		die("--format %s writes files: give --output-dir DIR",
		    o->format == FMT_PPPOE ? "pppoe" : "networkd");
}

/* An explicit rule needs all four parts: a partial one is not guessed. */
static bool explicit_rule(const struct opts *o, struct mapecalc_rule *r)
{
	char err[MAPECALC_ERRLEN];
	uint32_t v;

	if (!o->rule6 && !o->rule4 && !o->ea_len && !o->offset)
		return false;
	if (o->rules)
		die("--rules and an explicit rule exclude each other");
	if (!o->rule6)
		die("incomplete explicit rule: missing --rule-ipv6");
	if (!o->rule4)
		die("incomplete explicit rule: missing --rule-ipv4");
	if (!o->ea_len)
		die("incomplete explicit rule: missing --ea-len");
	if (!o->offset)
		die("incomplete explicit rule: missing --psid-offset");

	memset(r, 0, sizeof(*r));
	r->psid_len = -1;
	if (mapecalc_parse_rule6(o->rule6, &r->ip6, &r->ip6_len, err))
		die("--rule-ipv6: %s", err);
	if (mapecalc_parse_rule4(o->rule4, &r->ip4, &r->ip4_len, err))
		die("--rule-ipv4: %s", err);
	if (mapecalc_parse_u32(o->ea_len, MAPECALC_EA_MAX, &v))
		die("bad --ea-len '%.40s': want 0..48", o->ea_len);
	r->ea_len = v;
	if (mapecalc_parse_u32(o->offset, MAPE_PSID_OFFSET_MAX, &v))
		die("bad --psid-offset '%.40s': want 0..15", o->offset);
	r->psid_offset = v;
	return true;
}

/*
 * The copy next to the binary wins: a binary in the build directory must
 * use the tree's table, not an older installed one; an installed binary
 * has no copy beside it and falls through to MAPECALC_DATADIR.
 */
static FILE *open_default_rules(char *path, size_t n)
{
	char exe[PATH_MAX];
	ssize_t len;
	FILE *f;

	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len > 0) {
		exe[len] = '\0';
		snprintf(path, n, "%s/%s", dirname(exe), RULES_FILE);
		f = fopen(path, "r");
		if (f)
			return f;
	}
	snprintf(path, n, "%s/%s", MAPECALC_DATADIR, RULES_FILE);
	return fopen(path, "r");
}

static const struct mapecalc_rule *
table_rule(const struct opts *o, const struct mapecalc_prefix *p,
	   struct mapecalc_table *t, char *path, size_t n)
{
	char err[MAPECALC_ERRLEN];
	const struct mapecalc_rule *r;
	FILE *f;

	if (o->rules) {
		snprintf(path, n, "%s", o->rules);
		f = fopen(path, "r");
		if (!f)
			die("cannot open rule table '%.200s': %s", o->rules,
			    strerror(errno));
	} else {
		f = open_default_rules(path, n);
		if (!f)
			die("no rule table (looked for %.200s): give --rules FILE or an explicit rule",
			    path);
	}
	if (mapecalc_table_load(t, f, path, err))
		die_err(err);
	fclose(f);
	r = mapecalc_table_lookup(t, p, err);
	if (!r)
		die_err(err);
	return r;
}

static void print(const struct opts *o, const struct mapecalc_result *res)
{
	char err[MAPECALC_ERRLEN];

	switch (o->format) {
	case FMT_TEXT: mapecalc_print_text(stdout, res, &o->out); break;
	case FMT_NFT: mapecalc_print_nft(stdout, res, &o->out); break;
	case FMT_IPTABLES: mapecalc_print_iptables(stdout, res, &o->out); break;
	case FMT_IP:
		if (mapecalc_print_ip(stdout, res, &o->out, err))
			die_err(err);
		break;
	case FMT_SHELL: mapecalc_print_shell(stdout, res, &o->out); break;
	case FMT_JSON: mapecalc_print_json(stdout, res, &o->out); break;
	case FMT_NETWORKD:
		if (mapecalc_write_networkd(o->outdir, res, &o->out, err))
			die_err(err);
		break;
	case FMT_IFUPDOWN:
		if (mapecalc_print_ifupdown(stdout, res, &o->out, err))
			die_err(err);
		break;
	case FMT_PPPOE:
		if (mapecalc_write_pppoe(o->outdir, &o->out, err))
			die_err(err);
		break;
	}
}

int main(int argc, char **argv)
{
	char err[MAPECALC_ERRLEN], path[PATH_MAX + 32];
	struct mapecalc_table table = { 0 };
	struct mapecalc_result res;
	struct mapecalc_prefix p;
	struct mapecalc_rule rule;
	struct in6_addr br;
	struct opts o;

	parse_args(argc, argv, &o);
	if (mapecalc_parse_prefix6(o.prefix, &p, err))
		die_err(err);
	if (o.br && mapecalc_parse_addr6(o.br, &br, err))
		die("--br: %s", err);

	if (explicit_rule(&o, &rule)) {
		o.out.rules_path = NULL;
	} else {
		rule = *table_rule(&o, &p, &table, path, sizeof(path));
		o.out.rules_path = path;
	}
	if (o.br) {
		rule.br = br;
		rule.has_br = true;
	}
	if (mapecalc_compute(&rule, &p, o.iid, &res, err))
		die_err(err);
	mapecalc_table_free(&table);
	if (o.out.fullcone && !res.shared)
		die("--fullcone needs a shared address: this one is not shared (plain SNAT)");

	print(&o, &res);
	if (fflush(stdout) || ferror(stdout)) {
		fputs("mapecalc: cannot write the output\n", stderr);
		return 1;
	}
	return 0;
}
