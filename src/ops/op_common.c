/*
 * op_common.c - what the ops share: shard accounting as the RPC's
 * ShardSummary, and per-item write results.  (The arena helpers and the
 * Redis error codes are the fan-out layer's: fanout/call.c.)
 */
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "shards.h"

int
vsd_call_shards(struct vsd_call *call, Vsetd__V1__ShardSummary *s,
    Vsetd__V1__ShardError ***errs, size_t *nerrs)
{
	const struct vsd_shard_result *res = call->w->res;
	uint32_t i, n = call->view.nall, bad = 0;

	vsetd__v1__shard_summary__init(s);
	for (i = 0; i < n; i++) {
		switch (res[i].state) {
		case VSD_SHARD_OK:
			s->total++;
			s->ok++;
			if (res[i].endpoint > 0)
				s->n_from_replica++;
			break;
		case VSD_SHARD_FAILED:
			s->total++;
			s->failed++;
			bad++;
			break;
		case VSD_SHARD_TIMED_OUT:
			s->total++;
			s->timed_out++;
			bad++;
			break;
		default:
			break;
		}
	}
	if (s->n_from_replica > 0) {
		size_t j = 0;

		s->from_replica = vsd_call_alloc(call,
		    s->n_from_replica * sizeof(*s->from_replica));
		if (s->from_replica == NULL)
			return -1;
		for (i = 0; i < n; i++)
			if (res[i].state == VSD_SHARD_OK && res[i].endpoint > 0)
				s->from_replica[j++] = i;
	}
	*nerrs = 0;
	*errs = NULL;
	if (bad == 0)
		return 0;
	if ((*errs = vsd_call_alloc(call, bad * sizeof(**errs))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		Vsetd__V1__ShardError *e;

		if (res[i].state != VSD_SHARD_FAILED &&
		    res[i].state != VSD_SHARD_TIMED_OUT)
			continue;
		if ((e = vsd_call_alloc(call, sizeof(*e))) == NULL)
			return -1;
		vsetd__v1__shard_error__init(e);
		e->shard = i;
		e->code = (Vsetd__V1__Code)vsd_shard_state_code(res[i].state);
		e->message = (char *)res[i].error;
		(*errs)[(*nerrs)++] = e;
	}
	return 0;
}

int
vsd_call_write_results(struct vsd_call *call, char *const *ids, size_t n,
    int is_delete, Vsetd__V1__ItemResult ***out, uint32_t *counts)
{
	const struct vsd_shard_result *res = call->w->res;
	Vsetd__V1__ItemResult **items, *r;
	size_t i, first_bad = n;
	char *msg;

	items = vsd_call_alloc(call, n * sizeof(*items));
	r = vsd_call_alloc(call, n * sizeof(*r));
	if (items == NULL || r == NULL)
		return vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
	for (i = 0; i < n; i++) {
		const redisReply *rep = call->cmds[i].reply;
		uint32_t s = call->cmds[i].shard;

		vsetd__v1__item_result__init(&r[i]);
		items[i] = &r[i];
		r[i].id = ids[i];
		r[i].shard = s;
		/* wait_acked < 0 with --wait-replicas: the WAIT never
		 * answered (the primary died after the write): not
		 * acknowledged either. */
		if (rep != NULL && rep->type == REDIS_REPLY_INTEGER &&
		    call->w->cfg->wait_replicas > 0 &&
		    res[s].wait_acked < call->w->cfg->wait_replicas) {
			/* Written on the primary, but not acknowledged by the
			 * replicas asked for: not durable by the caller's rule. */
			r[i].outcome = VSETD__V1__WRITE_OUTCOME__WRITE_FAILED;
			r[i].code = VSETD__V1__CODE__UNAVAILABLE;
			r[i].message = vsd_call_alloc(call, 160);
			if (r[i].message != NULL)
				snprintf(r[i].message, 160, "written on the "
				    "primary of shard %u, but only %d of %d "
				    "replicas acknowledged within %d ms", s,
				    res[s].wait_acked,
				    call->w->cfg->wait_replicas,
				    call->w->cfg->wait_ms);
			else
				r[i].message = "not acknowledged by replicas";
			if (first_bad == n)
				first_bad = i;
		} else if (rep != NULL && rep->type == REDIS_REPLY_INTEGER &&
		    (rep->integer == 0 || rep->integer == 1)) {
			if (is_delete)
				r[i].outcome = rep->integer ? VSETD__V1__WRITE_OUTCOME__WRITE_DELETED :
				    VSETD__V1__WRITE_OUTCOME__WRITE_NOT_FOUND;
			else
				r[i].outcome = rep->integer ? VSETD__V1__WRITE_OUTCOME__WRITE_ADDED :
				    VSETD__V1__WRITE_OUTCOME__WRITE_UPDATED;
		} else {
			r[i].outcome = VSETD__V1__WRITE_OUTCOME__WRITE_FAILED;
			if (rep == NULL) {
				r[i].code = (Vsetd__V1__Code)vsd_shard_state_code(res[s].state);
				msg = (char *)res[s].error;
			} else if (rep->type == REDIS_REPLY_ERROR) {
				r[i].code = (Vsetd__V1__Code)vsd_redis_error_code(rep->str);
				msg = rep->str;
			} else {
				/* VADD and VREM answer 0 or 1: anything else
				 * is a shard breaking the protocol. */
				vsd_reply_protocol_error(call, s, "%s reply "
				    "is not 0 or 1", is_delete ? "VREM" :
				    "VADD");
				r[i].code = VSETD__V1__CODE__UNAVAILABLE;
				msg = (char *)res[s].error;
			}
			r[i].message = msg;
			if (first_bad == n)
				first_bad = i;
		}
		counts[r[i].outcome - 1]++;
	}
	*out = items;
	if (first_bad < n) {
		vsd_status_set(&call->st, (int)r[first_bad].code,
		    "%u of %zu items not written; first: [%zu] \"%.64s\" on "
		    "shard %u: %s", counts[VSETD__V1__WRITE_OUTCOME__WRITE_FAILED - 1], n,
		    first_bad, ids[first_bad], r[first_bad].shard,
		    r[first_bad].message);
	}
	return call->st.code;
}

Vsetd__V1__ShardSummary *
vsd_round_summary(struct vsd_call *call)
{
	Vsetd__V1__ShardSummary *sum = vsd_call_alloc(call, sizeof(*sum));
	Vsetd__V1__ShardError **errs;
	size_t nerrs;

	if (sum == NULL || vsd_call_shards(call, sum, &errs, &nerrs) != 0) {
		vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
		return NULL;
	}
	return sum;
}
