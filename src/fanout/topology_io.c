/*
 * topology_io.c - reading the topology record from the shards (design in
 * topology.h): once at start-up, before any worker exists, with plain
 * blocking hiredis connections bounded by a timeout; and again during a
 * call when a shard says the router's epoch is old (topology_reload.c).
 *
 * At start-up the shards of a longer stored layout are appended to
 * cfg->shards; then the shard table (shard/table.h) takes over, and the
 * first view (view.h) is the adopted record's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "table.h"
#include "topology.h"
#include "view.h"

#define VSD_TOPO_ERRLEN 300

/* Parse an HGETALL reply into *t: the answer kind; why gets the reason
 * for MALFORMED. */
int
vsd_topo_from_reply(const redisReply *r, struct vsd_topo *t, char *why,
    size_t whylen)
{
	const char *f[VSD_TOPO_MAX_FIELDS], *v[VSD_TOPO_MAX_FIELDS];
	size_t fl[VSD_TOPO_MAX_FIELDS], vl[VSD_TOPO_MAX_FIELDS], i, n;
	int rv;

	if (r == NULL)
		return VSD_TOPO_UNREACHABLE;
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, whylen, "HGETALL answered %.150s", r->str);
		return VSD_TOPO_MALFORMED;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) {
		snprintf(why, whylen, "HGETALL answered no hash");
		return VSD_TOPO_MALFORMED;
	}
	n = r->elements / 2;
	if (n > VSD_TOPO_MAX_FIELDS) {
		snprintf(why, whylen, "%zu fields (at most %d)", n,
		    VSD_TOPO_MAX_FIELDS);
		return VSD_TOPO_MALFORMED;
	}
	for (i = 0; i < n; i++) {
		const redisReply *k = r->element[2 * i], *x = r->element[2 * i + 1];

		if (k->type != REDIS_REPLY_STRING ||
		    x->type != REDIS_REPLY_STRING) {
			snprintf(why, whylen, "HGETALL answered a non-string");
			return VSD_TOPO_MALFORMED;
		}
		f[i] = k->str;
		fl[i] = (size_t)k->len;
		v[i] = x->str;
		vl[i] = (size_t)x->len;
	}
	rv = vsd_topo_parse(f, fl, v, vl, n, t, why, whylen);
	return rv == 1 ? VSD_TOPO_ABSENT : rv == 0 ? VSD_TOPO_RECORD :
	    VSD_TOPO_MALFORMED;
}

/* One shard's record over a fresh blocking connection. */
static int
vsd_topo_read_one(const struct vsd_config *cfg, const struct vsd_endpoint *ep,
    int timeout_ms, struct vsd_topo *t, char *why, size_t whylen)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	redisContext *c;
	redisReply *r = NULL;
	int kind = VSD_TOPO_UNREACHABLE;

	c = redisConnectWithTimeout(ep->host, ep->port, tv);
	if (c == NULL || c->err) {
		snprintf(why, whylen, "%s", c != NULL ? c->errstr :
		    "out of memory");
		goto out;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK)
		goto out;
	if (cfg->redis_password != NULL) {
		r = cfg->redis_user != NULL ? redisCommand(c, "AUTH %s %s",
		    cfg->redis_user, cfg->redis_password) :
		    redisCommand(c, "AUTH %s", cfg->redis_password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			snprintf(why, whylen, "AUTH: %.150s", r != NULL ?
			    r->str : c->errstr);
			goto out;
		}
		freeReplyObject(r);
	}
	r = redisCommand(c, "HGETALL %s", VSD_TOPO_KEY);
	if (r == NULL) {
		snprintf(why, whylen, "%s", c->errstr);
		goto out;
	}
	/* An error other than WRONGTYPE (NOAUTH, LOADING...) says nothing
	 * about the record: like a shard that did not answer. */
	if (r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "WRONGTYPE", strlen("WRONGTYPE")) != 0) {
		snprintf(why, whylen, "%.150s", r->str);
		goto out;
	}
	kind = vsd_topo_from_reply(r, t, why, whylen);
out:
	if (r != NULL)
		freeReplyObject(r);
	if (c != NULL)
		redisFree(c);
	return kind;
}

/* Append addr (host:port, checked) to cfg's shards as a primary. */
static int
vsd_topo_append(struct vsd_config *cfg, const struct vsd_topo_addr *addr)
{
	struct vsd_shard_addr *n, *a;
	const char *colon = strrchr(addr->s, ':');
	size_t hostlen = (size_t)(colon - addr->s);
	const char *host = addr->s;

	if (host[0] == '[') {        /* [v6]:port, as config.c stores it */
		host++;
		hostlen -= 2;
	}
	if ((n = realloc(cfg->shards, (cfg->nshards + 1) * sizeof(*n))) == NULL)
		return -1;
	cfg->shards = n;
	a = &cfg->shards[cfg->nshards];
	memset(a, 0, sizeof(*a));
	if ((a->ep[0].host = strndup(host, hostlen)) == NULL)
		return -1;
	a->ep[0].port = atoi(colon + 1);
	a->nep = 1;
	cfg->nshards++;
	return 0;
}

int
vsd_topo_startup(struct vsd_config *cfg, int timeout_ms)
{
	struct vsd_topo **rec = NULL, **distinct = NULL, *out = NULL;
	const struct vsd_topo *adopted = NULL;
	const struct vsd_topo_addr *all;
	struct vsd_topo *scratch = NULL;
	struct vsd_topo_addr *cli = NULL;
	char **why = NULL, err[VSD_TOPO_ERRLEN];
	char *list = NULL;
	int *answer = NULL, verdict, status = 1;
	uint32_t i, j, n = cfg->nshards, nabsent, nunreach = 0, ndistinct = 0;
	uint32_t nall;

	/* A sentinel:// shard is known by its master's name, and its
	 * primary's address (what the record lists) changes at every
	 * failover: records do not name such shards yet, so a deployment
	 * with one runs at epoch 0 without the start-up check. */
	for (i = 0; i < n; i++) {
		if (cfg->shards[i].sentinel_master != NULL) {
			vsd_info("sentinel:// shards: the topology record "
			    "(vsetd:@topology) is not checked at start-up");
			status = 0;
			goto out;
		}
	}
	/* Records are large (topology.h) and nearly always identical: keep
	 * each distinct one once, and every shard's pointer to its own. */
	rec = calloc(n, sizeof(*rec));
	distinct = calloc(n, sizeof(*distinct));
	scratch = malloc(sizeof(*scratch));
	why = calloc(n, sizeof(*why));
	answer = calloc(n, sizeof(*answer));
	cli = calloc(n, sizeof(*cli));
	out = calloc(1, sizeof(*out));
	list = malloc(VSD_TOPO_MAX_LIST);
	if (rec == NULL || distinct == NULL || scratch == NULL || why == NULL ||
	    answer == NULL || cli == NULL || out == NULL || list == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if ((why[i] = calloc(1, VSD_TOPO_ERRLEN)) == NULL)
			goto out;
		if (vsd_topo_addr_of(&cfg->shards[i].ep[0], &cli[i]) != 0) {
			fprintf(stderr, "vsetd: --shard %u: host too long\n",
			    i);
			status = VSD_EXIT_TOPOLOGY;
			goto out;
		}
		answer[i] = vsd_topo_read_one(cfg, &cfg->shards[i].ep[0],
		    timeout_ms, scratch, why[i], VSD_TOPO_ERRLEN);
		for (j = 0; answer[i] == VSD_TOPO_RECORD && j < ndistinct; j++)
			if (vsd_topo_equal(distinct[j], scratch))
				rec[i] = distinct[j];
		if (answer[i] == VSD_TOPO_RECORD && rec[i] == NULL) {
			if ((distinct[ndistinct] = malloc(sizeof(*scratch))) ==
			    NULL)
				goto out;
			memcpy(distinct[ndistinct], scratch, sizeof(*scratch));
			rec[i] = distinct[ndistinct++];
		}
		if (answer[i] == VSD_TOPO_UNREACHABLE) {
			nunreach++;
			vsd_warn("topology: shard %u (%s) did not answer (%s); "
			    "deciding from the others", i, cli[i].s, why[i]);
		}
	}
	verdict = vsd_topo_reconcile(cli, n, answer,
	    (const struct vsd_topo *const *)rec, (const char *const *)why,
	    out, &nabsent, err, sizeof(err));
	if (verdict == VSD_TOPO_REFUSE) {
		vsd_err("topology: refusing to start: %s (docs/operations.md, "
		    "\"Growing and shrinking\", says how to repair)", err);
		status = VSD_EXIT_TOPOLOGY;
		goto out;
	}
	if (verdict == VSD_TOPO_NONE) {
		if (nunreach == n)
			vsd_warn("topology: no shard answered; starting with "
			    "the --shard list at epoch 0 (writes are refused "
			    "by the shards if that is out of date)");
		else
			vsd_info("topology: no record in %s; the %u --shard "
			    "are the layout, epoch 0", VSD_TOPO_KEY, n);
		status = 0;
		goto out;
	}
	/* During a move the longer of the two layouts names every shard. */
	all = out->nfrom > out->nshards ? out->from : out->shards;
	nall = out->nfrom > out->nshards ? out->nfrom : out->nshards;
	for (i = n; i < nall; i++)
		if (vsd_topo_append(cfg, &all[i]) != 0)
			goto out;
	vsd_topo_format_list(out->shards, out->nshards, list,
	    VSD_TOPO_MAX_LIST);
	if (nall > n)
		vsd_info("topology: adopted epoch %llu (phase %s) from the "
		    "shards: %u shards %s (the --shard list named only the "
		    "first %u)", (unsigned long long)out->epoch,
		    vsd_topo_phase_name(out->phase), out->nshards, list, n);
	else
		vsd_info("topology: epoch %llu (phase %s), %u shards %s",
		    (unsigned long long)out->epoch,
		    vsd_topo_phase_name(out->phase), out->nshards, list);
	adopted = out;
	for (i = 0; i < n && nabsent > 0; i++)
		if (answer[i] == VSD_TOPO_ABSENT)
			vsd_warn("topology: shard %u (%s) holds no %s while "
			    "others hold epoch %llu: it refuses writes until "
			    "the record is copied to it", i, cli[i].s,
			    VSD_TOPO_KEY, (unsigned long long)out->epoch);
	status = 0;
out:
	if (status == 0 && vsd_table_init(cfg) != 0)
		status = 1;
	if (status == 0)
		vsd_view_start(adopted, cfg->nshards);
	if (status == 1)
		fprintf(stderr, "vsetd: out of memory reading the topology\n");
	for (i = 0; i < n; i++) {
		if (why != NULL)
			free(why[i]);
		if (i < ndistinct)
			free(distinct[i]);
	}
	free(rec);
	free(distinct);
	free(scratch);
	free(why);
	free(answer);
	free(cli);
	free(out);
	free(list);
	return status;
}
