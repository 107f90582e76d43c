/*
 * mover.c - the four Reshard RPCs (mover.h has the design): read the
 * record and the move, bring every shard of the union to the highest
 * record, and do what the phase asks; the passes are mover_copy.c.
 *
 * Every RPC starts from what the shards hold, never from what a router
 * remembers: a driver may resume through another router, or after the
 * one it used was restarted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fence.h"
#include "log.h"
#include "mover_priv.h"
#include "shards.h"
#include "view.h"
#include "vs_time.h"

#define VSD_EPOCH_LEN 24
/* vsetd:@move fields written at the start (move target old new). */
#define VSD_MOVE_FIELDS 4

const char *
vsd_mv_marks_key(struct vsd_call *call, const char *collection, size_t *len)
{
	size_t size = strlen(VSD_MV_MARKS_PREFIX) + strlen(collection) + 1;
	char *k;

	if ((k = vsd_call_alloc(call, size)) == NULL)
		return NULL;
	*len = (size_t)snprintf(k, size, "%s%s", VSD_MV_MARKS_PREFIX,
	    collection);
	return k;
}

static const char *
vsd_move_name(int move)
{
	return move == VSD_MOVE_ADD ? "add" : move == VSD_MOVE_REMOVE ?
	    "remove" : "none";
}

/* 1 when the lists a[0..na) and b[0..nb) are equal. */
static int
vsd_lists_equal(const struct vsd_topo_addr *a, uint32_t na,
    const struct vsd_topo_addr *b, uint32_t nb)
{
	uint32_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i].s, b[i].s) != 0)
			return 0;
	return 1;
}

static int
vsd_mv_init(struct vsd_call *call, struct vsd_move_report *rep,
    struct vsd_mv **out)
{
	struct vsd_mv *mv;
	int64_t now = vs_now_us();

	memset(rep, 0, sizeof(*rep));
	if ((mv = vsd_call_alloc(call, sizeof(*mv))) == NULL ||
	    (mv->t = vsd_call_alloc(call, sizeof(*mv->t))) == NULL ||
	    (mv->mt = vsd_call_alloc(call, sizeof(*mv->mt))) == NULL)
		return call->st.code;
	mv->call = call;
	mv->rep = rep;
	/* Start no new page in the second half of the call's time: the
	 * page under way and the answer must fit in it. */
	mv->stop_us = now + (call->deadline_us - now) / 2;
	*out = mv;
	return VSD_OK;
}

/* ------------------------------------------------------------ reading */

/* One shard's record reply into mv->seen[s] and the best record. */
static int
vsd_mv_take_record(struct vsd_mv *mv, const struct vsd_cmd *c,
    struct vsd_topo *scratch, int *have)
{
	char why[VSD_MV_ERRLEN];
	uint32_t s = c->shard;
	int rv, kind;

	if ((rv = vsd_mv_reply_err(mv, c, "reading " VSD_TOPO_KEY)) != VSD_OK)
		return rv;
	kind = vsd_topo_from_reply(c->reply, scratch, why, sizeof(why));
	if (kind == VSD_TOPO_MALFORMED)
		return vsd_status_set(&mv->call->st, VSD_FAILED_PRECONDITION,
		    "shard %u: malformed %s: %s (docs/operations.md, "
		    "\"Growing and shrinking\", says how to repair it)", s,
		    VSD_TOPO_KEY, why);
	mv->seen[s] = kind == VSD_TOPO_RECORD ? scratch->epoch : 0;
	if (kind == VSD_TOPO_RECORD && (!*have ||
	    scratch->epoch > mv->t->epoch)) {
		memcpy(mv->t, scratch, sizeof(*scratch));
		*have = 1;
	}
	return VSD_OK;
}

/* The hash vsetd:@move (an HGETALL reply) into mv. */
static int
vsd_mv_take_move(struct vsd_mv *mv, const redisReply *r)
{
	struct vsd_call *call = mv->call;
	char err[VSD_MV_ERRLEN];
	int have_old = 0, have_new = 0;
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
		return vsd_mv_proto(mv, 0, "HGETALL " VSD_MOVE_KEY " answered "
		    "no hash");
	if (r->elements == 0)
		return VSD_OK;
	mv->have_move = 1;
	memset(mv->mt, 0, sizeof(*mv->mt));
	for (i = 0; i < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		uint64_t *ctr = NULL;

		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING)
			goto bad;
		if (strcmp(k->str, "move") == 0) {
			mv->move = strcmp(v->str, "add") == 0 ? VSD_MOVE_ADD :
			    strcmp(v->str, "remove") == 0 ? VSD_MOVE_REMOVE :
			    VSD_MOVE_NONE;
		} else if (strcmp(k->str, "target") == 0) {
			if (vsd_topo_parse_addr(v->str, (size_t)v->len,
			    &mv->target, err, sizeof(err)) != 0)
				goto bad;
		} else if (strcmp(k->str, "old") == 0) {
			if (vsd_topo_parse_list(v->str, (size_t)v->len,
			    mv->mt->from, &mv->mt->nfrom, err,
			    sizeof(err)) != 0)
				goto bad;
			have_old = 1;
		} else if (strcmp(k->str, "new") == 0) {
			if (vsd_topo_parse_list(v->str, (size_t)v->len,
			    mv->mt->shards, &mv->mt->nshards, err,
			    sizeof(err)) != 0)
				goto bad;
			have_new = 1;
		} else if (strcmp(k->str, "to_move") == 0) {
			ctr = &mv->prog.to_move;
		} else if (strcmp(k->str, "copied") == 0) {
			ctr = &mv->prog.copied;
		} else if (strcmp(k->str, "skipped") == 0) {
			ctr = &mv->prog.skipped;
		} else if (strcmp(k->str, "cleaned") == 0) {
			ctr = &mv->prog.cleaned;
		}
		if (ctr != NULL)
			*ctr = strtoull(v->str, NULL, 10);
	}
	if (mv->move == VSD_MOVE_NONE || !have_old || !have_new ||
	    (mv->move == VSD_MOVE_ADD ? mv->mt->nshards != mv->mt->nfrom + 1 :
	    mv->mt->nshards + 1 != mv->mt->nfrom))
		goto bad;
	return VSD_OK;
bad:
	return vsd_status_set(&call->st, VSD_FAILED_PRECONDITION, "shard 0 "
	    "(%s): %s is malformed; if no move is under way, delete it by "
	    "hand (docs/operations.md, \"Growing and shrinking\")",
	    vsd_mv_addr(mv, 0), VSD_MOVE_KEY);
}

/* The layout this router was started with, at epoch 0 (no record). */
static int
vsd_mv_cfg_layout(struct vsd_mv *mv, uint32_t n)
{
	const struct vsd_config *cfg = mv->call->w->cfg;
	uint32_t i;

	memset(mv->t, 0, sizeof(*mv->t));
	for (i = 0; i < n && i < cfg->nshards; i++) {
		if (cfg->shards[i].sentinel_master != NULL)
			return vsd_status_set(&mv->call->st,
			    VSD_FAILED_PRECONDITION, "shard %u is a "
			    "sentinel:// shard: resharding needs the shards' "
			    "host:port and is not supported with Sentinel yet",
			    i);
		if (vsd_topo_addr_of(&cfg->shards[i].ep[0],
		    &mv->t->shards[i]) != 0)
			return vsd_status_set(&mv->call->st, VSD_INTERNAL,
			    "shard %u: host too long", i);
	}
	mv->t->nshards = i;
	return VSD_OK;
}

/*
 * Read the record on every shard of the union (the router's shards
 * first, then the ones the record adds), and vsetd:@move on shard 0.
 */
static int
vsd_mv_load(struct vsd_mv *mv)
{
	struct vsd_call *call = mv->call;
	struct vsd_topo *scratch;
	struct vsd_cmd *cmds;
	struct vsd_view v;
	char err[VSD_MV_ERRLEN];
	uint32_t n, s, nall;
	int rv, have = 0;

	vsd_view_now(&v);
	n = v.nall;
	scratch = vsd_call_alloc(call, sizeof(*scratch));
	cmds = vsd_call_alloc(call, (VSD_MAX_SHARDS + 2) * sizeof(*cmds));
	if (scratch == NULL || cmds == NULL)
		return call->st.code;
	if (n == 0 || n > VSD_MAX_SHARDS)
		return vsd_status_set(&call->st, VSD_INTERNAL, "the router "
		    "routes to %u shards", n);
	for (s = 0; s <= n; s++) {
		struct vsd_argv a;
		const char *k = s < n ? VSD_TOPO_KEY : VSD_MOVE_KEY;

		if (vsd_argv_key(call, &a, "HGETALL", k, strlen(k)) != 0)
			return call->st.code;
		vsd_argv_to_cmd(&a, &cmds[s], s < n ? s : 0);
	}
	/* A shard of this router's view that does not answer matters only
	 * when it is in the record's union (a router still routing by an
	 * older, longer layout knows a shard the move no longer uses). */
	vsd_fence_run(call, cmds, n + 1, VSD_RUN_WRITE, call->deadline_us);
	if (cmds[n].reply == NULL)
		return vsd_mv_no_answer(mv, 0);
	for (s = 0; s < n; s++)
		if (cmds[s].reply != NULL && (rv = vsd_mv_take_record(mv,
		    &cmds[s], scratch, &have)) != VSD_OK)
			return rv;
	if (!have && (rv = vsd_mv_cfg_layout(mv, n)) != VSD_OK)
		return rv;
	for (s = 0; s < n; s++) {
		uint32_t u = mv->t->nshards > mv->t->nfrom ? mv->t->nshards :
		    mv->t->nfrom;

		if (cmds[s].reply == NULL && s < u)
			return vsd_mv_no_answer(mv, s);
	}
	if ((rv = vsd_mv_reply_err(mv, &cmds[n], "reading " VSD_MOVE_KEY)) !=
	    VSD_OK || (rv = vsd_mv_take_move(mv, cmds[n].reply)) != VSD_OK)
		return rv;
	if (vsd_view_register(mv->t, err, sizeof(err)) != 0)
		return vsd_status_set(&call->st, VSD_FAILED_PRECONDITION,
		    "cannot address the shards of the record (epoch %llu): %s",
		    (unsigned long long)mv->t->epoch, err);
	nall = mv->t->nshards > mv->t->nfrom ? mv->t->nshards : mv->t->nfrom;
	vsd_mv_widen(mv, nall);
	if (nall > n) {
		/* cmds is rebuilt: free its replies first (round.h) */
		vsd_call_release(call);
		for (s = n; s < nall; s++) {
			struct vsd_argv a;

			if (vsd_argv_key(call, &a, "HGETALL", VSD_TOPO_KEY,
			    strlen(VSD_TOPO_KEY)) != 0)
				return call->st.code;
			vsd_argv_to_cmd(&a, &cmds[s - n], s);
		}
		if ((rv = vsd_mv_run(mv, cmds, nall - n, VSD_RUN_WRITE)) !=
		    VSD_OK)
			return rv;
		for (s = n; s < nall; s++) {
			uint64_t before = mv->t->epoch;

			if ((rv = vsd_mv_take_record(mv, &cmds[s - n],
			    scratch, &have)) != VSD_OK)
				return rv;
			if (mv->t->epoch != before)
				return vsd_status_set(&call->st,
				    VSD_FAILED_PRECONDITION, "shard %u holds "
				    "a newer %s (epoch %llu) than the shards "
				    "that name it: repair it by hand "
				    "(docs/operations.md)", s, VSD_TOPO_KEY,
				    (unsigned long long)mv->t->epoch);
		}
	}
	mv->nall = nall;
	/* The open move: the record says it while not stable. */
	if (mv->t->phase != VSD_PHASE_STABLE) {
		const struct vsd_topo_addr *tg = mv->t->move == VSD_MOVE_ADD ?
		    &mv->t->shards[mv->t->nshards - 1] :
		    &mv->t->from[mv->t->nfrom - 1];

		if (mv->have_move && (mv->move != mv->t->move ||
		    strcmp(mv->target.s, tg->s) != 0))
			return vsd_status_set(&call->st,
			    VSD_FAILED_PRECONDITION, "%s on shard 0 names "
			    "another move (%s %s) than %s (%s %s): repair by "
			    "hand (docs/operations.md)", VSD_MOVE_KEY,
			    vsd_move_name(mv->move), mv->target.s,
			    VSD_TOPO_KEY, vsd_move_name(mv->t->move), tg->s);
		mv->move = mv->t->move;
		mv->target = *tg;
	}
	return VSD_OK;
}

/* ------------------------------------------------------------ writing */

/*
 * Write record nt on shards 0..n-1, each only over the epoch seen there
 * (mv->seen): shard 0 alone first, so that of two drivers racing, the
 * one shard 0 accepted is the only one to go on.  Then adopt it.
 */
static int
vsd_mv_put(struct vsd_mv *mv, const struct vsd_topo *nt, uint32_t n)
{
	struct vsd_call *call = mv->call;
	const char *field[VSD_TOPO_RECORD_FIELDS], *value[VSD_TOPO_RECORD_FIELDS];
	struct vsd_topo_text txt;
	struct vsd_cmd *cmds;
	char err[VSD_MV_ERRLEN], *newe;
	size_t nf, i;
	uint32_t s, lo, hi;
	int rv;

	memset(&txt, 0, sizeof(txt));
	txt.shards = vsd_call_alloc(call, VSD_TOPO_MAX_LIST);
	txt.from = vsd_call_alloc(call, VSD_TOPO_MAX_LIST);
	cmds = vsd_call_alloc(call, (n + 1) * sizeof(*cmds));
	newe = vsd_call_alloc(call, VSD_EPOCH_LEN);
	if (txt.shards == NULL || txt.from == NULL || cmds == NULL ||
	    newe == NULL)
		return call->st.code;
	if ((nf = vsd_topo_to_fields(nt, &txt, field, value, err,
	    sizeof(err))) == 0)
		return vsd_status_set(&call->st, VSD_INTERNAL, "the new "
		    "topology record is invalid: %s", err);
	snprintf(newe, VSD_EPOCH_LEN, "%llu", (unsigned long long)nt->epoch);
	for (lo = 0; lo < n; lo = hi) {
		/* cmds is rebuilt: free its replies first (round.h) */
		vsd_call_release(call);
		hi = lo == 0 ? 1 : n;
		for (s = lo; s < hi; s++) {
			struct vsd_argv a;

			if (vsd_argv_init(call, &a, 6 + 2 * (int)nf) != 0)
				return call->st.code;
			vsd_argv_str(&a, "EVALSHA");
			vsd_argv_str(&a, vsd_script_sha(VSD_SCRIPT_TOPO_PUT));
			vsd_argv_str(&a, "1");
			vsd_argv_str(&a, VSD_TOPO_KEY);
			if (vsd_argv_u64(call, &a, mv->seen[s]) != 0)
				return call->st.code;
			vsd_argv_str(&a, newe);
			for (i = 0; i < nf; i++) {
				vsd_argv_str(&a, field[i]);
				vsd_argv_str(&a, value[i]);
			}
			vsd_argv_to_cmd(&a, &cmds[s - lo], s);
		}
		if ((rv = vsd_mv_run(mv, cmds, hi - lo, VSD_RUN_WRITE)) !=
		    VSD_OK)
			return rv;
		for (s = lo; s < hi; s++) {
			const redisReply *r = cmds[s - lo].reply;

			if (vsd_fence_is_stale(r))
				return vsd_status_set(&call->st,
				    VSD_FAILED_PRECONDITION, "shard %u (%s): "
				    "the topology record changed meanwhile "
				    "(another driver of this move?): %s; "
				    "ReshardStatus shows where it stands", s,
				    vsd_mv_addr(mv, s), r->str);
			if ((rv = vsd_mv_reply_err(mv, &cmds[s - lo],
			    "writing " VSD_TOPO_KEY)) != VSD_OK)
				return rv;
			mv->seen[s] = nt->epoch;
		}
	}
	memcpy(mv->t, nt, sizeof(*nt));
	mv->nall = nt->nshards > nt->nfrom ? nt->nshards : nt->nfrom;
	if (vsd_view_adopt(nt, err, sizeof(err)) != 0)
		vsd_warn("mover: this router cannot route by epoch %llu: %s",
		    (unsigned long long)nt->epoch, err);
	vsd_info("mover: topology epoch %llu, phase %s, on %u shards",
	    (unsigned long long)nt->epoch, vsd_topo_phase_name(nt->phase), n);
	return VSD_OK;
}

/* Shards of the union still behind the record (a step that stopped half
 * way through writing it) get it now. */
static int
vsd_mv_propagate(struct vsd_mv *mv)
{
	uint32_t s, n = mv->nall;
	int behind = 0;

	if (mv->t->epoch == 0)
		return VSD_OK;
	for (s = 0; s < n; s++)
		if (mv->seen[s] != mv->t->epoch)
			behind = 1;
	if (!behind)
		return VSD_OK;
	/* Shards already there answer "same record": harmless. */
	return vsd_mv_put(mv, mv->t, n);
}

/* vsetd:@move := the open move (when missing: a driver stopped between
 * the record and this hash). */
static int
vsd_mv_write_move(struct vsd_mv *mv, int fresh)
{
	struct vsd_call *call = mv->call;
	const struct vsd_topo *t = mv->t;
	struct vsd_cmd *cmds;
	char *old, *nw;
	size_t n = 0, i;
	struct vsd_argv a;
	int rv;

	if (!fresh && (mv->have_move || t->phase == VSD_PHASE_STABLE))
		return VSD_OK;
	/* Commands live in the arena: round.h frees their replies at the
	 * next round, after this function returned. */
	old = vsd_call_alloc(call, VSD_TOPO_MAX_LIST);
	nw = vsd_call_alloc(call, VSD_TOPO_MAX_LIST);
	cmds = vsd_call_alloc(call, 2 * sizeof(*cmds));
	if (old == NULL || nw == NULL || cmds == NULL)
		return call->st.code;
	if (vsd_topo_format_list(t->from, t->nfrom, old, VSD_TOPO_MAX_LIST) ==
	    0 || vsd_topo_format_list(t->shards, t->nshards, nw,
	    VSD_TOPO_MAX_LIST) == 0)
		return vsd_status_set(&call->st, VSD_INTERNAL, "layout too "
		    "long to write");
	if (fresh) {
		if (vsd_argv_key(call, &a, "DEL", VSD_MOVE_KEY,
		    strlen(VSD_MOVE_KEY)) != 0)
			return call->st.code;
		vsd_argv_to_cmd(&a, &cmds[n++], 0);
	}
	if (vsd_argv_init(call, &a, 2 + 2 * VSD_MOVE_FIELDS) != 0)
		return call->st.code;
	vsd_argv_str(&a, "HSET");
	vsd_argv_str(&a, VSD_MOVE_KEY);
	vsd_argv_str(&a, "move");
	vsd_argv_str(&a, vsd_move_name(t->move));
	vsd_argv_str(&a, "target");
	vsd_argv_str(&a, mv->target.s);
	vsd_argv_str(&a, "old");
	vsd_argv_str(&a, old);
	vsd_argv_str(&a, "new");
	vsd_argv_str(&a, nw);
	vsd_argv_to_cmd(&a, &cmds[n++], 0);
	if ((rv = vsd_mv_run(mv, cmds, n, VSD_RUN_WRITE)) != VSD_OK)
		return rv;
	for (i = 0; i < n; i++)
		if ((rv = vsd_mv_reply_err(mv, &cmds[i], "writing "
		    VSD_MOVE_KEY)) != VSD_OK)
			return rv;
	mv->have_move = 1;
	mv->move = t->move;
	memcpy(mv->mt->from, t->from, t->nfrom * sizeof(t->from[0]));
	mv->mt->nfrom = t->nfrom;
	memcpy(mv->mt->shards, t->shards, t->nshards * sizeof(t->shards[0]));
	mv->mt->nshards = t->nshards;
	if (fresh)
		memset(&mv->prog, 0, sizeof(mv->prog));
	return VSD_OK;
}

/* Delete the mover's keys (not vsetd:@move) on shards 0..n-1. */
static int
vsd_mv_drop_keys(struct vsd_mv *mv, uint32_t n)
{
	struct vsd_mv_key *keys;
	uint32_t *shards, s;
	size_t nkeys;
	int rv;

	if ((shards = vsd_call_alloc(mv->call, n * sizeof(*shards))) == NULL)
		return mv->call->st.code;
	for (s = 0; s < n; s++)
		shards[s] = s;
	if ((rv = vsd_mv_scan(mv, shards, n, VSD_MV_KEYS_PATTERN, &keys,
	    &nkeys)) != VSD_OK)
		return rv;
	return vsd_mv_unlink(mv, keys, nkeys);
}

static int
vsd_mv_drop_move(struct vsd_mv *mv)
{
	struct vsd_cmd *c = vsd_call_alloc(mv->call, sizeof(*c));
	struct vsd_argv a;
	int rv;

	if (c == NULL || vsd_argv_key(mv->call, &a, "DEL", VSD_MOVE_KEY,
	    strlen(VSD_MOVE_KEY)) != 0)
		return mv->call->st.code;
	vsd_argv_to_cmd(&a, c, 0);
	if ((rv = vsd_mv_run(mv, c, 1, VSD_RUN_WRITE)) != VSD_OK)
		return rv;
	mv->have_move = 0;
	return vsd_mv_reply_err(mv, c, "deleting " VSD_MOVE_KEY);
}

/* ------------------------------------------------------------ report */

static void
vsd_mv_report(struct vsd_mv *mv)
{
	struct vsd_move_report *rep = mv->rep;
	const struct vsd_topo *t = mv->t;

	rep->epoch = t->epoch;
	rep->phase = t->phase;
	rep->move = t->phase != VSD_PHASE_STABLE || mv->have_move ? mv->move :
	    VSD_MOVE_NONE;
	rep->shards = t->shards;
	rep->nshards = t->nshards;
	if (t->phase != VSD_PHASE_STABLE) {
		rep->from = t->from;
		rep->nfrom = t->nfrom;
	} else if (mv->have_move) {
		rep->from = mv->mt->from;
		rep->nfrom = mv->mt->nfrom;
	}
	rep->prog = mv->prog;
	rep->done = t->phase == VSD_PHASE_STABLE && !mv->have_move;
}

/* The layouts of the open move, as phase_route.h takes them. */
static void
vsd_mv_layout(const struct vsd_mv *mv, struct vsd_phase_layout *l)
{
	if (mv->t->phase != VSD_PHASE_STABLE) {
		vsd_phase_layout_of(mv->t, l);
		l->phase = VSD_PHASE_DUAL;   /* any phase with a move */
		return;
	}
	l->phase = VSD_PHASE_DUAL;
	l->nold = mv->mt->nfrom;
	l->nnew = mv->mt->nshards;
}

/* ------------------------------------------------------------ endings */

/* A key of the removed shard to keep: a vector set (it should be empty
 * by now; reported). */
static int
vsd_keep_data(const char *k, size_t len)
{
	(void)len;
	return strncmp(k, "vsetd:@", strlen("vsetd:@")) == 0 ? 0 : 2;
}

/* After STABLE with the new layout: delete what the move left. */
static int
vsd_mv_finish(struct vsd_mv *mv)
{
	struct vsd_call *call = mv->call;
	redisContext *rc = NULL;
	const char *kept = NULL;
	int rv, complete = 1;

	if ((rv = vsd_mv_drop_keys(mv, mv->t->nshards)) != VSD_OK)
		return rv;
	if (mv->move == VSD_MOVE_REMOVE) {
		if (vsd_mv_direct(mv, mv->target.s, &rc) != VSD_OK) {
			/* A dead removed shard must not hold the move
			 * open: routers started with it are refused by the
			 * other shards' records anyway. */
			vsd_warn("mover: removed shard %s: %s; its vsetd keys "
			    "stay", mv->target.s, call->st.msg);
			memset(&call->st, 0, sizeof(call->st));
		} else {
			rv = vsd_mv_direct_wipe(mv, rc, vsd_keep_data,
			    &complete, &kept);
			redisFree(rc);
			if (rv != VSD_OK)
				return rv;
			if (!complete) {
				snprintf(mv->rep->step, sizeof(mv->rep->step),
				    "clearing the removed shard %s",
				    mv->target.s);
				return VSD_OK;
			}
			if (kept != NULL)
				vsd_warn("mover: removed shard %s still holds "
				    "%s (not deleted)", mv->target.s, kept);
		}
	}
	if ((rv = vsd_mv_drop_move(mv)) != VSD_OK)
		return rv;
	snprintf(mv->rep->step, sizeof(mv->rep->step), "done: %s %s, epoch "
	    "%llu, %u shards", vsd_move_name(mv->move), mv->target.s,
	    (unsigned long long)mv->t->epoch, mv->t->nshards);
	return VSD_OK;
}

/* After an abort (STABLE with the old layout): delete the copies. */
static int
vsd_mv_unabort(struct vsd_mv *mv, uint32_t *budget)
{
	struct vsd_phase_layout l;
	redisContext *rc;
	int rv, complete = 0;

	if (mv->move == VSD_MOVE_ADD) {
		if ((rv = vsd_mv_direct(mv, mv->target.s, &rc)) != VSD_OK)
			return rv;
		rv = vsd_mv_direct_wipe(mv, rc, NULL, &complete, NULL);
		redisFree(rc);
		if (rv != VSD_OK)
			return rv;
	} else {
		vsd_mv_layout(mv, &l);
		if ((rv = vsd_mv_load_colls(mv, l.nold, NULL)) != VSD_OK ||
		    (rv = vsd_mv_pass(mv, VSD_PASS_ABORT, &l, budget,
		    &complete)) != VSD_OK)
			return rv;
	}
	if (!complete) {
		if (mv->rep->step[0] == '\0')
			snprintf(mv->rep->step, sizeof(mv->rep->step),
			    "abort: deleting the copies on %s",
			    mv->move == VSD_MOVE_ADD ? mv->target.s :
			    "the remaining shards");
		return VSD_OK;
	}
	if ((rv = vsd_mv_drop_keys(mv, mv->t->nshards)) != VSD_OK ||
	    (rv = vsd_mv_drop_move(mv)) != VSD_OK)
		return rv;
	snprintf(mv->rep->step, sizeof(mv->rep->step), "aborted: %s %s; "
	    "back to %u shards at epoch %llu", vsd_move_name(mv->move),
	    mv->target.s, mv->t->nshards, (unsigned long long)mv->t->epoch);
	return VSD_OK;
}

/* ------------------------------------------------------------ RPCs */

static int
vsd_mv_open(struct vsd_call *call, struct vsd_move_report *rep,
    struct vsd_mv **mv, int write)
{
	int rv;

	if ((rv = vsd_mv_init(call, rep, mv)) != VSD_OK ||
	    (rv = vsd_mv_load(*mv)) != VSD_OK)
		return rv;
	if (write && ((rv = vsd_mv_propagate(*mv)) != VSD_OK ||
	    (rv = vsd_mv_write_move(*mv, 0)) != VSD_OK))
		return rv;
	return VSD_OK;
}

/* 1 when the open move is the ADD of addr / the REMOVE (of expect). */
static int
vsd_mv_same(const struct vsd_mv *mv, int move, const char *shard,
    const char *expect_last)
{
	if (mv->move != move)
		return 0;
	if (move == VSD_MOVE_ADD)
		return strcmp(mv->target.s, shard) == 0;
	return expect_last[0] == '\0' ||
	    strcmp(mv->target.s, expect_last) == 0;
}

/* A shard to be added must hold no vsetd data: only leftovers of an
 * aborted attempt (record, mover keys) are allowed. */
static int
vsd_keep_fresh(const char *k, size_t len)
{
	(void)len;
	if (strcmp(k, VSD_TOPO_KEY) == 0 ||
	    strncmp(k, "vsetd:@mv", strlen("vsetd:@mv")) == 0)
		return 1;
	return 2;
}

/* Checks of ReshardStart that need no shard. */
static int
vsd_start_args(struct vsd_call *call, int move, const char *shard,
    const char *expect_last, struct vsd_topo_addr *addr)
{
	char err[VSD_MV_ERRLEN];

	if (move == VSD_MOVE_ADD) {
		if (shard[0] == '\0')
			return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
			    "shard: RESHARD_ADD needs the new shard's "
			    "host:port");
		if (vsd_topo_parse_addr(shard, strlen(shard), addr, err,
		    sizeof(err)) != 0)
			return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
			    "shard \"%.*s\": %s", VSD_TOPO_MAX_ADDR, shard,
			    err);
		if (expect_last[0] != '\0')
			return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
			    "expect_last is for RESHARD_REMOVE only");
		return VSD_OK;
	}
	if (move != VSD_MOVE_REMOVE)
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT, "move: "
		    "RESHARD_ADD or RESHARD_REMOVE, not %d", move);
	if (shard[0] != '\0')
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT, "shard "
		    "must be empty for RESHARD_REMOVE (it always removes the "
		    "last shard of the layout: jump hash can only drop the "
		    "last one); use expect_last to name it as a check");
	if (expect_last[0] != '\0' && vsd_topo_parse_addr(expect_last,
	    strlen(expect_last), addr, err, sizeof(err)) != 0)
		return vsd_status_set(&call->st, VSD_INVALID_ARGUMENT,
		    "expect_last \"%.*s\": %s", VSD_TOPO_MAX_ADDR, expect_last,
		    err);
	return VSD_OK;
}

/* The new shard of an ADD: answers, and holds no vsetd data. */
static int
vsd_start_check_new(struct vsd_mv *mv, const char *addr)
{
	struct vsd_call *call = mv->call;
	redisContext *rc;
	const char *kept = NULL;
	int rv, complete = 0;

	if ((rv = vsd_mv_direct(mv, addr, &rc)) != VSD_OK)
		return rv;
	rv = vsd_mv_direct_wipe(mv, rc, vsd_keep_fresh, &complete, &kept);
	redisFree(rc);
	if (rv != VSD_OK)
		return rv;
	if (kept != NULL)
		return vsd_status_set(&call->st, VSD_FAILED_PRECONDITION,
		    "shard %s already holds vsetd data (key \"%s\"): add an "
		    "empty Redis, or one whose vsetd keys you deleted", addr,
		    kept);
	if (!complete)
		return vsd_status_set(&call->st, VSD_DEADLINE_EXCEEDED,
		    "checking that shard %s holds no vsetd data took too "
		    "long; try again with a longer deadline", addr);
	return VSD_OK;
}

int
vsd_move_start(struct vsd_call *call, int move, const char *shard,
    const char *expect_last, struct vsd_move_report *rep)
{
	struct vsd_topo_addr addr;
	struct vsd_topo *nt;
	struct vsd_cmd *cmds;
	struct vsd_mv *mv;
	const char *orphan;
	char err[VSD_MV_ERRLEN];
	uint32_t i, n, nall;
	size_t m;
	int rv;

	if ((rv = vsd_start_args(call, move, shard, expect_last, &addr)) !=
	    VSD_OK || (rv = vsd_mv_open(call, rep, &mv, 1)) != VSD_OK)
		return rv;
	if (mv->t->phase != VSD_PHASE_STABLE || mv->have_move) {
		int aborting = mv->t->phase == VSD_PHASE_STABLE &&
		    vsd_lists_equal(mv->t->shards, mv->t->nshards,
		    mv->mt->from, mv->mt->nfrom);

		if (!vsd_mv_same(mv, move, shard, expect_last) || aborting)
			return vsd_status_set(&call->st,
			    VSD_FAILED_PRECONDITION, "a move is open: %s %s "
			    "(phase %s, epoch %llu)%s", vsd_move_name(mv->move),
			    mv->target.s, vsd_topo_phase_name(mv->t->phase),
			    (unsigned long long)mv->t->epoch, aborting ?
			    ", aborted and being cleaned up: run ReshardStep "
			    "until done, then start again" : ": finish it "
			    "(ReshardStep) or abort it (ReshardAbort) first");
		vsd_mv_report(mv);
		snprintf(rep->step, sizeof(rep->step), "resumed: %s %s, phase "
		    "%s, epoch %llu", vsd_move_name(mv->move), mv->target.s,
		    vsd_topo_phase_name(mv->t->phase),
		    (unsigned long long)mv->t->epoch);
		return VSD_OK;
	}
	n = mv->t->nshards;
	if (move == VSD_MOVE_ADD && strcmp(mv->t->shards[n - 1].s, addr.s) ==
	    0 && n > 1) {
		/* The same command again after the move ended (its driver
		 * died at the very end): nothing to do. */
		vsd_mv_report(mv);
		snprintf(rep->step, sizeof(rep->step), "nothing to do: %s is "
		    "already the last shard (index %u, epoch %llu)", addr.s,
		    n - 1, (unsigned long long)mv->t->epoch);
		return VSD_OK;
	}
	if (move == VSD_MOVE_ADD) {
		for (i = 0; i < n; i++)
			if (strcmp(mv->t->shards[i].s, addr.s) == 0)
				return vsd_status_set(&call->st,
				    VSD_FAILED_PRECONDITION, "shard %s is "
				    "already in the layout, at index %u", addr.s,
				    i);
		if (n + 1 > VSD_MAX_SHARDS)
			return vsd_status_set(&call->st,
			    VSD_FAILED_PRECONDITION, "the layout has %u "
			    "shards, the most vsetd routes", n);
		if ((rv = vsd_start_check_new(mv, addr.s)) != VSD_OK)
			return rv;
	} else {
		if (n < 2)
			return vsd_status_set(&call->st,
			    VSD_FAILED_PRECONDITION, "the layout has %u "
			    "shard: nothing to drain it into", n);
		if (expect_last[0] != '\0' &&
		    strcmp(addr.s, mv->t->shards[n - 1].s) != 0)
			return vsd_status_set(&call->st,
			    VSD_FAILED_PRECONDITION, "the last shard is %s, "
			    "not %s (expect_last): only the last one can be "
			    "removed", mv->t->shards[n - 1].s, addr.s);
		addr = mv->t->shards[n - 1];
	}
	if ((rv = vsd_mv_load_colls(mv, n, &orphan)) != VSD_OK)
		return rv;
	if (orphan != NULL)
		return vsd_status_set(&call->st, VSD_FAILED_PRECONDITION,
		    "collection \"%s\" has no vsetd metadata (made by hand or "
		    "by an old vsetd): create it with CreateCollection first, "
		    "so the mover knows how to copy it", orphan);
	for (m = 0; m < mv->ncolls; m++)
		if (mv->colls[m].found && mv->colls[m].p.reduce != 0)
			return vsd_status_set(&call->st,
			    VSD_FAILED_PRECONDITION, "collection \"%s\" uses "
			    "REDUCE: its elements cannot be copied exactly "
			    "(VEMB returns the projected vector), so it cannot "
			    "be resharded", mv->colls[m].name);
	/* The DUAL record. */
	if ((nt = vsd_call_alloc(call, sizeof(*nt))) == NULL)
		return call->st.code;
	nt->epoch = mv->t->epoch + 1;
	nt->phase = VSD_PHASE_DUAL;
	nt->move = move;
	memcpy(nt->from, mv->t->shards, n * sizeof(nt->from[0]));
	nt->nfrom = n;
	memcpy(nt->shards, mv->t->shards, n * sizeof(nt->shards[0]));
	nt->nshards = move == VSD_MOVE_ADD ? n + 1 : n - 1;
	if (move == VSD_MOVE_ADD)
		nt->shards[n] = addr;
	if (vsd_topo_check(nt, err, sizeof(err)) != 0)
		return vsd_status_set(&call->st, VSD_INTERNAL, "new record: "
		    "%s", err);
	if (vsd_view_register(nt, err, sizeof(err)) != 0)
		return vsd_status_set(&call->st, VSD_FAILED_PRECONDITION,
		    "cannot add shard %s to this router: %s", addr.s, err);
	nall = move == VSD_MOVE_ADD ? n + 1 : n;
	vsd_mv_widen(mv, nall);
	mv->target = addr;
	if (move == VSD_MOVE_ADD) {
		/* The epoch the new shard holds (an aborted attempt's
		 * record, or none), and every collection's metadata. */
		struct vsd_argv a;
		const redisReply *r;

		cmds = vsd_call_alloc(call, (mv->ncolls + 1) * sizeof(*cmds));
		if (cmds == NULL || vsd_argv_init(call, &a, 3) != 0)
			return call->st.code;
		vsd_argv_str(&a, "HGET");
		vsd_argv_str(&a, VSD_TOPO_KEY);
		vsd_argv_str(&a, "epoch");
		vsd_argv_to_cmd(&a, &cmds[0], n);
		if ((rv = vsd_mv_run(mv, cmds, 1, VSD_RUN_WRITE)) != VSD_OK ||
		    (rv = vsd_mv_reply_err(mv, cmds, "reading "
		    VSD_TOPO_KEY)) != VSD_OK)
			return rv;
		r = cmds[0].reply;
		mv->seen[n] = r->type == REDIS_REPLY_STRING ?
		    strtoull(r->str, NULL, 10) : 0;
		vsd_call_release(call);      /* cmds is rebuilt below */
		for (m = 0, i = 0; m < mv->ncolls; m++) {
			const char *mk;
			size_t mklen;

			if (!mv->colls[m].found)
				continue;
			if ((mk = vsd_meta_key(call, mv->colls[m].name,
			    &mklen)) == NULL || vsd_coll_adopt_cmd(call,
			    &cmds[i++], n, mk, mklen, &mv->colls[m].p) != 0)
				return call->st.code;
		}
		if ((rv = vsd_mv_run(mv, cmds, i, VSD_RUN_WRITE)) != VSD_OK)
			return rv;
		for (m = 0; m < i; m++)
			if ((rv = vsd_mv_reply_err(mv, &cmds[m], "copying "
			    "collection metadata")) != VSD_OK)
				return rv;
	}
	/* No mark of an earlier attempt may survive: a "del" would stop a
	 * copy. */
	if ((rv = vsd_mv_drop_keys(mv, nall)) != VSD_OK)
		return rv;
	{
		/* vsetd:@move before the record: a move in DUAL always has
		 * it, and a stable record with it means an ending move. */
		struct vsd_topo *keep = mv->t;

		mv->t = nt;
		rv = vsd_mv_write_move(mv, 1);
		mv->t = keep;
		if (rv != VSD_OK)
			return rv;
	}
	if ((rv = vsd_mv_put(mv, nt, nall)) != VSD_OK)
		return rv;
	vsd_mv_report(mv);
	mv->prog.sources_total = (uint32_t)(mv->ncolls *
	    (move == VSD_MOVE_ADD ? n : 1));
	rep->prog = mv->prog;
	snprintf(rep->step, sizeof(rep->step), "started: %s %s, phase dual "
	    "at epoch %llu (%zu collections)", vsd_move_name(move), addr.s,
	    (unsigned long long)nt->epoch, mv->ncolls);
	return VSD_OK;
}

int
vsd_move_step(struct vsd_call *call, uint32_t batch,
    struct vsd_move_report *rep)
{
	struct vsd_phase_layout l;
	struct vsd_topo *nt;
	struct vsd_mv *mv;
	uint32_t budget;
	int rv, all = 0;

	budget = batch != 0 ? batch : VSD_MOVE_DEFAULT_BATCH;
	if (budget > call->lim->max_batch)
		budget = call->lim->max_batch;
	if ((rv = vsd_mv_open(call, rep, &mv, 1)) != VSD_OK)
		return rv;
	if ((nt = vsd_call_alloc(call, sizeof(*nt))) == NULL)
		return call->st.code;
	switch (mv->t->phase) {
	case VSD_PHASE_DUAL:
		vsd_mv_layout(mv, &l);
		if ((rv = vsd_mv_load_colls(mv, mv->nall, NULL)) != VSD_OK ||
		    (rv = vsd_mv_sync_meta(mv)) != VSD_OK ||
		    (rv = vsd_mv_pass(mv, VSD_PASS_COPY, &l, &budget,
		    &all)) != VSD_OK)
			return rv;
		if (!all)
			break;
		memcpy(nt, mv->t, sizeof(*nt));
		nt->epoch++;
		nt->phase = VSD_PHASE_SWITCHED;
		if ((rv = vsd_mv_put(mv, nt, mv->nall)) != VSD_OK)
			return rv;
		snprintf(rep->step, sizeof(rep->step), "every id copied: "
		    "phase switched at epoch %llu (reads use both layouts)",
		    (unsigned long long)nt->epoch);
		break;
	case VSD_PHASE_SWITCHED:
		vsd_mv_layout(mv, &l);
		if ((rv = vsd_mv_load_colls(mv, mv->nall, NULL)) != VSD_OK ||
		    (rv = vsd_mv_pass(mv, VSD_PASS_CLEAN, &l, &budget,
		    &all)) != VSD_OK)
			return rv;
		mv->prog.sources_copied = mv->prog.sources_total;
		if (!all)
			break;
		memset(nt, 0, sizeof(*nt));
		nt->epoch = mv->t->epoch + 1;
		nt->phase = VSD_PHASE_STABLE;
		nt->move = VSD_MOVE_NONE;
		memcpy(nt->shards, mv->t->shards, mv->t->nshards *
		    sizeof(nt->shards[0]));
		nt->nshards = mv->t->nshards;
		if ((rv = vsd_mv_put(mv, nt, nt->nshards)) != VSD_OK)
			return rv;
		if (vs_now_us() < mv->stop_us &&
		    (rv = vsd_mv_finish(mv)) != VSD_OK)
			return rv;
		break;
	default:
		if (!mv->have_move) {
			snprintf(rep->step, sizeof(rep->step), "no move under "
			    "way");
			break;
		}
		if (vsd_lists_equal(mv->t->shards, mv->t->nshards,
		    mv->mt->shards, mv->mt->nshards)) {
			rv = vsd_mv_finish(mv);
		} else if (vsd_lists_equal(mv->t->shards, mv->t->nshards,
		    mv->mt->from, mv->mt->nfrom)) {
			rv = vsd_mv_unabort(mv, &budget);
		} else {
			rv = vsd_status_set(&call->st, VSD_FAILED_PRECONDITION,
			    "%s on shard 0 names a move (%s %s) that matches "
			    "neither side of the stable layout: delete it by "
			    "hand if no move is under way (docs/operations.md)",
			    VSD_MOVE_KEY, vsd_move_name(mv->move),
			    mv->target.s);
		}
		if (rv != VSD_OK)
			return rv;
		break;
	}
	vsd_mv_report(mv);
	return VSD_OK;
}

int
vsd_move_abort(struct vsd_call *call, struct vsd_move_report *rep)
{
	struct vsd_topo *nt;
	struct vsd_mv *mv;
	int rv;

	if ((rv = vsd_mv_open(call, rep, &mv, 1)) != VSD_OK)
		return rv;
	if (mv->t->phase == VSD_PHASE_STABLE) {
		if (!mv->have_move)
			return vsd_status_set(&call->st,
			    VSD_FAILED_PRECONDITION, "no move under way "
			    "(epoch %llu, %u shards)",
			    (unsigned long long)mv->t->epoch, mv->t->nshards);
		if (!vsd_lists_equal(mv->t->shards, mv->t->nshards,
		    mv->mt->from, mv->mt->nfrom))
			return vsd_status_set(&call->st,
			    VSD_FAILED_PRECONDITION, "the move (%s %s) is "
			    "complete; ReshardStep finishes its cleanup",
			    vsd_move_name(mv->move), mv->target.s);
		vsd_mv_report(mv);
		snprintf(rep->step, sizeof(rep->step), "already aborted: "
		    "ReshardStep deletes the copies");
		return VSD_OK;
	}
	if (mv->t->phase == VSD_PHASE_SWITCHED)
		return vsd_status_set(&call->st, VSD_FAILED_PRECONDITION,
		    "the move (%s %s) is in phase switched: reads already use "
		    "the new layout; let the move finish, then %s",
		    vsd_move_name(mv->move), mv->target.s,
		    mv->move == VSD_MOVE_ADD ? "remove the shard again" :
		    "add the shard back");
	if ((nt = vsd_call_alloc(call, sizeof(*nt))) == NULL)
		return call->st.code;
	nt->epoch = mv->t->epoch + 1;
	nt->phase = VSD_PHASE_STABLE;
	nt->move = VSD_MOVE_NONE;
	memcpy(nt->shards, mv->t->from, mv->t->nfrom * sizeof(nt->shards[0]));
	nt->nshards = mv->t->nfrom;
	/* Every shard of the union, the added one too: a copy or a router
	 * write still at the DUAL epoch is refused there. */
	if ((rv = vsd_mv_put(mv, nt, mv->nall)) != VSD_OK)
		return rv;
	vsd_mv_report(mv);
	snprintf(rep->step, sizeof(rep->step), "aborted at epoch %llu: routers "
	    "use the %u shards of before; ReshardStep deletes the copies",
	    (unsigned long long)nt->epoch, nt->nshards);
	return VSD_OK;
}

/* The routers' heartbeats (beacon.h): the live ones into rep; the ones
 * silent for over VSD_ROUTER_FORGET_MS are forgotten. */
static int
vsd_mv_routers(struct vsd_mv *mv)
{
	struct vsd_call *call = mv->call;
	struct vsd_move_report *rep = mv->rep;
	uint64_t now = vsd_mv_unix_ms();
	struct vsd_cmd *cmds, *c = vsd_call_alloc(call, sizeof(*c));
	const redisReply *r;
	struct vsd_argv a;
	size_t i, nold = 0;
	int rv;

	if (c == NULL || vsd_argv_key(call, &a, "HGETALL", VSD_ROUTERS_KEY,
	    strlen(VSD_ROUTERS_KEY)) != 0)
		return call->st.code;
	vsd_argv_to_cmd(&a, c, 0);
	if ((rv = vsd_mv_run(mv, c, 1, VSD_RUN_WRITE)) != VSD_OK ||
	    (rv = vsd_mv_reply_err(mv, c, "reading " VSD_ROUTERS_KEY)) !=
	    VSD_OK)
		return rv;
	r = c->reply;
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0)
		return vsd_mv_proto(mv, 0, "HGETALL " VSD_ROUTERS_KEY
		    " answered no hash");
	rep->routers = vsd_call_alloc(call, (r->elements / 2 + 1) *
	    sizeof(*rep->routers));
	if (rep->routers == NULL || vsd_argv_init(call, &a,
	    (int)r->elements / 2 + 2) != 0)
		return call->st.code;
	vsd_argv_str(&a, "HDEL");
	vsd_argv_str(&a, VSD_ROUTERS_KEY);
	for (i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		unsigned long long e, ms;
		uint64_t ago;

		if (k->type != REDIS_REPLY_STRING ||
		    v->type != REDIS_REPLY_STRING ||
		    sscanf(v->str, "%llu %llu", &e, &ms) != 2)
			continue;
		ago = now > ms ? now - ms : 0;
		if (ago > VSD_ROUTER_FORGET_MS) {
			char *id = vsd_call_strdup(call, k->str,
			    (size_t)k->len);

			if (id == NULL)
				return call->st.code;
			vsd_argv_add(&a, id, (size_t)k->len);
			nold++;
			continue;
		}
		if (ago > VSD_ROUTER_LIVE_MS)
			continue;
		snprintf(rep->routers[rep->nrouters].id,
		    sizeof(rep->routers[0].id), "%s", k->str);
		rep->routers[rep->nrouters].epoch = e;
		rep->routers[rep->nrouters].seen_ms_ago = ago;
		rep->nrouters++;
	}
	if (nold == 0)
		return VSD_OK;
	if ((cmds = vsd_call_alloc(call, sizeof(*cmds))) == NULL)
		return call->st.code;
	vsd_argv_to_cmd(&a, cmds, 0);
	/* Forgetting is best effort. */
	(void)vsd_mv_run(mv, cmds, 1, VSD_RUN_WRITE);
	memset(&call->st, 0, sizeof(call->st));
	return VSD_OK;
}

int
vsd_move_status(struct vsd_call *call, struct vsd_move_report *rep)
{
	struct vsd_phase_layout l;
	struct vsd_mv *mv;
	uint32_t total, done;
	int rv;

	if ((rv = vsd_mv_open(call, rep, &mv, 0)) != VSD_OK)
		return rv;
	if (mv->t->phase != VSD_PHASE_STABLE || mv->have_move) {
		int aborted = mv->t->phase == VSD_PHASE_STABLE &&
		    vsd_lists_equal(mv->t->shards, mv->t->nshards,
		    mv->mt->from, mv->mt->nfrom);

		vsd_mv_layout(mv, &l);
		if ((rv = vsd_mv_load_colls(mv, l.nold > l.nnew ? l.nold :
		    l.nnew, NULL)) != VSD_OK)
			return rv;
		if (mv->t->phase == VSD_PHASE_DUAL) {
			if ((rv = vsd_mv_pass_count(mv, VSD_PASS_COPY, &l,
			    &total, &done)) != VSD_OK)
				return rv;
			mv->prog.sources_total = total;
			mv->prog.sources_copied = done;
		} else if (mv->t->phase == VSD_PHASE_SWITCHED) {
			if ((rv = vsd_mv_pass_count(mv, VSD_PASS_CLEAN, &l,
			    &total, &done)) != VSD_OK)
				return rv;
			mv->prog.sources_total = total;
			mv->prog.sources_copied = total;
			mv->prog.sources_cleaned = done;
		} else if (!aborted) {
			total = (uint32_t)mv->ncolls *
			    (mv->move == VSD_MOVE_ADD ? l.nold : 1);
			mv->prog.sources_total = total;
			mv->prog.sources_copied = total;
			mv->prog.sources_cleaned = total;
		}
		snprintf(rep->step, sizeof(rep->step), "%s %s: %s",
		    vsd_move_name(mv->move), mv->target.s, aborted ?
		    "aborted, deleting the copies" :
		    mv->t->phase == VSD_PHASE_STABLE ? "finishing" :
		    vsd_topo_phase_name(mv->t->phase));
	} else {
		snprintf(rep->step, sizeof(rep->step), "no move under way");
	}
	if ((rv = vsd_mv_routers(mv)) != VSD_OK)
		return rv;
	vsd_mv_report(mv);
	return VSD_OK;
}
