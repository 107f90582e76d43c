/*
 * vb_opts.c - `vset-bench run`'s command line.
 *
 * Everything the agents need goes into the Plan message; the rest (agents,
 * loading, reporting) stays in vb_run_opts.  Totals given on the command
 * line (--rate, --requests) are divided among the agents here; the
 * per-agent settings (--concurrency, --sockets) are not.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_coord.h"

void
vb_run_usage(FILE *f)
{
	fprintf(f,
"usage: vset-bench run --dataset SPEC [options]\n"
"Coordinate a load test: agents (vset-bench agent) answer surveys on --listen.\n"
"\n"
"Agents:\n"
"  --agents N             agents to wait for (default 1)\n"
"  --spawn-agents         start the N agents here, as child processes\n"
"  --listen URL           surveyor address (default tcp://127.0.0.1:0 with\n"
"                         --spawn-agents, else tcp://127.0.0.1:5560); the\n"
"                         real one is logged as 'listening on URL'\n"
"  --agent-wait S         give up if the agents are not there in S s (60)\n"
"Target:\n"
"  --server URL           vsetd to test (default tcp://127.0.0.1:5555)\n"
"  --direct --shard HOST:PORT ...\n"
"                         baseline: the same plan straight to the Redis\n"
"                         shards (same hashing, parallel VSIM fan-out)\n"
"  --compare              run the plan through vsetd, then --direct, with the\n"
"                         same agents back to back; report both and ratios\n"
"  --collection NAME      (default bench): Redis key vsetd:NAME\n"
"  --timeout-ms MS        per-request deadline (default 1000)\n"
"  --require-all          searches fail unless every shard answers\n"
"Data:\n"
"  --dataset SPEC         fashion-mnist | synthetic:N:DIM[:SEED] | FILE.npy |\n"
"                         FILE.fvecs\n"
"  --limit ROWS           use the first ROWS rows (default all)\n"
"  --queries NQ           query vectors to draw from (default 1000)\n"
"  --load                 insert the rows (ids i0, i1, ...) before the run\n"
"  --load-batch B         items per load request (default 100)\n"
"  --load-concurrency L   parallel load callers (default 2)\n"
"Load:\n"
"  --mix search=W[,insert=W][,delete=W][,get=W]\n"
"                         operation weights (default search=1); get reads\n"
"                         a loaded row back (Get / VEMB)\n"
"  --batch B              items per insert/delete request (default 1)\n"
"  --concurrency C        closed loop: C callers per agent (default 1);\n"
"                         with --rate: C workers per agent (default 32)\n"
"  --rate R               open loop: R requests/s in total, latency from\n"
"                         the scheduled send time\n"
"  --duration S | --requests N   window length, or N requests in total\n"
"  --warmup S             unrecorded load first (default 0)\n"
"  --max-time S           hard stop for the window (default duration+60,\n"
"                         or 600 with --requests)\n"
"  --sockets S            nng sockets (vs_clients) per agent (default: one\n"
"                         per caller)\n"
"  -k K, --ef N           VSIM COUNT and EF (default 10, Redis's EF)\n"
"  --filter EXPR          VSIM FILTER expression\n"
"  --seed N               random seed (default 1)\n"
"Report:\n"
"  --recall               recall@K against exact cosine top-K (cached in\n"
"                         $XDG_CACHE_HOME/vset-bench or ~/.cache/vset-bench)\n"
"  --cache-dir DIR        ground-truth cache directory ('' = none)\n"
"  --vsetd-pid PID        report vsetd's CPU per request and RSS\n"
"  --shard-pid PID        (repeatable) report the shards' CPU per request\n"
"  --json                 one JSON object on stdout\n"
"  --quiet                no progress line\n");
}

static int
parse_mix(Vsetbench__V1__Plan *p, char *spec)
{
	char *save = NULL, *tok, *eq, *end;
	double w;
	uint32_t *dst;

	p->w_search = p->w_insert = p->w_delete = p->w_get = 0;
	for (tok = strtok_r(spec, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if ((eq = strchr(tok, '=')) == NULL) {
			fprintf(stderr, "vset-bench: --mix: '%s' is not "
			    "OP=WEIGHT\n", tok);
			return -1;
		}
		*eq = '\0';
		w = strtod(eq + 1, &end);
		if (*end != '\0' || !(w >= 0) || w > 1e6) {
			fprintf(stderr, "vset-bench: --mix: bad weight for "
			    "%s\n", tok);
			return -1;
		}
		if (strcmp(tok, "search") == 0)
			dst = &p->w_search;
		else if (strcmp(tok, "insert") == 0)
			dst = &p->w_insert;
		else if (strcmp(tok, "delete") == 0)
			dst = &p->w_delete;
		else if (strcmp(tok, "get") == 0)
			dst = &p->w_get;
		else {
			fprintf(stderr, "vset-bench: --mix: unknown operation "
			    "'%s' (search, insert, delete, get)\n", tok);
			return -1;
		}
		/* Weights as integers in thousandths: 0.5 and 1 work. */
		*dst = (uint32_t)lround(w * 1000);
	}
	if ((uint64_t)p->w_search + p->w_insert + p->w_delete + p->w_get ==
	    0) {
		fprintf(stderr, "vset-bench: --mix: all weights are 0\n");
		return -1;
	}
	return 0;
}

static int
num(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || !(v >= lo && v <= hi)) {
		fprintf(stderr, "vset-bench: %s: '%s' is not a number in "
		    "[%g, %g]\n", opt, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

void
vb_run_opts_free(struct vb_run_opts *o)
{
	free(o->plan.shards);
	free(o->shard_pids);
	o->plan.shards = NULL;
	o->shard_pids = NULL;
}

int
vb_run_parse(struct vb_run_opts *o, int argc, char **argv)
{
	enum {
		O_AGENTS = 256, O_SPAWN, O_LISTEN, O_AWAIT, O_SERVER, O_DIRECT,
		O_SHARD, O_COLL, O_TIMEOUT, O_REQALL, O_DATASET, O_LIMIT,
		O_QUERIES, O_LOAD, O_LBATCH, O_LCONC, O_MIX, O_BATCH, O_CONC,
		O_RATE, O_DUR, O_REQS, O_WARM, O_MAXT, O_SOCK, O_EF, O_FILTER,
		O_SEED, O_RECALL, O_COMPARE, O_CACHE, O_VPID, O_SPID, O_JSON, O_QUIET,
	};
	static const struct option lo[] = {
		{ "agents", required_argument, NULL, O_AGENTS },
		{ "spawn-agents", no_argument, NULL, O_SPAWN },
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "agent-wait", required_argument, NULL, O_AWAIT },
		{ "server", required_argument, NULL, O_SERVER },
		{ "direct", no_argument, NULL, O_DIRECT },
		{ "compare", no_argument, NULL, O_COMPARE },
		{ "shard", required_argument, NULL, O_SHARD },
		{ "collection", required_argument, NULL, O_COLL },
		{ "timeout-ms", required_argument, NULL, O_TIMEOUT },
		{ "require-all", no_argument, NULL, O_REQALL },
		{ "dataset", required_argument, NULL, O_DATASET },
		{ "limit", required_argument, NULL, O_LIMIT },
		{ "queries", required_argument, NULL, O_QUERIES },
		{ "load", no_argument, NULL, O_LOAD },
		{ "load-batch", required_argument, NULL, O_LBATCH },
		{ "load-concurrency", required_argument, NULL, O_LCONC },
		{ "mix", required_argument, NULL, O_MIX },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "concurrency", required_argument, NULL, O_CONC },
		{ "rate", required_argument, NULL, O_RATE },
		{ "duration", required_argument, NULL, O_DUR },
		{ "requests", required_argument, NULL, O_REQS },
		{ "warmup", required_argument, NULL, O_WARM },
		{ "max-time", required_argument, NULL, O_MAXT },
		{ "sockets", required_argument, NULL, O_SOCK },
		{ "ef", required_argument, NULL, O_EF },
		{ "filter", required_argument, NULL, O_FILTER },
		{ "seed", required_argument, NULL, O_SEED },
		{ "recall", no_argument, NULL, O_RECALL },
		{ "cache-dir", required_argument, NULL, O_CACHE },
		{ "vsetd-pid", required_argument, NULL, O_VPID },
		{ "shard-pid", required_argument, NULL, O_SPID },
		{ "json", no_argument, NULL, O_JSON },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	Vsetbench__V1__Plan *p = &o->plan;
	double v, dur = 0, warm = 0, maxt = 0;
	int opt, conc_set = 0;
	void *grown;

	memset(o, 0, sizeof(*o));
	vsetbench__v1__plan__init(p);
	o->agents = 1;
	o->agent_wait_s = 60;
	o->load_batch = 100;
	o->load_concurrency = 2;
	p->server_url = "tcp://127.0.0.1:5555";
	p->collection = "bench";
	p->nqueries = 1000;
	p->w_search = 1;
	p->concurrency = 1;
	p->k = 10;
	p->batch = 1;
	p->timeout_ms = 1000;
	p->seed = 1;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "hk:", lo, NULL)) != -1) {
		switch (opt) {
		case O_AGENTS:
			if (num("--agents", optarg, 1, 1024, &v) != 0)
				return -1;
			o->agents = (size_t)v;
			break;
		case O_SPAWN:
			o->spawn = 1;
			break;
		case O_LISTEN:
			o->listen = optarg;
			break;
		case O_AWAIT:
			if (num("--agent-wait", optarg, 1, 3600, &v) != 0)
				return -1;
			o->agent_wait_s = (int)v;
			break;
		case O_SERVER:
			p->server_url = optarg;
			break;
		case O_DIRECT:
			p->direct = 1;
			break;
		case O_COMPARE:
			o->compare = 1;
			break;
		case O_SHARD:
			grown = realloc(p->shards, (p->n_shards + 1) *
			    sizeof(*p->shards));
			if (grown == NULL)
				return -1;
			p->shards = grown;
			p->shards[p->n_shards++] = optarg;
			break;
		case O_COLL:
			p->collection = optarg;
			break;
		case O_TIMEOUT:
			if (num("--timeout-ms", optarg, 1, 3600000, &v) != 0)
				return -1;
			p->timeout_ms = (uint32_t)v;
			break;
		case O_REQALL:
			p->require_all = 1;
			break;
		case O_DATASET:
			p->dataset = optarg;
			break;
		case O_LIMIT:
			if (num("--limit", optarg, 0, 4e9, &v) != 0)
				return -1;
			p->limit = (uint32_t)v;
			break;
		case O_QUERIES:
			if (num("--queries", optarg, 1, 1e7, &v) != 0)
				return -1;
			p->nqueries = (uint32_t)v;
			break;
		case O_LOAD:
			o->load = 1;
			break;
		case O_LBATCH:
			if (num("--load-batch", optarg, 1, 1e5, &v) != 0)
				return -1;
			o->load_batch = (size_t)v;
			break;
		case O_LCONC:
			if (num("--load-concurrency", optarg, 1, 1024, &v) != 0)
				return -1;
			o->load_concurrency = (size_t)v;
			break;
		case O_MIX:
			if (parse_mix(p, optarg) != 0)
				return -1;
			break;
		case O_BATCH:
			if (num("--batch", optarg, 1, 1e5, &v) != 0)
				return -1;
			p->batch = (uint32_t)v;
			break;
		case O_CONC:
			if (num("--concurrency", optarg, 1, 4096, &v) != 0)
				return -1;
			p->concurrency = (uint32_t)v;
			conc_set = 1;
			break;
		case O_RATE:
			if (num("--rate", optarg, 0.001, 1e8, &v) != 0)
				return -1;
			o->total_rate = v;
			break;
		case O_DUR:
			if (num("--duration", optarg, 0.001, 86400, &dur) != 0)
				return -1;
			break;
		case O_REQS:
			if (num("--requests", optarg, 1, 1e12, &v) != 0)
				return -1;
			o->total_requests = (uint64_t)v;
			break;
		case O_WARM:
			if (num("--warmup", optarg, 0, 3600, &warm) != 0)
				return -1;
			break;
		case O_MAXT:
			if (num("--max-time", optarg, 1, 86400, &maxt) != 0)
				return -1;
			break;
		case O_SOCK:
			if (num("--sockets", optarg, 1, 4096, &v) != 0)
				return -1;
			p->sockets = (uint32_t)v;
			break;
		case 'k':
			if (num("-k", optarg, 1, 100000, &v) != 0)
				return -1;
			p->k = (uint32_t)v;
			break;
		case O_EF:
			if (num("--ef", optarg, 1, 1e6, &v) != 0)
				return -1;
			p->ef = (uint32_t)v;
			break;
		case O_FILTER:
			p->filter = optarg;
			break;
		case O_SEED:
			if (num("--seed", optarg, 0, 1e18, &v) != 0)
				return -1;
			p->seed = (uint64_t)v;
			break;
		case O_RECALL:
			o->recall = 1;
			break;
		case O_CACHE:
			o->cache_dir = optarg;
			break;
		case O_VPID:
			if (num("--vsetd-pid", optarg, 1, 4194304, &v) != 0)
				return -1;
			o->vsetd_pid = (pid_t)v;
			break;
		case O_SPID:
			if (num("--shard-pid", optarg, 1, 4194304, &v) != 0)
				return -1;
			grown = realloc(o->shard_pids, (o->n_shard_pids + 1) *
			    sizeof(*o->shard_pids));
			if (grown == NULL)
				return -1;
			o->shard_pids = grown;
			o->shard_pids[o->n_shard_pids++] = (pid_t)v;
			break;
		case O_JSON:
			o->json = 1;
			break;
		case O_QUIET:
			o->quiet = 1;
			break;
		case 'h':
			vb_run_usage(stdout);
			return 1;
		default:
			fprintf(stderr, "vset-bench run --help for the "
			    "options\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vset-bench: unexpected argument '%s'\n",
		    argv[optind]);
		return -1;
	}
	if (p->dataset[0] == '\0') {
		fprintf(stderr, "vset-bench: --dataset is required\n");
		return -1;
	}
	if (o->compare && p->direct) {
		fprintf(stderr, "vset-bench: --compare runs vsetd and then "
		    "direct: leave out --direct\n");
		return -1;
	}
	if ((p->direct || o->compare) && p->n_shards == 0) {
		fprintf(stderr, "vset-bench: --direct needs --shard "
		    "HOST:PORT (in vsetd's order)\n");
		return -1;
	}
	if (dur > 0 && o->total_requests > 0) {
		fprintf(stderr, "vset-bench: --duration and --requests "
		    "exclude each other\n");
		return -1;
	}
	if (dur == 0 && o->total_requests == 0 && !o->load) {
		fprintf(stderr, "vset-bench: nothing to do: give --duration, "
		    "--requests or --load\n");
		return -1;
	}
	if (o->recall && p->k > p->limit && p->limit != 0) {
		fprintf(stderr, "vset-bench: -k exceeds --limit\n");
		return -1;
	}
	p->duration_ms = (uint32_t)llround(dur * 1000);
	p->warmup_ms = (uint32_t)llround(warm * 1000);
	/* Per agent: rates and counts are the command line's totals split
	 * evenly (counts rounded up, so at least the total is sent). */
	p->rate = o->total_rate / (double)o->agents;
	p->requests = (o->total_requests + o->agents - 1) / o->agents;
	if (p->rate > 0 && !conc_set)
		p->concurrency = 32;
	if (maxt > 0)
		p->max_ms = (uint32_t)llround(maxt * 1000);
	else
		p->max_ms = p->duration_ms ? p->duration_ms + 60000 : 600000;
	if (o->listen == NULL)
		o->listen = o->spawn ? "tcp://127.0.0.1:0" :
		    "tcp://127.0.0.1:5560";
	return 0;
}
