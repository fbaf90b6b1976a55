// SPDX-License-Identifier: GPL-2.0
/*
 * roundtrip FILE: what "nft list ruleset" would print for the rules FILE
 * adds, without a kernel that knows the "mape" expression.
 *
 * Each rule goes the way nft sends it (parse, evaluate, linearize, build
 * the netlink message) and comes back the way nft lists it (parse the
 * message, delinearize, print). One line per rule, text then JSON:
 *
 *   rule: oifname "mape0" snat to 192.0.2.1:mape 4/8/20
 *   json: [{"match": ...}, {"snat": {"addr": "192.0.2.1", "mape": ...}}]
 *
 * Built against the internals of the patched nftables tree by
 * tests/nft/run.sh. Evaluation fetches the (empty) ruleset of the current
 * network namespace: run it under unshare -n. Exit status 1 if anything
 * failed to parse, evaluate or delinearize.
 */
#if __has_include(<nft.h>)
#include <nft.h>	/* 1.1.0 on: config.h and the C basics come first */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nftables.h>
#include <cache.h>
#include <erec.h>
#include <netlink.h>
#include <parser.h>
#include <rule.h>
#include <statement.h>
#include <utils.h>

#include <jansson.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/rule.h>

int nft_parse(struct nft_ctx *nft, void *scanner, struct parser_state *state);

#ifdef NFTABLES_NFT_H	/* 1.1.0 on: a statement's ops are looked up */
#define stmt_json(stmt, octx)	stmt_ops(stmt)->json(stmt, octx)
#else
#define stmt_json(stmt, octx)	(stmt)->ops->json(stmt, octx)
#endif

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t len = 0, n;
	char *buf = NULL;

	if (!f)
		return NULL;
	do {
		buf = xrealloc(buf, len + 4096 + 1);
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/*
 * A table block becomes one command per chain and rule. Upstream 1.0.6
 * evaluates the block and then expands it; later releases (and Debian's
 * 1.0.6, by a backport) expand first and evaluate each command: run.sh
 * sets EXPAND_FIRST from the tree's own nft_evaluate().
 */
static void expand(struct list_head *cmds)
{
	struct cmd *cmd;

	list_for_each_entry(cmd, cmds, list) {
		if (cmd->op == CMD_ADD)
			nft_cmd_expand(cmd);
	}
}

/* nft's own steps up to sending: parse, fill the cache, evaluate. */
static int parse_and_evaluate(struct nft_ctx *nft, const char *buf,
			      const struct input_descriptor *indesc,
			      struct list_head *msgs, struct list_head *cmds)
{
	struct nft_cache_filter *filter;
	unsigned int flags;
	struct cmd *cmd;
	int err = 0;

	parser_init(nft, nft->state, msgs, cmds, nft->top_scope);
	nft->scanner = scanner_init(nft->state);
	scanner_push_buffer(nft->scanner, indesc, buf);
	if (nft_parse(nft, nft->scanner, nft->state) || nft->state->nerrs)
		return -1;

	filter = nft_cache_filter_init();
	if (nft_cache_evaluate(nft, cmds, msgs, filter, &flags) < 0 ||
	    nft_cache_update(nft, flags, msgs, filter) < 0)
		err = -1;
	nft_cache_filter_fini(filter);
	if (err)
		return err;

	if (EXPAND_FIRST)
		expand(cmds);
	list_for_each_entry(cmd, cmds, list) {
		struct eval_ctx ectx = { .nft = nft, .msgs = msgs };

		if (cmd_evaluate(&ectx, cmd) < 0)
			err = -1;
	}
	if (!EXPAND_FIRST)
		expand(cmds);
	return err;
}

/*
 * Through a netlink message and back, as the rule travels to the kernel
 * and its dump returns: this runs libnftnl's build and parse of "mape".
 */
static struct nftnl_rule *over_netlink(struct nftnl_rule *nlr)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_rule *back;
	struct nlmsghdr *nlh;

	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE,
				    nftnl_rule_get_u32(nlr, NFTNL_RULE_FAMILY),
				    0, 0);
	nftnl_rule_nlmsg_build_payload(nlh, nlr);

	back = nftnl_rule_alloc();
	if (nftnl_rule_nlmsg_parse(nlh, back) < 0) {
		nftnl_rule_free(back);
		return NULL;
	}
	return back;
}

static struct nftnl_rule *linearize(struct netlink_ctx *ctx,
				    const struct rule *rule)
{
	const struct handle *h = &rule->handle;
	struct netlink_linearize_ctx lctx;
	struct nftnl_rule *nlr, *back;

	nlr = nftnl_rule_alloc();
	nftnl_rule_set_u32(nlr, NFTNL_RULE_FAMILY, h->family);
	nftnl_rule_set_str(nlr, NFTNL_RULE_TABLE, h->table.name);
	nftnl_rule_set_str(nlr, NFTNL_RULE_CHAIN, h->chain.name);
	netlink_linearize_init(&lctx, nlr);
	netlink_linearize_rule(ctx, rule, &lctx);
	netlink_linearize_fini(&lctx);

	back = over_netlink(nlr);
	nftnl_rule_free(nlr);
	return back;
}

static void print_json(const struct rule *rule, struct output_ctx *octx)
{
	json_t *array = json_array();
	const struct stmt *stmt;
	char *s;

	list_for_each_entry(stmt, &rule->stmts, list)
		json_array_append_new(array, stmt_json(stmt, octx));
	s = json_dumps(array, JSON_COMPACT | JSON_PRESERVE_ORDER);
	printf("json: %s\n", s);
	free(s);
	json_decref(array);
}

static int roundtrip(struct nft_ctx *nft, struct list_head *msgs,
		     const struct rule *rule)
{
	struct netlink_ctx ctx = { .nft = nft, .msgs = msgs };
	struct nftnl_rule *nlr;
	struct rule *back;

	nlr = linearize(&ctx, rule);
	if (!nlr)
		return -1;
	back = netlink_delinearize_rule(&ctx, nlr);
	nftnl_rule_free(nlr);
	if (!back)
		return -1;

	printf("rule: ");
	rule_print(back, &nft->output);
	printf("\n");
	print_json(back, &nft->output);
	rule_free(back);
	return 0;
}

int main(int argc, char *argv[])
{
	struct input_descriptor indesc = { .type = INDESC_FILE };
	struct nft_ctx *nft;
	struct cmd *cmd;
	LIST_HEAD(msgs);
	LIST_HEAD(cmds);
	int err = 0;
	char *buf;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	buf = slurp(argv[1]);
	if (!buf) {
		perror(argv[1]);
		return 2;
	}
	indesc.name = argv[1];

	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (parse_and_evaluate(nft, buf, &indesc, &msgs, &cmds) < 0) {
		err = 1;
		goto out;
	}
	list_for_each_entry(cmd, &cmds, list) {
		if (cmd->op == CMD_ADD && cmd->obj == CMD_OBJ_RULE &&
		    roundtrip(nft, &msgs, cmd->rule) < 0)
			err = 1;
	}
out:
	erec_print_list(&nft->output, &msgs, nft->debug_mask);
	fflush(stdout);
	return err;
}
