/*
 * mover_io.c - the mover's I/O helpers (mover_priv.h): rounds where every
 * shard must answer, SCANs, the collections and their metadata, and
 * connections of its own to a shard the router does not route to (the
 * shard being added, before it is checked; the shard removed, after).
 *
 * The mover needs every shard it addresses: unlike a search, a step that
 * lacks one shard's answer cannot do half of its work safely, so it
 * fails with UNAVAILABLE naming the shard and the driver steps again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "fence.h"
#include "mover_priv.h"
#include "shards.h"
#include "vs_time.h"

#define VSD_KEYS_INITIAL 64

uint64_t
vsd_mv_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *
vsd_mv_addr(const struct vsd_mv *mv, uint32_t s)
{
	if (mv->t != NULL && s < mv->t->nshards)
		return mv->t->shards[s].s;
	if (mv->t != NULL && s < mv->t->nfrom)
		return mv->t->from[s].s;
	return "?";
}

void
vsd_mv_widen(struct vsd_mv *mv, uint32_t n)
{
	if (mv->call->view.nall < n)
		mv->call->view.nall = n;
}

int
vsd_mv_no_answer(struct vsd_mv *mv, uint32_t s)
{
	const struct vsd_shard_result *r = &mv->call->w->res[s];

	return vsd_status_set(&mv->call->st, vsd_shard_state_code(r->state),
	    "shard %u (%s): %s", s, vsd_mv_addr(mv, s), r->error[0] != '\0' ?
	    r->error : "no answer in time");
}

int
vsd_mv_run(struct vsd_mv *mv, struct vsd_cmd *cmds, size_t n, int kind)
{
	struct vsd_call *call = mv->call;
	size_t i;

	if (n == 0)
		return VSD_OK;
	vsd_fence_run(call, cmds, n, kind, call->deadline_us);
	for (i = 0; i < n; i++)
		if (cmds[i].reply == NULL)
			return vsd_mv_no_answer(mv, cmds[i].shard);
	return VSD_OK;
}

int
vsd_mv_reply_err(struct vsd_mv *mv, const struct vsd_cmd *c,
    const char *what)
{
	const redisReply *r = c->reply;
	int code;

	if (r == NULL || r->type != REDIS_REPLY_ERROR)
		return VSD_OK;
	code = vsd_redis_error_code(r->str);
	if (code == VSD_INVALID_ARGUMENT)
		code = VSD_INTERNAL;         /* we built the command */
	return vsd_status_set(&mv->call->st, code, "shard %u (%s): %s: %s",
	    c->shard, vsd_mv_addr(mv, c->shard), what, r->str);
}

int
vsd_mv_proto(struct vsd_mv *mv, uint32_t s, const char *what)
{
	vsd_reply_protocol_error(mv->call, s, "%s", what);
	return vsd_status_set(&mv->call->st, VSD_UNAVAILABLE, "shard %u (%s): "
	    "protocol error: %s", s, vsd_mv_addr(mv, s), what);
}

/* ------------------------------------------------------------ SCAN */

/* Append key k to the growing array. */
static int
vsd_keys_add(struct vsd_mv *mv, struct vsd_mv_key **keys, size_t *n,
    size_t *cap, uint32_t shard, const char *k, size_t len)
{
	struct vsd_mv_key *grown;

	if (*n == *cap) {
		size_t ncap = *cap != 0 ? *cap * 2 : VSD_KEYS_INITIAL;

		if ((grown = vsd_call_alloc(mv->call, ncap * sizeof(*grown))) ==
		    NULL)
			return -1;
		if (*n > 0)
			memcpy(grown, *keys, *n * sizeof(*grown));
		*keys = grown;
		*cap = ncap;
	}
	if (((*keys)[*n].k = vsd_call_strdup(mv->call, k, len)) == NULL)
		return -1;
	(*keys)[*n].shard = shard;
	(*keys)[*n].len = len;
	(*n)++;
	return 0;
}

int
vsd_mv_scan(struct vsd_mv *mv, const uint32_t *shards, uint32_t n,
    const char *pattern, struct vsd_mv_key **keys, size_t *nkeys)
{
	struct vsd_call *call = mv->call;
	struct vsd_cmd *cmds;
	char **cursor;
	size_t cap = 0, m, i, j;
	uint32_t s;
	int round, rv;

	*keys = NULL;
	*nkeys = 0;
	cmds = vsd_call_alloc(call, n * sizeof(*cmds));
	cursor = vsd_call_alloc(call, n * sizeof(*cursor));
	if (cmds == NULL || cursor == NULL)
		return call->st.code;
	for (s = 0; s < n; s++)
		cursor[s] = "0";
	for (round = 0; round < VSD_MV_SCAN_MAX_ROUNDS; round++) {
		uint32_t *who = vsd_call_alloc(call, n * sizeof(*who));

		/* cmds is rebuilt: free its replies first (round.h) */
		vsd_call_release(call);
		if (who == NULL)
			return call->st.code;
		for (s = 0, m = 0; s < n; s++) {
			struct vsd_argv a;

			if (round > 0 && strcmp(cursor[s], "0") == 0)
				continue;
			if (vsd_argv_init(call, &a, 6) != 0)
				return call->st.code;
			vsd_argv_str(&a, "SCAN");
			vsd_argv_str(&a, cursor[s]);
			vsd_argv_str(&a, "MATCH");
			vsd_argv_str(&a, pattern);
			vsd_argv_str(&a, "COUNT");
			vsd_argv_str(&a, VSD_MV_SCAN_COUNT);
			vsd_argv_to_cmd(&a, &cmds[m], shards[s]);
			who[m++] = s;
		}
		if (m == 0)
			return VSD_OK;
		if (vs_now_us() >= call->deadline_us)
			return vsd_status_set(&call->st, VSD_DEADLINE_EXCEEDED,
			    "listing keys (%s) did not finish in time",
			    pattern);
		if ((rv = vsd_mv_run(mv, cmds, m, VSD_RUN_WRITE)) != VSD_OK)
			return rv;
		for (i = 0; i < m; i++) {
			const redisReply *r = cmds[i].reply, *c, *ks;

			if ((rv = vsd_mv_reply_err(mv, &cmds[i], "SCAN")) !=
			    VSD_OK)
				return rv;
			if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
			    (c = r->element[0])->type != REDIS_REPLY_STRING ||
			    (ks = r->element[1])->type != REDIS_REPLY_ARRAY)
				return vsd_mv_proto(mv, cmds[i].shard,
				    "SCAN answered no [cursor, keys]");
			if ((cursor[who[i]] = vsd_call_strdup(call, c->str,
			    (size_t)c->len)) == NULL)
				return call->st.code;
			for (j = 0; j < ks->elements; j++) {
				const redisReply *k = ks->element[j];

				if (k->type != REDIS_REPLY_STRING)
					return vsd_mv_proto(mv, cmds[i].shard,
					    "SCAN answered a key that is not a "
					    "string");
				if (vsd_keys_add(mv, keys, nkeys, &cap,
				    cmds[i].shard, k->str, (size_t)k->len) != 0)
					return call->st.code;
			}
		}
	}
	return vsd_status_set(&call->st, VSD_INTERNAL, "listing keys (%s) "
	    "took more than %d SCAN rounds", pattern, VSD_MV_SCAN_MAX_ROUNDS);
}

int
vsd_mv_unlink(struct vsd_mv *mv, const struct vsd_mv_key *keys, size_t n)
{
	struct vsd_cmd *cmds;
	size_t i;

	if (n == 0)
		return VSD_OK;
	if ((cmds = vsd_call_alloc(mv->call, n * sizeof(*cmds))) == NULL)
		return mv->call->st.code;
	for (i = 0; i < n; i++) {
		struct vsd_argv a;

		if (vsd_argv_key(mv->call, &a, "UNLINK", keys[i].k,
		    keys[i].len) != 0)
			return mv->call->st.code;
		vsd_argv_to_cmd(&a, &cmds[i], keys[i].shard);
	}
	return vsd_mv_run(mv, cmds, n, VSD_RUN_WRITE);
}

/* ------------------------------------------------------------ collections */

static int
vsd_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
vsd_mv_load_colls(struct vsd_mv *mv, uint32_t n, const char **orphan)
{
	struct vsd_call *call = mv->call;
	const size_t mlen = strlen(VSD_META_PREFIX), plen = strlen("vsetd:");
	struct vsd_mv_key *keys;
	struct vsd_cmd *cmds;
	const char **names, **data;
	uint32_t *shards, s;
	size_t nkeys, nn = 0, nd = 0, i, j;
	int rv;

	if (orphan != NULL)
		*orphan = NULL;
	if ((shards = vsd_call_alloc(call, n * sizeof(*shards))) == NULL)
		return call->st.code;
	for (s = 0; s < n; s++)
		shards[s] = s;
	if ((rv = vsd_mv_scan(mv, shards, n, "vsetd:*", &keys, &nkeys)) !=
	    VSD_OK)
		return rv;
	names = vsd_call_alloc(call, (nkeys + 1) * sizeof(*names));
	data = vsd_call_alloc(call, (nkeys + 1) * sizeof(*data));
	if (names == NULL || data == NULL)
		return call->st.code;
	for (i = 0; i < nkeys; i++) {
		const char *k = keys[i].k;

		if (strncmp(k, VSD_META_PREFIX, mlen) == 0 && k[mlen] != '\0')
			names[nn++] = k + mlen;
		else if (k[plen] != '@')
			data[nd++] = k + plen;
	}
	qsort(names, nn, sizeof(*names), vsd_name_cmp);
	for (i = 0, j = 0; i < nn; i++)
		if (j == 0 || strcmp(names[j - 1], names[i]) != 0)
			names[j++] = names[i];
	nn = j;
	for (i = 0; orphan != NULL && i < nd && *orphan == NULL; i++)
		if (bsearch(&data[i], names, nn, sizeof(*names),
		    vsd_name_cmp) == NULL)
			*orphan = data[i];
	mv->ncolls = nn;
	mv->ncoll_shards = n;
	mv->colls = vsd_call_alloc(call, (nn + 1) * sizeof(*mv->colls));
	cmds = vsd_call_alloc(call, (nn * n + 1) * sizeof(*cmds));
	if (mv->colls == NULL || cmds == NULL)
		return call->st.code;
	for (i = 0; i < nn; i++) {
		const char *mk;
		size_t mklen;

		mv->colls[i].name = names[i];
		if ((mv->colls[i].missing = vsd_call_alloc(call, n)) == NULL ||
		    (mk = vsd_meta_key(call, names[i], &mklen)) == NULL)
			return call->st.code;
		for (s = 0; s < n; s++) {
			struct vsd_argv a;

			if (vsd_argv_key(call, &a, "HGETALL", mk, mklen) != 0)
				return call->st.code;
			vsd_argv_to_cmd(&a, &cmds[i * n + s], s);
		}
	}
	if ((rv = vsd_mv_run(mv, cmds, nn * n, VSD_RUN_WRITE)) != VSD_OK)
		return rv;
	for (i = 0; i < nn; i++) {
		struct vsd_mv_coll *c = &mv->colls[i];

		for (s = 0; s < n; s++) {
			struct vsd_coll_params p;
			const char *why;

			if ((rv = vsd_mv_reply_err(mv, &cmds[i * n + s],
			    "reading collection metadata")) != VSD_OK)
				return rv;
			rv = vsd_coll_parse(cmds[i * n + s].reply, &p, &why);
			if (rv < 0)
				return vsd_mv_proto(mv, s, why);
			if (rv == 0) {
				c->missing[s] = 1;
				continue;
			}
			/* Shard 0 first: the authority (collection.h). */
			if (!c->found)
				c->p = p;
			c->found = 1;
		}
	}
	return VSD_OK;
}

int
vsd_mv_sync_meta(struct vsd_mv *mv)
{
	struct vsd_call *call = mv->call;
	uint32_t n = mv->ncoll_shards, s;
	struct vsd_cmd *cmds;
	size_t i, m = 0;
	int rv;

	if ((cmds = vsd_call_alloc(call, (mv->ncolls * n + 1) *
	    sizeof(*cmds))) == NULL)
		return call->st.code;
	for (i = 0; i < mv->ncolls; i++) {
		struct vsd_mv_coll *c = &mv->colls[i];
		const char *mk;
		size_t mklen;

		if (!c->found)
			continue;
		if ((mk = vsd_meta_key(call, c->name, &mklen)) == NULL)
			return call->st.code;
		for (s = 0; s < n; s++)
			if (c->missing[s] && vsd_coll_adopt_cmd(call,
			    &cmds[m++], s, mk, mklen, &c->p) != 0)
				return call->st.code;
	}
	if ((rv = vsd_mv_run(mv, cmds, m, VSD_RUN_WRITE)) != VSD_OK)
		return rv;
	for (i = 0; i < m; i++)
		if ((rv = vsd_mv_reply_err(mv, &cmds[i], "copying collection "
		    "metadata")) != VSD_OK)
			return rv;
	for (i = 0; i < mv->ncolls; i++)
		memset(mv->colls[i].missing, 0, n);
	return VSD_OK;
}

/* ------------------------------------------------------------ direct */

int
vsd_mv_direct(struct vsd_mv *mv, const char *addr, redisContext **out)
{
	struct vsd_call *call = mv->call;
	const struct vsd_config *cfg = call->w->cfg;
	int64_t left_ms = (call->deadline_us - vs_now_us()) / 2000;
	char host[VSD_TOPO_MAX_ADDR + 1];
	const char *colon = strrchr(addr, ':');
	const char *h = addr;
	size_t hlen;
	struct timeval tv;
	redisContext *c;
	redisReply *r;

	*out = NULL;
	if (colon == NULL)
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
		    "shard \"%s\" is not host:port", addr);
	hlen = (size_t)(colon - addr);
	if (h[0] == '[' && hlen >= 2) {
		h++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
		    "shard \"%s\": host too long", addr);
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (left_ms > VSD_MV_DIRECT_MAX_MS)
		left_ms = VSD_MV_DIRECT_MAX_MS;
	if (left_ms <= 0)
		return vsd_status_set(&call->st, VSD_DEADLINE_EXCEEDED,
		    "no time left to reach shard %s", addr);
	tv.tv_sec = left_ms / 1000;
	tv.tv_usec = (left_ms % 1000) * 1000;
	c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
	if (c == NULL || c->err) {
		vsd_status_set(&call->st, VSD_UNAVAILABLE, "shard %s does not "
		    "answer: %s", addr, c != NULL ? c->errstr :
		    "out of memory");
		goto fail;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		vsd_status_set(&call->st, VSD_UNAVAILABLE, "shard %s: %s",
		    addr, c->errstr);
		goto fail;
	}
	if (cfg->redis_password != NULL) {
		r = cfg->redis_user != NULL ? redisCommand(c, "AUTH %s %s",
		    cfg->redis_user, cfg->redis_password) :
		    redisCommand(c, "AUTH %s", cfg->redis_password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			vsd_status_set(&call->st, VSD_UNAVAILABLE, "shard %s: "
			    "AUTH: %s", addr, r != NULL ? r->str : c->errstr);
			if (r != NULL)
				freeReplyObject(r);
			goto fail;
		}
		freeReplyObject(r);
	}
	r = redisCommand(c, "PING");
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		vsd_status_set(&call->st, VSD_UNAVAILABLE, "shard %s does not "
		    "answer PING: %s", addr, r != NULL ? r->str : c->errstr);
		if (r != NULL)
			freeReplyObject(r);
		goto fail;
	}
	freeReplyObject(r);
	*out = c;
	return VSD_OK;
fail:
	if (c != NULL)
		redisFree(c);
	return call->st.code;
}

int
vsd_mv_direct_wipe(struct vsd_mv *mv, redisContext *rc,
    int (*keep)(const char *k, size_t len), int *complete, const char **kept)
{
	struct vsd_call *call = mv->call;
	char cursor[32] = "0";
	int round;

	*complete = 0;
	if (kept != NULL)
		*kept = NULL;
	for (round = 0; round < VSD_MV_SCAN_MAX_ROUNDS; round++) {
		redisReply *r, *ks;
		size_t j;

		if (vs_now_us() >= mv->stop_us)
			return VSD_OK;
		r = redisCommand(rc, "SCAN %s MATCH vsetd:* COUNT %s", cursor,
		    VSD_MV_SCAN_COUNT);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
		    r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    (size_t)r->element[0]->len >= sizeof(cursor) ||
		    (ks = r->element[1])->type != REDIS_REPLY_ARRAY) {
			vsd_status_set(&call->st, VSD_UNAVAILABLE, "SCAN: %s",
			    r == NULL ? rc->errstr : r->type ==
			    REDIS_REPLY_ERROR ? r->str : "unexpected reply");
			if (r != NULL)
				freeReplyObject(r);
			return call->st.code;
		}
		memcpy(cursor, r->element[0]->str,
		    (size_t)r->element[0]->len + 1);
		for (j = 0; j < ks->elements; j++) {
			const redisReply *k = ks->element[j];
			redisReply *d;

			if (k->type != REDIS_REPLY_STRING)
				continue;
			if (keep != NULL && keep(k->str, (size_t)k->len) != 0) {
				if (keep(k->str, (size_t)k->len) == 2 &&
				    kept != NULL && *kept == NULL)
					*kept = vsd_call_strdup(call, k->str,
					    (size_t)k->len);
				continue;
			}
			d = redisCommand(rc, "UNLINK %b", k->str,
			    (size_t)k->len);
			if (d == NULL) {
				freeReplyObject(r);
				return vsd_status_set(&call->st,
				    VSD_UNAVAILABLE, "UNLINK: %s", rc->errstr);
			}
			freeReplyObject(d);
		}
		freeReplyObject(r);
		if (strcmp(cursor, "0") == 0) {
			*complete = 1;
			return VSD_OK;
		}
	}
	return VSD_OK;
}
