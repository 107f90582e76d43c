/*
 * collection.c - collection metadata: storage format, parsing, checks and
 * the process-wide cache (see collection.h for the design).
 */
#include <sys/random.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collection.h"
#include "fence.h"
#include "round.h"
#include "vs_time.h"

#define VSD_COLL_CACHE_SLOTS 64
/* More fields than any vsetd writes, with room for newer versions'. */
#define VSD_META_MAX_FIELDS 32
/* EVALSHA sha 1 key + 7 field/value pairs */
#define VSD_ADOPT_ARGC 18

struct vsd_coll_cache_entry {
	char name[VSD_MAX_COLLECTION_BYTES + 1];
	struct vsd_coll_params p;
	int64_t at_us;
};

static pthread_mutex_t vsd_coll_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vsd_coll_cache_entry vsd_coll_cache[VSD_COLL_CACHE_SLOTS];
static unsigned vsd_coll_next;      /* round-robin replacement */

const char *
vsd_meta_key(struct vsd_call *call, const char *collection, size_t *len)
{
	size_t n = strlen(collection) + sizeof(VSD_META_PREFIX);
	char *key;

	if ((key = vsd_call_alloc(call, n)) == NULL)
		return NULL;
	*len = (size_t)snprintf(key, n, "%s%s", VSD_META_PREFIX, collection);
	return key;
}

const char *
vsd_quant_vadd(int quant)
{
	switch (quant) {
	case VSD_QUANT_NOQUANT:
		return "NOQUANT";
	case VSD_QUANT_BIN:
		return "BIN";
	default:
		return "Q8";
	}
}

const char *
vsd_quant_name(int quant)
{
	switch (quant) {
	case VSD_QUANT_NOQUANT:
		return "noquant";
	case VSD_QUANT_BIN:
		return "bin";
	default:
		return "q8";
	}
}

int
vsd_coll_params_equal(const struct vsd_coll_params *a,
    const struct vsd_coll_params *b)
{
	return a->dim == b->dim && a->quant == b->quant && a->m == b->m &&
	    a->reduce == b->reduce && a->build_ef == b->build_ef;
}

static int
vsd_parse_u32(const char *s, uint32_t *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (end == s || *end != '\0' || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int
vsd_coll_gen_ok(const char *g, size_t len)
{
	size_t i;

	if (len == 0 || len >= VSD_GEN_MAX || strlen(g) != len ||
	    strcmp(g, VSD_GEN_NONE) == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!((g[i] >= '0' && g[i] <= '9') ||
		    (g[i] >= 'a' && g[i] <= 'z') || g[i] == '-'))
			return 0;
	return 1;
}

#define VSD_BAD(msg) do { *why = (msg); return -1; } while (0)

int
vsd_coll_parse(const redisReply *r, struct vsd_coll_params *p,
    const char **why)
{
	size_t i;
	int have_dim = 0;

	*why = "not a hash";
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
		return -1;
	if (r->elements == 0)
		return 0;
	if (r->elements > VSD_META_MAX_FIELDS * 2)
		VSD_BAD("too many fields");
	memset(p, 0, sizeof(*p));
	p->quant = VSD_QUANT_Q8;
	p->m = VSD_DEFAULT_M;
	snprintf(p->gen, sizeof(p->gen), "%s", VSD_GEN_LEGACY);
	for (i = 0; i < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		uint32_t *dst = NULL;

		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			VSD_BAD("a field or value is not a string");
		if (strcmp(k->str, "quant") == 0) {
			if (strcmp(v->str, "noquant") == 0)
				p->quant = VSD_QUANT_NOQUANT;
			else if (strcmp(v->str, "bin") == 0)
				p->quant = VSD_QUANT_BIN;
			else if (strcmp(v->str, "q8") == 0)
				p->quant = VSD_QUANT_Q8;
			else
				VSD_BAD("unknown quant");
			continue;
		}
		if (strcmp(k->str, "gen") == 0) {
			if (!vsd_coll_gen_ok(v->str, v->len))
				VSD_BAD("malformed gen");
			memcpy(p->gen, v->str, v->len + 1);
			continue;
		}
		if (strcmp(k->str, "dim") == 0) {
			dst = &p->dim;
			have_dim = 1;
		} else if (strcmp(k->str, "m") == 0) {
			dst = &p->m;
		} else if (strcmp(k->str, "reduce") == 0) {
			dst = &p->reduce;
		} else if (strcmp(k->str, "build_ef") == 0) {
			dst = &p->build_ef;
		}
		/* Unknown fields come from newer versions: ignore them. */
		if (dst != NULL && vsd_parse_u32(v->str, dst) != 0)
			VSD_BAD("a number field is not a number");
	}
	if (!have_dim || p->dim == 0 || p->dim > VSD_META_MAX_DIM)
		VSD_BAD("dim missing or out of range");
	if (p->m < VSD_MIN_M || p->m > VSD_MAX_M)
		VSD_BAD("m out of range");
	if (p->reduce >= p->dim)
		VSD_BAD("reduce not smaller than dim");
	if (p->build_ef > VSD_MAX_EF)
		VSD_BAD("build_ef out of range");
	return 1;
}

#undef VSD_BAD

void
vsd_coll_new_gen(struct vsd_coll_params *p)
{
	struct timespec ts;
	uint64_t rnd = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd ^= (uint64_t)vs_now_us() * 0x9e3779b97f4a7c15ULL ^
		    (uint64_t)pthread_self();
	snprintf(p->gen, sizeof(p->gen), "%" PRIx64 "-%016" PRIx64,
	    (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u,
	    rnd);
}

int
vsd_coll_adopt_cmd(struct vsd_call *call, struct vsd_cmd *cmd, uint32_t shard,
    const char *metakey, size_t metalen, const struct vsd_coll_params *p)
{
	struct vsd_argv a;

	if (vsd_argv_init(call, &a, VSD_ADOPT_ARGC) != 0)
		return -1;
	vsd_argv_str(&a, "EVALSHA");
	vsd_argv_str(&a, vsd_script_sha(VSD_SCRIPT_META_ADOPT));
	vsd_argv_str(&a, "1");
	vsd_argv_add(&a, metakey, metalen);
	vsd_argv_str(&a, "dim");
	if (vsd_argv_u64(call, &a, p->dim) != 0)
		return -1;
	vsd_argv_str(&a, "quant");
	vsd_argv_str(&a, vsd_quant_name(p->quant));
	vsd_argv_str(&a, "m");
	if (vsd_argv_u64(call, &a, p->m) != 0)
		return -1;
	vsd_argv_str(&a, "reduce");
	if (vsd_argv_u64(call, &a, p->reduce) != 0)
		return -1;
	vsd_argv_str(&a, "build_ef");
	if (vsd_argv_u64(call, &a, p->build_ef) != 0)
		return -1;
	vsd_argv_str(&a, "version");
	vsd_argv_str(&a, "1");
	vsd_argv_str(&a, "gen");
	vsd_argv_str(&a, p->gen);
	if (a.argc != VSD_ADOPT_ARGC)
		return -1;
	vsd_argv_to_cmd(&a, cmd, shard);
	return 0;
}

int
vsd_coll_gen_cmd(struct vsd_call *call, struct vsd_cmd *cmd, uint32_t shard,
    const char *metakey, size_t metalen)
{
	struct vsd_argv a;

	if (vsd_argv_init(call, &a, 4) != 0)
		return -1;
	vsd_argv_str(&a, "HMGET");
	vsd_argv_add(&a, metakey, metalen);
	vsd_argv_str(&a, "gen");
	vsd_argv_str(&a, "dim");
	vsd_argv_to_cmd(&a, cmd, shard);
	return 0;
}

const char *
vsd_coll_gen_of(const redisReply *r)
{
	const redisReply *g, *d;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
		return NULL;
	g = r->element[0];
	d = r->element[1];
	if (g->type == REDIS_REPLY_STRING)
		return vsd_coll_gen_ok(g->str, g->len) ? g->str : NULL;
	if (g->type != REDIS_REPLY_NIL)
		return NULL;
	return d->type == REDIS_REPLY_NIL ? VSD_GEN_NONE : VSD_GEN_LEGACY;
}

/* ------------------------------------------------------------ cache */

int
vsd_coll_cache_get(const char *collection, struct vsd_coll_params *p)
{
	int64_t now = vs_now_us();
	int i, hit = 0;

	pthread_mutex_lock(&vsd_coll_mu);
	for (i = 0; i < VSD_COLL_CACHE_SLOTS; i++) {
		struct vsd_coll_cache_entry *e = &vsd_coll_cache[i];

		if (e->name[0] == '\0' || strcmp(e->name, collection) != 0)
			continue;
		if (now - e->at_us < (int64_t)VSD_COLL_CACHE_MS * 1000) {
			*p = e->p;
			hit = 1;
		}
		break;
	}
	pthread_mutex_unlock(&vsd_coll_mu);
	return hit;
}

void
vsd_coll_cache_put(const char *collection, const struct vsd_coll_params *p)
{
	struct vsd_coll_cache_entry *e = NULL;
	int i;

	if (strlen(collection) > VSD_MAX_COLLECTION_BYTES)
		return;
	pthread_mutex_lock(&vsd_coll_mu);
	for (i = 0; i < VSD_COLL_CACHE_SLOTS; i++)
		if (strcmp(vsd_coll_cache[i].name, collection) == 0) {
			e = &vsd_coll_cache[i];
			break;
		}
	if (e == NULL) {
		e = &vsd_coll_cache[vsd_coll_next++ % VSD_COLL_CACHE_SLOTS];
		snprintf(e->name, sizeof(e->name), "%s", collection);
	}
	e->p = *p;
	e->at_us = vs_now_us();
	pthread_mutex_unlock(&vsd_coll_mu);
}

void
vsd_coll_cache_drop(const char *collection)
{
	int i;

	pthread_mutex_lock(&vsd_coll_mu);
	for (i = 0; i < VSD_COLL_CACHE_SLOTS; i++)
		if (strcmp(vsd_coll_cache[i].name, collection) == 0)
			vsd_coll_cache[i].name[0] = '\0';
	pthread_mutex_unlock(&vsd_coll_mu);
}

/* ------------------------------------------------------------ load */

int
vsd_coll_load(struct vsd_call *call, const char *collection,
    int flags, struct vsd_coll_params *p, int *found, uint8_t *missing)
{
	uint32_t s, nshards = call->view.nall, answered = 0;
	size_t per = (flags & VSD_LOAD_TYPE) ? 2 : 1;
	struct vsd_cmd *cmds;
	const char *key, *datakey = NULL;
	size_t keylen, datalen = 0;
	int rv, wrongtype = 0;

	*found = 0;
	if (missing != NULL)
		memset(missing, 0, nshards);
	if ((flags & VSD_LOAD_CACHE) && vsd_coll_cache_get(collection, p)) {
		*found = 1;
		return VSD_OK;
	}
	key = vsd_meta_key(call, collection, &keylen);
	if (per == 2)
		datakey = vsd_call_key(call, collection, &datalen);
	cmds = vsd_call_alloc(call, nshards * per * sizeof(*cmds));
	if (key == NULL || cmds == NULL || (per == 2 && datakey == NULL))
		return vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
	for (s = 0; s < nshards; s++) {
		struct vsd_argv a;

		if (vsd_argv_key(call, &a, "HGETALL", key, keylen) != 0)
			return vsd_status_set(&call->st,
			    VSD_RESOURCE_EXHAUSTED, "out of memory");
		vsd_argv_to_cmd(&a, &cmds[s * per], s);
		if (per == 1)
			continue;
		if (vsd_argv_key(call, &a, "TYPE", datakey, datalen) != 0)
			return vsd_status_set(&call->st,
			    VSD_RESOURCE_EXHAUSTED, "out of memory");
		vsd_argv_to_cmd(&a, &cmds[s * per + 1], s);
	}
	vsd_round_run(call, cmds, nshards * per, VSD_RUN_READ,
	    vsd_round_half_deadline(call));
	for (s = 0; s < nshards; s++) {
		struct vsd_coll_params got;
		const redisReply *r = cmds[s * per].reply;
		struct vsd_shard_result *res = &call->w->res[s];
		const char *why;

		if (r == NULL)
			continue;
		if (r->type == REDIS_REPLY_ERROR) {
			if (vsd_redis_error_code(r->str) ==
			    VSD_FAILED_PRECONDITION)
				return vsd_status_set(&call->st,
				    VSD_FAILED_PRECONDITION, "shard %u: %s "
				    "holds another type: %s", s, key, r->str);
			continue;
		}
		if ((rv = vsd_coll_parse(r, &got, &why)) < 0) {
			res->state = VSD_SHARD_FAILED;
			snprintf(res->error, sizeof(res->error), "protocol "
			    "error: malformed metadata in %s: %s", key, why);
			continue;
		}
		if (per == 2) {
			const redisReply *t = cmds[s * per + 1].reply;

			if (t != NULL && (t->type == REDIS_REPLY_STATUS ||
			    t->type == REDIS_REPLY_STRING) &&
			    strcmp(t->str, "none") != 0 &&
			    strcmp(t->str, "vectorset") != 0 && !wrongtype)
				wrongtype = vsd_status_set(&call->st,
				    VSD_FAILED_PRECONDITION, "shard %u: key "
				    "%.*s holds a %s, not a vector set", s,
				    (int)datalen, datakey, t->str);
		}
		answered++;
		if (rv == 0) {
			if (missing != NULL)
				missing[s] = 1;
			continue;
		}
		/* Shard 0 is the authority (collection.h): it answers
		 * first in this loop, so its copy wins when present. */
		if (!*found)
			*p = got;
		*found = 1;
	}
	/* Another type where a missing collection would be created: refuse
	 * before anything is written (an existing collection reports it per
	 * item, from the shard that holds it). */
	if (wrongtype && !*found)
		return wrongtype;
	if (wrongtype)
		memset(&call->st, 0, sizeof(call->st));
	if (answered == 0)
		return vsd_round_no_answer(call, "reading collection metadata");
	if (*found)
		vsd_coll_cache_put(collection, p);
	return VSD_OK;
}
