/*
 * mover_copy.c - the mover's passes over (collection, source shard)
 * pairs (mover.h): list the source's key once per pass, page through the
 * list from the cursor stored next to it, and for each id that moves
 * either copy it exactly to its new owner (copy pass) or delete it from
 * the shard it must leave (clean and abort passes).  The cursor advances
 * only after the page's writes were acknowledged, so a step that fails or
 * a driver killed mid-page redoes that page, which is harmless: copies
 * skip what is there, VREM of an absent id does nothing.
 *
 * A copy is three rounds, R1 (destination: counter, state, presence), R2
 * (source: VEMB RAW, VGETATTR), R3 (destination: the copy script); why
 * this order loses no router write is the argument in mover.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elemcopy.h"
#include "fence.h"
#include "log.h"
#include "mover_priv.h"
#include "shards.h"
#include "vs_time.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "VADD FP32 blobs are little-endian: add a byte swap for this host"
#endif

/* R3's arguments: EVALSHA sha 4 + 4 keys + gen epoch id counter attrs +
 * FP32 blob id quant [EF n] [SETATTR json] M m. */
#define VSD_COPY_ARGC 22
#define VSD_EPOCH_LEN 24

static const char *const vsd_pass_names[] = { "copy", "clean", "abort" };

/* One id of a page being copied. */
struct vsd_cp {
	const char *id;
	size_t idlen;
	uint32_t to;                 /* destination shard */
	const char *counter;         /* R1 */
	int need;                    /* still to copy */
	int outcome;                 /* enum below */
	float *vec;                  /* R2 */
	const char *attrs;           /* R2: "" none */
};

enum { VSD_CP_PENDING, VSD_CP_COPIED, VSD_CP_SKIPPED, VSD_CP_RETRY };

/* A pair's count of moving ids (vsd_pair_count). */
struct vsd_pair_count {
	int done;                    /* acc is the whole count */
	uint64_t at;                 /* else: counted up to this index */
	uint64_t acc;
};

/* The source shards of a pass. */
static uint32_t
vsd_pass_sources(const struct vsd_mv *mv, int pass,
    const struct vsd_phase_layout *l, uint32_t *first)
{
	if (pass == VSD_PASS_ABORT) {            /* remove only */
		*first = 0;
		return l->nnew;
	}
	if (mv->move == VSD_MOVE_REMOVE) {
		*first = l->nold - 1;
		return 1;
	}
	*first = 0;
	return l->nold;
}

int
vsd_mv_count(struct vsd_mv *mv, uint64_t to_move, uint64_t copied,
    uint64_t skipped, uint64_t cleaned)
{
	static const char *const f[] = { "to_move", "copied", "skipped",
	    "cleaned" };
	uint64_t v[] = { to_move, copied, skipped, cleaned };
	struct vsd_cmd *cmds = vsd_call_alloc(mv->call, 4 * sizeof(*cmds));
	size_t i, n = 0;
	int rv;

	/* In the arena, not on the stack: round.h frees their replies at
	 * the next round, after this function returned. */
	if (cmds == NULL)
		return mv->call->st.code;
	for (i = 0; i < 4; i++) {
		struct vsd_argv a;

		if (v[i] == 0)
			continue;
		if (vsd_argv_init(mv->call, &a, 4) != 0)
			return mv->call->st.code;
		vsd_argv_str(&a, "HINCRBY");
		vsd_argv_str(&a, VSD_MOVE_KEY);
		vsd_argv_str(&a, f[i]);
		if (vsd_argv_u64(mv->call, &a, v[i]) != 0)
			return mv->call->st.code;
		vsd_argv_to_cmd(&a, &cmds[n++], 0);
	}
	if ((rv = vsd_mv_run(mv, cmds, n, VSD_RUN_WRITE)) != VSD_OK)
		return rv;
	mv->prog.to_move += to_move;
	mv->prog.copied += copied;
	mv->prog.skipped += skipped;
	mv->prog.cleaned += cleaned;
	return VSD_OK;
}

/* ------------------------------------------------------------ copy */

/* R1 for ids[0..n) that still need it: counter, state and presence on
 * the destination.  Present without "noattr": done (skipped). */
static int
vsd_cp_r1(struct vsd_mv *mv, const struct vsd_mv_coll *c, struct vsd_cp *ids,
    size_t n)
{
	struct vsd_call *call = mv->call;
	const char *key, *marks;
	size_t keylen, markslen, i, m = 0;
	struct vsd_cmd *cmds;
	size_t *who;
	int rv;

	key = vsd_call_key(call, c->name, &keylen);
	marks = vsd_mv_marks_key(call, c->name, &markslen);
	cmds = vsd_call_alloc(call, (2 * n + 1) * sizeof(*cmds));
	who = vsd_call_alloc(call, (n + 1) * sizeof(*who));
	if (key == NULL || marks == NULL || cmds == NULL || who == NULL)
		return call->st.code;
	for (i = 0; i < n; i++) {
		struct vsd_argv a;
		char *f;

		if (!ids[i].need)
			continue;
		if (vsd_argv_init(call, &a, 4) != 0 ||
		    (f = vsd_call_alloc(call, 2 * (ids[i].idlen + 1))) == NULL)
			return call->st.code;
		f[0] = 'c';
		memcpy(f + 1, ids[i].id, ids[i].idlen);
		f[ids[i].idlen + 1] = 's';
		memcpy(f + ids[i].idlen + 2, ids[i].id, ids[i].idlen);
		vsd_argv_str(&a, "HMGET");
		vsd_argv_add(&a, marks, markslen);
		vsd_argv_add(&a, f, ids[i].idlen + 1);
		vsd_argv_add(&a, f + ids[i].idlen + 1, ids[i].idlen + 1);
		vsd_argv_to_cmd(&a, &cmds[2 * m], ids[i].to);
		if (vsd_argv_init(call, &a, 3) != 0)
			return call->st.code;
		vsd_argv_str(&a, "VISMEMBER");
		vsd_argv_add(&a, key, keylen);
		vsd_argv_add(&a, ids[i].id, ids[i].idlen);
		vsd_argv_to_cmd(&a, &cmds[2 * m + 1], ids[i].to);
		who[m++] = i;
	}
	if ((rv = vsd_mv_run(mv, cmds, 2 * m, VSD_RUN_WRITE)) != VSD_OK)
		return rv;
	for (i = 0; i < m; i++) {
		struct vsd_cp *x = &ids[who[i]];
		const redisReply *h = cmds[2 * i].reply, *p = cmds[2 * i + 1].reply;
		const redisReply *cnt, *st;

		if ((rv = vsd_mv_reply_err(mv, &cmds[2 * i], "HMGET")) !=
		    VSD_OK || (rv = vsd_mv_reply_err(mv, &cmds[2 * i + 1],
		    "VISMEMBER")) != VSD_OK)
			return rv;
		if (h->type != REDIS_REPLY_ARRAY || h->elements != 2 ||
		    p->type != REDIS_REPLY_INTEGER)
			return vsd_mv_proto(mv, cmds[2 * i].shard,
			    "HMGET or VISMEMBER answered an unexpected type");
		cnt = h->element[0];
		st = h->element[1];
		x->counter = cnt->type == REDIS_REPLY_STRING ?
		    vsd_call_strdup(call, cnt->str, (size_t)cnt->len) : "0";
		if (x->counter == NULL)
			return call->st.code;
		if (p->integer == 1 && !(st->type == REDIS_REPLY_STRING &&
		    strcmp(st->str, "noattr") == 0)) {
			x->need = 0;
			x->outcome = VSD_CP_SKIPPED;
		}
	}
	return VSD_OK;
}

/* R2: VEMB RAW and VGETATTR on the source.  Absent there (deleted since
 * the listing; the delete reached the new owner too): skipped. */
static int
vsd_cp_r2(struct vsd_mv *mv, const struct vsd_mv_coll *c, uint32_t src,
    struct vsd_cp *ids, size_t n)
{
	struct vsd_call *call = mv->call;
	const char *key;
	size_t keylen, i, m = 0;
	struct vsd_cmd *cmds;
	size_t *who;
	char why[VSD_MV_ERRLEN];
	int rv;

	key = vsd_call_key(call, c->name, &keylen);
	cmds = vsd_call_alloc(call, (2 * n + 1) * sizeof(*cmds));
	who = vsd_call_alloc(call, (n + 1) * sizeof(*who));
	if (key == NULL || cmds == NULL || who == NULL)
		return call->st.code;
	for (i = 0; i < n; i++) {
		struct vsd_argv a;

		if (!ids[i].need)
			continue;
		if (vsd_argv_init(call, &a, 4) != 0)
			return call->st.code;
		vsd_argv_str(&a, "VEMB");
		vsd_argv_add(&a, key, keylen);
		vsd_argv_add(&a, ids[i].id, ids[i].idlen);
		vsd_argv_str(&a, "RAW");
		vsd_argv_to_cmd(&a, &cmds[2 * m], src);
		if (vsd_argv_init(call, &a, 3) != 0)
			return call->st.code;
		vsd_argv_str(&a, "VGETATTR");
		vsd_argv_add(&a, key, keylen);
		vsd_argv_add(&a, ids[i].id, ids[i].idlen);
		vsd_argv_to_cmd(&a, &cmds[2 * m + 1], src);
		who[m++] = i;
	}
	if ((rv = vsd_mv_run(mv, cmds, 2 * m, VSD_RUN_WRITE)) != VSD_OK)
		return rv;
	for (i = 0; i < m; i++) {
		struct vsd_cp *x = &ids[who[i]];
		const redisReply *e = cmds[2 * i].reply, *at = cmds[2 * i + 1].reply;
		struct vsd_raw_elem raw;

		if ((rv = vsd_mv_reply_err(mv, &cmds[2 * i], "VEMB")) !=
		    VSD_OK || (rv = vsd_mv_reply_err(mv, &cmds[2 * i + 1],
		    "VGETATTR")) != VSD_OK)
			return rv;
		if (e->type == REDIS_REPLY_NIL) {
			x->need = 0;
			x->outcome = VSD_CP_SKIPPED;
			continue;
		}
		if (vsd_raw_parse(e, c->p.dim, &raw, why, sizeof(why)) != 0)
			return vsd_mv_proto(mv, src, why);
		if ((x->vec = vsd_call_alloc(call, c->p.dim *
		    sizeof(float))) == NULL)
			return call->st.code;
		rv = vsd_raw_preimage(&raw, c->p.dim, x->vec, why, sizeof(why));
		if (rv < 0)
			return vsd_status_set(&call->st, VSD_INTERNAL, "shard "
			    "%u (%s): element \"%.*s\" of \"%s\" cannot be "
			    "copied exactly: %s", src, vsd_mv_addr(mv, src),
			    (int)x->idlen, x->id, c->name, why);
		if (rv > 0)
			vsd_warn("mover: \"%s\" element \"%.*s\": %s",
			    c->name, (int)x->idlen, x->id, why);
		if (at->type == REDIS_REPLY_STRING)
			x->attrs = vsd_call_strdup(call, at->str,
			    (size_t)at->len);
		else if (at->type == REDIS_REPLY_NIL)
			x->attrs = "";
		else
			return vsd_mv_proto(mv, src, "VGETATTR answered "
			    "neither a string nor nil");
		if (x->attrs == NULL)
			return call->st.code;
	}
	return VSD_OK;
}

/* R3: the copy script on each destination.  *stale: the destination's
 * generation or epoch moved on (collection dropped, move aborted): the
 * step ends and the next one re-reads everything. */
static int
vsd_cp_r3(struct vsd_mv *mv, const struct vsd_mv_coll *c, struct vsd_cp *ids,
    size_t n, int *stale)
{
	struct vsd_call *call = mv->call;
	const struct vsd_coll_params *p = &c->p;
	const char *key, *marks, *meta;
	size_t keylen, markslen, metalen, i, m = 0;
	char epoch[VSD_EPOCH_LEN];
	struct vsd_cmd *cmds;
	size_t *who;
	int rv;

	snprintf(epoch, sizeof(epoch), "%llu",
	    (unsigned long long)mv->t->epoch);
	key = vsd_call_key(call, c->name, &keylen);
	marks = vsd_mv_marks_key(call, c->name, &markslen);
	meta = vsd_meta_key(call, c->name, &metalen);
	cmds = vsd_call_alloc(call, (n + 1) * sizeof(*cmds));
	who = vsd_call_alloc(call, (n + 1) * sizeof(*who));
	if (key == NULL || marks == NULL || meta == NULL || cmds == NULL ||
	    who == NULL)
		return call->st.code;
	for (i = 0; i < n; i++) {
		struct vsd_cp *x = &ids[i];
		struct vsd_argv a;
		int want;

		if (!x->need)
			continue;
		want = 18 + (p->build_ef != 0 ? 2 : 0) +
		    (x->attrs[0] != '\0' ? 2 : 0);
		if (vsd_argv_init(call, &a, VSD_COPY_ARGC) != 0)
			return call->st.code;
		vsd_argv_str(&a, "EVALSHA");
		vsd_argv_str(&a, vsd_script_sha(VSD_SCRIPT_MOVE_COPY));
		vsd_argv_str(&a, "4");
		vsd_argv_add(&a, meta, metalen);
		vsd_argv_str(&a, VSD_TOPOLOGY_KEY);
		vsd_argv_add(&a, key, keylen);
		vsd_argv_add(&a, marks, markslen);
		vsd_argv_str(&a, p->gen);
		vsd_argv_str(&a, epoch);
		vsd_argv_add(&a, x->id, x->idlen);
		vsd_argv_str(&a, x->counter);
		vsd_argv_str(&a, x->attrs);
		vsd_argv_str(&a, "FP32");
		vsd_argv_add(&a, x->vec, p->dim * sizeof(float));
		vsd_argv_add(&a, x->id, x->idlen);
		vsd_argv_str(&a, vsd_quant_vadd(p->quant));
		if (p->build_ef != 0) {
			vsd_argv_str(&a, "EF");
			if (vsd_argv_u64(call, &a, p->build_ef) != 0)
				return call->st.code;
		}
		if (x->attrs[0] != '\0') {
			vsd_argv_str(&a, "SETATTR");
			vsd_argv_str(&a, x->attrs);
		}
		vsd_argv_str(&a, "M");
		if (vsd_argv_u64(call, &a, p->m) != 0)
			return call->st.code;
		if (a.argc != want)
			return vsd_status_set(&call->st, VSD_INTERNAL, "copy of "
			    "\"%.*s\" has %d arguments, expected %d",
			    (int)x->idlen, x->id, a.argc, want);
		vsd_argv_to_cmd(&a, &cmds[m], x->to);
		who[m++] = i;
	}
	if ((rv = vsd_mv_run(mv, cmds, m, VSD_RUN_WRITE)) != VSD_OK)
		return rv;
	for (i = 0; i < m; i++) {
		struct vsd_cp *x = &ids[who[i]];
		const redisReply *r = cmds[i].reply;

		if (vsd_fence_is_stale(r)) {
			*stale = 1;
			x->outcome = VSD_CP_RETRY;
			continue;
		}
		if ((rv = vsd_mv_reply_err(mv, &cmds[i], "copying an "
		    "element")) != VSD_OK)
			return rv;
		if (r->type != REDIS_REPLY_STRING &&
		    r->type != REDIS_REPLY_STATUS)
			return vsd_mv_proto(mv, cmds[i].shard, "the copy "
			    "script answered no word");
		if (strcmp(r->str, "retry") == 0) {
			x->outcome = VSD_CP_RETRY;
			continue;
		}
		x->need = 0;
		x->outcome = strcmp(r->str, "copied") == 0 ||
		    strcmp(r->str, "attrs") == 0 ? VSD_CP_COPIED :
		    VSD_CP_SKIPPED;
	}
	return VSD_OK;
}

/* Copy ids[0..n) from src; afterwards each outcome is COPIED, SKIPPED or
 * RETRY (still contended after the tries, or stale). */
static int
vsd_cp_run(struct vsd_mv *mv, const struct vsd_mv_coll *c, uint32_t src,
    struct vsd_cp *ids, size_t n, int *stale)
{
	size_t i;
	int try, rv, left;

	for (try = 0; try < VSD_MV_COPY_TRIES && !*stale; try++) {
		for (i = 0, left = 0; i < n; i++) {
			if (ids[i].outcome == VSD_CP_PENDING ||
			    ids[i].outcome == VSD_CP_RETRY) {
				ids[i].need = 1;
				ids[i].outcome = VSD_CP_PENDING;
				left = 1;
			}
		}
		if (!left)
			break;
		if ((rv = vsd_cp_r1(mv, c, ids, n)) != VSD_OK ||
		    (rv = vsd_cp_r2(mv, c, src, ids, n)) != VSD_OK ||
		    (rv = vsd_cp_r3(mv, c, ids, n, stale)) != VSD_OK)
			return rv;
	}
	for (i = 0; i < n; i++)
		if (ids[i].outcome == VSD_CP_PENDING)
			ids[i].outcome = VSD_CP_RETRY;
	return VSD_OK;
}

/* ------------------------------------------------------------ VREM */

/* VREM ids[0..n) on shard s: *removed how many were there. */
static int
vsd_rm_run(struct vsd_mv *mv, const struct vsd_mv_coll *c, uint32_t s,
    struct vsd_cp *ids, size_t n, uint64_t *removed)
{
	struct vsd_call *call = mv->call;
	struct vsd_cmd *cmds;
	const char *key;
	size_t keylen, i;
	int rv;

	*removed = 0;
	key = vsd_call_key(call, c->name, &keylen);
	cmds = vsd_call_alloc(call, (n + 1) * sizeof(*cmds));
	if (key == NULL || cmds == NULL)
		return call->st.code;
	for (i = 0; i < n; i++) {
		struct vsd_argv a;

		if (vsd_argv_init(call, &a, 3) != 0)
			return call->st.code;
		vsd_argv_str(&a, "VREM");
		vsd_argv_add(&a, key, keylen);
		vsd_argv_add(&a, ids[i].id, ids[i].idlen);
		vsd_argv_to_cmd(&a, &cmds[i], s);
	}
	if ((rv = vsd_mv_run(mv, cmds, n, VSD_RUN_WRITE)) != VSD_OK)
		return rv;
	for (i = 0; i < n; i++) {
		if ((rv = vsd_mv_reply_err(mv, &cmds[i], "VREM")) != VSD_OK)
			return rv;
		if (cmds[i].reply->type == REDIS_REPLY_INTEGER &&
		    cmds[i].reply->integer == 1)
			(*removed)++;
		ids[i].outcome = VSD_CP_COPIED;
	}
	return VSD_OK;
}

/* ------------------------------------------------------------ pairs */

/* The field of vsetd:@mvc holding a pair's count of moving ids:
 * "@n:<collection>" ('@' is never in a collection's name). */
static const char *
vsd_count_field(struct vsd_call *call, const char *coll)
{
	size_t size = strlen(VSD_MV_COUNT_FIELD) + strlen(coll) + 1;
	char *f = vsd_call_alloc(call, size);

	if (f != NULL)
		snprintf(f, size, "%s%s", VSD_MV_COUNT_FIELD, coll);
	return f;
}

/* One page of a pair's list: LRANGE list[at .. at + page - 1] on the
 * source shard src.  *out: the array reply, at most page ids, owned by
 * the call (vsd_mv_run).  VSD_OK, or the status of the failure. */
static int
vsd_pair_page(struct vsd_mv *mv, uint32_t src, const char *list,
    size_t listlen, uint64_t at, uint64_t page, const redisReply **out)
{
	struct vsd_call *call = mv->call;
	struct vsd_cmd *cmd;
	struct vsd_argv a;
	const redisReply *r;
	int rv;

	cmd = vsd_call_alloc(call, sizeof(*cmd));
	if (cmd == NULL || vsd_argv_init(call, &a, 4) != 0)
		return call->st.code;
	vsd_argv_str(&a, "LRANGE");
	vsd_argv_add(&a, list, listlen);
	if (vsd_argv_u64(call, &a, at) != 0 ||
	    vsd_argv_u64(call, &a, at + page - 1) != 0)
		return call->st.code;
	vsd_argv_to_cmd(&a, cmd, src);
	if ((rv = vsd_mv_run(mv, cmd, 1, VSD_RUN_WRITE)) != VSD_OK ||
	    (rv = vsd_mv_reply_err(mv, cmd, "LRANGE")) != VSD_OK)
		return rv;
	r = cmd->reply;
	if (r->type != REDIS_REPLY_ARRAY || r->elements > page)
		return vsd_mv_proto(mv, src, "LRANGE answered no page of ids");
	*out = r;
	return VSD_OK;
}

/* Count the moving ids of a pair's list once (ReshardProgress.to_move
 * grows as pairs are listed), and store the count next to its cursor so
 * a resumed move does not count it twice: "<count>" when done, else
 * "<index>+<count so far>" (a long list counted over several steps), from
 * which it goes on (from_at, acc).  *counted 0 when the step's time ran
 * out first. */
static int
vsd_pair_count(struct vsd_mv *mv, int pass, const struct vsd_phase_layout *l,
    const struct vsd_mv_coll *c, uint32_t src, const char *list,
    size_t listlen, uint64_t len, uint64_t from_at, uint64_t acc,
    int *counted)
{
	struct vsd_call *call = mv->call;
	uint64_t at, nmove = acc;
	struct vsd_cmd *cmd;
	struct vsd_argv a;
	const char *f;
	char *val;
	int rv;

	*counted = 1;
	for (at = from_at; at < len; at += VSD_MV_COUNT_PAGE) {
		const redisReply *r;
		size_t i;

		if (vs_now_us() >= mv->stop_us) {
			*counted = 0;
			break;
		}
		if ((rv = vsd_pair_page(mv, src, list, listlen, at,
		    VSD_MV_COUNT_PAGE, &r)) != VSD_OK)
			return rv;
		for (i = 0; i < r->elements; i++) {
			const redisReply *e = r->element[i];
			uint32_t from, to;

			if (e->type == REDIS_REPLY_STRING &&
			    vsd_phase_moves(l, e->str, (size_t)e->len, &from,
			    &to) && (pass == VSD_PASS_ABORT ? to : from) == src)
				nmove++;
		}
		if (r->elements < VSD_MV_COUNT_PAGE) {
			at = len;
			break;
		}
	}
	cmd = vsd_call_alloc(call, sizeof(*cmd));
	val = vsd_call_alloc(call, 2 * VSD_EPOCH_LEN + 2);
	if (cmd == NULL || val == NULL ||
	    (f = vsd_count_field(call, c->name)) == NULL ||
	    vsd_argv_init(call, &a, 4) != 0)
		return call->st.code;
	if (*counted)
		snprintf(val, 2 * VSD_EPOCH_LEN + 2, "%llu",
		    (unsigned long long)nmove);
	else
		snprintf(val, 2 * VSD_EPOCH_LEN + 2, "%llu+%llu",
		    (unsigned long long)at, (unsigned long long)nmove);
	vsd_argv_str(&a, "HSET");
	vsd_argv_str(&a, VSD_MV_CURSOR_KEY);
	vsd_argv_str(&a, f);
	vsd_argv_str(&a, val);
	vsd_argv_to_cmd(&a, cmd, src);
	if ((rv = vsd_mv_run(mv, cmd, 1, VSD_RUN_WRITE)) != VSD_OK ||
	    (rv = vsd_mv_reply_err(mv, cmd, "saving the count")) != VSD_OK)
		return rv;
	mv->prog.to_move += nmove - acc;     /* acc was counted already */
	return VSD_OK;
}

/* Set the pair's cursor to "<pass>:<next>" or "<pass>:done" (and drop
 * the list when done). */
static int
vsd_pair_cursor(struct vsd_mv *mv, int pass, const struct vsd_mv_coll *c,
    uint32_t src, uint64_t next, int done)
{
	struct vsd_call *call = mv->call;
	struct vsd_cmd *cmds = vsd_call_alloc(call, 2 * sizeof(*cmds));
	const char *list = NULL;
	char *val;
	size_t listlen, n = 1, i;
	struct vsd_argv a;
	int rv;

	if (cmds == NULL || (val = vsd_call_alloc(call, VSD_EPOCH_LEN + 8)) ==
	    NULL)
		return call->st.code;
	if (done)
		snprintf(val, VSD_EPOCH_LEN + 8, "%s:done",
		    vsd_pass_names[pass]);
	else
		snprintf(val, VSD_EPOCH_LEN + 8, "%s:%llu",
		    vsd_pass_names[pass], (unsigned long long)next);
	if (vsd_argv_init(call, &a, 4) != 0)
		return call->st.code;
	vsd_argv_str(&a, "HSET");
	vsd_argv_str(&a, VSD_MV_CURSOR_KEY);
	vsd_argv_str(&a, c->name);
	vsd_argv_str(&a, val);
	vsd_argv_to_cmd(&a, &cmds[0], src);
	if (done) {
		size_t size = strlen(VSD_MV_LIST_PREFIX) + strlen(c->name) + 1;
		char *l = vsd_call_alloc(call, size);

		if (l == NULL)
			return call->st.code;
		listlen = (size_t)snprintf(l, size, "%s%s", VSD_MV_LIST_PREFIX,
		    c->name);
		list = l;
		if (vsd_argv_key(call, &a, "DEL", list, listlen) != 0)
			return call->st.code;
		vsd_argv_to_cmd(&a, &cmds[n++], src);
	}
	if ((rv = vsd_mv_run(mv, cmds, n, VSD_RUN_WRITE)) != VSD_OK)
		return rv;
	for (i = 0; i < n; i++)
		if ((rv = vsd_mv_reply_err(mv, &cmds[i], "saving the mover's "
		    "cursor")) != VSD_OK)
			return rv;
	return VSD_OK;
}

/* List the pair (once per pass): *len the list's length. */
static int
vsd_pair_list(struct vsd_mv *mv, int pass, const struct vsd_mv_coll *c,
    uint32_t src, uint64_t *len, const char **list, size_t *listlen)
{
	struct vsd_call *call = mv->call;
	const char *key;
	size_t keylen, size = strlen(VSD_MV_LIST_PREFIX) + strlen(c->name) + 1;
	struct vsd_cmd *cmd;
	struct vsd_argv a;
	char *l;
	int rv;

	key = vsd_call_key(call, c->name, &keylen);
	l = vsd_call_alloc(call, size);
	cmd = vsd_call_alloc(call, sizeof(*cmd));
	if (key == NULL || l == NULL || cmd == NULL ||
	    vsd_argv_init(call, &a, 9) != 0)
		return call->st.code;
	*listlen = (size_t)snprintf(l, size, "%s%s", VSD_MV_LIST_PREFIX,
	    c->name);
	*list = l;
	vsd_argv_str(&a, "EVALSHA");
	vsd_argv_str(&a, vsd_script_sha(VSD_SCRIPT_MOVE_LIST));
	vsd_argv_str(&a, "3");
	vsd_argv_add(&a, key, keylen);
	vsd_argv_add(&a, l, *listlen);
	vsd_argv_str(&a, VSD_MV_CURSOR_KEY);
	vsd_argv_str(&a, c->name);
	vsd_argv_str(&a, vsd_pass_names[pass]);
	if (vsd_argv_u64(call, &a, VSD_MV_RPUSH_CHUNK) != 0)
		return call->st.code;
	vsd_argv_to_cmd(&a, cmd, src);
	if ((rv = vsd_mv_run(mv, cmd, 1, VSD_RUN_WRITE)) != VSD_OK ||
	    (rv = vsd_mv_reply_err(mv, cmd, "listing the ids")) != VSD_OK)
		return rv;
	if (cmd->reply->type != REDIS_REPLY_INTEGER || cmd->reply->integer < 0)
		return vsd_mv_proto(mv, src, "the listing script answered no "
		    "count");
	*len = (uint64_t)cmd->reply->integer;
	return VSD_OK;
}

/* The pair (c, src) from cursor *next, within *budget moving ids.
 * *done when its list is exhausted; *stop when the step must end here
 * (contended or stale ids). */
static int
vsd_pair_run(struct vsd_mv *mv, int pass, const struct vsd_phase_layout *l,
    const struct vsd_mv_coll *c, uint32_t src, uint64_t next,
    const struct vsd_pair_count *cnt, uint32_t *budget, int *done, int *stop)
{
	struct vsd_call *call = mv->call;
	uint64_t len = 0, removed = 0;
	const char *list = NULL;
	size_t listlen = 0;
	int rv, stale = 0;

	*done = 0;
	if ((rv = vsd_pair_list(mv, pass, c, src, &len, &list, &listlen)) !=
	    VSD_OK)
		return rv;
	if (pass == VSD_PASS_COPY && c->p.reduce != 0 && len > 0)
		return vsd_status_set(&call->st, VSD_FAILED_PRECONDITION,
		    "collection \"%s\" uses REDUCE (created during the move?):"
		    " its elements cannot be copied exactly (VEMB returns the "
		    "projected vector); abort the move", c->name);
	if (pass == VSD_PASS_COPY && !cnt->done) {
		int counted;

		if ((rv = vsd_pair_count(mv, pass, l, c, src, list, listlen,
		    len, cnt->at, cnt->acc, &counted)) != VSD_OK)
			return rv;
		if (!counted) {
			*stop = 1;
			return VSD_OK;
		}
	}
	while (next < len && *budget > 0 && !*stop) {
		struct vsd_cp *ids;
		const redisReply *r;
		uint64_t page_end, after, nmove = 0, ncopied = 0, nskipped = 0;
		size_t i, n = 0;

		if (vs_now_us() >= mv->stop_us) {
			*stop = 1;
			break;
		}
		if ((rv = vsd_pair_page(mv, src, list, listlen, next,
		    VSD_MV_PAGE, &r)) != VSD_OK)
			return rv;
		if (r->elements == 0) {
			next = len;          /* the list is shorter: done */
			break;
		}
		if ((ids = vsd_call_alloc(call, r->elements *
		    sizeof(*ids))) == NULL)
			return call->st.code;
		/* The moving ids of the page, up to the budget; after: the
		 * index following the last one taken. */
		after = next + r->elements;
		for (i = 0; i < r->elements; i++) {
			const redisReply *e = r->element[i];
			uint32_t from, to;

			if (e->type != REDIS_REPLY_STRING)
				return vsd_mv_proto(mv, src, "LRANGE answered "
				    "an id that is not a string");
			if (!vsd_phase_moves(l, e->str, (size_t)e->len, &from,
			    &to) || (pass == VSD_PASS_ABORT ? to : from) != src)
				continue;
			if (n == *budget) {
				after = next + i;
				break;
			}
			if ((ids[n].id = vsd_call_strdup(call, e->str,
			    (size_t)e->len)) == NULL)
				return call->st.code;
			ids[n].idlen = (size_t)e->len;
			ids[n].to = to;
			ids[n].outcome = VSD_CP_PENDING;
			n++;
		}
		page_end = after;
		if (n > 0 && pass == VSD_PASS_COPY) {
			if ((rv = vsd_cp_run(mv, c, src, ids, n, &stale)) !=
			    VSD_OK)
				return rv;
			for (i = 0; i < n; i++) {
				if (ids[i].outcome == VSD_CP_RETRY) {
					/* the cursor stops before it */
					page_end = next;
					for (size_t j = 0; j < r->elements;
					    j++) {
						const redisReply *e =
						    r->element[j];

						if ((size_t)e->len ==
						    ids[i].idlen && memcmp(
						    e->str, ids[i].id,
						    ids[i].idlen) == 0) {
							page_end = next + j;
							break;
						}
					}
					*stop = 1;
					break;
				}
				nmove++;
				if (ids[i].outcome == VSD_CP_COPIED)
					ncopied++;
				else
					nskipped++;
			}
			if ((rv = vsd_mv_count(mv, 0, ncopied, nskipped,
			    0)) != VSD_OK)
				return rv;
		} else if (n > 0) {
			if ((rv = vsd_rm_run(mv, c, src, ids, n, &removed)) !=
			    VSD_OK)
				return rv;
			nmove = n;
			if ((rv = vsd_mv_count(mv, 0, 0, 0, removed)) != VSD_OK)
				return rv;
		}
		*budget -= (uint32_t)nmove;
		if (page_end > next) {
			next = page_end;
			if ((rv = vsd_pair_cursor(mv, pass, c, src, next,
			    next >= len)) != VSD_OK)
				return rv;
		}
		snprintf(mv->rep->step, sizeof(mv->rep->step), "%s: %llu of "
		    "\"%s\" on shard %u (%llu of %llu listed ids read)",
		    pass == VSD_PASS_COPY ? "copied" : "deleted",
		    (unsigned long long)(pass == VSD_PASS_COPY ? ncopied :
		    nmove), c->name, src, (unsigned long long)next,
		    (unsigned long long)len);
		if (stale || *stop) {
			*stop = 1;
			mv->rep->retry_after_ms = VSD_MV_RETRY_AFTER_MS;
			break;
		}
	}
	if (next >= len) {
		*done = 1;
		return vsd_pair_cursor(mv, pass, c, src, len, 1);
	}
	return VSD_OK;
}

/* Each pair's cursor: st[i * nsrc + k] = 0 not started in this pass,
 * 1 in progress (*pos), 2 done; cnt[...] its count of moving ids
 * (VSD_MV_COUNT_FIELD; see vsd_pair_count).  mv->prog.to_move := their
 * sum.  The three arrays (ncolls * nsrc + 1 entries each) are allocated
 * from the call, which frees them. */
static int
vsd_pass_cursors(struct vsd_mv *mv, int pass, uint32_t first, uint32_t nsrc,
    uint8_t **stp, uint64_t **posp, struct vsd_pair_count **cntp)
{
	struct vsd_call *call = mv->call;
	const char *name = vsd_pass_names[pass];
	size_t plen = strlen(name), i, nc = mv->ncolls, n = nc * nsrc;
	struct vsd_cmd *cmds;
	uint8_t *st;
	uint64_t *pos;
	struct vsd_pair_count *cnt;
	uint32_t k;
	int rv;

	st = vsd_call_alloc(call, n + 1);
	pos = vsd_call_alloc(call, (n + 1) * sizeof(*pos));
	cnt = vsd_call_alloc(call, (n + 1) * sizeof(*cnt));
	if (st == NULL || pos == NULL || cnt == NULL)
		return call->st.code;
	*stp = st;
	*posp = pos;
	*cntp = cnt;
	mv->prog.to_move = 0;
	if (nc == 0)
		return VSD_OK;
	if ((cmds = vsd_call_alloc(call, nsrc * sizeof(*cmds))) == NULL)
		return call->st.code;
	for (k = 0; k < nsrc; k++) {
		struct vsd_argv a;

		if (vsd_argv_init(call, &a, 2 * (int)nc + 2) != 0)
			return call->st.code;
		vsd_argv_str(&a, "HMGET");
		vsd_argv_str(&a, VSD_MV_CURSOR_KEY);
		for (i = 0; i < nc; i++)
			vsd_argv_str(&a, mv->colls[i].name);
		for (i = 0; i < nc; i++) {
			const char *f = vsd_count_field(call, mv->colls[i].name);

			if (f == NULL)
				return call->st.code;
			vsd_argv_str(&a, f);
		}
		vsd_argv_to_cmd(&a, &cmds[k], first + k);
	}
	if ((rv = vsd_mv_run(mv, cmds, nsrc, VSD_RUN_WRITE)) != VSD_OK)
		return rv;
	for (k = 0; k < nsrc; k++) {
		const redisReply *r = cmds[k].reply;

		if ((rv = vsd_mv_reply_err(mv, &cmds[k], "reading the "
		    "mover's cursors")) != VSD_OK)
			return rv;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 * nc)
			return vsd_mv_proto(mv, first + k, "HMGET answered "
			    "the wrong number of fields");
		for (i = 0; i < nc; i++) {
			const redisReply *v = r->element[i];
			const redisReply *m = r->element[nc + i];
			size_t at = i * nsrc + k;

			st[at] = 0;
			pos[at] = 0;
			memset(&cnt[at], 0, sizeof(cnt[at]));
			if (m->type == REDIS_REPLY_STRING) {
				const char *plus = strchr(m->str, '+');

				if (plus != NULL) {
					cnt[at].at = strtoull(m->str, NULL, 10);
					cnt[at].acc = strtoull(plus + 1, NULL,
					    10);
				} else {
					cnt[at].done = 1;
					cnt[at].acc = strtoull(m->str, NULL,
					    10);
				}
				mv->prog.to_move += cnt[at].acc;
			}
			if (v->type != REDIS_REPLY_STRING ||
			    (size_t)v->len <= plen ||
			    strncmp(v->str, name, plen) != 0 ||
			    v->str[plen] != ':')
				continue;
			if (strcmp(v->str + plen + 1, "done") == 0) {
				st[at] = 2;
			} else {
				st[at] = 1;
				pos[at] = strtoull(v->str + plen + 1, NULL,
				    10);
			}
		}
	}
	return VSD_OK;
}

int
vsd_mv_pass_count(struct vsd_mv *mv, int pass,
    const struct vsd_phase_layout *l, uint32_t *total, uint32_t *done)
{
	uint32_t first, nsrc = vsd_pass_sources(mv, pass, l, &first);
	size_t i, n = mv->ncolls * nsrc;
	uint8_t *st;
	uint64_t *pos;
	struct vsd_pair_count *cnt;
	int rv;

	*total = (uint32_t)n;
	*done = 0;
	if ((rv = vsd_pass_cursors(mv, pass, first, nsrc, &st, &pos,
	    &cnt)) != VSD_OK)
		return rv;
	for (i = 0; i < n; i++)
		if (st[i] == 2)
			(*done)++;
	return VSD_OK;
}

int
vsd_mv_pass(struct vsd_mv *mv, int pass, const struct vsd_phase_layout *l,
    uint32_t *budget, int *all_done)
{
	uint32_t first, nsrc = vsd_pass_sources(mv, pass, l, &first), k;
	size_t i, n = mv->ncolls * nsrc, ndone = 0;
	uint8_t *st;
	uint64_t *pos;
	struct vsd_pair_count *cnt;
	int rv, stop = 0;

	*all_done = 0;
	if ((rv = vsd_pass_cursors(mv, pass, first, nsrc, &st, &pos,
	    &cnt)) != VSD_OK)
		return rv;
	for (i = 0; i < mv->ncolls; i++) {
		for (k = 0; k < nsrc; k++) {
			size_t at = i * nsrc + k;
			int done = 0;

			if (st[at] != 2 && !stop && *budget > 0 &&
			    vs_now_us() < mv->stop_us) {
				rv = vsd_pair_run(mv, pass, l, &mv->colls[i],
				    first + k, pos[at], &cnt[at], budget, &done,
				    &stop);
				if (rv != VSD_OK)
					return rv;
				if (done)
					st[at] = 2;
			}
			if (st[at] == 2)
				ndone++;
		}
	}
	if (pass == VSD_PASS_COPY) {
		mv->prog.sources_total = (uint32_t)n;
		mv->prog.sources_copied = (uint32_t)ndone;
	} else {
		mv->prog.sources_total = (uint32_t)n;
		mv->prog.sources_cleaned = (uint32_t)ndone;
	}
	*all_done = ndone == n;
	return VSD_OK;
}
