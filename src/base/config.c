/*
 * config.c - vsetd's settings: defaults < config file < environment <
 * command line.
 *
 * Every limit a client can hit is a setting here, with its default in
 * --help, so operators can see and change what clients are held to.  The
 * config file (--config FILE) holds everything the flags do, as
 * "name = value" lines using the flags' long names; `shard` may repeat.
 * Flags win over the file; --shard on the command line replaces the file's
 * whole shard list.  The Redis password is never a flag (it would show in
 * ps): it comes from the file's redis-password or $VSETD_REDIS_PASSWORD;
 * likewise the Sentinels' (sentinel-password, $VSETD_SENTINEL_PASSWORD).
 * --shard sentinel://HOST:PORT[,...]/MASTER names a shard by its Sentinel
 * master; its endpoints are filled in at start (sentinel.h).
 */
#include <ctype.h>
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
"  --config FILE            read settings from FILE (\"name = value\" lines,\n"
"                           names as the long options below; flags win)\n"
"  --listen URL             nng URL to serve on (default %s;\n"
"                           port 0 binds an ephemeral port, logged at start;\n"
"                           tls+tcp://HOST:PORT and wss://HOST:PORT[/PATH]\n"
"                           need --tls-cert and --tls-key)\n"
"  --shard HOST:PORT[,HOST:PORT...]\n"
"                           a Redis >= 8 server, optionally followed by its\n"
"                           read replicas; repeat for each shard.  The order\n"
"                           is the shard index and must be the same for every\n"
"                           vsetd serving these shards.  Use IP addresses or\n"
"                           names in /etc/hosts.\n"
"  --shard sentinel://HOST:PORT[,HOST:PORT...]/MASTER_NAME\n"
"                           a shard whose primary and replicas Redis Sentinel\n"
"                           knows as MASTER_NAME: asked at start (vsetd does\n"
"                           not start if no Sentinel knows it), then followed\n"
"                           through failovers (+switch-master, a poll every\n"
"                           second, and at once when the primary refuses a\n"
"                           write or fails).  Writes during a failover fail\n"
"                           UNAVAILABLE (\"failover in progress\"): retry.\n"
"                           Both kinds of --shard mix.\n"
"  --workers N              requests each event loop runs at once, each on a\n"
"                           worker with its own connection to every shard\n"
"                           (default 4; more wait in a queue, up to\n"
"                           --max-inflight).  Workers are fibers on the\n"
"                           event loops, not threads.  A shard that stops\n"
"                           answering holds at most half of them: once that\n"
"                           many calls have waited on it for over\n"
"                           --shard-stall-ms without a byte from it, other\n"
"                           calls skip it at once (a read uses a replica;\n"
"                           else the shard is failed, UNAVAILABLE)\n"
"  --loops N                event loop threads (default 1, at most %d): each\n"
"                           owns its share of the client connections and\n"
"                           --workers workers of its own, and runs a request\n"
"                           from read to reply with no hand-off.  One loop\n"
"                           uses one core; add loops when vsetd's own CPU is\n"
"                           the limit (docs/operations.md, \"Threads\")\n"
"  --deadline-ms N          deadline of calls that carry none (default 1000)\n"
"  --shard-timeout-ms N     a shard connection that moves no byte (neither\n"
"                           sends nor takes one) for N ms while replies are\n"
"                           pending has failed: the call counts that shard\n"
"                           timed out, even when its own deadline is later,\n"
"                           and the failure counts towards the shard's circuit\n"
"                           breaker (3 in a row open it).  A caller's deadline\n"
"                           that ends first never counts against a shard.\n"
"                           WAIT (--wait-replicas) gets --wait-ms on top.\n"
"                           Raise it only if single commands run longer on\n"
"                           your shards (default %d)\n"
"  --shard-stall-ms N       see --workers: how long half of the workers must\n"
"                           have waited on a shard with no byte from it for\n"
"                           other calls to skip it (default %d).  No verdict\n"
"                           on the shard: its breaker is not touched.  Keep it\n"
"                           above the longest single command your shards run\n"
"  --max-message-bytes N    largest request accepted; a larger one closes\n"
"                           the client's connection (default 16777216)\n"
"  --max-batch N            most items or ids in one Insert/Delete (default 10000)\n"
"  --max-k N                largest K of a search (default 1000)\n"
"  --max-dim N              largest vector dimension (default 32768)\n"
"  --max-id-bytes N         longest element id, in bytes (default 1024)\n"
"  --max-inflight N         requests accepted at once; beyond it calls get\n"
"                           RESOURCE_EXHAUSTED at once (default 256)\n"
"\n"
"  Bounds of a tcp:// listener (served by vsetd itself, without libnng):\n"
"  --frame-timeout-ms N     a request (or the connection handshake) whose\n"
"                           first byte arrived must be complete within N ms,\n"
"                           and a connection whose replies have not moved\n"
"                           for N ms (the client reads none) is closed, its\n"
"                           buffers freed (default 10000)\n"
"  --max-conn-inflight N    requests of one connection worked on at once;\n"
"                           further ones wait unread in its socket (default\n"
"                           32, at most --max-inflight)\n"
"  --max-conn-pending-bytes N\n"
"                           unsent reply bytes held for one connection; past\n"
"                           it the connection's requests are not read until\n"
"                           it reads its replies (default 2 x\n"
"                           --max-message-bytes)\n"
"  --max-buffered-bytes N   request and reply bytes held for all connections\n"
"                           together; past it the connection holding the most\n"
"                           unsent replies is closed, and requests are read\n"
"                           only as memory frees (default 67108864, or\n"
"                           4 x --max-message-bytes if that is larger)\n"
"\n"
"  Redis-protocol front door (docs/resp.md):\n"
"  --resp-listen HOST:PORT  also serve RESP2/RESP3 (redis-cli, redis-py...)\n"
"                           on HOST:PORT, with the bounds above; one Redis\n"
"                           key is one collection (default: off).\n"
"                           tls://HOST:PORT serves it over TLS with the\n"
"                           --tls-* settings below (redis-cli --tls)\n"
"  --resp-partial MODE      a VSIM (or count) a shard did not answer: error\n"
"                           (-PARTIAL n of m shards answered) or allow (what\n"
"                           the live shards gave) (default error)\n"
"  --resp-user NAME         user the front door's AUTH accepts (default\n"
"                           \"default\"; password: see below)\n"
"\n"
"  --redis-user NAME        ACL user for Redis AUTH (password: see below)\n"
"  --sentinel-user NAME     ACL user for AUTH to the Sentinels (password:\n"
"                           see below)\n"
"  --tls-cert FILE          PEM certificate (chain) for tls+tcp:// and wss://\n"
"                           listeners and --resp-listen tls://\n"
"  --tls-key FILE           PEM private key for them\n"
"  --tls-ca FILE            PEM CA certificates to verify clients with\n"
"  --tls-verify-clients     require a client certificate signed by --tls-ca\n"
"  --vsim-threads MODE      VSIM in a thread of its own on the shard (on,\n"
"                           Redis's default), in the shard's main thread\n"
"                           (off: VSIM NOTHREAD), or auto: NOTHREAD while\n"
"                           this vsetd runs at most 32 searches at once,\n"
"                           threads beyond.  NOTHREAD is faster, but the\n"
"                           searches of callers that give up early keep\n"
"                           the shard's main thread busy for everyone\n"
"                           (default on)\n"
"  --hedge-ms N             hedged reads: also ask a shard's replica when its\n"
"                           primary has not answered after N ms (default 0,\n"
"                           off)\n"
"  --wait-replicas N        acknowledge a write only once N replicas have it\n"
"                           (Redis WAIT; default 0, off)\n"
"  --wait-ms N              how long WAIT may take (default 100)\n"
"  --survey-listen URL      answer stats surveys (nng SURVEYOR, e.g. `vset\n"
"                           stats`) on a RESPONDENT socket at URL\n"
"  --metrics-listen URL     serve Prometheus metrics at URL/metrics\n"
"                           (URL is http://HOST:PORT)\n"
"  --log-level LEVEL        error, warn, info or debug (default info)\n"
"  --version                print the version and exit\n"
"  -h, --help               print this help and exit\n"
"\n"
"Environment: VSETD_REDIS_USER, VSETD_REDIS_PASSWORD (Redis AUTH for every\n"
"shard; the password is also accepted as redis-password in the config file,\n"
"never as a flag).  VSETD_RESP_PASSWORD (or resp-password in the config\n"
"file): the password the front door's AUTH wants; none = no AUTH needed.\n"
"VSETD_SENTINEL_USER, VSETD_SENTINEL_PASSWORD: AUTH to\n"
"the Sentinels of sentinel:// shards, apart from the shards' own; the\n"
"password is also accepted as sentinel-password in the config file, never\n"
"as a flag.\n"
"VSETD_LOOPS: --loops (a --loops flag wins).\n"
"\n"
"Collection C is the Redis key \"vsetd:C\" on every shard.  Logs go to\n"
"stderr.  SIGINT or SIGTERM stops accepting, finishes the calls in flight,\n"
"and exits 0.  Exit status: 0 after a clean stop, 1 on a runtime failure\n"
"(e.g. the listen address is taken), 2 on a usage error, 3 when the\n"
"--shard list contradicts the topology record stored on the shards\n"
"(vsetd:@topology; a shorter list is completed from it).\n",
	    VSD_DEFAULT_LISTEN, VSD_MAX_LOOPS, VSD_DEFAULT_SHARD_TIMEOUT_MS,
	    VSD_DEFAULT_SHARD_STALL_MS);
}

enum {
	OPT_LISTEN = 256, OPT_SHARD, OPT_WORKERS, OPT_DEADLINE, OPT_MAXMSG,
	OPT_MAXBATCH, OPT_MAXK, OPT_MAXDIM, OPT_MAXID, OPT_INFLIGHT,
	OPT_LOGLEVEL, OPT_VERSION, OPT_CONFIG, OPT_RUSER, OPT_RPASS,
	OPT_TLSCERT, OPT_TLSKEY, OPT_TLSCA, OPT_TLSVERIFY, OPT_HEDGE,
	OPT_VSIMTHREADS,
	OPT_WAITN, OPT_WAITMS, OPT_SURVEY, OPT_METRICS, OPT_SHARDTIMEOUT,
	OPT_SHARDSTALL, OPT_FRAMETMO, OPT_CONNINFLIGHT, OPT_CONNPENDING,
	OPT_MAXBUFFERED, OPT_RESPLISTEN, OPT_RESPPARTIAL, OPT_RESPUSER,
	OPT_RESPPASS,
	OPT_SUSER, OPT_SPASS, OPT_LOOPS,
};

/* Defaults of the native listener's bounds */
#define VSD_DEFAULT_FRAME_TIMEOUT_MS 10000
#define VSD_DEFAULT_CONN_INFLIGHT 32
#define VSD_DEFAULT_MAX_BUFFERED (64u << 20)

/* The long options; "redis-password" is only valid in the config file. */
static const struct option vsd_opts[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "shard", required_argument, NULL, OPT_SHARD },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "loops", required_argument, NULL, OPT_LOOPS },
	{ "deadline-ms", required_argument, NULL, OPT_DEADLINE },
	{ "shard-timeout-ms", required_argument, NULL, OPT_SHARDTIMEOUT },
	{ "shard-stall-ms", required_argument, NULL, OPT_SHARDSTALL },
	{ "max-message-bytes", required_argument, NULL, OPT_MAXMSG },
	{ "max-batch", required_argument, NULL, OPT_MAXBATCH },
	{ "max-k", required_argument, NULL, OPT_MAXK },
	{ "max-dim", required_argument, NULL, OPT_MAXDIM },
	{ "max-id-bytes", required_argument, NULL, OPT_MAXID },
	{ "max-inflight", required_argument, NULL, OPT_INFLIGHT },
	{ "redis-user", required_argument, NULL, OPT_RUSER },
	{ "sentinel-user", required_argument, NULL, OPT_SUSER },
	{ "tls-cert", required_argument, NULL, OPT_TLSCERT },
	{ "tls-key", required_argument, NULL, OPT_TLSKEY },
	{ "tls-ca", required_argument, NULL, OPT_TLSCA },
	{ "tls-verify-clients", no_argument, NULL, OPT_TLSVERIFY },
	{ "hedge-ms", required_argument, NULL, OPT_HEDGE },
	{ "vsim-threads", required_argument, NULL, OPT_VSIMTHREADS },
	{ "wait-replicas", required_argument, NULL, OPT_WAITN },
	{ "wait-ms", required_argument, NULL, OPT_WAITMS },
	{ "survey-listen", required_argument, NULL, OPT_SURVEY },
	{ "metrics-listen", required_argument, NULL, OPT_METRICS },
	{ "frame-timeout-ms", required_argument, NULL, OPT_FRAMETMO },
	{ "max-conn-inflight", required_argument, NULL, OPT_CONNINFLIGHT },
	{ "max-conn-pending-bytes", required_argument, NULL, OPT_CONNPENDING },
	{ "max-buffered-bytes", required_argument, NULL, OPT_MAXBUFFERED },
	{ "resp-listen", required_argument, NULL, OPT_RESPLISTEN },
	{ "resp-partial", required_argument, NULL, OPT_RESPPARTIAL },
	{ "resp-user", required_argument, NULL, OPT_RESPUSER },
	{ "log-level", required_argument, NULL, OPT_LOGLEVEL },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

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
		fprintf(stderr, "vsetd: %s wants a whole number from %lld to "
		    "%lld, not \"%s\"\n", opt, min, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* "host:port", "[v6]:port" -> ep. */
static int
vsd_parse_endpoint(const char *s, size_t len, struct vsd_endpoint *ep)
{
	char buf[300], *colon;
	long long port;

	if (len == 0 || len >= sizeof(buf))
		goto bad;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if ((colon = strrchr(buf, ':')) == NULL || colon == buf)
		goto bad;
	*colon = '\0';
	if (vsd_parse_num("--shard port", colon + 1, 1, 65535, &port) != 0)
		return -1;
	if (buf[0] == '[' && colon[-1] == ']') {
		colon[-1] = '\0';
		ep->host = strdup(buf + 1);
	} else {
		ep->host = strdup(buf);
	}
	ep->port = (int)port;
	return ep->host != NULL ? 0 : -1;
bad:
	fprintf(stderr, "vsetd: --shard wants HOST:PORT[,HOST:PORT...] or "
	    "sentinel://HOST:PORT[,HOST:PORT...]/MASTER_NAME, not \"%.*s\"\n",
	    (int)len, s);
	return -1;
}

static void
vsd_free_shards(struct vsd_config *cfg)
{
	uint32_t i;
	int j;

	for (i = 0; i < cfg->nshards; i++) {
		for (j = 0; j < cfg->shards[i].nep; j++)
			free(cfg->shards[i].ep[j].host);
		for (j = 0; j < cfg->shards[i].nsentinel; j++)
			free(cfg->shards[i].sentinel[j].host);
		free(cfg->shards[i].sentinel_master);
	}
	free(cfg->shards);
	cfg->shards = NULL;
	cfg->nshards = 0;
}

/* sentinel://HOST:PORT[,HOST:PORT...]/MASTER_NAME: rest is what follows
 * the scheme.  The endpoints are asked at start (sentinel.c). */
#define VSD_SENTINEL_SCHEME "sentinel://"
static int
vsd_add_sentinel_shard(struct vsd_shard_addr *a, const char *rest)
{
	const char *slash = strrchr(rest, '/'), *p = rest, *comma, *c;
	size_t len;

	if (slash == NULL || slash[1] == '\0' || slash == rest) {
		fprintf(stderr, "vsetd: --shard wants sentinel://HOST:PORT"
		    "[,HOST:PORT...]/MASTER_NAME, not \"%s%s\"\n",
		    VSD_SENTINEL_SCHEME, rest);
		return -1;
	}
	if (strlen(slash + 1) >= VSD_MAX_MASTER_NAME) {
		fprintf(stderr, "vsetd: --shard: a Sentinel master name has at "
		    "most %d bytes\n", VSD_MAX_MASTER_NAME - 1);
		return -1;
	}
	for (c = slash + 1; *c != '\0'; c++) {
		if (*c <= ' ' || *c > '~' || *c == '"' || *c == '\\') {
			fprintf(stderr, "vsetd: --shard: the Sentinel master "
			    "name \"%s\" has a space, control byte, quote or "
			    "backslash\n", slash + 1);
			return -1;
		}
	}
	if ((a->sentinel_master = strdup(slash + 1)) == NULL)
		return -1;
	while (p < slash) {
		comma = memchr(p, ',', (size_t)(slash - p));
		len = comma ? (size_t)(comma - p) : (size_t)(slash - p);
		if (a->nsentinel == VSD_MAX_SENTINELS) {
			fprintf(stderr, "vsetd: --shard: at most %d Sentinels\n",
			    VSD_MAX_SENTINELS);
			return -1;
		}
		if (vsd_parse_endpoint(p, len, &a->sentinel[a->nsentinel]) != 0)
			return -1;
		a->nsentinel++;
		p += len + (comma ? 1 : 0);
	}
	return 0;
}

static int
vsd_add_shard(struct vsd_config *cfg, const char *arg)
{
	struct vsd_shard_addr *n, *a;
	const char *p = arg, *comma;

	if (cfg->nshards >= VSD_MAX_SHARDS) {
		fprintf(stderr, "vsetd: at most %d shards\n", VSD_MAX_SHARDS);
		return -1;
	}
	if ((n = realloc(cfg->shards, (cfg->nshards + 1) * sizeof(*n))) == NULL)
		return -1;
	cfg->shards = n;
	a = &cfg->shards[cfg->nshards];
	memset(a, 0, sizeof(*a));
	cfg->nshards++;
	if (strncmp(arg, VSD_SENTINEL_SCHEME, strlen(VSD_SENTINEL_SCHEME)) == 0)
		return vsd_add_sentinel_shard(a, arg + strlen(VSD_SENTINEL_SCHEME));
	for (;;) {
		comma = strchr(p, ',');
		if (a->nep == VSD_MAX_ENDPOINTS) {
			fprintf(stderr, "vsetd: --shard: at most %d replicas\n",
			    VSD_MAX_ENDPOINTS - 1);
			return -1;
		}
		if (vsd_parse_endpoint(p, comma ? (size_t)(comma - p) :
		    strlen(p), &a->ep[a->nep]) != 0)
			return -1;
		a->nep++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

/* Keep a string read from the file; the config owns it. */
static const char *
vsd_own(struct vsd_config *cfg, const char *s)
{
	char **n, *d;

	if ((d = strdup(s)) == NULL)
		return NULL;
	if ((n = realloc(cfg->owned, (cfg->nowned + 1) * sizeof(*n))) == NULL) {
		free(d);
		return NULL;
	}
	cfg->owned = n;
	cfg->owned[cfg->nowned++] = d;
	return d;
}

/* Apply one setting.  from_file: value strings must be copied.  Returns 0,
 * or an exit status (0 after --help/--version is signalled by 1000). */
#define VSD_EXIT_OK 1000
static int
vsd_apply(struct vsd_config *cfg, int opt, const char *val, int from_file)
{
	long long v = 0;

	if (from_file && val != NULL && opt != OPT_SHARD &&
	    (val = vsd_own(cfg, val)) == NULL)
		return 1;
	switch (opt) {
	case OPT_LISTEN:
		cfg->listen = val;
		return 0;
	case OPT_SHARD:
		return vsd_add_shard(cfg, val) == 0 ? 0 : 2;
	case OPT_WORKERS:
		if (vsd_parse_num("--workers", val, 1, 256, &v) != 0)
			return 2;
		cfg->workers = (int)v;
		return 0;
	case OPT_LOOPS:
		if (vsd_parse_num("--loops", val, 1, VSD_MAX_LOOPS, &v) != 0)
			return 2;
		cfg->loops = (int)v;
		return 0;
	case OPT_DEADLINE:
		if (vsd_parse_num("--deadline-ms", val, 1, 600000, &v) != 0)
			return 2;
		cfg->deadline_ms = (int)v;
		return 0;
	case OPT_SHARDTIMEOUT:
		if (vsd_parse_num("--shard-timeout-ms", val, 1, 600000, &v) != 0)
			return 2;
		cfg->shard_timeout_ms = (int)v;
		return 0;
	case OPT_SHARDSTALL:
		if (vsd_parse_num("--shard-stall-ms", val, 1, 600000, &v) != 0)
			return 2;
		cfg->shard_stall_ms = (int)v;
		return 0;
	case OPT_MAXMSG:
		if (vsd_parse_num("--max-message-bytes", val, 1024, 1LL << 30,
		    &v) != 0)
			return 2;
		cfg->max_message_bytes = (size_t)v;
		return 0;
	case OPT_MAXBATCH:
		if (vsd_parse_num("--max-batch", val, 1, 1000000, &v) != 0)
			return 2;
		cfg->max_batch = (uint32_t)v;
		return 0;
	case OPT_MAXK:
		if (vsd_parse_num("--max-k", val, 1, 100000, &v) != 0)
			return 2;
		cfg->max_k = (uint32_t)v;
		return 0;
	case OPT_MAXDIM:
		if (vsd_parse_num("--max-dim", val, 1, 1 << 20, &v) != 0)
			return 2;
		cfg->max_dim = (uint32_t)v;
		return 0;
	case OPT_MAXID:
		if (vsd_parse_num("--max-id-bytes", val, 1, 65536, &v) != 0)
			return 2;
		cfg->max_id_bytes = (uint32_t)v;
		return 0;
	case OPT_INFLIGHT:
		if (vsd_parse_num("--max-inflight", val, 1, 65536, &v) != 0)
			return 2;
		cfg->max_inflight = (int)v;
		return 0;
	case OPT_FRAMETMO:
		if (vsd_parse_num("--frame-timeout-ms", val, 100, 3600000,
		    &v) != 0)
			return 2;
		cfg->frame_timeout_ms = (int)v;
		return 0;
	case OPT_CONNINFLIGHT:
		if (vsd_parse_num("--max-conn-inflight", val, 1, 65536, &v) != 0)
			return 2;
		cfg->max_conn_inflight = (int)v;
		return 0;
	case OPT_CONNPENDING:
		if (vsd_parse_num("--max-conn-pending-bytes", val, 4096,
		    1LL << 40, &v) != 0)
			return 2;
		cfg->max_conn_pending = (size_t)v;
		return 0;
	case OPT_MAXBUFFERED:
		if (vsd_parse_num("--max-buffered-bytes", val, 1LL << 20,
		    1LL << 44, &v) != 0)
			return 2;
		cfg->max_buffered = (size_t)v;
		return 0;
	case OPT_RUSER:
		cfg->redis_user = val;
		return 0;
	case OPT_RPASS:
		cfg->redis_password = val;
		return 0;
	case OPT_RESPLISTEN:
		cfg->resp_listen = val;
		return 0;
	case OPT_RESPPARTIAL:
		if (strcmp(val, "error") != 0 && strcmp(val, "allow") != 0) {
			fprintf(stderr, "vsetd: --resp-partial wants error or "
			    "allow, not \"%s\"\n", val);
			return 2;
		}
		cfg->resp_partial_allow = strcmp(val, "allow") == 0;
		return 0;
	case OPT_RESPUSER:
		cfg->resp_user = val;
		return 0;
	case OPT_VSIMTHREADS:
		if (strcmp(val, "auto") == 0)
			cfg->vsim_threads = VSD_VSIM_THREADS_AUTO;
		else if (strcmp(val, "on") == 0)
			cfg->vsim_threads = VSD_VSIM_THREADS_ON;
		else if (strcmp(val, "off") == 0)
			cfg->vsim_threads = VSD_VSIM_THREADS_OFF;
		else {
			fprintf(stderr, "vsetd: --vsim-threads wants auto, on "
			    "or off, not \"%s\"\n", val);
			return 2;
		}
		return 0;
	case OPT_RESPPASS:
		cfg->resp_password = val;
		return 0;
	case OPT_SUSER:
		cfg->sentinel_user = val;
		return 0;
	case OPT_SPASS:
		cfg->sentinel_password = val;
		return 0;
	case OPT_TLSCERT:
		cfg->tls_cert = val;
		return 0;
	case OPT_TLSKEY:
		cfg->tls_key = val;
		return 0;
	case OPT_TLSCA:
		cfg->tls_ca = val;
		return 0;
	case OPT_TLSVERIFY:
		if (val == NULL || strcmp(val, "yes") == 0 ||
		    strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
			cfg->tls_verify_clients = 1;
		else if (strcmp(val, "no") == 0 || strcmp(val, "false") == 0 ||
		    strcmp(val, "0") == 0)
			cfg->tls_verify_clients = 0;
		else {
			fprintf(stderr, "vsetd: tls-verify-clients wants yes "
			    "or no, not \"%s\"\n", val);
			return 2;
		}
		return 0;
	case OPT_SURVEY:
		cfg->survey_listen = val;
		return 0;
	case OPT_METRICS:
		if (strncmp(val, "http://", 7) != 0) {
			fprintf(stderr, "vsetd: --metrics-listen wants "
			    "http://HOST:PORT, not \"%s\"\n", val);
			return 2;
		}
		cfg->metrics_listen = val;
		return 0;
	case OPT_HEDGE:
		if (vsd_parse_num("--hedge-ms", val, 0, 600000, &v) != 0)
			return 2;
		cfg->hedge_ms = (int)v;
		return 0;
	case OPT_WAITN:
		if (vsd_parse_num("--wait-replicas", val, 0, 16, &v) != 0)
			return 2;
		cfg->wait_replicas = (int)v;
		return 0;
	case OPT_WAITMS:
		if (vsd_parse_num("--wait-ms", val, 1, 600000, &v) != 0)
			return 2;
		cfg->wait_ms = (int)v;
		return 0;
	case OPT_LOGLEVEL:
		if ((cfg->log_level = vsd_log_parse_level(val)) < 0) {
			fprintf(stderr, "vsetd: --log-level wants error, "
			    "warn, info or debug, not \"%s\"\n", val);
			return 2;
		}
		return 0;
	case OPT_VERSION:
		printf("vsetd %s\n", VSETD_VERSION);
		return VSD_EXIT_OK;
	case 'h':
		vsd_usage(stdout);
		return VSD_EXIT_OK;
	default:
		return 2;
	}
}

static char *
vsd_trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
vsd_config_file(struct vsd_config *cfg, const char *path)
{
	char line[4096], *name, *val, *eq;
	const struct option *o;
	int lineno = 0, rv = 0, opt;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "vsetd: --config %s: %s\n", path, strerror(errno));
		return 2;
	}
	while (rv == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		name = vsd_trim(line);
		if (*name == '\0' || *name == '#')
			continue;
		if ((eq = strchr(name, '=')) == NULL) {
			fprintf(stderr, "vsetd: %s:%d: want \"name = value\"\n",
			    path, lineno);
			rv = 2;
			break;
		}
		*eq = '\0';
		name = vsd_trim(name);
		val = vsd_trim(eq + 1);
		opt = 0;
		if (strcmp(name, "redis-password") == 0)
			opt = OPT_RPASS;
		else if (strcmp(name, "resp-password") == 0)
			opt = OPT_RESPPASS;
		else if (strcmp(name, "sentinel-password") == 0)
			opt = OPT_SPASS;
		for (o = vsd_opts; opt == 0 && o->name != NULL; o++)
			if (strcmp(o->name, name) == 0)
				opt = o->val;
		if (opt == 0 || opt == OPT_CONFIG || opt == OPT_VERSION ||
		    opt == 'h') {
			fprintf(stderr, "vsetd: %s:%d: unknown setting \"%s\"\n",
			    path, lineno, name);
			rv = 2;
			break;
		}
		if ((rv = vsd_apply(cfg, opt, val, 1)) != 0)
			fprintf(stderr, "vsetd: (in %s:%d)\n", path, lineno);
	}
	fclose(f);
	return rv;
}

void
vsd_url_bound(const char *url, int port, char *out, size_t outlen)
{
	const char *host, *path;
	size_t n;

	snprintf(out, outlen, "%s", url);
	if (port == 0 || (host = strstr(url, "://")) == NULL)
		return;
	host += 3;
	path = strchr(host, '/');
	n = path != NULL ? (size_t)(path - url) : strlen(url);
	if ((size_t)(host - url) + 2 > n || strncmp(url + n - 2, ":0", 2) != 0)
		return;
	snprintf(out, outlen, "%.*s:%d%s", (int)(n - 2), url, port,
	    path != NULL ? path : "");
}

int
vsd_listen_is_tls(const char *url)
{
	return strncmp(url, "tls+", 4) == 0 || strncmp(url, "wss://", 6) == 0;
}

static int
vsd_check(struct vsd_config *cfg)
{
	int tls = vsd_listen_is_tls(cfg->listen);
	int resp_tls = cfg->resp_listen != NULL &&
	    strncmp(cfg->resp_listen, "tls://", 6) == 0;

	if (cfg->nshards == 0) {
		fprintf(stderr, "vsetd: no shards: give at least one "
		    "--shard HOST:PORT\n");
		return 2;
	}
	if (tls && (cfg->tls_cert == NULL || cfg->tls_key == NULL)) {
		fprintf(stderr, "vsetd: %s needs --tls-cert and --tls-key\n",
		    cfg->listen);
		return 2;
	}
	if (resp_tls && (cfg->tls_cert == NULL || cfg->tls_key == NULL)) {
		fprintf(stderr, "vsetd: --resp-listen %s needs --tls-cert and "
		    "--tls-key\n", cfg->resp_listen);
		return 2;
	}
	if (!tls && !resp_tls && (cfg->tls_cert != NULL ||
	    cfg->tls_verify_clients)) {
		fprintf(stderr, "vsetd: TLS settings given but neither --listen "
		    "%s is a tls+ or wss:// URL nor --resp-listen a tls:// one\n",
		    cfg->listen);
		return 2;
	}
	if (cfg->tls_verify_clients && cfg->tls_ca == NULL) {
		fprintf(stderr, "vsetd: --tls-verify-clients needs --tls-ca\n");
		return 2;
	}
	if (cfg->max_buffered == 0) {
		cfg->max_buffered = VSD_DEFAULT_MAX_BUFFERED;
		if (cfg->max_buffered < 4 * cfg->max_message_bytes)
			cfg->max_buffered = 4 * cfg->max_message_bytes;
	}
	if (cfg->max_buffered < cfg->max_message_bytes) {
		fprintf(stderr, "vsetd: --max-buffered-bytes (%zu) must be at "
		    "least --max-message-bytes (%zu)\n", cfg->max_buffered,
		    cfg->max_message_bytes);
		return 2;
	}
	/* Derived defaults of the native listener's bounds */
	if (cfg->max_conn_pending == 0)
		cfg->max_conn_pending = 2 * cfg->max_message_bytes;
	if (cfg->max_conn_inflight > cfg->max_inflight)
		cfg->max_conn_inflight = cfg->max_inflight;
	return 0;
}

int
vsd_config_parse(struct vsd_config *cfg, int argc, char **argv)
{
	const char *env;
	int c, rv, cmdline_shards = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = VSD_DEFAULT_LISTEN;
	cfg->workers = 4;
	cfg->loops = 1;
	cfg->deadline_ms = 1000;
	cfg->shard_timeout_ms = VSD_DEFAULT_SHARD_TIMEOUT_MS;
	cfg->shard_stall_ms = VSD_DEFAULT_SHARD_STALL_MS;
	cfg->vsim_threads = VSD_VSIM_THREADS_ON;
	cfg->max_message_bytes = 16u << 20;
	cfg->max_batch = 10000;
	cfg->max_k = 1000;
	cfg->max_dim = 32768;
	cfg->max_id_bytes = 1024;
	cfg->max_inflight = 256;
	cfg->frame_timeout_ms = VSD_DEFAULT_FRAME_TIMEOUT_MS;
	cfg->max_conn_inflight = VSD_DEFAULT_CONN_INFLIGHT;
	cfg->max_buffered = 0;          /* derived after parsing */
	cfg->wait_ms = 100;
	cfg->log_level = VSD_LOG_INFO;

	/* Pass 1: --config (and --help/--version, which win over all). */
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", vsd_opts, NULL)) != -1) {
		if (c == 'h' || c == OPT_VERSION) {
			vsd_apply(cfg, c, NULL, 0);
			return 0;
		}
		if (c == OPT_CONFIG && (rv = vsd_config_file(cfg, optarg)) != 0)
			goto usage;
		if (c == OPT_SHARD)
			cmdline_shards = 1;
	}
	/* The environment, then pass 2: the flags. */
	if ((env = getenv("VSETD_REDIS_USER")) != NULL && *env != '\0')
		cfg->redis_user = env;
	if ((env = getenv("VSETD_REDIS_PASSWORD")) != NULL && *env != '\0')
		cfg->redis_password = env;
	if ((env = getenv("VSETD_RESP_PASSWORD")) != NULL && *env != '\0')
		cfg->resp_password = env;
	if ((env = getenv("VSETD_SENTINEL_USER")) != NULL && *env != '\0')
		cfg->sentinel_user = env;
	if ((env = getenv("VSETD_SENTINEL_PASSWORD")) != NULL && *env != '\0')
		cfg->sentinel_password = env;
	if ((env = getenv("VSETD_LOOPS")) != NULL && *env != '\0') {
		if ((rv = vsd_apply(cfg, OPT_LOOPS, env, 0)) != 0)
			goto usage;
	}
	if (cmdline_shards)
		vsd_free_shards(cfg);   /* the command line's list replaces */
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", vsd_opts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG:
			continue;
		case ':':
			fprintf(stderr, "vsetd: %s needs a value\n",
			    argv[optind - 1]);
			rv = 2;
			goto usage;
		case '?':
			fprintf(stderr, "vsetd: unknown option \"%s\"\n",
			    argv[optind - 1]);
			rv = 2;
			goto usage;
		default:
			if ((rv = vsd_apply(cfg, c, optarg, 0)) != 0)
				goto usage;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vsetd: unexpected argument \"%s\"\n", argv[optind]);
		rv = 2;
		goto usage;
	}
	if ((rv = vsd_check(cfg)) != 0)
		goto usage;
	return VSD_CONFIG_RUN;
usage:
	if (rv == VSD_EXIT_OK)
		return 0;
	fprintf(stderr, "Try 'vsetd --help'.\n");
	return rv;
}

void
vsd_config_fini(struct vsd_config *cfg)
{
	size_t i;

	vsd_free_shards(cfg);
	for (i = 0; i < cfg->nowned; i++)
		free(cfg->owned[i]);
	free(cfg->owned);
	cfg->owned = NULL;
	cfg->nowned = 0;
}
