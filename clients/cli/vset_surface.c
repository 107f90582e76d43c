/*
 * vset_surface.c - vset's commands for the rest of the vector-set surface:
 * create, describe, list, drop, get, exists, getattr, setattr, count,
 * info, random, links.  (search's options are in vset_cmds.c.)
 *
 * Same rules as vset_cmds.c: parse everything before connecting (usage
 * errors exit 2 and send nothing), one call, exit 0 / 1.  Every command
 * prints one JSON object on one line with --json.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vs_json.h"
#include "vset.h"

enum {
	OPT_HELP = VSET_OPT_LONG,
	OPT_DIM,
	OPT_QUANT,
	OPT_M,
	OPT_REDUCE,
	OPT_EF,
	OPT_RAW,
};

/* Generic positional-only parse: exactly npos positionals into pos[]. */
static int
parse_simple(const char *cmd, const char *help, int argc, char **argv,
    const char **pos, size_t npos, const char *missing)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *arg = NULL;
	vset_argp p;
	size_t n = 0;
	int opt;

	vset_argp_init(&p, cmd, argc, argv, "h", longopts);
	while ((opt = vset_argp_next(&p, &arg)) != VSET_ARG_END) {
		switch (opt) {
		case VSET_ARG_ERROR:
			return VSET_EXIT_USAGE;
		case VSET_ARG_POSITIONAL:
			if (vset_argp_keep(&p, arg, pos, &n, npos) != 0)
				return VSET_EXIT_USAGE;
			break;
		case 'h':
		case OPT_HELP:
			fputs(help, stdout);
			return -1;
		}
	}
	if (n < npos)
		return vset_usage_error(cmd, "missing %s", missing);
	return 0;
}

static int
emit(vs_sb *sb)
{
	if (vs_sb_putc(sb, '\n') != 0) {
		fputs("vset: out of memory\n", stderr);
		vs_sb_free(sb);
		return VSET_EXIT_ERROR;
	}
	fwrite(sb->buf, 1, sb->len, stdout);
	vs_sb_free(sb);
	return VSET_EXIT_OK;
}

static void
json_str(vs_sb *sb, const char *s)
{
	vs_sb_json_str(sb, s, strlen(s));
}

/* Attributes JSON as is (it was validated as JSON), or null. */
static void
json_raw_or_null(vs_sb *sb, const char *json)
{
	if (json != NULL)
		vs_sb_puts(sb, json);
	else
		vs_sb_puts(sb, "null");
}

static void
json_shards(vs_sb *sb, const vs_shards *s)
{
	vs_sb_printf(sb, "\"shards\":{\"total\":%u,\"ok\":%u,\"failed\":%u,"
	    "\"timed_out\":%u}", s->total, s->ok, s->failed, s->timed_out);
}

/* Run f after connecting; shared tail of every command. */
#define WITH_CLIENT(g, c, rv)						\
	do {								\
		if (vset_connect((g), &(c)) != VS_OK) {		\
			(rv) = VSET_EXIT_ERROR;				\
			goto out;					\
		}							\
	} while (0)

static int
fail(int code)
{
	vset_print_error(code);
	return VSET_EXIT_ERROR;
}

/* ------------------------------------------------------------ create */

static const char create_help[] =
"Usage: vset [GLOBAL OPTIONS] create COLLECTION --dim N [--quant q8|noquant|bin]\n"
"                                    [--m M] [--reduce D] [--ef N]\n"
"\n"
"Create a collection with fixed parameters (stored on every shard).\n"
"Creating it again with the same parameters is not an error.\n"
"\n"
"Options:\n"
"  --dim N        dimension of every vector (required)\n"
"  --quant Q      q8 (default), noquant or bin\n"
"  --m M          HNSW M, 4..4096 (default 16)\n"
"  --reduce D     random projection to D dimensions (VADD REDUCE)\n"
"  --ef N         default build exploration factor (VADD EF)\n"
"\n"
"Prints 'created' or 'exists'; --json: {\"created\":true|false}.\n";

static int
cmd_create(const vset_global *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dim", required_argument, NULL, OPT_DIM },
		{ "quant", required_argument, NULL, OPT_QUANT },
		{ "m", required_argument, NULL, OPT_M },
		{ "reduce", required_argument, NULL, OPT_REDUCE },
		{ "ef", required_argument, NULL, OPT_EF },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	vs_collection_params p;
	const char *coll = NULL, *arg = NULL;
	vs_client *c = NULL;
	unsigned long n;
	vset_argp ap;
	int opt, rv = VSET_EXIT_USAGE, code, created = 0;
	uint32_t *dst;

	memset(&p, 0, sizeof(p));
	vset_argp_init(&ap, "create", argc, argv, "h", longopts);
	while ((opt = vset_argp_next(&ap, &arg)) != VSET_ARG_END) {
		dst = NULL;
		switch (opt) {
		case VSET_ARG_ERROR:
			return VSET_EXIT_USAGE;
		case VSET_ARG_POSITIONAL:
			if (coll != NULL)
				return vset_usage_error("create", "unexpected "
				    "argument '%s'", arg);
			coll = arg;
			break;
		case OPT_QUANT:
			if ((p.quant = vs_quant_parse(arg)) < 0)
				return vset_usage_error("create", "--quant "
				    "must be q8, noquant or bin, not '%s'", arg);
			break;
		case OPT_DIM:
			dst = &p.dim;
			break;
		case OPT_M:
			dst = &p.m;
			break;
		case OPT_REDUCE:
			dst = &p.reduce;
			break;
		case OPT_EF:
			dst = &p.build_ef;
			break;
		case 'h':
		case OPT_HELP:
			fputs(create_help, stdout);
			return VSET_EXIT_OK;
		}
		if (dst != NULL) {
			if (vset_parse_uint(arg, 1, UINT32_MAX, &n) != 0)
				return vset_usage_error("create", "%s needs a "
				    "whole number of 1 or more, not '%s'",
				    argv[optind - 1], arg);
			*dst = (uint32_t)n;
		}
	}
	if (coll == NULL)
		return vset_usage_error("create", "missing COLLECTION");
	if (p.dim == 0)
		return vset_usage_error("create", "missing --dim N");
	WITH_CLIENT(g, c, rv);
	if ((code = vs_create_collection(c, coll, &p, &created)) != VS_OK) {
		rv = fail(code);
		goto out;
	}
	if (g->json)
		printf("{\"created\":%s}\n", created ? "true" : "false");
	else
		puts(created ? "created" : "exists");
	rv = VSET_EXIT_OK;
out:
	vs_close(c);
	return rv;
}

/* ------------------------------------------------------------ describe */

static const char describe_help[] =
"Usage: vset [GLOBAL OPTIONS] describe COLLECTION\n"
"\n"
"A collection's parameters and element counts.  --json:\n"
"  {\"collection\":..,\"dim\":N,\"quant\":\"q8\",\"m\":N,\"reduce\":N,\n"
"  \"build_ef\":N,\"count\":N,\"shard_counts\":[N,..],\"has_metadata\":B}\n";

static int
cmd_describe(const vset_global *g, int argc, char **argv)
{
	vs_collection_info *i = NULL;
	const char *pos[1];
	vs_client *c = NULL;
	vs_sb sb;
	size_t s;
	int rv, code;

	if ((rv = parse_simple("describe", describe_help, argc, argv, pos, 1,
	    "COLLECTION")) != 0)
		return rv < 0 ? VSET_EXIT_OK : rv;
	WITH_CLIENT(g, c, rv);
	if ((code = vs_describe_collection(c, pos[0], &i)) != VS_OK) {
		rv = fail(code);
		goto out;
	}
	vs_sb_init(&sb);
	if (g->json) {
		vs_sb_puts(&sb, "{\"collection\":");
		json_str(&sb, pos[0]);
	} else {
		vs_sb_printf(&sb, "collection: %s\n", pos[0]);
	}
	vs_sb_printf(&sb, g->json ? ",\"dim\":%u,\"quant\":\"%s\",\"m\":%u,"
	    "\"reduce\":%u,\"build_ef\":%u,\"count\":%" PRIu64
	    ",\"shard_counts\":[" : "dim: %u\nquant: %s\nm: %u\nreduce: %u\n"
	    "build_ef: %u\ncount: %" PRIu64 "\nshard_counts:",
	    i->params.dim, vs_quant_name(i->params.quant), i->params.m,
	    i->params.reduce, i->params.build_ef, i->count);
	for (s = 0; s < i->n_shards; s++)
		vs_sb_printf(&sb, g->json ? "%s%" PRIu64 : "%s%" PRIu64,
		    g->json ? (s > 0 ? "," : "") : " ", i->shard_counts[s]);
	if (g->json)
		vs_sb_printf(&sb, "],\"has_metadata\":%s}",
		    i->has_metadata ? "true" : "false");
	else
		vs_sb_printf(&sb, "\nhas_metadata: %s",
		    i->has_metadata ? "yes" : "no");
	rv = emit(&sb);
out:
	vs_collection_info_free(i);
	vs_close(c);
	return rv;
}

/* ------------------------------------------------------------ list */

static const char list_help[] =
"Usage: vset [GLOBAL OPTIONS] list\n"
"\n"
"Collection names, one per line, sorted.  --json: {\"collections\":[..]}\n";

static int
cmd_list(const vset_global *g, int argc, char **argv)
{
	char **names = NULL;
	vs_client *c = NULL;
	size_t n = 0, i;
	vs_sb sb;
	int rv, code;

	if ((rv = parse_simple("list", list_help, argc, argv, NULL, 0, "")) != 0)
		return rv < 0 ? VSET_EXIT_OK : rv;
	WITH_CLIENT(g, c, rv);
	if ((code = vs_list_collections(c, &names, &n)) != VS_OK) {
		rv = fail(code);
		goto out;
	}
	if (!g->json) {
		for (i = 0; i < n; i++)
			puts(names[i]);
		rv = VSET_EXIT_OK;
		goto out;
	}
	vs_sb_init(&sb);
	vs_sb_puts(&sb, "{\"collections\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			vs_sb_putc(&sb, ',');
		json_str(&sb, names[i]);
	}
	vs_sb_puts(&sb, "]}");
	rv = emit(&sb);
out:
	vs_strings_free(names, n);
	vs_close(c);
	return rv;
}

/* ------------------------------------------------------------ drop */

static const char drop_help[] =
"Usage: vset [GLOBAL OPTIONS] drop COLLECTION\n"
"\n"
"Delete a collection on every shard.  --json: {\"keys_deleted\":N}\n";

static int
cmd_drop(const vset_global *g, int argc, char **argv)
{
	const char *pos[1];
	vs_client *c = NULL;
	uint64_t del = 0;
	int rv, code;

	if ((rv = parse_simple("drop", drop_help, argc, argv, pos, 1,
	    "COLLECTION")) != 0)
		return rv < 0 ? VSET_EXIT_OK : rv;
	WITH_CLIENT(g, c, rv);
	if ((code = vs_drop_collection(c, pos[0], &del)) != VS_OK) {
		rv = fail(code);
		goto out;
	}
	if (g->json)
		printf("{\"keys_deleted\":%" PRIu64 "}\n", del);
	else
		printf("dropped (%" PRIu64 " keys)\n", del);
	rv = VSET_EXIT_OK;
out:
	vs_close(c);
	return rv;
}

/* ------------------------------------------------------------ get */

static const char get_help[] =
"Usage: vset [GLOBAL OPTIONS] get COLLECTION ID [--raw]\n"
"\n"
"An element's vector (VEMB) and attributes.  --json:\n"
"  {\"id\":..,\"shard\":N,\"vector\":[..],\"attrs\":{..}|null[,\"raw\":\n"
"  {\"quant\":..,\"hex\":..,\"norm\":X,\"range\":X}]}\n";

static int
cmd_get(const vset_global *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *pos[2], *arg = NULL;
	vs_element *e = NULL;
	vs_client *c = NULL;
	int opt, raw = 0, rv = VSET_EXIT_USAGE, code;
	vset_argp ap;
	vs_sb sb;
	size_t i, n = 0;

	vset_argp_init(&ap, "get", argc, argv, "h", longopts);
	while ((opt = vset_argp_next(&ap, &arg)) != VSET_ARG_END) {
		switch (opt) {
		case VSET_ARG_ERROR:
			return VSET_EXIT_USAGE;
		case VSET_ARG_POSITIONAL:
			if (vset_argp_keep(&ap, arg, pos, &n, 2) != 0)
				return VSET_EXIT_USAGE;
			break;
		case OPT_RAW:
			raw = 1;
			break;
		case 'h':
		case OPT_HELP:
			fputs(get_help, stdout);
			return VSET_EXIT_OK;
		}
	}
	if (n < 2)
		return vset_usage_error("get", "missing %s",
		    n == 0 ? "COLLECTION and ID" : "ID");
	WITH_CLIENT(g, c, rv);
	if ((code = vs_get(c, pos[0], pos[1], raw, &e)) != VS_OK) {
		rv = fail(code);
		goto out;
	}
	vs_sb_init(&sb);
	if (g->json) {
		vs_sb_puts(&sb, "{\"id\":");
		json_str(&sb, e->id);
		vs_sb_printf(&sb, ",\"shard\":%u,\"vector\":[", e->shard);
	} else {
		vs_sb_printf(&sb, "shard: %u\nvector: ", e->shard);
	}
	for (i = 0; i < e->dim; i++) {
		if (i > 0)
			vs_sb_putc(&sb, ',');
		vs_sb_json_double(&sb, e->vector[i]);
	}
	vs_sb_puts(&sb, g->json ? "],\"attrs\":" : "\nattrs: ");
	json_raw_or_null(&sb, e->attrs_json);
	if (e->has_raw) {
		vs_sb_puts(&sb, g->json ? ",\"raw\":{\"quant\":" : "\nraw: ");
		json_str(&sb, e->raw_quant);
		vs_sb_puts(&sb, g->json ? ",\"hex\":\"" : " ");
		for (i = 0; i < e->raw_len; i++)
			vs_sb_printf(&sb, "%02x", e->raw_data[i]);
		vs_sb_printf(&sb, g->json ? "\",\"norm\":%.17g,\"range\":%.17g}" :
		    " norm %.17g range %.17g", e->raw_norm, e->raw_range);
	}
	if (g->json)
		vs_sb_putc(&sb, '}');
	rv = emit(&sb);
out:
	vs_element_free(e);
	vs_close(c);
	return rv;
}

/* ------------------------------------------------------------ exists */

static const char exists_help[] =
"Usage: vset [GLOBAL OPTIONS] exists COLLECTION ID\n"
"\n"
"Prints 'yes' or 'no' (exit 0 either way); --json: {\"exists\":B}\n";

static int
cmd_exists(const vset_global *g, int argc, char **argv)
{
	const char *pos[2];
	vs_client *c = NULL;
	int rv, code, ex = 0;

	if ((rv = parse_simple("exists", exists_help, argc, argv, pos, 2,
	    "COLLECTION and ID")) != 0)
		return rv < 0 ? VSET_EXIT_OK : rv;
	WITH_CLIENT(g, c, rv);
	if ((code = vs_exists(c, pos[0], pos[1], &ex)) != VS_OK) {
		rv = fail(code);
		goto out;
	}
	if (g->json)
		printf("{\"exists\":%s}\n", ex ? "true" : "false");
	else
		puts(ex ? "yes" : "no");
	rv = VSET_EXIT_OK;
out:
	vs_close(c);
	return rv;
}

/* ------------------------------------------------------------ attrs */

static const char getattr_help[] =
"Usage: vset [GLOBAL OPTIONS] getattr COLLECTION ID\n"
"\n"
"An element's JSON attributes ('null' when none); --json: {\"attrs\":..}\n";

static int
cmd_getattr(const vset_global *g, int argc, char **argv)
{
	const char *pos[2];
	vs_client *c = NULL;
	char *json = NULL;
	int rv, code;

	if ((rv = parse_simple("getattr", getattr_help, argc, argv, pos, 2,
	    "COLLECTION and ID")) != 0)
		return rv < 0 ? VSET_EXIT_OK : rv;
	WITH_CLIENT(g, c, rv);
	if ((code = vs_get_attributes(c, pos[0], pos[1], &json)) != VS_OK) {
		rv = fail(code);
		goto out;
	}
	if (g->json)
		printf("{\"attrs\":%s}\n", json != NULL ? json : "null");
	else
		puts(json != NULL ? json : "null");
	rv = VSET_EXIT_OK;
out:
	free(json);
	vs_close(c);
	return rv;
}

static const char setattr_help[] =
"Usage: vset [GLOBAL OPTIONS] setattr COLLECTION ID JSON\n"
"\n"
"Replace an element's attributes with a JSON object ('' removes them).\n"
"--json: {\"ok\":true}\n";

static int
cmd_setattr(const vset_global *g, int argc, char **argv)
{
	const char *pos[3];
	vs_client *c = NULL;
	int rv, code;

	if ((rv = parse_simple("setattr", setattr_help, argc, argv, pos, 3,
	    "COLLECTION, ID and JSON")) != 0)
		return rv < 0 ? VSET_EXIT_OK : rv;
	if (pos[2][0] != '\0' && !vs_json_is_object(pos[2], strlen(pos[2])))
		return vset_usage_error("setattr", "JSON must be a JSON object "
		    "({...}) or ''");
	WITH_CLIENT(g, c, rv);
	if ((code = vs_set_attributes(c, pos[0], pos[1], pos[2])) != VS_OK) {
		rv = fail(code);
		goto out;
	}
	puts(g->json ? "{\"ok\":true}" : "ok");
	rv = VSET_EXIT_OK;
out:
	vs_close(c);
	return rv;
}

/* ------------------------------------------------------------ count */

static const char count_help[] =
"Usage: vset [GLOBAL OPTIONS] count COLLECTION\n"
"\n"
"Elements over all shards (sum of VCARD).  --json:\n"
"  {\"count\":N,\"shard_counts\":[N,..],\"partial\":B,\"shards\":{..}}\n";

static int
cmd_count(const vset_global *g, int argc, char **argv)
{
	vs_count_result *r = NULL;
	const char *pos[1];
	vs_client *c = NULL;
	vs_sb sb;
	size_t s;
	int rv, code;

	if ((rv = parse_simple("count", count_help, argc, argv, pos, 1,
	    "COLLECTION")) != 0)
		return rv < 0 ? VSET_EXIT_OK : rv;
	WITH_CLIENT(g, c, rv);
	if ((code = vs_count(c, pos[0], &r)) != VS_OK) {
		rv = fail(code);
		goto out;
	}
	if (r->partial)
		fprintf(stderr, "warning: partial result: %u of %u shards did "
		    "not answer\n", r->shards.failed + r->shards.timed_out,
		    r->shards.total);
	if (!g->json) {
		printf("%" PRIu64 "\n", r->count);
		rv = VSET_EXIT_OK;
		goto out;
	}
	vs_sb_init(&sb);
	vs_sb_printf(&sb, "{\"count\":%" PRIu64 ",\"shard_counts\":[",
	    r->count);
	for (s = 0; s < r->n_shards; s++)
		vs_sb_printf(&sb, "%s%" PRIu64, s > 0 ? "," : "",
		    r->shard_counts[s]);
	vs_sb_printf(&sb, "],\"partial\":%s,", r->partial ? "true" : "false");
	json_shards(&sb, &r->shards);
	vs_sb_putc(&sb, '}');
	rv = emit(&sb);
out:
	vs_count_result_free(r);
	vs_close(c);
	return rv;
}

/* ------------------------------------------------------------ info */

static const char info_help[] =
"Usage: vset [GLOBAL OPTIONS] info COLLECTION\n"
"\n"
"VINFO of every shard and the totals.  --json:\n"
"  {\"size\":N,\"attributes_count\":N,\"partial\":B,\"shard_info\":[{\n"
"  \"shard\":N,\"exists\":B,\"fields\":{\"quant-type\":\"int8\",..}}],\n"
"  \"shards\":{..}}\n";

static int
cmd_info(const vset_global *g, int argc, char **argv)
{
	vs_info_result *r = NULL;
	const char *pos[1];
	vs_client *c = NULL;
	vs_sb sb;
	size_t i, j;
	int rv, code;

	if ((rv = parse_simple("info", info_help, argc, argv, pos, 1,
	    "COLLECTION")) != 0)
		return rv < 0 ? VSET_EXIT_OK : rv;
	WITH_CLIENT(g, c, rv);
	if ((code = vs_info(c, pos[0], &r)) != VS_OK) {
		rv = fail(code);
		goto out;
	}
	vs_sb_init(&sb);
	if (!g->json) {
		vs_sb_printf(&sb, "size: %" PRIu64 "\nattributes_count: %"
		    PRIu64, r->size, r->attributes_count);
		for (i = 0; i < r->n_shard_info; i++) {
			vs_sb_printf(&sb, "\nshard %u:%s", r->shard_info[i].shard,
			    r->shard_info[i].exists ? "" : " (no such key)");
			for (j = 0; j < r->shard_info[i].n_fields; j++)
				vs_sb_printf(&sb, "\n  %s: %s",
				    r->shard_info[i].fields[j].name,
				    r->shard_info[i].fields[j].value);
		}
		rv = emit(&sb);
		goto out;
	}
	vs_sb_printf(&sb, "{\"size\":%" PRIu64 ",\"attributes_count\":%" PRIu64
	    ",\"partial\":%s,\"shard_info\":[", r->size, r->attributes_count,
	    r->partial ? "true" : "false");
	for (i = 0; i < r->n_shard_info; i++) {
		vs_sb_printf(&sb, "%s{\"shard\":%u,\"exists\":%s,\"fields\":{",
		    i > 0 ? "," : "", r->shard_info[i].shard,
		    r->shard_info[i].exists ? "true" : "false");
		for (j = 0; j < r->shard_info[i].n_fields; j++) {
			if (j > 0)
				vs_sb_putc(&sb, ',');
			json_str(&sb, r->shard_info[i].fields[j].name);
			vs_sb_putc(&sb, ':');
			json_str(&sb, r->shard_info[i].fields[j].value);
		}
		vs_sb_puts(&sb, "}}");
	}
	vs_sb_puts(&sb, "],");
	json_shards(&sb, &r->shards);
	vs_sb_putc(&sb, '}');
	rv = emit(&sb);
out:
	vs_info_result_free(r);
	vs_close(c);
	return rv;
}

/* ------------------------------------------------------------ random */

static const char random_help[] =
"Usage: vset [GLOBAL OPTIONS] random COLLECTION COUNT\n"
"\n"
"Random elements over all shards, VRANDMEMBER semantics: COUNT > 0 gives\n"
"up to COUNT distinct elements; COUNT < 0 exactly -COUNT, with repeats.\n"
"One id per line; --json: {\"ids\":[..]}\n";

static int
cmd_random(const vset_global *g, int argc, char **argv)
{
	const char *pos[2];
	char **ids = NULL, *end;
	vs_client *c = NULL;
	size_t n = 0, i;
	long long count;
	vs_sb sb;
	int rv, code;

	if ((rv = parse_simple("random", random_help, argc, argv, pos, 2,
	    "COLLECTION and COUNT")) != 0)
		return rv < 0 ? VSET_EXIT_OK : rv;
	count = strtoll(pos[1], &end, 10);
	if (end == pos[1] || *end != '\0')
		return vset_usage_error("random", "COUNT must be a whole "
		    "number, not '%s'", pos[1]);
	WITH_CLIENT(g, c, rv);
	if ((code = vs_random_members(c, pos[0], count, &ids, &n)) != VS_OK) {
		rv = fail(code);
		goto out;
	}
	if (!g->json) {
		for (i = 0; i < n; i++)
			puts(ids[i]);
		rv = VSET_EXIT_OK;
		goto out;
	}
	vs_sb_init(&sb);
	vs_sb_puts(&sb, "{\"ids\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			vs_sb_putc(&sb, ',');
		json_str(&sb, ids[i]);
	}
	vs_sb_puts(&sb, "]}");
	rv = emit(&sb);
out:
	vs_strings_free(ids, n);
	vs_close(c);
	return rv;
}

/* ------------------------------------------------------------ links */

static const char links_help[] =
"Usage: vset [GLOBAL OPTIONS] links COLLECTION ID\n"
"\n"
"An element's HNSW neighbours per level (VLINKS, on its shard), for\n"
"debugging.  --json: {\"shard\":N,\"levels\":[[{\"id\":..,\"score\":X}]]}\n";

static int
cmd_links(const vset_global *g, int argc, char **argv)
{
	vs_links_result *r = NULL;
	const char *pos[2];
	vs_client *c = NULL;
	size_t i, j;
	vs_sb sb;
	int rv, code;

	if ((rv = parse_simple("links", links_help, argc, argv, pos, 2,
	    "COLLECTION and ID")) != 0)
		return rv < 0 ? VSET_EXIT_OK : rv;
	WITH_CLIENT(g, c, rv);
	if ((code = vs_links(c, pos[0], pos[1], &r)) != VS_OK) {
		rv = fail(code);
		goto out;
	}
	vs_sb_init(&sb);
	if (g->json)
		vs_sb_printf(&sb, "{\"shard\":%u,\"levels\":[", r->shard);
	else
		vs_sb_printf(&sb, "shard: %u", r->shard);
	for (i = 0; i < r->n_levels; i++) {
		if (g->json)
			vs_sb_puts(&sb, i > 0 ? ",[" : "[");
		else
			vs_sb_printf(&sb, "\nlevel %zu:", i);
		for (j = 0; j < r->levels[i].n; j++) {
			if (g->json) {
				vs_sb_puts(&sb, j > 0 ? ",{\"id\":" : "{\"id\":");
				json_str(&sb, r->levels[i].ids[j]);
				vs_sb_puts(&sb, ",\"score\":");
				vs_sb_json_double(&sb, r->levels[i].scores[j]);
				vs_sb_putc(&sb, '}');
			} else {
				vs_sb_printf(&sb, " %s(%.4f)",
				    r->levels[i].ids[j], r->levels[i].scores[j]);
			}
		}
		if (g->json)
			vs_sb_putc(&sb, ']');
	}
	if (g->json)
		vs_sb_puts(&sb, "]}");
	rv = emit(&sb);
out:
	vs_links_result_free(r);
	vs_close(c);
	return rv;
}

const vset_command vset_surface_commands[] = {
	{ "create", "COLLECTION --dim N [--quant q8|noquant|bin] [--m M] "
	    "[--reduce D] [--ef N]", "create a collection", cmd_create },
	{ "describe", "COLLECTION", "a collection's parameters and counts",
	    cmd_describe },
	{ "list", "", "list collections", cmd_list },
	{ "drop", "COLLECTION", "drop a collection on every shard", cmd_drop },
	{ "get", "COLLECTION ID [--raw]", "an element's vector and attributes",
	    cmd_get },
	{ "exists", "COLLECTION ID", "whether an element exists", cmd_exists },
	{ "getattr", "COLLECTION ID", "an element's attributes", cmd_getattr },
	{ "setattr", "COLLECTION ID JSON", "set an element's attributes",
	    cmd_setattr },
	{ "count", "COLLECTION", "elements over all shards", cmd_count },
	{ "info", "COLLECTION", "VINFO of every shard", cmd_info },
	{ "random", "COLLECTION COUNT", "random elements", cmd_random },
	{ "links", "COLLECTION ID", "HNSW neighbours of an element",
	    cmd_links },
	{ NULL, NULL, NULL, NULL },
};
