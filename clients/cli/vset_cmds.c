/*
 * vset_cmds.c - vset's commands: insert, delete, search.
 *
 * Each command parses all of its arguments before it connects, so a usage
 * error (exit 2) never reaches the server, then makes exactly one call.
 * Local checks are limited to what the command line itself can get wrong
 * (syntax of numbers, vectors and JSON); limits such as the largest k or
 * dimension belong to the server, which reports them as INVALID_ARGUMENT.
 */
#include <stdlib.h>
#include <string.h>

#include "vs_json.h"
#include "vset.h"

/* --attrs is checked up front only for syntax, so this matches the
 * deepest document the validator can take; the server applies its own
 * policy. */
#define VSET_ATTRS_MAX_DEPTH VS_JSON_DEPTH_LIMIT

enum {
	OPT_HELP = VSET_OPT_LONG,
	OPT_ATTRS,
	OPT_EF,
	OPT_REQUIRE_ALL,
	OPT_BY_ID,
	OPT_FILTER,
	OPT_FILTER_EF,
	OPT_EPSILON,
	OPT_TRUTH,
	OPT_NOTHREAD,
	OPT_WITH_ATTRS,
	OPT_RATIO,
};

/* A write's ending: print what was written, even when some items were
 * not, then the call's error; the exit status. */
static int
write_done(const vset_global *g, int code, const vs_write_result *res,
    int deleting)
{
	if (res != NULL && vset_print_write(g, res, deleting) != 0)
		return VSET_EXIT_ERROR;
	if (code != VS_OK) {
		vset_print_error(code);
		return VSET_EXIT_ERROR;
	}
	return VSET_EXIT_OK;
}

/* ------------------------------------------------------------ insert */

static const char insert_help[] =
"Usage: vset [GLOBAL OPTIONS] insert COLLECTION ID V1,V2,... [--attrs JSON]\n"
"\n"
"Insert one element, or overwrite it if ID exists.  The vector is a\n"
"comma-separated list of finite numbers (write negative first components\n"
"as is: vset insert c id -0.5,1); every element of a collection has the\n"
"same dimension.\n"
"\n"
"Options:\n"
"  --attrs JSON   store this JSON object with the element (checked here\n"
"                 for syntax; without it, existing attributes are kept)\n"
"  -h, --help     show this help\n"
"\n"
"Prints 'added N, updated N' (and ', failed N' with the failures on\n"
"stderr), or with --json:\n"
"  {\"added\":N,\"updated\":N,\"failed\":N,\"items\":[{\"id\":..,\"outcome\":\n"
"  \"added\"|\"updated\"|\"failed\",\"shard\":N[,\"code\":..,\"message\":..]}],\n"
"  \"shards\":{\"total\":N,\"ok\":N,\"failed\":N,\"timed_out\":N}}\n"
"\n"
"Exit status: 0 written, 1 error or not written, 2 usage error.\n";

static int
cmd_insert(const vset_global *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "attrs", required_argument, NULL, OPT_ATTRS },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *pos[3], *attrs = NULL, *arg = NULL, *why = NULL;
	vs_write_result *res = NULL;
	vs_client *c = NULL;
	float *vec = NULL;
	size_t npos = 0, dim = 0, where = 0;
	char err[160];
	vset_argp p;
	vs_item item;
	int rv = VSET_EXIT_USAGE, opt, code;

	vset_argp_init(&p, "insert", argc, argv, "h", longopts);
	while ((opt = vset_argp_next(&p, &arg)) != VSET_ARG_END) {
		switch (opt) {
		case VSET_ARG_ERROR:
			goto out;
		case VSET_ARG_POSITIONAL:
			if (vset_argp_keep(&p, arg, pos, &npos, 3) != 0)
				goto out;
			break;
		case OPT_ATTRS:
			attrs = arg;
			break;
		case 'h':
		case OPT_HELP:
			fputs(insert_help, stdout);
			rv = VSET_EXIT_OK;
			goto out;
		}
	}
	if (npos < 3) {
		vset_usage_error("insert", "missing %s",
		    npos == 0 ? "COLLECTION, ID and vector" :
		    npos == 1 ? "ID and vector" : "vector");
		goto out;
	}
	if (vset_parse_vector(pos[2], &vec, &dim, err, sizeof(err)) != 0) {
		vset_usage_error("insert", "%s", err);
		goto out;
	}
	if (attrs != NULL) {
		if (vs_json_validate(attrs, strlen(attrs), VSET_ATTRS_MAX_DEPTH,
		    &why, &where) != 0) {
			vset_usage_error("insert", "--attrs is not valid JSON: "
			    "%s at byte %zu", why, where);
			goto out;
		}
		if (!vs_json_is_object(attrs, strlen(attrs))) {
			vset_usage_error("insert", "--attrs must be a JSON "
			    "object ({...})");
			goto out;
		}
	}
	rv = VSET_EXIT_ERROR;
	if (vset_connect(g, &c) != VS_OK)
		goto out;
	item.id = pos[1];
	item.vector = vec;
	item.dim = dim;
	item.attrs_json = attrs;
	code = vs_insert(c, pos[0], &item, 1, &res);
	rv = write_done(g, code, res, 0);
out:
	vs_write_result_free(res);
	vs_close(c);
	free(vec);
	return rv;
}

/* ------------------------------------------------------------ delete */

static const char delete_help[] =
"Usage: vset [GLOBAL OPTIONS] delete COLLECTION ID...\n"
"\n"
"Delete elements by id, in one call.  Ids that start with '-' go after\n"
"'--': vset delete c -- -x.\n"
"\n"
"Options:\n"
"  -h, --help     show this help\n"
"\n"
"Prints 'deleted N, not found N' (and ', failed N' with the failures on\n"
"stderr), or with --json:\n"
"  {\"deleted\":N,\"not_found\":N,\"failed\":N,\"items\":[{\"id\":..,\n"
"  \"outcome\":\"deleted\"|\"not_found\"|\"failed\",\"shard\":N[,\"code\":..,\n"
"  \"message\":..]}],\"shards\":{\"total\":N,\"ok\":N,\"failed\":N,\n"
"  \"timed_out\":N}}\n"
"\n"
"An id that does not exist is not an error.\n"
"Exit status: 0 done, 1 error or some ids not processed, 2 usage error.\n";

static int
cmd_delete(const vset_global *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *collection = NULL, *arg = NULL;
	const char **ids = NULL;
	vs_write_result *res = NULL;
	vs_client *c = NULL;
	size_t nids = 0;
	vset_argp p;
	int rv = VSET_EXIT_USAGE, opt, code;

	/* At most argc - 1 of the arguments are ids. */
	if ((ids = calloc((size_t)argc, sizeof(*ids))) == NULL) {
		fputs("vset: out of memory\n", stderr);
		rv = VSET_EXIT_ERROR;
		goto out;
	}
	vset_argp_init(&p, "delete", argc, argv, "h", longopts);
	while ((opt = vset_argp_next(&p, &arg)) != VSET_ARG_END) {
		switch (opt) {
		case VSET_ARG_ERROR:
			goto out;
		case VSET_ARG_POSITIONAL:
			if (collection == NULL)
				collection = arg;
			else
				ids[nids++] = arg;
			break;
		case 'h':
		case OPT_HELP:
			fputs(delete_help, stdout);
			rv = VSET_EXIT_OK;
			goto out;
		}
	}
	if (nids == 0) {
		vset_usage_error("delete", "missing %s",
		    collection == NULL ? "COLLECTION and ID" : "ID");
		goto out;
	}
	rv = VSET_EXIT_ERROR;
	if (vset_connect(g, &c) != VS_OK)
		goto out;
	code = vs_delete(c, collection, ids, nids, &res);
	rv = write_done(g, code, res, 1);
out:
	vs_write_result_free(res);
	vs_close(c);
	free(ids);
	return rv;
}

/* ------------------------------------------------------------ search */

static const char search_help[] =
"Usage: vset [GLOBAL OPTIONS] search COLLECTION (V1,V2,... | --by-id ID)\n"
"           [-k K] [--ef N] [--filter EXPR] [--filter-ef N] [--epsilon E]\n"
"           [--truth] [--nothread] [--with-attrs] [--shard-k-ratio R]\n"
"           [--require-all]\n"
"\n"
"Find the K elements most similar (cosine) to the vector, over all shards.\n"
"Write a negative first component as is: vset search c -0.5,1.\n"
"\n"
"Options:\n"
"  -k K           results wanted, 1 or more (default 10; the server caps it,\n"
"                 1000 unless configured otherwise)\n"
"  --ef N         HNSW exploration factor, 1 or more (default: Redis's, 100);\n"
"                 higher finds better matches, slower\n"
"  --require-all  fail unless every shard answers, instead of printing a\n"
"                 partial result\n"
"  --by-id ID     search with the vector of element ID (NOT_FOUND if missing)\n"
"  --filter EXPR  VSIM FILTER expression, e.g. '.year > 2000'\n"
"  --filter-ef N  VSIM FILTER-EF\n"
"  --epsilon E    only results with score >= 1 - E (0 < E <= 2)\n"
"  --truth        exact linear scan (VSIM TRUTH)\n"
"  --nothread     VSIM NOTHREAD\n"
"  --with-attrs   also print each result's JSON attributes (JSON: \"attrs\",\n"
"                 null when none)\n"
"  --shard-k-ratio R  ask each shard for ceil(K*R) results, 0 < R <= 1\n"
"                 (faster with many shards; may miss true top-K results)\n"
"  -h, --help     show this help\n"
"\n"
"Prints one line per hit, best first: RANK ID SCORE (score in [0,1],\n"
"higher is closer), then 'shards: total=N ok=N failed=N timed_out=N'.\n"
"When some shard did not answer, a warning goes to stderr.  With --json:\n"
"  {\"results\":[{\"id\":..,\"score\":0.97,\"shard\":N}],\"partial\":false,\n"
"  \"shards\":{\"total\":N,\"ok\":N,\"failed\":N,\"timed_out\":N},\n"
"  \"shard_errors\":[{\"shard\":N,\"code\":..,\"message\":..}]}\n"
"\n"
"Exit status: 0 answered (also when partial), 1 error, 2 usage error.\n";

static int
cmd_search(const vset_global *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ef", required_argument, NULL, OPT_EF },
		{ "require-all", no_argument, NULL, OPT_REQUIRE_ALL },
		{ "by-id", required_argument, NULL, OPT_BY_ID },
		{ "filter", required_argument, NULL, OPT_FILTER },
		{ "filter-ef", required_argument, NULL, OPT_FILTER_EF },
		{ "epsilon", required_argument, NULL, OPT_EPSILON },
		{ "truth", no_argument, NULL, OPT_TRUTH },
		{ "nothread", no_argument, NULL, OPT_NOTHREAD },
		{ "with-attrs", no_argument, NULL, OPT_WITH_ATTRS },
		{ "shard-k-ratio", required_argument, NULL, OPT_RATIO },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *pos[2], *arg = NULL;
	vs_search_result *res = NULL;
	vs_search_options so;
	vs_search_params sp;
	char *dend;
	vs_client *c = NULL;
	float *vec = NULL;
	size_t npos = 0;
	unsigned long n;
	char err[160];
	vset_argp p;
	int rv = VSET_EXIT_USAGE, opt, code;

	memset(&sp, 0, sizeof(sp));
	memset(&so, 0, sizeof(so));
	vset_argp_init(&p, "search", argc, argv, "hk:", longopts);
	while ((opt = vset_argp_next(&p, &arg)) != VSET_ARG_END) {
		switch (opt) {
		case VSET_ARG_ERROR:
			goto out;
		case VSET_ARG_POSITIONAL:
			if (vset_argp_keep(&p, arg, pos, &npos, 2) != 0)
				goto out;
			break;
		case 'k':
			if (vset_parse_uint(arg, 1, UINT32_MAX, &n) != 0) {
				vset_usage_error("search", "-k needs a whole "
				    "number of 1 or more, not '%s'", arg);
				goto out;
			}
			sp.k = (uint32_t)n;
			break;
		case OPT_EF:
			if (vset_parse_uint(arg, 1, UINT32_MAX, &n) != 0) {
				vset_usage_error("search", "--ef needs a whole "
				    "number of 1 or more, not '%s'", arg);
				goto out;
			}
			sp.ef = (uint32_t)n;
			break;
		case OPT_REQUIRE_ALL:
			sp.require_all = 1;
			break;
		case OPT_BY_ID:
			so.by_id = arg;
			break;
		case OPT_FILTER:
			so.filter = arg;
			break;
		case OPT_FILTER_EF:
			if (vset_parse_uint(arg, 1, UINT32_MAX, &n) != 0) {
				vset_usage_error("search", "--filter-ef needs a "
				    "whole number of 1 or more, not '%s'", arg);
				goto out;
			}
			so.filter_ef = (uint32_t)n;
			break;
		case OPT_EPSILON:
		case OPT_RATIO:
			{
				double d = strtod(arg, &dend);

				if (dend == arg || *dend != '\0' || !(d > 0) ||
				    d > (opt == OPT_EPSILON ? 2 : 1)) {
					vset_usage_error("search", "%s needs a "
					    "number in (0, %d], not '%s'",
					    opt == OPT_EPSILON ? "--epsilon" :
					    "--shard-k-ratio",
					    opt == OPT_EPSILON ? 2 : 1, arg);
					goto out;
				}
				if (opt == OPT_EPSILON)
					so.epsilon = d;
				else
					so.shard_k_ratio = d;
			}
			break;
		case OPT_TRUTH:
			so.truth = 1;
			break;
		case OPT_NOTHREAD:
			so.nothread = 1;
			break;
		case OPT_WITH_ATTRS:
			so.with_attrs = 1;
			break;
		case 'h':
		case OPT_HELP:
			fputs(search_help, stdout);
			rv = VSET_EXIT_OK;
			goto out;
		}
	}
	if (so.by_id != NULL && npos == 2) {
		vset_usage_error("search", "give a vector or --by-id, not both");
		goto out;
	}
	if (npos < (so.by_id != NULL ? 1 : 2)) {
		vset_usage_error("search", "missing %s",
		    npos == 0 ? "COLLECTION and vector" : "vector");
		goto out;
	}
	if (so.by_id == NULL && vset_parse_vector(pos[1], &vec, &sp.dim, err,
	    sizeof(err)) != 0) {
		vset_usage_error("search", "%s", err);
		goto out;
	}
	sp.collection = pos[0];
	sp.vector = vec;
	rv = VSET_EXIT_ERROR;
	if (vset_connect(g, &c) != VS_OK)
		goto out;
	if ((code = vs_search_ex(c, &sp, &so, &res)) != VS_OK) {
		vset_print_error(code);
		goto out;
	}
	if (vset_print_search(g, res) != 0)
		goto out;
	rv = VSET_EXIT_OK;
out:
	vs_search_result_free(res);
	vs_close(c);
	free(vec);
	return rv;
}

const vset_command vset_commands[] = {
	{ "insert", "COLLECTION ID V1,V2,... [--attrs JSON]",
	    "insert one element, or overwrite it", cmd_insert },
	{ "delete", "COLLECTION ID...",
	    "delete elements by id", cmd_delete },
	{ "search", "COLLECTION (V1,V2,... | --by-id ID) [-k K] [--ef N] "
	    "[--filter EXPR] [--filter-ef N] [--epsilon E] [--truth] "
	    "[--nothread] [--with-attrs] [--require-all]",
	    "find the K elements nearest to a vector", cmd_search },
	{ "load", "COLLECTION FILE [--batch B] [--limit ROWS] [--format F] "
	    "[--id-column C] [--id-prefix P] [--attrs-column C] "
	    "[--skip-header]",
	    "bulk import from .npy, .fvecs or CSV", vset_cmd_load },
	{ "stats", "[--survey URL]...",
	    "routers' request, latency and shard statistics", vset_cmd_stats },
	{ "reshard", "add HOST:PORT[,REPLICA:PORT...] | remove [--expect "
	    "HOST:PORT] | status | abort  [--batch N] [--rate N]",
	    "add or remove the last shard online, watch or undo a move",
	    vset_cmd_reshard },
	{ NULL, NULL, NULL, NULL },
};
