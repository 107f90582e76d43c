/*
 * config.c - command-line parsing for vsetd.  Every limit a client can hit
 * is a flag here, with its default in --help, so operators can see and
 * change what clients are held to.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

static void
vsd_usage(FILE *f)
{
	fprintf(f,
"Usage: vsetd [OPTIONS] --shard HOST:PORT [--shard HOST:PORT ...]\n"
"\n"
"Serve Redis 8 vector sets, sharded over the given Redis servers, as the\n"
"vsetd.v1.VectorService RPC service over nng REQ/REP.\n"
"\n"
"Options:\n"
"  --listen URL             nng URL to serve on (default %s;\n"
"                           port 0 binds an ephemeral port, logged at start)\n"
"  --shard HOST:PORT        a Redis >= 8 server; repeat for each shard.  The\n"
"                           order is the shard index and must be the same\n"
"                           for every vsetd serving these shards.  Use IP\n"
"                           addresses or names in /etc/hosts.\n"
"  --workers N              worker threads, each with its own connection to\n"
"                           every shard (default 4)\n"
"  --deadline-ms N          deadline of calls that carry none (default 1000)\n"
"  --max-message-bytes N    largest request accepted; a larger one closes\n"
"                           the client's connection (default 16777216)\n"
"  --max-batch N            most items or ids in one Insert/Delete (default 10000)\n"
"  --max-k N                largest K of a search (default 1000)\n"
"  --max-dim N              largest vector dimension (default 32768)\n"
"  --max-id-bytes N         longest element id, in bytes (default 1024)\n"
"  --max-inflight N         requests accepted at once; beyond it calls get\n"
"                           RESOURCE_EXHAUSTED at once (default 256)\n"
"  --log-level LEVEL        error, warn, info or debug (default info)\n"
"  --version                print the version and exit\n"
"  -h, --help               print this help and exit\n"
"\n"
"Collection C is the Redis key \"vsetd:C\" on every shard.  Logs go to\n"
"stderr.  SIGINT or SIGTERM stops accepting, finishes the calls in flight,\n"
"and exits 0.  Exit status: 0 after a clean stop, 1 on a runtime failure\n"
"(e.g. the listen address is taken), 2 on a usage error.\n",
	    VSD_DEFAULT_LISTEN);
}

/* Parse a whole decimal number in [min, max]. */
static int
vsd_parse_num(const char *opt, const char *s, long long min, long long max,
    long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "vsetd: --%s wants a whole number from %lld to "
		    "%lld, not \"%s\"\n", opt, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int
vsd_add_shard(struct vsd_config *cfg, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	struct vsd_shard_addr *n;
	long long port;
	char *host;

	if (colon == NULL || colon == arg) {
		fprintf(stderr, "vsetd: --shard wants HOST:PORT, not \"%s\"\n", arg);
		return -1;
	}
	if (vsd_parse_num("shard port", colon + 1, 1, 65535, &port) != 0)
		return -1;
	if (cfg->nshards >= VSD_MAX_SHARDS) {
		fprintf(stderr, "vsetd: at most %d shards\n", VSD_MAX_SHARDS);
		return -1;
	}
	/* [::1]:6379 -> ::1 */
	if (arg[0] == '[' && colon[-1] == ']')
		host = strndup(arg + 1, (size_t)(colon - arg - 2));
	else
		host = strndup(arg, (size_t)(colon - arg));
	n = realloc(cfg->shards, (cfg->nshards + 1) * sizeof(*n));
	if (host == NULL || n == NULL) {
		free(host);
		if (n != NULL)
			cfg->shards = n;
		fprintf(stderr, "vsetd: out of memory\n");
		return -1;
	}
	cfg->shards = n;
	cfg->shards[cfg->nshards].host = host;
	cfg->shards[cfg->nshards].port = (int)port;
	cfg->nshards++;
	return 0;
}

enum {
	OPT_LISTEN = 256, OPT_SHARD, OPT_WORKERS, OPT_DEADLINE, OPT_MAXMSG,
	OPT_MAXBATCH, OPT_MAXK, OPT_MAXDIM, OPT_MAXID, OPT_INFLIGHT,
	OPT_LOGLEVEL, OPT_VERSION,
};

int
vsd_config_parse(struct vsd_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "shard", required_argument, NULL, OPT_SHARD },
		{ "workers", required_argument, NULL, OPT_WORKERS },
		{ "deadline-ms", required_argument, NULL, OPT_DEADLINE },
		{ "max-message-bytes", required_argument, NULL, OPT_MAXMSG },
		{ "max-batch", required_argument, NULL, OPT_MAXBATCH },
		{ "max-k", required_argument, NULL, OPT_MAXK },
		{ "max-dim", required_argument, NULL, OPT_MAXDIM },
		{ "max-id-bytes", required_argument, NULL, OPT_MAXID },
		{ "max-inflight", required_argument, NULL, OPT_INFLIGHT },
		{ "log-level", required_argument, NULL, OPT_LOGLEVEL },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long v;
	int c;

	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = VSD_DEFAULT_LISTEN;
	cfg->workers = 4;
	cfg->deadline_ms = 1000;
	cfg->max_message_bytes = 16u << 20;
	cfg->max_batch = 10000;
	cfg->max_k = 1000;
	cfg->max_dim = 32768;
	cfg->max_id_bytes = 1024;
	cfg->max_inflight = 256;
	cfg->log_level = VSD_LOG_INFO;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		v = 0;
		switch (c) {
		case OPT_LISTEN:
			cfg->listen = optarg;
			break;
		case OPT_SHARD:
			if (vsd_add_shard(cfg, optarg) != 0)
				return 2;
			break;
		case OPT_WORKERS:
			if (vsd_parse_num("workers", optarg, 1, 256, &v) != 0)
				return 2;
			cfg->workers = (int)v;
			break;
		case OPT_DEADLINE:
			if (vsd_parse_num("deadline-ms", optarg, 1, 3600000, &v) != 0)
				return 2;
			cfg->deadline_ms = (int)v;
			break;
		case OPT_MAXMSG:
			if (vsd_parse_num("max-message-bytes", optarg, 1024,
			    1LL << 30, &v) != 0)
				return 2;
			cfg->max_message_bytes = (size_t)v;
			break;
		case OPT_MAXBATCH:
			if (vsd_parse_num("max-batch", optarg, 1, 1000000, &v) != 0)
				return 2;
			cfg->max_batch = (uint32_t)v;
			break;
		case OPT_MAXK:
			if (vsd_parse_num("max-k", optarg, 1, 100000, &v) != 0)
				return 2;
			cfg->max_k = (uint32_t)v;
			break;
		case OPT_MAXDIM:
			if (vsd_parse_num("max-dim", optarg, 1, 1 << 20, &v) != 0)
				return 2;
			cfg->max_dim = (uint32_t)v;
			break;
		case OPT_MAXID:
			if (vsd_parse_num("max-id-bytes", optarg, 1, 65536, &v) != 0)
				return 2;
			cfg->max_id_bytes = (uint32_t)v;
			break;
		case OPT_INFLIGHT:
			if (vsd_parse_num("max-inflight", optarg, 1, 65536, &v) != 0)
				return 2;
			cfg->max_inflight = (int)v;
			break;
		case OPT_LOGLEVEL:
			if ((cfg->log_level = vsd_log_parse_level(optarg)) < 0) {
				fprintf(stderr, "vsetd: --log-level wants error, "
				    "warn, info or debug, not \"%s\"\n", optarg);
				return 2;
			}
			break;
		case OPT_VERSION:
			printf("vsetd %s\n", VSETD_VERSION);
			return 0;
		case 'h':
			vsd_usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "vsetd: %s needs a value\n", argv[optind - 1]);
			fprintf(stderr, "Try 'vsetd --help'.\n");
			return 2;
		default:
			fprintf(stderr, "vsetd: unknown option \"%s\"\n",
			    argv[optind - 1]);
			fprintf(stderr, "Try 'vsetd --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vsetd: unexpected argument \"%s\"\n", argv[optind]);
		fprintf(stderr, "Try 'vsetd --help'.\n");
		return 2;
	}
	if (cfg->nshards == 0) {
		fprintf(stderr, "vsetd: no shards: give at least one "
		    "--shard HOST:PORT\nTry 'vsetd --help'.\n");
		return 2;
	}
	return VSD_CONFIG_RUN;
}

void
vsd_config_fini(struct vsd_config *cfg)
{
	uint32_t i;

	for (i = 0; i < cfg->nshards; i++)
		free(cfg->shards[i].host);
	free(cfg->shards);
	cfg->shards = NULL;
	cfg->nshards = 0;
}
